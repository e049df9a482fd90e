/**
 * A source that keeps changing while the drill runs (as a live cluster does): the snapshot is newer than the
 * inventory, so verify compares with the source at the snapshot's revision; a source that compacted that revision
 * away can't give a hash for it, which is a warning, not a failure.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDrill } from '../../src/drill/drill.js';
import { createTestContext } from '../helpers/context.js';
import { ETCDCTL_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;

beforeAll(async () => {
  etcd = await startEtcd();
  await putMany(etcd.url, kubernetesKeys(800));
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
});

async function runSteps(drill: ReturnType<typeof createDrill>, between: (id: string) => Promise<void>) {
  const ctx = createTestContext();
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
    const drill = createDrill({ target: { kind: 'endpoints', endpoints: [etcd.url] } });
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
    const drill = createDrill({ target: { kind: 'endpoints', endpoints: [etcd.url] } });
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
});
