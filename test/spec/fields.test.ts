/**
 * Issue 15: the spec edge owns every parse. Taints, cron schedules and the address plan are parsed and judged once,
 * when the spec loads, with file:line:col; kubeadm, Talos and the lab read the one parsed form.
 */
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/load.js';
import { parseCronSchedule, parseTaintText } from '../../src/spec/fields.js';
import { buildKubeadmConfig, buildKubeadmJoinConfig } from '../../src/bootstrap/kubeadm.js';
import { buildTalosNodeConfig } from '../../src/bootstrap/talos.js';
import { buildNodeObject, planNodes } from '../../src/lab/index.js';
import { parseCron, nextScheduleAfter } from '../../src/lab/controllers/cronjobs.js';
import { editText, specIssues } from '../helpers/spec-text.js';

const BASE = `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  endpoint: https://127.0.100.10:6443
  bootstrap:
    method: kubeadm
  nodes:
    - name: cp-1
      address: 127.0.100.11
      role: control-plane
    - name: w-1
      address: 127.0.100.21
      role: worker
      taints: [TAINTS]
  network:
    podCIDR: 10.244.0.0/16
    serviceCIDR: 10.96.0.0/12
    nodeMaskSize: 24
  addons:
    backup:
      schedule: "0 */6 * * *"
`;

const edit = (...pairs: [string, string][]): string => editText(BASE, ...pairs);
const noTaints = (t: string) => t.replace('      taints: [TAINTS]\n', '');

const errorsOf = (text: string): string[] => specIssues(() => parseSpec(text, 'cluster.yaml'));

describe('taints: one parser, one parsed form', () => {
  it.each([
    ['dedicated=db:NoSchedule', { key: 'dedicated', value: 'db', effect: 'NoSchedule' }],
    ['node-role.kubernetes.io/control-plane:NoSchedule', { key: 'node-role.kubernetes.io/control-plane', value: '', effect: 'NoSchedule' }],
    ['x=:NoExecute', { key: 'x', value: '', effect: 'NoExecute' }],
    ['gpu:PreferNoSchedule', { key: 'gpu', value: '', effect: 'PreferNoSchedule' }],
  ])('%s', (text, want) => {
    expect(parseTaintText(text)).toEqual(want);
  });

  it.each([
    ['k=v:Nosched', 'has effect "Nosched"'],
    ['k=v:noschedule', 'did you mean NoSchedule?'],
    ['k=v', 'has no effect'],
    [':NoSchedule', 'has an empty key'],
    ['-bad:NoSchedule', 'has key "-bad"'],
    ['k=has space:NoSchedule', 'has value "has space"'],
  ])('refuses %j', (text, message) => {
    expect(parseTaintText(text)).toEqual(expect.stringContaining(message));
  });

  it('a bad taint in the spec is an error at its position', () => {
    expect(errorsOf(edit(['TAINTS', '"k=v:Nosched"']))).toEqual([
      `cluster.yaml:16:16 spec.nodes[1].taints[0]: "k=v:Nosched" is not a taint: it has effect "Nosched"; a taint's effect is NoSchedule, PreferNoSchedule or NoExecute`,
    ]);
  });

  it('kubeadm, Talos and the lab read the same taints from one spec (text and object forms)', () => {
    const spec = parseSpec(edit(['TAINTS', '"dedicated=db:NoSchedule", "gpu:NoExecute", { key: spot, effect: PreferNoSchedule }']), 'cluster.yaml').spec;
    const w1 = spec.spec.nodes[1]!;
    const want = [
      { key: 'dedicated', value: 'db', effect: 'NoSchedule' },
      { key: 'gpu', effect: 'NoExecute' },
      { key: 'spot', effect: 'PreferNoSchedule' },
    ];
    const join = buildKubeadmJoinConfig(spec, w1, { token: 'abcdef.0123456789abcdef', caCertHashes: ['sha256:00'] } as never) as { nodeRegistration: { taints: unknown } };
    expect(join.nodeRegistration.taints).toEqual(want);
    const lab = buildNodeObject(planNodes({ spec }).find((n) => n.name === 'w-1')!);
    expect((lab.spec as { taints: unknown }).taints).toEqual(want);
    const talosSpec = { ...spec, spec: { ...spec.spec, bootstrap: { ...spec.spec.bootstrap, method: 'talos' as const } } };
    const docs = buildTalosNodeConfig(talosSpec, w1) as { machine?: { nodeTaints?: Record<string, string> }; kind?: string; taints?: Record<string, string> }[];
    const talos = docs.find((d) => d.machine?.nodeTaints)?.machine?.nodeTaints ?? docs.find((d) => d.kind === 'KubeNodeConfig')?.taints;
    expect(talos).toEqual({ dedicated: 'db:NoSchedule', gpu: 'NoExecute', spot: 'PreferNoSchedule' });
    expect(buildKubeadmConfig(spec).init).toBeDefined();
  });
});

