import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildMatrix, countMatrix, diagnoseMatrix, DNS_CONTAINER, formatMatrix, pickTargets, SERVICE_CONTAINER, serverContainer, type Matrix } from '../../src/validate/matrix.js';

const NODES = ['cp-1', 'w-1', 'w-2'];

/** A matrix from a rule: ok(client, server). */
function matrixFrom(nodes: string[], ok: (i: number, j: number) => boolean, svc = () => true, dns = () => true): Matrix {
  const results = new Map<number, Map<string, boolean>>();
  nodes.forEach((_, i) => {
    const r = new Map<string, boolean>();
    nodes.forEach((_, j) => r.set(serverContainer(j), ok(i, j)));
    r.set(SERVICE_CONTAINER, svc());
    r.set(DNS_CONTAINER, dns());
    results.set(i, r);
  });
  return buildMatrix(nodes, results, false);
}

describe('pickTargets', () => {
  it('probes every server while the cluster is small, own node first', () => {
    expect(pickTargets(1, 3, 50)).toEqual([1, 0, 2]);
  });
  it('samples maxPeers distinct peers on big clusters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 400 }), fc.integer({ min: 1, max: 60 }), (n, maxPeers) => {
        for (const i of [0, Math.floor(n / 2), n - 1]) {
          const t = pickTargets(i, n, maxPeers);
          expect(t[0]).toBe(i);
          expect(new Set(t).size).toBe(t.length);
          expect(t.length).toBe(Math.min(n, maxPeers + 1));
          expect(t.every((j) => j >= 0 && j < n)).toBe(true);
        }
      }),
    );
  });
  it('every node is probed by some other node when sampling (each server gets traffic)', () => {
    const n = 200;
    const hit = new Set<number>();
    for (let i = 0; i < n; i++) for (const j of pickTargets(i, n, 16)) if (j !== i) hit.add(j);
    expect(hit.size).toBe(n);
  });
});

describe('diagnoseMatrix', () => {
  it.each([
    ['healthy', () => true, 'pass', /3 nodes: 3 same-node, 6 cross-node, 3 ClusterIP and 3 DNS-name probes passed/],
    ['cross-node dropped', (i: number, j: number) => i === j, 'fail', /cross-node pod traffic is dropped: 6 cross-node probes failed while all 3 same-node probes passed/],
    ['one node cut off', (i: number, j: number) => i === j || (i !== 2 && j !== 2), 'fail', /node w-2 cannot reach other nodes' pods nor be reached/],
    ['nothing works', () => false, 'fail', /no pod can reach any other pod/],
    ['one pair', (i: number, j: number) => !(i === 0 && j === 1), 'fail', /1 pod-to-pod probes failed \(8\/9 pod-to-pod passed\)/],
  ] as const)('%s', (_n, rule, status, summary) => {
    const d = diagnoseMatrix(matrixFrom(NODES, rule));
    expect(d.status).toBe(status);
    expect(d.summary).toMatch(summary);
    if (status === 'fail') expect(d.fix).toBeTruthy();
  });

  it('ClusterIP failing with pods fine blames Service load-balancing', () => {
    const d = diagnoseMatrix(matrixFrom(NODES, () => true, () => false));
    expect(d).toMatchObject({ status: 'fail', summary: expect.stringContaining('Service ClusterIP failed') });
    expect(d.why).toMatch(/kube-proxy/);
  });

  it('names failing with everything else fine is a warning pointing at the DNS suite', () => {
    const d = diagnoseMatrix(matrixFrom(NODES, () => true, () => true, () => false));
    expect(d).toMatchObject({ status: 'warn', fix: 'see the dns result' });
  });

  it('counts same-node on the diagonal only (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.func(fc.boolean()), (n, f) => {
        const nodes = Array.from({ length: n }, (_, i) => `n${i}`);
        const m = matrixFrom(nodes, (i, j) => f(i, j));
        const c = countMatrix(m);
        expect(c.sameNode.ok + c.sameNode.fail).toBe(n);
        expect(c.crossNode.ok + c.crossNode.fail).toBe(n * (n - 1));
        // A healthy verdict only when nothing failed.
        expect(diagnoseMatrix(m).status === 'pass').toBe(c.sameNode.fail + c.crossNode.fail === 0);
      }),
    );
  });
});

describe('formatMatrix', () => {
  it('draws a grid for small clusters', () => {
    expect(formatMatrix(matrixFrom(NODES, (i, j) => i === j))).toBe(
      [
        '            1  2  3   svc dns',
        ' 1 cp-1     ✓  ✗  ✗     ✓   ✓',
        ' 2 w-1      ✗  ✓  ✗     ✓   ✓',
        ' 3 w-2      ✗  ✗  ✓     ✓   ✓',
        '(rows: client node, columns: server node; ✓ connected, ✗ failed, · not probed; svc = ClusterIP, dns = Service name)',
      ].join('\n'),
    );
  });
  it('summarises big clusters and lists failing pairs', () => {
    const nodes = Array.from({ length: 30 }, (_, i) => `n${i}`);
    const text = formatMatrix(matrixFrom(nodes, (i, j) => !(i === 3 && j === 7)));
    expect(text).toContain('30 x 30 nodes: same-node 30 ok/0 failed, cross-node 869 ok/1 failed');
    expect(text).toContain('failed pairs (client -> server): n3 -> n7');
  });
});

describe('a sampled matrix says so, and how', () => {
  it('names the sampling rule in the summary and under the grid, and lists nodes left out with why', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => `n-${i + 1}`);
    const results = new Map<number, Map<string, boolean>>();
    nodes.forEach((_, i) => {
      const r = new Map<string, boolean>([[SERVICE_CONTAINER, true], [DNS_CONTAINER, true]]);
      for (const j of pickTargets(i, nodes.length, 8)) r.set(serverContainer(j), true);
      results.set(i, r);
    });
    const m = buildMatrix(nodes, results, true, { maxPeers: 8, excluded: ['w-9 (cordoned)'] });
    const sampling = 'each node probes its own node and 8 of its 19 peers, spread evenly around the ring, and is probed by 8 (160 of 380 cross-node pairs)';
    expect(m.sampling).toBe(sampling);
    expect(diagnoseMatrix(m).summary).toBe(`20 nodes: 20 same-node, 160 cross-node, 20 ClusterIP and 20 DNS-name probes passed (cross-node pairs sampled: ${sampling})`);
    const text = formatMatrix(m);
    expect(text).toContain(`sampled: ${sampling}`);
    expect(text).toContain('not in the matrix: w-9 (cordoned)');
  });
  it('a full matrix says nothing about sampling', () => {
    const m = matrixFrom(NODES, () => true);
    expect(formatMatrix(m)).not.toMatch(/sampled/);
  });
});
