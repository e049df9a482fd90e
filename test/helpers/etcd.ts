/**
 * A real etcd on free loopback ports with a temp data dir, for tests and benches: Debian's 3.4 at /usr/bin/etcd
 * (or $GW_TEST_ETCD) unless `bin` names another (the real 3.5 and 3.6 builds: realTool('etcd-3.6/etcd')).
 * `putMany` writes many keys fast through the v3 JSON gateway (transactions of many puts,
 * several in flight), which is far quicker than one `etcdctl put` process per key.
 */
import { findFreePorts } from '../../src/exec/free-port.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ETCD_BIN = process.env.GW_TEST_ETCD ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.GW_TEST_ETCDCTL ?? '/usr/bin/etcdctl';

export interface TestEtcd {
  /** http://127.0.0.1:<port> */
  url: string;
  dataDir: string;
  pid: number;
  /** Stops etcd (SIGTERM, then SIGKILL) and removes the data dir unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}


async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`etcd at ${url} not healthy within ${timeoutMs} ms:\n${log()}`);
}

export async function startEtcd(opts: { dataDir?: string; quotaBytes?: number; maxRequestBytes?: number; bin?: string } = {}): Promise<TestEtcd> {
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'gw-etcd-'));
  const [client, peer] = await findFreePorts(2);
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^ETCD(CTL)?_/.test(k)));
  const child = spawn(
    opts.bin ?? ETCD_BIN,
    [
      '--name=test',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=test=${peerUrl}`,
      '--log-level=warn',
      ...(opts.quotaBytes ? [`--quota-backend-bytes=${opts.quotaBytes}`] : []),
      ...(opts.maxRequestBytes ? [`--max-request-bytes=${opts.maxRequestBytes}`] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env, detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  await waitHealthy(url, child, 20_000, () => stderr);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    url,
    dataDir,
    pid: child.pid!,
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5000);
        await exited;
        clearTimeout(t);
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** Writes puts in transactions of `perTxn` with `concurrency` requests in flight, through the v3 JSON gateway. */
export async function putMany(
  url: string,
  entries: Iterable<[string, string | Buffer]>,
  opts: { perTxn?: number; concurrency?: number } = {},
): Promise<number> {
  const perTxn = opts.perTxn ?? 100;
  const concurrency = opts.concurrency ?? 4;
  const it = entries[Symbol.iterator]();
  let written = 0;
  const nextBatch = (): Array<[string, string | Buffer]> => {
    const batch: Array<[string, string | Buffer]> = [];
    for (let r = it.next(); !r.done; r = it.next()) {
      batch.push(r.value);
      if (batch.length >= perTxn) break;
    }
    return batch;
  };
  const worker = async () => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      const body = JSON.stringify({ success: batch.map(([k, v]) => ({ request_put: { key: b64(k), value: b64(v) } })) });
      const res = await fetch(`${url}/v3/kv/txn`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error(`txn failed: ${res.status} ${await res.text()}`);
      const j = (await res.json()) as { error?: string };
      if (j.error) throw new Error(`txn failed: ${j.error}`);
      written += batch.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return written;
}

/** A Kubernetes-shaped keyspace: keys under /registry/<resource>/<namespace>/<name>, in the given proportions. */
export function* kubernetesKeys(total: number, value: (i: number) => string | Buffer = (i) => `value-${i}`): Generator<[string, string | Buffer]> {
  const layout: Array<[string, number]> = [
    ['/registry/pods/default/pod-', 0.4],
    ['/registry/configmaps/kube-system/cm-', 0.25],
    ['/registry/secrets/default/secret-', 0.15],
    ['/registry/services/specs/default/svc-', 0.1],
    ['/registry/apiextensions.k8s.io/customresourcedefinitions/crd-', 0.1],
  ];
  let i = 0;
  for (const [prefix, share] of layout) {
    const n = prefix === layout.at(-1)![0] ? total - i : Math.round(total * share);
    for (let j = 0; j < n; j++, i++) yield [`${prefix}${j}`, value(i)];
  }
}

export async function getJson(url: string, apiPath: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}${apiPath}`, { method: 'POST', body: JSON.stringify(body) });
  return res.json();
}
