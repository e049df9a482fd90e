/**
 * The NetworkPolicy evaluator's table (test/net/netpol-cases.ts) on a real cluster: the table's small world made of
 * real pods (agnhost, pinned to nodes by the table's pod IPs: 10.244.N.x on node N, modulo the node count), its
 * one outside address made real in the lab's fabric namespace (the address on the fabric's lo, a TCP listener
 * there), and each case checked twice: with no policy in force (the connection must work, or a "blocked" would
 * prove nothing) and with the case's policies applied (the observed verdict must reach the table's within
 * `settleS`: a real enforcer programs a change asynchronously). The connections are made from inside the source
 * pod (`kubectl exec`: nc -z for TCP, a DNS query for 53/UDP, agnhost's UDP echo otherwise) or from the fabric for
 * the outside address.
 *
 * Used by test/real-node/lab-up-real-nodes.test.ts. The table's world is the evaluator's: namespaces default, db,
 * monitoring (team=ops) and kube-system (the lab's real CoreDNS pods are its k8s-app=kube-dns).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Connection, Destination, Endpoint, NetworkPolicy } from '../../src/net/netpol.js';
import { NETPOL_CASES, type NetpolCase } from '../net/netpol-cases.js';

export const AGNHOST = 'groundwork.local/e2e-test-images/agnhost:2.53';

export type Kubectl = (args: string[], input?: string) => { status: number | null; stdout: string; stderr: string };

export interface NetpolTableRow {
  name: string;
  expected: 'allowed' | 'denied';
  /** With no policy in force: must be 'connected'. */
  baseline: 'connected' | 'blocked';
  observed: 'connected' | 'blocked';
}

interface RealPod {
  key: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  node: string;
  ports: Map<string, { port: number; protocol: 'TCP' | 'UDP'; name?: string }>;
  /** Filled once Running. */
  ip?: string;
}

const keyOf = (e: Endpoint) => (e.namespace ? e.name ?? `${e.namespace}/${Object.values(e.podLabels ?? {})[0]}` : e.ip);
const isDns = (e: Endpoint) => e.namespace === 'kube-system' && e.podLabels?.['k8s-app'] === 'kube-dns';
const policyKey = (ps: NetworkPolicy[]) => ps.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort().join(',');

/** The pods the table needs (CoreDNS excepted: the lab's own), each with the ports the table connects to. */
export function tableWorld(cases: NetpolCase[], nodes: string[]): { pods: RealPod[]; outside: Map<string, Set<number>>; namespaces: Map<string, Record<string, string>> } {
  const pods = new Map<string, RealPod>();
  const outside = new Map<string, Set<number>>();
  const namespaces = new Map<string, Record<string, string>>();
  const add = (e: Endpoint, d?: Destination) => {
    if (!e.namespace) {
      const ports = outside.get(e.ip) ?? new Set<number>();
      if (d) ports.add(d.port);
      outside.set(e.ip, ports);
      return;
    }
    if (isDns(e)) return;
    namespaces.set(e.namespace, e.namespaceLabels ?? {});
    const key = keyOf(e);
    const octet = Number(e.ip.split('.')[2] ?? '1');
    const p = pods.get(key) ?? { key, namespace: e.namespace, name: Object.values(e.podLabels ?? {})[0] ?? 'pod', labels: e.podLabels ?? {}, node: nodes[(Math.max(octet, 1) - 1) % nodes.length]!, ports: new Map() };
    if (d) {
      const protocol = d.protocol === 'UDP' ? 'UDP' : 'TCP';
      const named = Object.entries(d.namedPorts ?? {}).find(([, n]) => n === d.port)?.[0];
      p.ports.set(`${d.port}/${protocol}`, { port: d.port, protocol, ...(named ? { name: named } : {}) });
      for (const [name, port] of Object.entries(d.namedPorts ?? {})) if (!p.ports.has(`${port}/TCP`)) p.ports.set(`${port}/TCP`, { port, protocol: 'TCP', name });
    }
    pods.set(key, p);
  };
  for (const [, , c] of cases) {
    add(c.from);
    add(c.to, c.to);
  }
  return { pods: [...pods.values()], outside, namespaces };
}

