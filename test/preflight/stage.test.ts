import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildPreflightStage, type PreflightOptions } from '../../src/preflight/stage.js';
import { SUBNET_CHECKS } from '../../src/net/subnets.js';
import { UserError } from '../../src/errors.js';
import type { Stage, StepOutcome } from '../../src/run/types.js';
import { createTestContext } from '../helpers/context.js';
import { createFakeTools } from '../helpers/fake-tools.js';
import { closedPort, fakeWorld, listen, loopbackSpec } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'gw-pf-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function run(stage: Stage, id: string, env?: Record<string, string>): Promise<StepOutcome> {
  const s = stage.steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id} in ${stage.steps.map((x) => x.id).join(', ')}`);
  return s.run(createTestContext({ env }));
}

const noRemote: PreflightOptions = { remote: false };

describe('buildPreflightStage', () => {
  it('on the operator machine: subnets, tools, reachability and remote checks, no local hardware', () => {
    const stage = buildPreflightStage(loopbackSpec(), { world: fakeWorld() });
    const ids = stage.steps.map((s) => s.id);
    expect(ids).toEqual([
      ...SUBNET_CHECKS,
      'tool-talosctl',
      'tool-kubectl',
      'tool-helm',
      'tool-etcdctl',
      'reach-cp-1-50000',
      'reach-w-1-50000',
      'reach-udp',
      'cpu-cp-1',
      'memory-cp-1',
      'install-disk-cp-1',
      'address-cp-1',
      'cpu-w-1',
      'memory-w-1',
      'install-disk-w-1',
      'address-w-1',
    ]);
    expect(stage.steps.every((s) => s.stage === 'preflight' && s.continueOnFail === true)).toBe(true);
    expect(stage.notes?.[0]).toMatch(/not a node in the spec/);
  });

  it('detects that this machine is a control plane from its addresses and adds host, etcd and port checks', () => {
    const stage = buildPreflightStage(loopbackSpec({ method: 'kubeadm', cni: 'calico' }), { world: fakeWorld({ addresses: ['127.0.0.1', '127.0.77.11'] }), ...noRemote });
    const ids = stage.steps.map((s) => s.id);
    for (const id of ['cpu', 'memory', 'etcd-disk-fsync', 'disk-free-etcd', 'kernel', 'swap', 'cgroup-v2', 'ip-forward', 'cri-socket', 'bin-nsenter', 'bin-socat', 'port-6443-free', 'port-179-free', 'port-4789-udp-free', 'tool-ssh', 'reach-cp-1-22'])
      expect(ids).toContain(id);
    expect(ids).not.toContain('port-22-free');
    expect(stage.notes?.[0]).toBe('this machine is checked as a control-plane (cp-1)');
  });

  it('--ignore downgrades exactly that failure to a warning and records it', async () => {
    const world = fakeWorld({ cpus: 1 });
    const stage = buildPreflightStage(loopbackSpec(), { world, role: 'control-plane', ignore: ['cpu'], ...noRemote });
    const cpu = await run(stage, 'cpu');
    expect(cpu.status).toBe('warn');
    expect(cpu.summary).toBe('this machine has 1 CPU(s); at least 2 are required [ignored by --ignore cpu: failure downgraded to a warning]');
    expect(cpu.evidence).toMatchObject({ ignoredBy: '--ignore cpu', originalStatus: 'fail', measured: { cpus: 1, min: 2 } });
    // Not ignored: still a failure.
    const mem = await run(buildPreflightStage(loopbackSpec(), { world: fakeWorld({ memoryBytes: 1024 ** 3 }), role: 'control-plane', ignore: ['cpu'], ...noRemote }), 'memory');
    expect(mem.status).toBe('fail');
    expect(stage.notes).toContain('ignored by the operator: cpu');
  });

  it.each([
    [['cpuu'], /unknown preflight check for --ignore: cpuu/, /--ignore takes the name of one check/],
    [['all'], /unknown preflight check for --ignore: all/, /there is no "ignore all"/],
  ])('--ignore %j is a usage error listing the valid names', (ignore, message, why) => {
    let err: unknown;
    try {
      buildPreflightStage(loopbackSpec(), { world: fakeWorld(), ignore, ...noRemote });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const u = err as UserError;
    expect(u.exitCode).toBe(2);
    expect(u.message).toMatch(message);
    expect(u.why).toMatch(why);
    expect(u.fix).toMatch(/^valid names for this spec: dual-stack-families, pod-service-overlap, .*reach-cp-1-50000/);
  });

  it('a port already listened on fails with the listener and how to find its owner', async () => {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
    ].join('\n');
    const stage = buildPreflightStage(loopbackSpec(), { world: fakeWorld({ files: { '/proc/net/tcp': tcp } }), role: 'control-plane', ...noRemote });
    const o = await run(stage, 'port-6443-free');
    expect(o.status).toBe('fail');
    expect(o.summary).toBe('6443/tcp is already in use here (listening: 0.0.0.0:6443)');
    expect(o.fix).toContain("ss -tlnp 'sport = :6443'");
    expect((await run(stage, 'port-10250-free')).status).toBe('pass');
  });

  it("route overlap reads this machine's routing table from the world", async () => {
    const route = ['Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT', 'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0'].join('\n');
    const spec = loopbackSpec({ network: '    podCIDR: 172.17.0.0/16' });
    const o = await run(buildPreflightStage(spec, { world: fakeWorld({ files: { '/proc/net/route': route } }), ...noRemote }), 'route-overlap');
    expect(o.status).toBe('fail');
    expect(o.summary).toBe('podCIDR 172.17.0.0/16 overlaps route 172.17.0.0/16 dev docker0');
    expect(o.fix).toContain('podCIDR: 10.244.0.0/16');
  });

  it('etcd-disk-fsync runs the real benchmark (small size) in the given directory', async () => {
    const dir = tmp();
    const stage = buildPreflightStage(loopbackSpec(), { world: fakeWorld(), role: 'control-plane', fsyncDir: dir, fsyncBytes: 100 * 2300, ...noRemote });
    const o = await run(stage, 'etcd-disk-fsync');
    expect(['pass', 'warn', 'fail']).toContain(o.status);
    expect(o.summary).toMatch(new RegExp(`^100 writes of 2300 bytes \\+ fdatasync in ${dir}: p99 `));
    expect(o.evidence).toMatchObject({ writes: 100, blockBytes: 2300, thresholdP99Ms: 10 });
  });

  it('reachability: real loopback listener passes, a closed port fails as refused', async () => {
    const ok = await listen('127.0.77.11');
    cleanups.push(ok.close);
    const closed = await closedPort('127.0.77.21');
    const spec = loopbackSpec({
      method: 'kubeadm',
      nodes: `    - { name: cp-1, address: 127.0.77.11, role: control-plane, ssh: { port: ${ok.port} } }\n    - { name: w-1, address: 127.0.77.21, role: worker, ssh: { port: ${closed} } }`,
    });
    const stage = buildPreflightStage(spec, { world: fakeWorld(), reach: { timeoutMs: 1000 }, ...noRemote });
    const a = await run(stage, `reach-cp-1-${ok.port}`);
    const b = await run(stage, `reach-w-1-${closed}`);
    expect(a.status).toBe('pass');
    expect(a.summary).toMatch(new RegExp(`^127\\.0\\.77\\.11:${ok.port} accepted a TCP connection in [\\d.]+ ms$`));
    expect(b.status).toBe('fail');
    expect(b.summary).toBe(`127.0.77.21:${closed} refused the connection: the host is up but nothing listens`);
    expect(b.fix).toContain('start sshd on w-1');
    const udp = await run(stage, 'reach-udp');
    expect(udp.status).toBe('skip');
    expect(udp.summary).toMatch(/^8472\/udp \(Cilium VXLAN overlay\): not verifiable by connect/);
  });

  it("reachability of SSH goes to nodes[].ssh.host when the spec has one (a port forward), not the node's address", async () => {
    const fwd = await listen('127.0.77.31');
    cleanups.push(fwd.close);
    const spec = loopbackSpec({
      method: 'kubeadm',
      nodes: `    - { name: cp-1, address: 10.88.0.1, role: control-plane, ssh: { host: 127.0.77.31, port: ${fwd.port} } }`,
      network: '    podCIDR: 10.244.0.0/16',
    });
    const o = await run(buildPreflightStage(spec, { world: fakeWorld(), reach: { timeoutMs: 1000 }, ...noRemote }), `reach-cp-1-${fwd.port}`);
    expect(o.status).toBe('pass');
    expect(o.summary).toMatch(new RegExp(`^127\\.0\\.77\\.31:${fwd.port} accepted a TCP connection`));
  });

  it('remote checks of a node that did not answer its reach probe are skipped, pointing at the probe', async () => {
    const closed = await closedPort('127.0.77.31');
    const spec = loopbackSpec({ method: 'kubeadm', nodes: `    - { name: cp-1, address: 127.0.77.31, role: control-plane, ssh: { port: ${closed} } }` });
    // No ssh on the world's PATH either: the reach gate must decide before any tool is looked up.
    const stage = buildPreflightStage(spec, { world: fakeWorld(), reach: { timeoutMs: 1000 } });
    const ctx = createTestContext();
    const cpu = await stage.steps.find((s) => s.id === 'cpu-cp-1')!.run(ctx);
    expect(cpu).toMatchObject({ status: 'skip', summary: `not queried: 127.0.77.31 did not answer (see reach-cp-1-${closed})` });
    expect(ctx.audit).toEqual([]);
  });

  it('operator tools: versions read through strict fakes on a PATH built from scratch', async () => {
    const fakes = createFakeTools(tmp(), {
      kubectl: [{ match: ['version', '--client', '-o', 'json'], stdout: JSON.stringify({ clientVersion: { gitVersion: 'v1.35.2' } }) }],
      helm: [{ match: ['version', '--short'], stdout: 'v3.16.2+g13654a5\n' }],
      talosctl: [{ match: ['version', '--client', '--short'], stdout: 'Client:\n\tTag:         v1.14.1\n' }],
      etcdutl: [],
    });
    const bin = (n: string) => path.join(fakes.binDir, n);
    const world = fakeWorld({ path: { kubectl: bin('kubectl'), helm: bin('helm'), talosctl: bin('talosctl'), etcdutl: bin('etcdutl') } });
    const stage = buildPreflightStage(loopbackSpec(), { world, ...noRemote });
    const kubectl = await run(stage, 'tool-kubectl', fakes.env);
    expect(kubectl.status).toBe('fail');
    expect(kubectl.summary).toBe('kubectl 1.35.2 is older than 1.36');
    expect((await run(stage, 'tool-helm', fakes.env)).summary).toBe(`helm 3.16.2 (>= 3.8) at ${bin('helm')}`);
    expect((await run(stage, 'tool-talosctl', fakes.env)).status).toBe('pass');
    const etcd = await run(stage, 'tool-etcdctl', fakes.env);
    expect(etcd).toMatchObject({ status: 'pass', summary: `etcdctl is missing but etcdutl is at ${bin('etcdutl')}` });
    fakes.verify();
  });
});
