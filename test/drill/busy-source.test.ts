/**
 * A source that keeps changing while the drill runs (as a live cluster does): the snapshot is newer than the
 * inventory (or, saved beside the inventory's status, older), so verify compares with the source at the snapshot's
 * revision; a source that compacted that revision away can't give a hash for it, which is a warning, not a failure.
 * With a sentinel the snapshot waits for the inventory (the sentinel must be in it): the writes between the two
 * steps below land between them.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDrill } from '../../src/drill/drill.js';
import { createTestContext } from '../helpers/context.js';
import type { StepContext } from '../../src/run/types.js';
import { ETCDCTL_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;

beforeAll(async () => {
  etcd = await startEtcd();
  await putMany(etcd.url, kubernetesKeys(800));
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
});

async function runSteps(drill: ReturnType<typeof createDrill>, between: (id: string) => Promise<void>, ctx: StepContext = createTestContext()) {
  const out: Record<string, { status: string; summary: string }> = {};
  for (const step of drill.stage.steps) {
    const r = await step.run(ctx);
    out[step.id] = r;
    await between(step.id);
  }
  return out;
}

describe('a busy source', () => {
  it('writes between inventory and snapshot: verify recounts the source at the snapshot revision and passes', async () => {
    const drill = createDrill({ target: { kind: 'endpoints', endpoints: [etcd.url] }, sentinel: true });
    const results = await runSteps(drill, async (id) => {
      if (id === 'drill-inventory') await putMany(etcd.url, [['/registry/pods/late/one', 'x'], ['/registry/leases/late/two', 'y']]);
    });
    const report = drill.report();
    expect(results['drill-verify']!.status).toBe('pass');
    expect(report.snapshot?.status?.revision).toBeGreaterThan(report.source!.revision);
    expect(report.restored?.total).toBe(report.source!.total + 2);
    expect(report.restored?.counts['/registry/leases']).toBe(1);
  });

  it('compacted past the snapshot revision: counts still compared where possible, hashkv not comparable: a warning', async () => {
    const drill = createDrill({ target: { kind: 'endpoints', endpoints: [etcd.url] }, sentinel: true });
    const results = await runSteps(drill, async (id) => {
      if (id === 'drill-inventory') await putMany(etcd.url, [['/registry/pods/late/three', 'z']]);
      if (id === 'drill-boot') {
        await putMany(etcd.url, [['/registry/pods/late/four', 'w']]);
        const rev = JSON.parse(execFileSync(ETCDCTL_BIN, [`--endpoints=${etcd.url}`, 'endpoint', 'status', '-w', 'json'], { encoding: 'utf8' }))[0].Status.header.revision;
        execFileSync(ETCDCTL_BIN, [`--endpoints=${etcd.url}`, 'compaction', String(rev)], { stdio: 'ignore' });
      }
    });
    expect(results['drill-verify']!.status).toBe('warn');
    expect(results['drill-verify']!.summary).toMatch(/no longer has revision|compacted/);
    expect(drill.report().status).toBe('pass');
    expect(results['drill-teardown']!.status).toBe('pass');
  });

  it('writes after the snapshot saved beside the status: the snapshot is older than the inventory, verify recounts at its revision and passes', async () => {
    const drill = createDrill({ target: { kind: 'endpoints', endpoints: [etcd.url] } });
    const ctx = createTestContext();
    // The status is asked only once the save beside it has finished, and a write lands in between.
    let saved: (() => void) | undefined;
    const saveDone = new Promise<void>((r) => (saved = r));
    const exec = ctx.exec;
    ctx.exec = async (argv, o) => {
      const words = argv.join(' ');
      if (/ endpoint status/.test(words) && !argv.some((a) => a.startsWith('--endpoints=http://127.0.0.1:') && a !== `--endpoints=${etcd.url}`)) {
        await saveDone;
        await putMany(etcd.url, [['/registry/pods/late/five', 'v'], ['/registry/leases/late/six', 'u']]);
      }
      try {
        return await exec(argv, o);
      } finally {
        if (/ snapshot save /.test(words)) saved!();
      }
    };
    const results = await runSteps(drill, async () => undefined, ctx);
    const report = drill.report();
    expect(results['drill-verify']!.status, results['drill-verify']!.summary).toBe('pass');
    expect(report.snapshot?.status?.revision).toBeLessThan(report.source!.revision);
    // The inventory's figures are at its own (later) revision, with the two late keys; the restored data has
    // neither, and matched the source read again at the snapshot's revision.
    expect(report.restored?.total).toBe(report.source!.total - 2);
    expect(report.restored?.counts['/registry/leases']).toBe(report.source!.counts['/registry/leases']! - 1);
  });
});
