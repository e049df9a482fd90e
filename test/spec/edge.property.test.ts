/**
 * Issue 15 acceptance: every spec the generators make either loads or fails with file:line:col, and none that
 * loads fails later (the plan, kubeadm and Talos configs, the lab's nodes, pod ranges and CronJob schedule are all
 * built from it without an error). Generators aim at the fields the spec edge owns: taints, cron schedules, CIDRs,
 * node masks and node counts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SpecError } from '../../src/errors.js';
import { parseSpec } from '../../src/spec/load.js';
import { buildSetupPlan } from '../../src/setup.js';
import { buildKubeadmConfig, buildKubeadmJoinConfig } from '../../src/bootstrap/kubeadm.js';
import { buildTalosNodeConfig } from '../../src/bootstrap/talos.js';
import { buildNodeObject, planNodes } from '../../src/lab/index.js';
import { nodePodCidr } from '../../src/lab/controllers/ipam.js';
import { parseCron } from '../../src/lab/controllers/cronjobs.js';

const taintText = fc
  .tuple(
    fc.constantFrom('dedicated', 'gpu', 'node-role.kubernetes.io/control-plane', 'example.com/x', '', '-x', 'a b'),
    fc.option(fc.constantFrom('db', '', 'true', 'has space', 'x'.repeat(70)), { nil: undefined }),
    fc.option(fc.constantFrom('NoSchedule', 'PreferNoSchedule', 'NoExecute', 'Nosched', 'noschedule', ''), { nil: undefined }),
  )
  .map(([k, v, e]) => `${k}${v === undefined ? '' : `=${v}`}${e === undefined ? '' : `:${e}`}`);
const taintObject = fc.record({ key: fc.constantFrom('spot', 'gpu', ''), effect: fc.constantFrom('NoSchedule', 'NoExecute', 'Bogus') });

const cronField = fc.constantFrom('*', '0', '5', '59', '60', '61', '*/6', '*/0', '1-5', '5-1', 'MON', 'MON-FRI', 'JAN', 'L', '1W', '5#2', '?', 'a', '0,30', '13');
const schedule = fc.oneof(
  fc.array(cronField, { minLength: 4, maxLength: 6 }).map((f) => f.join(' ')),
  fc.constantFrom('@daily', '@hourly', '@every 5m', '@reboot', ''),
);

const cidr = fc.tuple(fc.constantFrom('10.244.0.0', '10.96.0.0', '10.0.0.0', '127.0.0.0', '192.168.0.0', '10.244.3.0', 'fd00:10:244::'), fc.integer({ min: 4, max: 33 })).map(([a, p]) => `${a}/${p}`);

const spec = fc.record({
  method: fc.constantFrom('talos', 'kubeadm'),
  nodes: fc.integer({ min: 1, max: 12 }),
  taints: fc.array(fc.oneof(taintText, taintObject), { maxLength: 3 }),
  schedule,
  podCIDR: cidr,
  serviceCIDR: cidr,
  nodeMaskSize: fc.integer({ min: 8, max: 32 }),
});

function toYaml(s: Record<string, unknown>): string {
  const g = s as { method: string; nodes: number; taints: unknown[]; schedule: string; podCIDR: string; serviceCIDR: string; nodeMaskSize: number };
  const nodes = Array.from({ length: g.nodes }, (_, i) => ({
    name: i === 0 ? 'cp-1' : `w-${i}`,
    address: `127.0.100.${i + 11}`,
    role: i === 0 ? 'control-plane' : 'worker',
    ...(i === 1 && g.taints.length > 0 ? { taints: g.taints } : {}),
  }));
  return stringify({
    apiVersion: 'groundwork.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'prop' },
    spec: {
      endpoint: 'https://127.0.100.11:6443',
      bootstrap: { method: g.method },
      nodes,
      network: { podCIDR: g.podCIDR, serviceCIDR: g.serviceCIDR, nodeMaskSize: g.nodeMaskSize, cni: 'cilium' },
      addons: { backup: { schedule: g.schedule } },
    },
  });
}

describe('the spec edge: loads, or fails with positions; never fails later', () => {
  it('for generated taints, schedules, CIDRs, masks and node counts', async () => {
    let loadedCount = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(spec, async (g) => {
        const text = toYaml(g);
        let loaded;
        try {
          loaded = parseSpec(text, 'cluster.yaml');
        } catch (e) {
          if (!(e instanceof SpecError)) throw new Error(`parseSpec threw ${String(e)} for\n${text}`);
          refused++;
          const lines = text.split('\n').length;
          for (const i of e.issues) {
            expect(i.file).toBe('cluster.yaml');
            expect(i.line).toBeGreaterThanOrEqual(1);
            expect(i.line).toBeLessThanOrEqual(lines);
            expect(i.column).toBeGreaterThanOrEqual(1);
            expect(i.path).not.toBe('');
          }
          return;
        }
        loadedCount++;
        const s = loaded.spec;
        // Nothing downstream refuses what the edge accepted.
        await buildSetupPlan(loaded, { runDir: '/nonexistent/run', stateDir: '/nonexistent', writeFiles: false });
        buildKubeadmConfig(s);
        for (const n of s.spec.nodes) buildTalosNodeConfig(s, n);
        for (const n of s.spec.nodes.filter((x) => x.role === 'worker')) buildKubeadmJoinConfig(s, n, { token: 'abcdef.0123456789abcdef', caCertHashes: ['sha256:00'] } as never);
        const labNodes = planNodes({ spec: s });
        // The lab simulates IPv4 only: an IPv6-only spec is refused by startLab with a UserError (lab tests).
        const labRuns = s.spec.network.podCIDR.split(',').some((c) => c.includes('.'));
        labNodes.forEach((n, i) => {
          buildNodeObject(n);
          if (labRuns) nodePodCidr(s.spec.network.podCIDR, s.spec.network.nodeMaskSize, i);
        });
        if (s.spec.addons.backup) expect(parseCron(s.spec.addons.backup.schedule)).toBeDefined();
      }),
      { numRuns: 500 },
    );
    // The generators reach both sides.
    expect(loadedCount).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 120_000);
});
