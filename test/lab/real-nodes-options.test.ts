/**
 * `lab up --nodes-real N` before anything starts (issue 21): flags it has no use for are usage errors naming why,
 * a non-root user, missing host programs and unbuilt node programs are UserErrors naming the command that fixes
 * them. Nothing here starts a node (test/real-node/lab-up-real-nodes.test.ts does, as root).
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { Exec } from '../../src/exec/index.js';
import { runLabUp } from '../../src/lab/up.js';
import { checkRealNodeHost, findRealNodeTools, realNodePlan } from '../../src/lab/real/nodes.js';
import { captureIo } from '../helpers/io.js';

const base = (dir: string) => ({ faults: [] as string[], kubeconfigPath: path.join(dir, 'kc'), json: false, io: captureIo(dir) });

describe('lab up --nodes-real: refusals before anything starts', () => {
  it.each([
    [{ nodes: 3 }, /--nodes does not go with --nodes-real: --nodes counts simulated nodes/],
    [{ api: 'embedded' as const }, /--api embedded does not go with --nodes-real/],
    [{ cni: 'calico' as const }, /--cni does not go with --nodes-real: the nodes use the real bridge CNI plugin/],
    [{ faults: ['dns-down'] }, /--fault does not go with --nodes-real: .*scale CoreDNS to 0/],
    [{ controlPlanes: 1 }, /--control-planes does not go with --nodes-real/],
    [{ networkPolicy: 'calico' }, /--network-policy must be one of kube-router, none, not "calico"/],
  ])('%o is a usage error', async (extra, msg) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-real-nodes-opts-'));
    const err = await runLabUp({ ...base(dir), nodesReal: 2, ...extra }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(msg);
    expect((err as UserError).exitCode).toBe(2);
  });

  it('refuses --network-policy without --nodes-real: the simulated lab has --cni for that', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-real-nodes-opts-'));
    const err = await runLabUp({ ...base(dir), networkPolicy: 'none' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe('--network-policy is for --nodes-real: it picks who enforces NetworkPolicy on real nodes');
    expect((err as UserError).fix).toMatch(/--cni flannel ignores it/);
    expect((err as UserError).exitCode).toBe(2);
  });

  it('names the command that builds missing node programs, then the add-on images', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-real-nodes-tools-'));
    const env = { GROUNDWORK_REAL_NODE_TOOLS: path.join(dir, 'node'), GROUNDWORK_REAL_ADDONS: path.join(dir, 'addons') };
    expect(() => findRealNodeTools(env)).toThrow(/kubelet, kube-proxy, images\/pause.tar, images\/probe.tar missing/);
    try {
      findRealNodeTools(env);
    } catch (e) {
      expect((e as UserError).fix).toMatch(/bash tools\/real\/build-node.sh/);
    }
    mkdirSync(path.join(dir, 'node', 'images'), { recursive: true });
    for (const f of ['kubelet', 'kube-proxy', 'images/pause.tar', 'images/probe.tar']) writeFileSync(path.join(dir, 'node', f), '');
    try {
      findRealNodeTools(env);
      expect.unreachable();
    } catch (e) {
      expect((e as UserError).message).toMatch(/add-ons are not built: coredns.tar, local-path.tar, agnhost.tar, kube-router-netpol missing/);
      expect((e as UserError).fix).toMatch(/bash tools\/real\/build-addons.sh/);
    }
    mkdirSync(path.join(dir, 'addons'));
    for (const f of ['coredns.tar', 'local-path.tar', 'agnhost.tar']) writeFileSync(path.join(dir, 'addons', f), '');
    // Without an enforcer the policy controller is not needed; with the default one it is.
    expect(findRealNodeTools(env, 'none')).toEqual({ node: path.join(dir, 'node'), addons: path.join(dir, 'addons') });
    const err = (() => {
      try {
        findRealNodeTools(env);
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err?.message).toMatch(/add-ons are not built: kube-router-netpol missing/);
    expect(err?.why).toMatch(/--network-policy kube-router runs kube-router's policy controller on each/);
    writeFileSync(path.join(dir, 'addons', 'kube-router-netpol'), '');
    expect(findRealNodeTools(env)).toEqual({ node: path.join(dir, 'node'), addons: path.join(dir, 'addons') });
  });

  it('refuses a non-root user, and names the Debian packages for missing host programs', async () => {
    const never: Exec = async () => {
      throw new Error('not run for a non-root user');
    };
    await expect(checkRealNodeHost(never, 1000)).rejects.toThrow(/--nodes-real needs root/);
    const lacking: Exec = async (argv) => ({ argv, exitCode: 0, stdout: 'containerd\nsocat\n', stderr: '', durationMs: 1 });
    const err = await checkRealNodeHost(lacking, 0).catch((e: unknown) => e);
    expect((err as UserError).message).toBe('--nodes-real needs programs this machine lacks: containerd, socat');
    expect((err as UserError).fix).toBe('apt-get install -y containerd runc containernetworking-plugins iptables socat busybox-static');
  });

  it('needs ipset for kube-router\'s policy controller, and not with --network-policy none', async () => {
    const noIpset: Exec = async (argv) => ({ argv, exitCode: argv.join(' ').includes('command -v ipset') ? 1 : 0, stdout: '', stderr: '', durationMs: 1 });
    const err = await checkRealNodeHost(noIpset, 0).catch((e: unknown) => e);
    expect((err as UserError).message).toMatch(/^--network-policy kube-router needs ipset, which this machine lacks/);
    expect((err as UserError).fix).toBe('apt-get install -y ipset (or --network-policy none: no NetworkPolicy enforcement)');
    await expect(checkRealNodeHost(noIpset, 0, 'none')).resolves.toBeUndefined();
  });

  it('plans node i at 10.99.0.i with the pod range 10.244.i.0/24', () => {
    expect([1, 2].map((i) => realNodePlan(i))).toEqual([
      { name: 'gw-real-1', ip: '10.99.0.1', podCIDR: '10.244.1.0/24' },
      { name: 'gw-real-2', ip: '10.99.0.2', podCIDR: '10.244.2.0/24' },
    ]);
  });
});
