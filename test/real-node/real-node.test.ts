/**
 * One real Kubernetes node (issue 21, tools/real/REAL-PODS.md): the real control plane on loopback plus
 * tools/real/real-node.sh — containerd's CRI, kubelet and kube-proxy built from the control plane's Kubernetes
 * version, the bridge/host-local/loopback CNI plugins, our own pause and the busybox probe image — in a network
 * namespace of its own. Pods get real IPs and reach each other through a Service that real kube-proxy programs.
 *
 * Not part of `npm test` (CI does not run it yet): `npm run test:real-node` builds kubelet and kube-proxy
 * (tools/real/build-node.sh) and runs test/real-node/. See test/helpers/real-node.ts for what it needs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { hostState, httpClientPod, startRealNode, webPod, type RealNode } from '../helpers/real-node.js';

const NODE = 'gw-node-1';

describe('a real node: kubelet + containerd CRI + CNI bridge + kube-proxy in its own network namespace', () => {
  let cp: ControlPlane;
  let node: RealNode;
  let before: ReturnType<typeof hostState>;

  beforeAll(async () => {
    before = hostState();
    cp = await startControlPlane({ podSecurity: 'talos' });
    node = await startRealNode(cp, { name: NODE, ip: '10.99.0.1', podCidr: '10.244.1.0/24' });
  }, 240_000);

  afterAll(async () => {
    node?.down();
    await cp?.stop();
  }, 120_000);

  it('registers the node, Ready, with containerd as its runtime and kubelet at the control plane version', async () => {
    const wait = await cp.kubectl(['wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=90s']);
    expect(wait.stdout + wait.stderr).toContain('condition met');
    const info = JSON.parse((await cp.kubectl(['get', 'node', NODE, '-o', 'json'])).stdout) as {
      status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } };
    };
    expect(info.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    const server = JSON.parse((await cp.kubectl(['version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } };
    expect(info.status.nodeInfo.kubeletVersion).toBe(server.serverVersion.gitVersion);
  });

  it('runs a pod from the locally imported probe image: Running, Ready by an HTTP probe, an IP from the pod CIDR', async () => {
    expect((await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(webPod('web')) })).code).toBe(0);
    const wait = await cp.kubectl(['-n', 'default', 'wait', 'pod/web', '--for=condition=Ready', '--timeout=90s']);
    expect(wait.stdout + wait.stderr).toContain('condition met');
    const got = JSON.parse((await cp.kubectl(['-n', 'default', 'get', 'pod', 'web', '-o', 'json'])).stdout) as { status: { phase: string; podIP: string } };
    expect(got.status.phase).toBe('Running');
    expect(got.status.podIP).toMatch(/^10\.244\.1\.\d+$/);
  });

  it('reaches that pod from another pod through a ClusterIP Service programmed by kube-proxy', async () => {
    expect((await cp.kubectl(['-n', 'default', 'expose', 'pod', 'web', '--port=80', '--target-port=8080', '--name=web'])).code).toBe(0);
    expect((await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(httpClientPod('client', '$(WEB_SERVICE_HOST)', 80)) })).code).toBe(0);
    const wait = await cp.kubectl(['-n', 'default', 'wait', 'pod/client', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=90s']);
    expect(wait.stdout + wait.stderr).toContain('condition met');
  });

  it('leaves nothing on the host: processes, network namespaces, cgroups, mounts, files; host sysctls unchanged', () => {
    const pids = ['kubelet', 'kube-proxy', 'containerd'].map((p) => Number(readFileSync(path.join(node.dir, `${p}.pid`), 'utf8')));
    const dir = node.dir;
    expect(node.down().out).toContain(`node ${NODE} down`);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory/groundwork-${NODE}`) || existsSync(`/sys/fs/cgroup/groundwork-${NODE}`)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
    expect(hostState()).toEqual(before);
  });
});
