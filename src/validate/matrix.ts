/**
 * The connectivity matrix, pure: which servers each client probes, the node x node matrix from the probes'
 * results, what a pattern of failures most likely means, and the matrix as text.
 *
 * O(nodes) pods: one server and one client per node. Each client probes every server while the cluster is small;
 * on big clusters it probes its own node's server and `maxPeers` others spread evenly around the ring, so every
 * node still sends to and receives from `maxPeers` others (the evidence says "sampled").
 */

type Cell = 'ok' | 'fail' | '-';

export interface Matrix {
  /** Node names; row = client node, column = server node. */
  nodes: string[];
  /** cells[client][server] */
  cells: Cell[][];
  /** Per client node: the Service ClusterIP probe, and the Service DNS-name probe. */
  service: Cell[];
  dns: Cell[];
  sampled: boolean;
  /** How the cross-node pairs were chosen when sampled, in words. */
  sampling?: string;
  /** Nodes not in the matrix, with why ("w-3 (cordoned)"). */
  excluded?: string[];
}

/** "each node probes its own and 8 of its 19 peers, spread around the ring (152 of 380 cross-node pairs)" */
function describeSampling(n: number, maxPeers: number): string | undefined {
  if (n - 1 <= maxPeers) return undefined;
  return `each node probes its own node and ${maxPeers} of its ${n - 1} peers, spread evenly around the ring, and is probed by ${maxPeers} (${n * maxPeers} of ${n * (n - 1)} cross-node pairs)`;
}

/** Indexes of the servers client `i` probes (its own first). */
export function pickTargets(i: number, n: number, maxPeers: number): number[] {
  if (n - 1 <= maxPeers) return [i, ...Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)];
  const out = new Set<number>([i]);
  for (let k = 1; k <= maxPeers; k++) out.add((i + Math.max(1, Math.round((k * n) / (maxPeers + 1)))) % n);
  // Rounding can collide on small rings; fill with neighbours so every client has maxPeers peers.
  for (let d = 1; out.size < maxPeers + 1 && d < n; d++) out.add((i + d) % n);
  return [...out];
}

/** Container names in a client pod: the probe's meaning is in the name. */
export function serverContainer(j: number): string {
  return `to-node-${j}`;
}
export const SERVICE_CONTAINER = 'to-service-ip';
export const DNS_CONTAINER = 'to-service-name';

/** Builds the matrix from each client's container exit results (name → ok). Missing = not probed / unknown. */
export function buildMatrix(nodes: string[], results: Map<number, Map<string, boolean>>, sampled: boolean, extra: { maxPeers?: number; excluded?: string[] } = {}): Matrix {
  const n = nodes.length;
  const cells: Cell[][] = [];
  const service: Cell[] = [];
  const dns: Cell[] = [];
  const cell = (v: boolean | undefined): Cell => (v === undefined ? '-' : v ? 'ok' : 'fail');
  for (let i = 0; i < n; i++) {
    const r = results.get(i) ?? new Map<string, boolean>();
    cells.push(Array.from({ length: n }, (_, j) => cell(r.get(serverContainer(j)))));
    service.push(cell(r.get(SERVICE_CONTAINER)));
    dns.push(cell(r.get(DNS_CONTAINER)));
  }
  const sampling = sampled && extra.maxPeers !== undefined ? describeSampling(n, extra.maxPeers) : undefined;
  return { nodes, cells, service, dns, sampled, ...(sampling ? { sampling } : {}), ...(extra.excluded?.length ? { excluded: extra.excluded } : {}) };
}

interface MatrixCounts {
  sameNode: { ok: number; fail: number };
  crossNode: { ok: number; fail: number };
  service: { ok: number; fail: number };
  dns: { ok: number; fail: number };
}

export function countMatrix(m: Matrix): MatrixCounts {
  const c: MatrixCounts = { sameNode: { ok: 0, fail: 0 }, crossNode: { ok: 0, fail: 0 }, service: { ok: 0, fail: 0 }, dns: { ok: 0, fail: 0 } };
  m.cells.forEach((row, i) =>
    row.forEach((v, j) => {
      if (v === '-') return;
      const bucket = i === j ? c.sameNode : c.crossNode;
      bucket[v]++;
    }),
  );
  for (const v of m.service) if (v !== '-') c.service[v]++;
  for (const v of m.dns) if (v !== '-') c.dns[v]++;
  return c;
}

interface Diagnosis {
  status: 'pass' | 'warn' | 'fail';
  summary: string;
  why?: string;
  fix?: string;
}