describe('cron schedules: croner at the spec edge and in the lab', () => {
  it.each(['0 3 * * MON', '0 */6 * * *', '@daily', '*/15 9-17 * * 1-5', '0 0 1 JAN-MAR *'])('%s is accepted by the spec and the lab alike', (schedule) => {
    expect(typeof parseCronSchedule(schedule)).not.toBe('string');
    expect(parseCron(schedule)).toBeDefined();
    expect(() => parseSpec(noTaints(edit(['"0 */6 * * *"', JSON.stringify(schedule)])), 'cluster.yaml')).not.toThrow();
  });

  it('the lab runs MON on Mondays', () => {
    expect(nextScheduleAfter(parseCron('0 3 * * MON')!, new Date('2026-11-27T00:00:00Z'))?.toISOString()).toBe('2026-11-30T03:00:00.000Z');
  });

  it.each([
    ['61 * * * *', 'Invalid value for minute: 61'],
    ['* * * *', 'has 4 fields'],
    ['0 0 0 * * *', 'has 6 fields'],
    ['0 0 L * *', 'uses L, W or #'],
    ['@every 5m', 'is not one of the descriptors'],
  ])('%j is refused with file:line:col, and the lab refuses it too', (schedule, message) => {
    const errors = errorsOf(noTaints(edit(['"0 */6 * * *"', JSON.stringify(schedule)])));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^cluster\.yaml:22:17 spec\.addons\.backup\.schedule: /);
    expect(errors[0]).toContain(message);
    expect(parseCron(schedule)).toBeUndefined();
  });
});

describe('the address plan at the spec edge', () => {
  it('podCIDR overlapping serviceCIDR is an error at serviceCIDR', () => {
    expect(errorsOf(noTaints(edit(['serviceCIDR: 10.96.0.0/12', 'serviceCIDR: 10.244.0.0/20'])))).toEqual([
      expect.stringMatching(/^cluster\.yaml:18:18 spec\.network\.serviceCIDR: podCIDR and serviceCIDR overlap: 10\.244\.0\.0\/16 ∩ 10\.244\.0\.0\/20; pick non-overlapping ranges/),
    ]);
  });

  it('a node address inside podCIDR is an error at the address', () => {
    expect(errorsOf(noTaints(edit(['podCIDR: 10.244.0.0/16', 'podCIDR: 127.0.0.0/8'], ['nodeMaskSize: 24', 'nodeMaskSize: 16'])))).toEqual([
      'cluster.yaml:11:16 spec.nodes[0].address: 127.0.100.11 is inside podCIDR 127.0.0.0/8: the cluster routes that range itself, so pods could not reach this node; move podCIDR away from the node network',
      'cluster.yaml:14:16 spec.nodes[1].address: 127.0.100.21 is inside podCIDR 127.0.0.0/8: the cluster routes that range itself, so pods could not reach this node; move podCIDR away from the node network',
    ]);
  });

  it('a podCIDR too small for the nodes at nodeMaskSize is an error at podCIDR', () => {
    expect(errorsOf(noTaints(edit(['podCIDR: 10.244.0.0/16', 'podCIDR: 10.244.0.0/24'], ['nodeMaskSize: 24', 'nodeMaskSize: 24'])))).toEqual([
      expect.stringMatching(/^cluster\.yaml:17:14 spec\.network\.podCIDR: 10\.244\.0\.0\/24 with \/24 per node fits 1 nodes .*but the spec has 2/),
    ]);
  });
});
