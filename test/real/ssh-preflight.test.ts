/**
 * Preflight's remote facts of a kubeadm node (src/preflight/remote.ts) through a real sshd and the real ssh
 * client, as root and as a non-root user with passwordless sudo, on first contact (empty known_hosts), with a
 * wrong key, and against a listener that never answers. A strict fake kubeadm is first on the node's PATH.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPreflightStage } from '../../src/preflight/stage.js';
import type { StepOutcome } from '../../src/run/types.js';
import { parseSpec } from '../../src/spec/load.js';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/spec/versions.js';
import { createTestContext } from '../helpers/context.js';
import { createFakeTools, type FakeTools } from '../helpers/fake-tools.js';
import { startSilentListener, startSshd, TEST_USER, type TestSshd } from '../helpers/sshd.js';
import { fakeWorld } from '../preflight/helpers.js';

let sshd: TestSshd;
let fakes: FakeTools;
let tmp: string;
beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gw-ssh-preflight-'));
  chmodSync(tmp, 0o755);
  fakes = createFakeTools(path.join(tmp, 'fakes'), { kubeadm: [{ match: ['version', '-o', 'short'], stdout: `v${DEFAULT_KUBERNETES_VERSION}\n` }] });
  sshd = await startSshd({ remotePath: [fakes.binDir] });
});
afterAll(async () => {
  await sshd?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function spec(o: { host: string; port: number; user: string; key: string; knownHosts: string }) {
  const etcdDir = path.join(tmp, 'var-lib-etcd');
  return parseSpec(
    `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: ssh-real }
spec:
  kubernetesVersion: "${DEFAULT_KUBERNETES_VERSION}"
  endpoint: https://${o.host}:6443
  bootstrap:
    method: kubeadm
    kubeadm:
      etcdDataDir: ${etcdDir}
      ssh: { user: ${o.user}, port: ${o.port}, identityFile: ${o.key}, knownHostsFile: ${o.knownHosts} }
  nodes:
    - { name: cp-1, address: ${o.host}, role: control-plane }
  network:
    cni: calico
`,
    'cluster.yaml',
  );
}

const CHECKS = ['cpu-', 'memory-', 'kernel-', 'swap-', 'cgroup-v2-', 'binaries-', 'kubeadm-', 'etcd-disk-fsync-', 'disk-free-etcd-'];

async function remoteChecks(loaded: ReturnType<typeof spec>): Promise<Record<string, StepOutcome>> {
  const world = fakeWorld({ path: { ssh: '/usr/bin/ssh' }, env: { HOME: tmp } });
  const stage = buildPreflightStage(loaded, { world, role: 'operator', remote: { reachable: async () => ({ ok: true, check: '' }) } });
  const ctx = createTestContext({ env: { PATH: '/usr/bin:/bin', HOME: tmp, LANG: 'C' } });
  const out: Record<string, StepOutcome> = {};
  for (const s of stage.steps) if (CHECKS.some((p) => s.id.startsWith(p))) out[s.id] = await s.run(ctx);
  return out;
}

describe.each(['root', TEST_USER])('preflight of a kubeadm node over real ssh as %s', (user) => {
  it('reads the node facts on first contact (empty known_hosts), through sudo for a non-root user', async () => {
    const knownHosts = sshd.knownHostsFile();
    const r = await remoteChecks(spec({ host: sshd.host, port: sshd.port, user, key: sshd.clientKey, knownHosts }));
    expect(r['cpu-cp-1']!.summary).toContain(`cp-1 (${sshd.host}) has ${os.availableParallelism()} CPU`);
    expect(r['memory-cp-1']!.status).not.toBe('fail');
    expect(r['kernel-cp-1']!.summary).toContain(os.release());
    // The fake kubeadm first on the node's PATH answered (under sudo for the non-root user).
    expect(r['kubeadm-cp-1']).toMatchObject({ status: 'pass', summary: `cp-1 (${sshd.host}) has kubeadm ${DEFAULT_KUBERNETES_VERSION}` });
    // The fdatasync timing wrote beside the etcd data dir, as root.
    expect(r['etcd-disk-fsync-cp-1']!.summary).toMatch(/fdatasync|dsync|fio/);
    expect(r['etcd-disk-fsync-cp-1']!.summary).not.toMatch(/could not time/);
    expect(fakes.unexpected()).toEqual([]);
    expect(readFileSync(knownHosts, 'utf8')).toContain(readFileSync(path.join(sshd.dir, 'host_ed25519.pub'), 'utf8').split(' ')[1]);
  });

  it('a wrong key fails the node checks naming the host and "Permission denied (publickey)"', async () => {
    const r = await remoteChecks(spec({ host: sshd.host, port: sshd.port, user, key: sshd.wrongKey, knownHosts: sshd.knownHostsFile() }));
    expect(r['cpu-cp-1']!.status).toBe('fail');
    expect(r['cpu-cp-1']!.summary).toContain(`ssh to cp-1 (${sshd.host}) failed with exit code 255`);
    expect(r['cpu-cp-1']!.summary).toContain(`${user}@${sshd.host}: Permission denied (publickey`);
    expect(r['cpu-cp-1']!.fix).toContain(`-i ${sshd.wrongKey}`);
    expect(r['memory-cp-1']).toMatchObject({ status: 'skip', summary: 'not judged: see cpu-cp-1' });
  });
});

describe('preflight against a host that accepts TCP and never answers', () => {
  it('fails with the banner-exchange timeout (ConnectTimeout) instead of waiting for the step timeout', async () => {
    const silent = await startSilentListener();
    try {
      const r = await remoteChecks(spec({ host: silent.host, port: silent.port, user: 'root', key: sshd.clientKey, knownHosts: sshd.knownHostsFile() }));
      expect(r['cpu-cp-1']!.status).toBe('fail');
      expect(r['cpu-cp-1']!.summary).toContain(`ssh to cp-1 (${silent.host}) failed with exit code 255`);
      expect(r['cpu-cp-1']!.summary).toMatch(/Connection timed out during banner exchange/);
    } finally {
      await silent.stop();
    }
  }, 60_000);
});
