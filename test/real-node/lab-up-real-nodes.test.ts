/**
 * `groundwork lab up --api real --nodes-real 2` through the real binary (issue 21 item 2): the real control plane
 * in a fabric network namespace and two real nodes (kubelet, kube-proxy, containerd, bridge CNI) with a real
 * CoreDNS and local-path-provisioner, NetworkPolicy enforced by kube-router's policy controller on each node;
 * `groundwork validate` runs every suite against it and they pass, and the NetworkPolicy evaluator's table
 * (test/net/netpol-cases.ts) holds on the real enforcer; faults made real are named (the provisioner and CoreDNS
 * scaled to 0: the storage and dns suites name them; a node cordoned, a kubelet stopped: the control-plane suite
 * names the node; `--network-policy none`, the bridge CNI alone enforcing nothing: the netpol suite says the
 * policies are not enforced). The first lab is SIGKILLed: the second removes what it left before it starts, and its
 * Ctrl-C leaves the host as the file found it. Two labs in all (each start is a minute of real processes).
 * npm test's real-node pass (test/last-passes.sh), or alone: `npm run test:real-node` (root; the tools/real builds).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realTool, realToolsPath } from '../helpers/real-tools.js';
import { hostState, run } from '../helpers/real-node.js';
import { realNodesRecordsDir } from '../../src/lab/real/nodes.js';
import { runNetpolTable } from '../helpers/netpol-real.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/groundwork');

interface Summary { api: string; url: string; kubeconfig: string; imageRegistry: string; networkPolicy: string; store: string; etcd: string; nodes: { name: string; internalIP: string; podCIDR: string; stateDir: string }[] }
interface Report { status: string; results: { id: string; status: string; summary: string; evidence?: { checks?: { name: string; status: string; summary: string }[] } }[] }

/** One `lab up --api real --nodes-real 2 --json` run through the binary, with its kubectl and validate. */
class LabUp {
  child!: ChildProcess;
  exited!: Promise<number>;
  stdout = '';
  stderr = '';
  summary!: Summary;
  cwd!: string;
  env!: Record<string, string>;

