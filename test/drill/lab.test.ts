/** A drill of the lab's etcd: after verify, a lab API server on the restored member lists what the source lab held. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDrill } from '../../src/drill/index.js';
import { resolveLabTarget } from '../../src/drill/lab.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let lab: Lab;

beforeAll(async () => {
  etcd = await startEtcd();
  lab = await startLab({ etcd: etcd.url, nodes: 2 });
  await lab.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  for (const name of ['web-1', 'web-2', 'db-0']) {
    await lab.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop' }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] } });
  }
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await etcd?.stop();
});

describe('drill --lab', () => {
  it('restores the lab, boots a lab API on the copy, lists the same namespaces and pods; the sentinel is on by default', async () => {
    const { target, check } = resolveLabTarget({ etcd: etcd.url });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.resume();
    stderr.resume();
    const stateDir = mkdtempSync(path.join(tmpdir(), 'gw-labdrill-'));
    const { exitCode, report, summary } = await runDrill({
      drill: { target, labCheck: check },
      stateDir,
      io: { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: stateDir },
      renderer: 'silent',
    });
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    expect(report.target).toBe(`lab etcd ${etcd.url}`);
    expect(report.sentinel).toEqual({ key: '/groundwork/drill-sentinel', found: true });
    expect(report.restored?.counts['/registry/pods']).toBe(3);
    const labResult = summary.results.find((r) => r.id === 'drill-lab-api');
    expect(labResult?.status).toBe('pass');
    expect(labResult?.evidence).toMatchObject({ namespaces: 5, pods: 3 });
    // The source lab still serves, untouched by the drill.
    expect(lab.store.list('pods', 'shop').items).toHaveLength(3);
  });

  it.each([[undefined, /--lab needs the etcd/], ['http://10.0.0.1:2379', /not a plain http:\/\/ loopback/], ['https://127.0.0.1:2379', /not a plain http/], ['nonsense', /must be an etcd client URL/]])(
    '--lab-etcd %s is refused with exit 2',
    (etcdUrl, message) => {
      expect(() => resolveLabTarget({ etcd: etcdUrl })).toThrow(message);
    },
  );
});
