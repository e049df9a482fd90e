import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatFailedScheduling, matchesNodeSelection, SpreadCounts, tolerates, violatesTopologySpread } from '../../src/lab/controllers/scheduling.js';
import { Allocator, nodePodCidr, nthAddress } from '../../src/lab/controllers/ipam.js';
import { parseQuantity, podRequests } from '../../src/lab/controllers/quantity.js';

describe('taints and tolerations', () => {
  const cp = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };
  it.each([
    ['exact key, Exists', [{ key: cp.key, operator: 'Exists', effect: 'NoSchedule' }], cp, true],
    ['key without effect', [{ key: cp.key, operator: 'Exists' }], cp, true],
    ['wildcard Exists', [{ operator: 'Exists' }], cp, true],
    ['wrong effect', [{ key: cp.key, operator: 'Exists', effect: 'NoExecute' }], cp, false],
    ['Equal with value', [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }], { key: 'gpu', value: 'true', effect: 'NoSchedule' }, true],
    ['Equal with other value', [{ key: 'gpu', value: 'false', effect: 'NoSchedule' }], { key: 'gpu', value: 'true', effect: 'NoSchedule' }, false],
    ['none', [], cp, false],
  ] as const)('%s', (_n, tols, taint, want) => {
    expect(tolerates(tols as never, taint)).toBe(want);
  });
});

describe('node selection', () => {
  const node = { metadata: { name: 'w-1', labels: { 'kubernetes.io/hostname': 'w-1', zone: 'a', gen: '3' } } };
  const aff = (terms: unknown[]) => ({ spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } });
  it.each([
    ['nodeSelector match', { spec: { nodeSelector: { zone: 'a' } } }, true],
    ['nodeSelector miss', { spec: { nodeSelector: { zone: 'b' } } }, false],
    ['terms are ORed', aff([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }, { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }]), true],
    ['expressions are ANDed', aff([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'gen', operator: 'Gt', values: ['3'] }] }]), false],
    ['Gt', aff([{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['2'] }] }]), true],
    ['matchFields metadata.name (DaemonSet pods)', aff([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['w-1'] }] }]), true],
    ['empty term matches nothing', aff([{}]), false],
    ['DoesNotExist', aff([{ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }]), true],
  ])('%s', (_n, pod, want) => {
    expect(matchesNodeSelection(pod, node)).toBe(want);
  });
});

describe('FailedScheduling message', () => {
  it.each([
    [
      5,
      [['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'], ['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }'], ['Insufficient cpu'], ['Insufficient cpu'], ['Insufficient cpu']],
      '0/5 nodes are available: 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 Insufficient cpu. preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.',
    ],
    [
      2,
      [['Insufficient cpu', 'Insufficient memory'], ['Too many pods']],
      '0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.',
    ],
  ])('%d nodes', (n, perNode, want) => {
    expect(formatFailedScheduling(n, perNode)).toBe(want);
  });

  it('names an unbound immediate claim', () => {
    expect(formatFailedScheduling(3, [], 'pod has unbound immediate PersistentVolumeClaims')).toBe(
      '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.',
    );
  });

  it('the preemption counts always add up to the node count', () => {
    const reason = fc.constantFrom('Insufficient cpu', "node(s) didn't match Pod's node affinity/selector", 'node(s) were unschedulable');
    fc.assert(
      fc.property(fc.array(fc.array(reason, { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 20 }), (perNode) => {
        const msg = formatFailedScheduling(perNode.length, perNode);
        const pre = msg.split('preemption: ')[1]!.replace(/^0\/\d+ nodes are available: /, '');
        const total = pre.split(', ').reduce((a, part) => a + Number(part.split(' ')[0]), 0);
        expect(total).toBe(perNode.length);
      }),
    );
  });
});

describe('topology spread', () => {
  const n = (name: string) => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
  const pod = (labels: Record<string, string>) => ({
    metadata: { namespace: 'default', labels },
    spec: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } }] },
  });
  it('refuses a node that would exceed maxSkew', () => {
    const nodes = [n('a'), n('b')];
    const placed = [{ pod: pod({ app: 'web' }), node: nodes[0]! }];
    expect(violatesTopologySpread(pod({ app: 'web' }), nodes[0]!, nodes, placed)).toBe(true);
    expect(violatesTopologySpread(pod({ app: 'web' }), nodes[1]!, nodes, placed)).toBe(false);
  });

  it('counts kept up to date as pods are placed say what counting every placed pod afresh says', () => {
    const nodes = [n('a'), n('b'), n('c')];
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('web', 'db'), fc.constantFrom('default', 'other')), { maxLength: 30 }), (placements) => {
        const kept = new SpreadCounts(pod({ app: 'web' }), nodes, []);
        const placed: { pod: ReturnType<typeof pod>; node: ReturnType<typeof n> }[] = [];
        for (const [i, app, ns] of placements) {
          const p = { ...pod({ app }), metadata: { namespace: ns, labels: { app } } };
          placed.push({ pod: p, node: nodes[i]! });
          kept.add(p, nodes[i]!);
          const now = kept.filter();
          for (const node of nodes) expect(now(node)).toBe(violatesTopologySpread(pod({ app: 'web' }), node, nodes, placed));
        }
      }),
    );
  });
});

describe('IPAM', () => {
  it.each([
    ['10.244.0.0/16', 24, 0, '10.244.0.0/24'],
    ['10.244.0.0/16', 24, 3, '10.244.3.0/24'],
    ['10.0.0.0/8', 24, 300, '10.1.44.0/24'],
    ['192.168.0.0/22', 24, 3, '192.168.3.0/24'],
  ])('%s /%d node %d -> %s', (pod, mask, i, want) => {
    expect(nodePodCidr(pod, mask, i)).toBe(want);
  });

  it('says when the pod CIDR has no room for another node', () => {
    expect(() => nodePodCidr('192.168.0.0/22', 24, 4)).toThrow(/room for 4 nodes/);
  });

  it('well-known service addresses', () => {
    expect(nthAddress('10.96.0.0/12', 1)).toBe('10.96.0.1');
    expect(nthAddress('10.96.0.0/12', 10)).toBe('10.96.0.10');
  });

  it('never hands out an address twice, nor the network, gateway or broadcast address', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 400 }), (ops) => {
        const a = new Allocator('10.244.1.0/24', 2);
        const held = new Set<string>();
        for (const alloc of ops) {
          if (alloc || held.size === 0) {
            const ip = a.allocate();
            if (ip === undefined) {
              expect(held.size).toBe(253);
              continue;
            }
            expect(held.has(ip)).toBe(false);
            expect(['10.244.1.0', '10.244.1.1', '10.244.1.255']).not.toContain(ip);
            held.add(ip);
          } else {
            const ip = [...held][0]!;
            a.release(ip);
            held.delete(ip);
          }
        }
      }),
    );
  });
});

describe('quantities', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    ['128Mi', 128 * 2 ** 20],
    ['1G', 1e9],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['bogus', Number.NaN],
  ])('%s', (q, want) => {
    expect(parseQuantity(q)).toBe(want);
  });

  it('pod requests: containers add up, init containers take the max', () => {
    expect(
      podRequests({
        containers: [{ resources: { requests: { cpu: '250m', memory: '64Mi' } } }, { resources: { requests: { cpu: '250m' } } }],
        initContainers: [{ resources: { requests: { cpu: '2' } } }],
      }),
    ).toEqual({ cpu: 2000, memory: 64 * 2 ** 20 });
  });
});