function podManifest(p: RealPod): unknown {
  const ports = [...p.ports.values()].sort((a, b) => a.port - b.port);
  // One agnhost netexec per port (its HTTP server answers a plain TCP connect); a UDP port gets netexec's UDP
  // server (it answers `hostname`) with its HTTP server on a port nothing connects to.
  const containers = ports.map((x) => ({
    name: `${x.protocol.toLowerCase()}-${x.port}`,
    image: AGNHOST,
    imagePullPolicy: 'Never',
    args: x.protocol === 'UDP' ? ['netexec', `--http-port=${20000 + x.port}`, `--udp-port=${x.port}`] : ['netexec', `--http-port=${x.port}`, '--udp-port=-1'],
    ports: [{ containerPort: x.port, protocol: x.protocol, ...(x.name ? { name: x.name } : {}) }],
  }));
  if (containers.length === 0) containers.push({ name: 'sleep', image: AGNHOST, imagePullPolicy: 'Never', args: ['pause'], ports: [] });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels, 'groundwork.dev/test': 'netpol-table' } },
    spec: { nodeName: p.node, terminationGracePeriodSeconds: 1, containers },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runNetpolTable(o: { kubectl: Kubectl; fabric: string; nodes: string[]; cases?: NetpolCase[]; settleS?: number }): Promise<NetpolTableRow[]> {
  const cases = o.cases ?? NETPOL_CASES;
  const settleS = o.settleS ?? 30;
  const { kubectl } = o;
  const must = (args: string[], input?: string) => {
    const r = kubectl(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const world = tableWorld(cases, o.nodes);
  const created: string[] = [];
  const listeners: ChildProcess[] = [];
  const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 20_000 });
  try {
    for (const [name, labels] of world.namespaces) {
      if (name !== 'default') created.push(name);
      must(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
    }
    for (const p of world.pods) must(['apply', '-f', '-'], JSON.stringify(podManifest(p)));
    for (const p of world.pods) {
      must(['-n', p.namespace, 'wait', `pod/${p.name}`, '--for=condition=Ready', '--timeout=120s']);
      p.ip = must(['-n', p.namespace, 'get', 'pod', p.name, '-o', 'jsonpath={.status.podIP}']).trim();
    }
    const dnsIP = must(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns', '-o', 'jsonpath={.items[0].status.podIP}']).trim();
    // The outside world: each address on the fabric's lo, one TCP listener per port (on every address).
    for (const ip of world.outside.keys()) sh(['ip', 'netns', 'exec', o.fabric, 'ip', 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
    for (const port of new Set([...world.outside.values()].flatMap((s) => [...s]))) {
      listeners.push(spawn('ip', ['netns', 'exec', o.fabric, 'socat', `TCP-LISTEN:${port},fork,reuseaddr`, 'SYSTEM:true'], { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }));
    }
    await sleep(500);

    const podOf = (e: Endpoint) => world.pods.find((p) => p.key === keyOf(e));
    const connects = (c: Connection): boolean => {
      const to = c.to;
      const ip = isDns(to) ? dnsIP : to.namespace ? podOf(to)!.ip! : to.ip;
      const udp = to.protocol === 'UDP';
      const script = udp
        ? to.port === 53
          ? `nslookup -timeout=2 -retry=1 kubernetes.default.svc.cluster.local ${ip} >/dev/null`
          : `[ -n "$(printf hostname | nc -u -w 2 ${ip} ${to.port})" ]`
        : `nc -z -w 2 ${ip} ${to.port}`;
      if (!c.from.namespace) {
        // From outside the cluster: the fabric, from the outside address.
        return sh(['ip', 'netns', 'exec', o.fabric, 'nc.openbsd', '-z', '-w', '2', '-s', c.from.ip, ip, String(to.port)]).status === 0;
      }
      const from = podOf(c.from)!;
      const container = (podManifest(from) as { spec: { containers: { name: string }[] } }).spec.containers[0]!.name;
      return kubectl(['-n', from.namespace, 'exec', from.name, '-c', container, '--', 'sh', '-c', script]).status === 0;
    };
    const until = async (c: Connection, want: boolean): Promise<boolean> => {
      const end = Date.now() + settleS * 1000;
      for (;;) {
        const got = connects(c);
        if (got === want || Date.now() > end) return got;
        await sleep(1000);
      }
    };

    const rows: NetpolTableRow[] = [];
    const groups = new Map<string, NetpolCase[]>();
    for (const c of cases) groups.set(policyKey(c[1]), [...(groups.get(policyKey(c[1])) ?? []), c]);
    const nsList = [...world.namespaces.keys()];
    for (const group of groups.values()) {
      for (const n of nsList) must(['-n', n, 'delete', 'networkpolicy', '--all', '--wait=true']);
      const base = new Map<string, boolean>();
      for (const [name, , conn] of group) base.set(name, await until(conn, true));
      for (const p of group[0]![1]) must(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: p.metadata, spec: p.spec }));
      for (const [name, , conn, allowed] of group) {
        const got = await until(conn, allowed);
        rows.push({ name, expected: allowed ? 'allowed' : 'denied', baseline: base.get(name) ? 'connected' : 'blocked', observed: got ? 'connected' : 'blocked' });
      }
    }
    for (const n of nsList) must(['-n', n, 'delete', 'networkpolicy', '--all']);
    return rows;
  } finally {
    for (const l of listeners) l.kill('SIGKILL');
    for (const ip of world.outside.keys()) sh(['ip', 'netns', 'exec', o.fabric, 'ip', 'addr', 'del', `${ip}/32`, 'dev', 'lo']);
    kubectl(['-n', 'default', 'delete', 'pod', '-l', 'groundwork.dev/test=netpol-table', '--wait=false']);
    kubectl(['-n', 'default', 'delete', 'networkpolicy', '--all']);
    for (const n of created) kubectl(['delete', 'namespace', n, '--wait=false']);
  }
}
