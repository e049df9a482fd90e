/**
 * One Kubernetes version for the lab on both APIs (issue 13): the embedded API's /version and every lab kubelet's
 * nodeInfo say the release the real control plane is built from (`npm run real-tools`' pin).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAB_KUBERNETES_VERSION } from '../../src/lab/version.js';
import { labNodeInfo, planNodes } from '../../src/lab/index.js';
import { versionInfo } from '../../src/lab/server/discovery.js';

describe('the lab reports one Kubernetes version', () => {
  it('is the real control plane\'s pin (tools/real/kubernetes/go.mod)', () => {
    const gomod = readFileSync(path.resolve(import.meta.dirname, '../../tools/real/kubernetes/go.mod'), 'utf8');
    expect(gomod).toMatch(new RegExp(`^require k8s\\.io/kubernetes ${LAB_KUBERNETES_VERSION.replaceAll('.', '\\.')}$`, 'm'));
  });

  it('the kubelets and the embedded API server report it', () => {
    for (const n of planNodes({ nodes: 2 })) expect(labNodeInfo(n)).toMatchObject({ kubeletVersion: LAB_KUBERNETES_VERSION, kubeProxyVersion: LAB_KUBERNETES_VERSION });
    expect(versionInfo()).toMatchObject({ gitVersion: LAB_KUBERNETES_VERSION, major: '1', minor: LAB_KUBERNETES_VERSION.split('.')[1] });
  });
});