/** What the pattern of failures says, most specific first. */
export function diagnoseMatrix(m: Matrix): Diagnosis {
  const c = countMatrix(m);
  const n = m.nodes.length;
  const probes = `${c.sameNode.ok + c.crossNode.ok}/${c.sameNode.ok + c.sameNode.fail + c.crossNode.ok + c.crossNode.fail} pod-to-pod`;
  const podFail = c.sameNode.fail + c.crossNode.fail;

  if (podFail > 0) {
    if (c.sameNode.fail === 0 && c.crossNode.ok === 0 && c.crossNode.fail > 0) {
      return {
        status: 'fail',
        summary: `cross-node pod traffic is dropped: ${c.crossNode.fail} cross-node probes failed while all ${c.sameNode.ok} same-node probes passed`,
        why: 'pods on different nodes cannot talk: the overlay or routing between nodes is broken',
        fix: 'check that nodes allow the CNI tunnel between each other (VXLAN 8472/UDP, Geneve 6081/UDP, WireGuard 51871/UDP), the MTU, and the CNI agents\' logs (cilium status)',
      };
    }
    // One node that fails every probe it sends and every probe it receives.
    const isolated = m.nodes.filter((_, i) => {
      const out = m.cells[i]!.filter((v, j) => j !== i && v !== '-');
      const inn = m.cells.map((row) => row[i]!).filter((v, j) => j !== i && v !== '-');
      return out.length > 0 && out.every((v) => v === 'fail') && inn.length > 0 && inn.every((v) => v === 'fail');
    });
    if (isolated.length > 0 && isolated.length < n) {
      return {
        status: 'fail',
        summary: `node ${isolated.join(', ')} cannot reach other nodes' pods nor be reached (${probes} probes passed)`,
        why: 'pods on that node are cut off from the rest of the cluster',
        fix: `check the CNI agent on ${isolated.join(', ')} and the firewall between it and the other nodes`,
      };
    }
    if (c.sameNode.fail > 0 && c.crossNode.ok === 0 && c.sameNode.ok === 0) {
      return {
        status: 'fail',
        summary: `no pod can reach any other pod (${probes} probes passed)`,
        why: 'the pod network does not work at all',
        fix: 'check that the CNI is installed and its pods are Ready (kubectl -n kube-system get pods), and the nodes\' Ready condition',
      };
    }
    const sameBad = m.nodes.filter((_, i) => m.cells[i]![i] === 'fail');
    return {
      status: 'fail',
      summary: `${podFail} pod-to-pod probes failed (${probes} passed)${sameBad.length ? `; same-node traffic fails on ${sameBad.join(', ')}` : ''}`,
      why: 'some pods cannot reach others: see the matrix for which node pairs',
      fix: 'check the CNI agents on the nodes in the failing rows/columns and the firewall between them',
    };
  }
  if (c.service.fail > 0) {
    return {
      status: 'fail',
      summary: `pods reach pods, but ${c.service.fail} of ${c.service.ok + c.service.fail} probes to the Service ClusterIP failed`,
      why: 'Service load-balancing (kube-proxy or the CNI\'s replacement) does not forward ClusterIP traffic',
      fix: 'check kube-proxy (or cilium kube-proxy replacement) pods and their logs',
    };
  }
  if (c.dns.fail > 0) {
    return {
      status: 'warn',
      summary: `pod-to-pod and ClusterIP traffic works, but ${c.dns.fail} of ${c.dns.ok + c.dns.fail} connects by Service name failed (names do not resolve)`,
      why: 'name resolution is the DNS suite\'s business; its result says why',
      fix: 'see the dns result',
    };
  }
  return {
    status: 'pass',
    summary: `${n} nodes: ${c.sameNode.ok} same-node, ${c.crossNode.ok} cross-node, ${c.service.ok} ClusterIP and ${c.dns.ok} DNS-name probes passed${m.sampled ? ` (cross-node pairs sampled: ${m.sampling ?? 'not every pair probed'})` : ''}`,
  };
}

const MARK: Record<Cell, string> = { ok: '✓', fail: '✗', '-': '·' };

/** The matrix as text: a grid for up to `maxGrid` nodes, failing pairs otherwise. */
export function formatMatrix(m: Matrix, maxGrid = 24): string {
  const n = m.nodes.length;
  const lines: string[] = [];
  if (n <= maxGrid) {
    const w = Math.max(6, ...m.nodes.map((x) => x.length));
    const idx = m.nodes.map((_, j) => String(j + 1).padStart(3));
    lines.push(`${' '.repeat(w + 4)}${idx.join('')}   svc dns`);
    m.nodes.forEach((name, i) => {
      const cells = m.cells[i]!.map((v) => `  ${MARK[v]}`).join('');
      lines.push(`${String(i + 1).padStart(2)} ${name.padEnd(w + 1)}${cells}     ${MARK[m.service[i]!]}   ${MARK[m.dns[i]!]}`);
    });
    lines.push(`(rows: client node, columns: server node; ${MARK.ok} connected, ${MARK.fail} failed, ${MARK['-']} not probed; svc = ClusterIP, dns = Service name)`);
    lines.push(...matrixNotes(m));
    return lines.join('\n');
  }
  const fails: string[] = [];
  m.cells.forEach((row, i) => row.forEach((v, j) => v === 'fail' && fails.push(`${m.nodes[i]} -> ${m.nodes[j]}`)));
  const c = countMatrix(m);
  lines.push(`${n} x ${n} nodes${m.sampled ? ' (sampled)' : ''}: same-node ${c.sameNode.ok} ok/${c.sameNode.fail} failed, cross-node ${c.crossNode.ok} ok/${c.crossNode.fail} failed, ClusterIP ${c.service.ok}/${c.service.ok + c.service.fail}, DNS name ${c.dns.ok}/${c.dns.ok + c.dns.fail}`);
  if (fails.length) lines.push(`failed pairs (client -> server): ${fails.slice(0, 20).join(', ')}${fails.length > 20 ? `, and ${fails.length - 20} more` : ''}`);
  lines.push(...matrixNotes(m));
  return lines.join('\n');
}

function matrixNotes(m: Matrix): string[] {
  return [
    ...(m.sampled ? [`sampled: ${m.sampling ?? 'not every node pair was probed'}`] : []),
    ...(m.excluded?.length ? [`not in the matrix: ${m.excluded.join(', ')}`] : []),
  ];
}