  async start(extra: string[]): Promise<void> {
    this.cwd = mkdtempSync(path.join(tmpdir(), 'gw-lab-real-nodes-'));
    this.env = { PATH: `${realToolsPath(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd-3.6/etcd'])}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: process.env.HOME ?? this.cwd, NO_COLOR: '1', CI: 'true' };
    this.child = spawn(process.execPath, [BIN, 'lab', 'up', '--api', 'real', '--nodes-real', '2', ...extra, '--json', '--kubeconfig', path.join(this.cwd, 'lab.kubeconfig')], { cwd: this.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise<number>((r) => this.child.once('exit', (code) => r(code ?? -1)));
    await new Promise<void>((resolve, reject) => {
      this.child.stdout!.on('data', () => this.stdout.includes('\n') && resolve());
      void this.exited.then((c) => reject(new Error(`lab up exited ${c}:\n${this.stdout}\n${this.stderr}`)));
    });
    this.summary = JSON.parse(this.stdout.split('\n')[0]!) as Summary;
  }

  kubectl = (args: string[], input?: string) =>
    spawnSync(realTool('kubectl'), ['--kubeconfig', this.summary.kubeconfig, ...args], { encoding: 'utf8', env: { HOME: this.cwd, PATH: '/usr/bin:/bin' }, timeout: 180_000, ...(input !== undefined ? { input } : {}) });

  /** validate with --only `only` (every suite without it) and --timeout `timeoutS`. */
  validate(only?: string, timeoutS = '90'): { code: number; report: Report; out: string } {
    const r = spawnSync(process.execPath, [BIN, 'validate', '--kubeconfig', this.summary.kubeconfig, '--image-registry', this.summary.imageRegistry, ...(only ? ['--only', only] : []), '--timeout', timeoutS, '--json'], { cwd: this.cwd, encoding: 'utf8', env: this.env, timeout: 300_000 });
    const report = (r.stdout.trim().startsWith('{') ? JSON.parse(r.stdout) : { status: 'none', results: [] }) as Report;
    return { code: r.status ?? -1, report, out: `${r.stdout}\n${r.stderr}` };
  }

  async stop(): Promise<number> {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGINT');
    return this.exited;
  }
}

const suite = (r: Report, name: string) => r.results.find((x) => x.id === name || x.id.endsWith(`:${name}`));

/** The host before the first lab, to compare with after the last one stops. */
let before: ReturnType<typeof hostState>;
/** What the first lab, killed at the end of its describe, leaves behind: its work dir, and its etcd's client URL. */
let killed: { work: string; etcd: string };

/** Whether a process runs an etcd for the client URL `url` (what runs a lab's etcd names it in /proc). */
const etcdRunning = (url: string) => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
  try {
    return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`--advertise-client-urls=${url}`);
  } catch {
    return false;
  }
});

describe('groundwork lab up --api real --nodes-real 2, then groundwork validate on it', () => {
  const lab = new LabUp();
  let summary: Summary;
  const kubectl = (...args: string[]) => lab.kubectl(args);
  const validate = (only?: string, timeoutS?: string) => lab.validate(only, timeoutS);

  beforeAll(async () => {
    before = hostState();
    await lab.start([]);
    summary = lab.summary;
    killed = { work: path.dirname(summary.nodes[0]!.stateDir), etcd: summary.etcd };
  }, 300_000);

  afterAll(async () => {
    await lab.stop();
  }, 120_000);

  it('starts two real nodes Ready with their fabric addresses, a kubeconfig 0600, and CoreDNS Ready', () => {
    expect(summary.api).toBe('real');
    expect(summary.nodes.map((n) => [n.name, n.internalIP, n.podCIDR])).toEqual([['gw-real-1', '10.99.0.1', '10.244.1.0/24'], ['gw-real-2', '10.99.0.2', '10.244.2.0/24']]);
    expect(statSync(summary.kubeconfig).mode & 0o777).toBe(0o600);
    const nodes = kubectl('get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.containerRuntimeVersion}{"\\n"}{end}');
    expect(nodes.stdout.trim().split('\n')).toEqual(['gw-real-1 True containerd://1.6.20', 'gw-real-2 True containerd://1.6.20']);
    const dns = kubectl('-n', 'kube-system', 'get', 'deploy', 'coredns', '-o', 'jsonpath={.status.readyReplicas}');
    expect(dns.stdout).toBe('2');
    expect(lab.stderr).toMatch(/CoreDNS Ready \(kube-dns 10\.96\.0\.10\)/);
  });

  // One validate with every suite, each suite's own claims checked on its result. Before the policy table below:
  // its namespaces (db, monitoring) go on with --wait=false, and while they are Terminating the security suite
  // rightly warns that they have pods and no default-deny policy.
  it('passes validate with every suite: pod IPs across nodes, the Service by kube-proxy, names by CoreDNS, a local-path claim, NetworkPolicy by kube-router, scheduling, security', () => {
    expect(kubectl('get', 'storageclass', '-o', 'jsonpath={.items[*].metadata.name}').stdout).toBe('local-path');
    expect(summary.networkPolicy).toBe('kube-router');
    expect(lab.stderr).toMatch(/node gw-real-2 up \(10\.99\.0\.2, pods 10\.244\.2\.0\/24, NetworkPolicy by kube-router\)/);
    const r = validate();
    expect(r.code, r.out).toBe(0);
    expect(r.report.results.filter((x) => x.status !== 'pass' && x.status !== 'skip').map((x) => `${x.id} ${x.status}: ${x.summary}`), r.out).toEqual([]);
    for (const name of ['control-plane', 'connectivity', 'dns', 'storage', 'scheduling', 'netpol', 'security']) expect(suite(r.report, name)?.status, `${name}\n${r.out}`).toBe('pass');
    expect(suite(r.report, 'dns')?.summary).toMatch(/resolved/);
    expect(suite(r.report, 'netpol')?.summary).toMatch(/^NetworkPolicy enforced: 2 allowed connections passed, 3 denied ones were blocked \(ingress and egress each proven, default-deny in force\)/);
  }, 600_000);

  it('enforces the NetworkPolicy evaluator\'s table (test/net/netpol-cases.ts) as the evaluator says, on real pods across both nodes', async () => {
    const rows = await runNetpolTable({ kubectl: lab.kubectl, fabric: 'gw-lab', nodes: summary.nodes.map((n) => n.name) });
    const table = rows.map((r) => `${r.name}: expected ${r.expected}, baseline ${r.baseline}, observed ${r.observed}`).join('\n');
    expect(rows.length).toBe(28);
    expect(rows.filter((r) => r.baseline !== 'connected').map((r) => r.name), table).toEqual([]);
    expect(rows.filter((r) => (r.expected === 'allowed') !== (r.observed === 'connected')).map((r) => r.name), table).toEqual([]);
  }, 900_000);

  it('drills the control plane\'s etcd: groundwork drill --endpoints <the lab\'s etcd> restores a copy and verifies it', () => {
    expect(summary.store).toBe(`etcd ${summary.etcd}`);
    expect(summary.etcd).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const etcdBin = realToolsPath(['etcd-3.6/etcd', 'etcd-3.6/etcdctl', 'etcd-3.6/etcdutl']);
    const r = spawnSync(process.execPath, [BIN, 'drill', '--endpoints', summary.etcd, '--sentinel', '--state-dir', path.join(lab.cwd, 'drill-state'), '--json'], { cwd: lab.cwd, encoding: 'utf8', env: { ...lab.env, PATH: `${etcdBin}:/usr/bin:/bin` }, timeout: 300_000 });
    const doc = JSON.parse(r.stdout) as { drill: { status: string; reasons: string[]; phases: Record<string, { status: string }>; source?: { total: number; counts: Record<string, number> }; restored?: { total: number; counts: Record<string, number>; bumped: boolean }; sentinel?: { found: boolean } } };
    expect(r.status, r.stderr).toBe(0);
    expect(doc.drill.status, doc.drill.reasons.join('; ')).toBe('pass');
    for (const p of ['snapshot', 'integrity', 'restore', 'boot', 'verify']) expect(doc.drill.phases[p]?.status, p).toBe('pass');
    // The real cluster's keys came back: its two Nodes, the CoreDNS and local-path Deployments. (verify compared the
    // counts per prefix with the source's at the snapshot's revision; the report's `source` is the inventory's, and a
    // live cluster moves between the two: pods the test before deleted.)
    expect(doc.drill.restored!.total).toBeGreaterThan(100);
    expect(doc.drill.restored!.counts['/registry/minions']).toBe(2);
    expect(doc.drill.restored!.counts['/registry/deployments']).toBe(2);
    expect(doc.drill.restored!.bumped).toBe(true);
    expect(doc.drill.sentinel?.found).toBe(true);
  }, 300_000);

  // Two faults at once, as an operator may meet them: each suite names its own cause.
  it('names the local-path-provisioner scaled to 0 as why the claim stayed Pending and CoreDNS scaled to 0 as why names failed; passes both again once they are back', () => {
    expect(kubectl('-n', 'kube-system', 'scale', 'deploy/local-path-provisioner', '--replicas=0').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'scale', 'deploy/coredns', '--replicas=0').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'wait', 'pod', '-l', 'app=local-path-provisioner', '--for=delete', '--timeout=60s').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'wait', 'pod', '-l', 'k8s-app=kube-dns', '--for=delete', '--timeout=60s').status).toBe(0);
    const r = validate('storage,dns', '30');
    expect(r.code).not.toBe(0);
    const st = suite(r.report, 'storage')!;
    expect(st.status, r.out).toBe('fail');
    expect(st.summary, r.out).toMatch(/^PVC did not bind \(StorageClass local-path, WaitForFirstConsumer\): the claim stayed Pending for [\d.]+s: rancher\.io\/local-path never provisioned a volume, and its provisioner is scaled to zero: deployment kube-system\/local-path-provisioner has replicas: 0$/);
    expect(r.out).toContain('kubectl -n kube-system scale deployment local-path-provisioner --replicas=1');
    const dns = suite(r.report, 'dns')!;
    expect(dns.status).toBe('fail');
    const coredns = dns.evidence?.checks?.find((c) => c.name === 'coredns');
    expect(coredns?.status).toBe('fail');
    expect(coredns?.summary, r.out).toMatch(/CoreDNS is scaled to zero: deployment kube-system\/coredns has replicas: 0/);
    expect(dns.summary).toMatch(/scaled to zero/);
    expect(kubectl('-n', 'kube-system', 'scale', 'deploy/local-path-provisioner', '--replicas=1').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'scale', 'deploy/coredns', '--replicas=2').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'rollout', 'status', 'deploy/local-path-provisioner', '--timeout=90s').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'rollout', 'status', 'deploy/coredns', '--timeout=90s').status).toBe(0);
    const again = validate('storage,dns');
    expect(again.code, again.out).toBe(0);
    expect(suite(again.report, 'storage')?.status).toBe('pass');
    expect(suite(again.report, 'dns')?.status).toBe('pass');
  }, 600_000);

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

  // The lab is not stopped here but killed: the next describe's lab up finds what it left, removes it first, and
  // its Ctrl-C at the end leaves the host as this file found it.
  it('killed (SIGKILL), it leaves its lab recorded: the network namespaces, the work dir, the control plane\'s etcd', async () => {
    lab.child.kill('SIGKILL');
    await lab.exited;
    expect(run(['ip', 'netns', 'list']).out).toMatch(/gw-lab/);
    expect(existsSync(killed.work)).toBe(true);
    expect(etcdRunning(killed.etcd)).toBe(true);
  }, 120_000);
});

describe('groundwork lab up --api real --nodes-real 2 --network-policy none, after a killed one: a policy-blind CNI, for real', () => {
  const lab = new LabUp();

  beforeAll(async () => {
    await lab.start(['--network-policy', 'none']);
  }, 300_000);

  afterAll(async () => {
    await lab.stop();
  }, 120_000);

  it('removes what the killed lab left before it starts, then runs two nodes again', () => {
    expect(lab.stderr).toMatch(/swept what run \S+ left behind: the real-nodes lab on gw-lab/);
    expect(lab.stderr).toMatch(/swept what run \S+ left behind: the real-nodes lab's control plane: its PKI and data/);
    expect(existsSync(killed.work)).toBe(false);
    expect(etcdRunning(killed.etcd)).toBe(false);
    expect(lab.kubectl(['get', 'nodes', '-o', 'name']).stdout.trim().split('\n')).toEqual(['node/gw-real-1', 'node/gw-real-2']);
  });

  it('runs the nodes without an enforcer, and the netpol suite says the policies are not enforced', () => {
    expect(lab.summary.networkPolicy).toBe('none');
    expect(lab.stderr).toMatch(/node gw-real-1 up \(10\.99\.0\.1, pods 10\.244\.1\.0\/24, no NetworkPolicy enforcement\)/);
    const r = lab.validate('netpol');
    expect(r.code).not.toBe(0);
    expect(suite(r.report, 'netpol')?.status, r.out).toBe('fail');
    expect(suite(r.report, 'netpol')?.summary, r.out).toMatch(/^NetworkPolicies are not enforced: traffic they deny got through \(postgres:3306, redis:6379, memcached:11211\)/);
  }, 300_000);

  it('stops every node, the control plane and the network namespaces on Ctrl-C, and leaves the host as it was', async () => {
    expect(await lab.stop()).toBe(130);
    expect(lab.stderr).toContain('lab stopped');
    expect(hostState()).toEqual(before);
    expect(readdirSync(realNodesRecordsDir())).toEqual([]);
  }, 120_000);
});
