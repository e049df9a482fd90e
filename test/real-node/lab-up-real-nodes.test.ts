/**
 * `groundwork lab up --api real --nodes-real 2` through the real binary (issue 21 item 2): the real control plane
 * in a fabric network namespace and two real nodes (kubelet, kube-proxy, containerd, bridge CNI) with a real
 * CoreDNS and local-path-provisioner; `groundwork validate` runs its connectivity, dns and storage suites against it
 * and they pass; faults made real
 * are named (CoreDNS scaled to 0: the dns suite names it; a node cordoned, a kubelet stopped: the control-plane
 * suite names the node; the bridge CNI enforces no NetworkPolicy: the netpol suite says so); Ctrl-C leaves nothing
 * behind.
 * `npm run test:real-node` (not in `npm test`; needs root and tools/real/build-node.sh + build-addons.sh).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realTool, realToolsPath } from '../helpers/real-tools.js';
import { hostState } from '../helpers/real-node.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/groundwork');

interface Summary { api: string; url: string; kubeconfig: string; imageRegistry: string; nodes: { name: string; internalIP: string; podCIDR: string; stateDir: string }[] }
interface Report { status: string; results: { id: string; status: string; summary: string; evidence?: { checks?: { name: string; status: string; summary: string }[] } }[] }

describe('groundwork lab up --api real --nodes-real 2, then groundwork validate on it', () => {
  let child: ChildProcess;
  let exited: Promise<number>;
  let stdout = '';
  let stderr = '';
  let summary: Summary;
  let cwd: string;
  let env: Record<string, string>;
  let before: ReturnType<typeof hostState>;

  const kubectl = (...args: string[]) => spawnSync(realTool('kubectl'), ['--kubeconfig', summary.kubeconfig, ...args], { encoding: 'utf8', env: { HOME: cwd, PATH: '/usr/bin:/bin' } });
  const validate = (only: string): { code: number; report: Report; out: string } => {
    const r = spawnSync(process.execPath, [BIN, 'validate', '--kubeconfig', summary.kubeconfig, '--image-registry', summary.imageRegistry, '--only', only, '--timeout', '90', '--json'], { cwd, encoding: 'utf8', env, timeout: 300_000 });
    const report = (r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : { status: 'none', results: [] }) as Report;
    return { code: r.status ?? -1, report, out: `${r.stdout}\n${r.stderr}` };
  };
  const suite = (r: Report, name: string) => r.results.find((x) => x.id === name || x.id.endsWith(`:${name}`));

  beforeAll(async () => {
    before = hostState();
    cwd = mkdtempSync(path.join(tmpdir(), 'gw-lab-real-nodes-'));
    env = { PATH: `${realToolsPath(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd-3.6/etcd'])}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: process.env.HOME ?? cwd, NO_COLOR: '1', CI: 'true' };
    child = spawn(process.execPath, [BIN, 'lab', 'up', '--api', 'real', '--nodes-real', '2', '--json', '--kubeconfig', path.join(cwd, 'lab.kubeconfig')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => stdout.includes('\n') && resolve());
      void exited.then((c) => reject(new Error(`lab up exited ${c}:\n${stdout}\n${stderr}`)));
    });
    summary = JSON.parse(stdout.split('\n')[0]!) as Summary;
  }, 300_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
  }, 120_000);

  it('starts two real nodes Ready with their fabric addresses, a kubeconfig 0600, and CoreDNS Ready', () => {
    expect(summary.api).toBe('real');
    expect(summary.nodes.map((n) => [n.name, n.internalIP, n.podCIDR])).toEqual([['gw-real-1', '10.99.0.1', '10.244.1.0/24'], ['gw-real-2', '10.99.0.2', '10.244.2.0/24']]);
    expect(statSync(summary.kubeconfig).mode & 0o777).toBe(0o600);
    const nodes = kubectl('get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.containerRuntimeVersion}{"\\n"}{end}');
    expect(nodes.stdout.trim().split('\n')).toEqual(['gw-real-1 True containerd://1.6.20', 'gw-real-2 True containerd://1.6.20']);
    const dns = kubectl('-n', 'kube-system', 'get', 'deploy', 'coredns', '-o', 'jsonpath={.status.readyReplicas}');
    expect(dns.stdout).toBe('2');
    expect(stderr).toMatch(/CoreDNS Ready \(kube-dns 10\.96\.0\.10\)/);
  });

  it('passes validate --only connectivity,dns: real pod IPs across nodes, the Service by kube-proxy, names by CoreDNS', () => {
    const r = validate('connectivity,dns');
    expect(r.code, r.out).toBe(0);
    expect(suite(r.report, 'connectivity')?.status, r.out).toBe('pass');
    expect(suite(r.report, 'dns')?.status, r.out).toBe('pass');
    expect(suite(r.report, 'dns')?.summary).toMatch(/resolved/);
  }, 300_000);

  it('passes validate --only storage: a claim on the default local-path StorageClass binds, keeps its data, goes with its claim', () => {
    expect(kubectl('get', 'storageclass', '-o', 'jsonpath={.items[*].metadata.name}').stdout).toBe('local-path');
    const r = validate('storage');
    expect(r.code, r.out).toBe(0);
    expect(suite(r.report, 'storage')?.status, r.out).toBe('pass');
  }, 300_000);

  it('names the bridge CNI as policy-blind: the netpol suite sees denied traffic get through (no enforcer on these nodes)', () => {
    const r = validate('netpol');
    expect(r.code).not.toBe(0);
    expect(suite(r.report, 'netpol')?.summary, r.out).toMatch(/^NetworkPolicies are not enforced: traffic they deny got through/);
  }, 300_000);

  it('names CoreDNS scaled to 0 as the cause of the dns failure, and passes again once it is back', () => {
    expect(kubectl('-n', 'kube-system', 'scale', 'deploy/coredns', '--replicas=0').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'wait', 'pod', '-l', 'k8s-app=kube-dns', '--for=delete', '--timeout=60s').status).toBe(0);
    const r = validate('dns');
    expect(r.code).not.toBe(0);
    const dns = suite(r.report, 'dns')!;
    expect(dns.status).toBe('fail');
    const coredns = dns.evidence?.checks?.find((c) => c.name === 'coredns');
    expect(coredns?.status).toBe('fail');
    expect(coredns?.summary, r.out).toMatch(/CoreDNS is scaled to zero: deployment kube-system\/coredns has replicas: 0/);
    expect(dns.summary).toMatch(/scaled to zero/);
    expect(kubectl('-n', 'kube-system', 'scale', 'deploy/coredns', '--replicas=2').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'rollout', 'status', 'deploy/coredns', '--timeout=90s').status).toBe(0);
    expect(suite(validate('dns').report, 'dns')?.status).toBe('pass');
  }, 400_000);

  it('names a cordoned node in the control-plane suite', () => {
    expect(kubectl('cordon', 'gw-real-2').status).toBe(0);
    const r = validate('control-plane');
    const cp = suite(r.report, 'control-plane');
    expect(cp?.evidence?.checks?.find((c) => c.name === 'schedulable')?.summary, r.out).toBe('1 Ready node takes no pods: gw-real-2 cordoned');
    expect(kubectl('uncordon', 'gw-real-2').status).toBe(0);
  }, 300_000);

  it('names a node whose kubelet was stopped (NotReady) in the control-plane suite', async () => {
    // The node's state dir (real-node.sh's: pid files, logs/).
    const pidFile = path.join(summary.nodes.find((n) => n.name === 'gw-real-2')!.stateDir, 'kubelet.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGTERM');
    const notReady = kubectl('wait', 'node/gw-real-2', '--for=condition=Ready=Unknown', '--timeout=120s');
    expect(notReady.status, notReady.stderr).toBe(0);
    const r = validate('control-plane');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/gw-real-2/);
    expect(r.out).toMatch(/NotReady|not ready|kubelet/i);
  }, 300_000);

  it('stops every node, the control plane and the network namespaces on Ctrl-C', async () => {
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('lab stopped');
    expect(hostState()).toEqual(before);
  }, 120_000);
});
