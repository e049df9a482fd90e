import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDrillPlan, createDrill } from '../../src/drill/drill.js';

describe('buildDrillPlan', () => {
  it('is one drill stage of timed phases that continue on failure so teardown always runs; building it does no I/O', () => {
    const scratch = path.join(mkdtempSync(path.join(tmpdir(), 'gw-plan-')), 'not-yet');
    const plan = buildDrillPlan({ target: { kind: 'endpoints', endpoints: ['https://127.0.0.1:2379'], cacert: '/pki/ca.crt', cert: '/pki/c.crt', key: '/pki/c.key' }, scratch });
    expect(plan.stages).toHaveLength(1);
    const [stage] = plan.stages;
    expect(stage!.name).toBe('drill');
    expect(stage!.steps.map((s) => s.id)).toEqual(['drill-inventory', 'drill-snapshot', 'drill-integrity', 'drill-restore', 'drill-boot', 'drill-verify', 'drill-teardown']);
    expect(stage!.steps.every((s) => s.stage === 'drill' && s.continueOnFail === true)).toBe(true);
    expect(existsSync(scratch)).toBe(false);
    const save = stage!.steps[1]!.preview!.argv![0]!;
    expect(save).toEqual(['etcdctl', '--endpoints=https://127.0.0.1:2379', '--dial-timeout=5s', '--cacert=/pki/ca.crt', '--cert=/pki/c.crt', '--key=/pki/c.key', 'snapshot', 'save', path.join(scratch, 'snapshot.db')]);
    expect(stage!.steps[0]!.preview!.note).toBe('reads only; the snapshot is saved beside the status');
    expect(stage!.notes?.join('\n')).toMatch(/writes to the source: none/);
  });

  it.each([
    [{ kind: 'talos' as const, node: '127.0.0.6' }, ['talosctl', '-n', '127.0.0.6', 'etcd', 'snapshot']],
    [{ kind: 'kubeadm' as const, ssh: { user: 'ops', host: '127.0.0.5' } }, ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '--', 'ops@127.0.0.5', 'sudo', '-n', '--', 'env']],
  ])('%j: the snapshot preview names the tool', (target, head) => {
    const plan = buildDrillPlan({ target });
    expect(plan.stages[0]!.steps[1]!.preview!.argv![0]!.slice(0, head.length)).toEqual(head);
  });

  it('the sentinel is the only write to the source, said in the plan', () => {
    const d = createDrill({ target: { kind: 'lab', endpoints: ['http://127.0.0.1:23790'] } });
    expect(d.stage.notes?.[0]).toMatch(/only the sentinel key \/groundwork\/drill-sentinel/);
    expect(d.stage.steps[0]!.preview!.argv![0]).toContain('put');
    // Nothing ran: cleanup has nothing to do and records nothing.
    return expect(d.cleanup()).resolves.toBeUndefined();
  });
});

describe('drillTargetFromSpec', () => {
  const spec = (bootstrap: string) => `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  kubernetesVersion: "1.37.2"
  endpoint: https://127.0.0.11:6443
  bootstrap:
${bootstrap}
  nodes:
    - { name: w-1, address: 127.0.0.21, role: worker }
    - { name: cp-1, address: 127.0.0.11, role: control-plane }
`;
  it.each([
    ['    method: kubeadm\n    kubeadm: { ssh: { user: admin, identityFile: /keys/id, port: 2222 } }', { kind: 'kubeadm', ssh: { user: 'admin', host: '127.0.0.11', identityFile: '/keys/id', port: 2222 } }],
    ['    method: talos', { kind: 'talos', node: '127.0.0.11' }],
  ])('%s', async (bootstrap, target) => {
    const { parseSpec } = await import('../../src/spec/load.js');
    const { drillTargetFromSpec } = await import('../../src/drill/targets.js');
    expect(drillTargetFromSpec(parseSpec(spec(bootstrap), 'c.yaml').spec)).toEqual(target);
  });
});

describe('the drill of a kubeadm spec reaches the node like bootstrap does', () => {
  it.each<[string, string[], string[]]>([
    ['ssh: -p', ['ssh'], ['-p', '2222']],
    ['scp: -P (scp -p would preserve times; issue 12)', ['scp'], ['-P', '2222']],
  ])('%s', async (_what, [program], port) => {
    const { parseSpec } = await import('../../src/spec/load.js');
    const { drillTargetFromSpec } = await import('../../src/drill/targets.js');
    const spec = parseSpec(`apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: t }
spec:
  endpoint: https://127.0.0.11:6443
  bootstrap: { method: kubeadm, kubeadm: { ssh: { user: ops, identityFile: /keys/id, port: 2222 } } }
  nodes:
    - { name: cp-1, address: 127.0.0.11, role: control-plane }
`, 'c.yaml').spec;
    const plan = buildDrillPlan({ target: drillTargetFromSpec(spec) });
    const argvs = plan.stages[0]!.steps[1]!.preview!.argv!;
    const argv = argvs.find((a) => a[0] === program)!;
    const at = argv.indexOf(port[0]!);
    expect(argv.slice(at, at + 2)).toEqual(port);
    expect(argv).not.toContain(program === 'scp' ? '-p' : '-P');
    for (const o of ['BatchMode=yes', 'StrictHostKeyChecking=accept-new', 'ConnectTimeout=10']) expect(argv).toContain(o);
  });
});

describe('option safety', () => {
  it.each([
    [{ host: '-oProxyCommand=touch /tmp/x' }],
    [{ user: '-oProxyCommand=touch /tmp/x', host: '127.0.0.5' }],
    [{ user: 'root', host: '127.0.0.5 -oProxyCommand=x' }],
  ])('refuses a --kubeadm target that is no [user@]host: %j', async (ssh) => {
    const { createDrill } = await import('../../src/drill/drill.js');
    const { UserError } = await import('../../src/errors.js');
    expect(() => createDrill({ target: { kind: 'kubeadm', ssh } })).toThrow(UserError);
  });
});

describe('loopback guard for drill endpoints', () => {
  it('refuses a non-loopback etcd endpoint when GROUNDWORK_LOOPBACK_ONLY is set', async () => {
    const { createDrill } = await import('../../src/drill/drill.js');
    expect(() => createDrill({ target: { kind: 'endpoints', endpoints: ['https://10.0.10.11:2379'] }, env: { GROUNDWORK_LOOPBACK_ONLY: '1' } })).toThrow(/not dialled/);
    expect(() => createDrill({ target: { kind: 'endpoints', endpoints: ['http://127.0.0.1:2379'] }, env: { GROUNDWORK_LOOPBACK_ONLY: '1' } })).not.toThrow();
  });
});
