/**
 * The lab at size: 200 nodes and 5,000 pods through the HTTPS API. Reports p50/p99 of a pod create and of
 * `list pods` (all namespaces, JSON, as client-go lists), the delay until 20 watchers have all seen a change
 * (watch fan-out), and the memory of the lab. The same 5,000 pods go into a real kube-apiserver on etcd
 * (test/helpers/control-plane.ts, controllers off: the pods stay Pending), and `list pods -A` — whole, and in
 * kubectl's pages of 500 — is timed against both in alternation, so each ratio is of one run on one machine. The lab runs in a child process (this file, forked with
 * GROUNDWORK_LAB_BENCH_CHILD=1) so that its memory figure excludes the bench client's buffers and sockets.
 * Also: store writes once the watch history is full (each write evicts the oldest event).
 */
import type http from 'node:http';
import https from 'node:https';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Bench, BenchLine } from './types.js';
import { startLab } from '../../src/lab/index.js';
import { createMemoryStore } from '../../src/lab/store/store.js';
import type { LabStore } from '../../src/lab/store/types.js';
import { startEtcd } from '../helpers/etcd.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

const NODES = 200;
const PODS = 5000;
const NAMESPACES = 10;
const WATCHERS = 20;
const LISTS = 200;

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

interface ChildLab {
  url: string;
  token: string;
  caPem: string;
  memory(): Promise<{ rss: number; heapUsed: number }>;
  /** Starts a bare Node https server in the lab's process that answers every GET with `bytes` bytes of JSON. */
  floor(bytes: number): Promise<{ url: string; caPem: string }>;
  stop(): Promise<void>;
}

type ChildMessage =
  | { type: 'ready'; url: string; token: string; caPem: string }
  | { type: 'memory'; rss: number; heapUsed: number }
  | { type: 'floor'; url: string; caPem: string }
  | { type: 'error'; message: string };

/** Starts the lab in a child process (the same file, in child mode) and talks to it over IPC. */
async function startChildLab(): Promise<ChildLab> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
    env: { ...process.env, GROUNDWORK_LAB_BENCH_CHILD: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<ChildMessage>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`lab child exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as ChildMessage);
      });
    });
  const ready = await next();
  if (ready.type !== 'ready') {
    child.kill();
    throw new Error(`lab child: ${ready.type === 'error' ? ready.message : ready.type}`);
  }
  return {
    url: ready.url,
    token: ready.token,
    caPem: ready.caPem,
    async floor(bytes: number) {
      const reply = next();
      child.send({ type: 'floor', bytes });
      const m = await reply;
      if (m.type !== 'floor') throw new Error('lab child: no floor reply');
      return m;
    },
    async memory() {
      const reply = next();
      child.send({ type: 'memory' });
      const m = await reply;
      if (m.type !== 'memory') throw new Error('lab child: no memory reply');
      return m;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

/** The transport's floor: the same bytes from a bare https server (no lab code), in the lab's process. */
async function startFloor(bytes: number): Promise<{ url: string; caPem: string }> {
  const { createLabPki } = await import('../../src/lab/server/certs.js');
  const pki = await createLabPki(['127.0.0.1', 'localhost']);
  const body = `{"kind":"PodList","items":[${'0,'.repeat(Math.max(0, Math.floor((bytes - 40) / 2)))}0]}`;
  const srv = https.createServer({ cert: pki.certPem, key: pki.keyPem }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(srv.address() as { port: number }).port}`, caPem: pki.caPem };
}

/** Child mode: serve a lab of NODES nodes and answer memory/stop requests from the parent. */
async function runChild(): Promise<void> {
  try {
    const lab = await startLab({ nodes: NODES, controlPlanes: 3 });
    process.on('message', (m: { type: string }) => {
      if (m.type === 'memory') {
        global.gc?.();
        const mem = process.memoryUsage();
        process.send!({ type: 'memory', rss: mem.rss, heapUsed: mem.heapUsed });
      } else if (m.type === 'floor') {
        void startFloor((m as unknown as { bytes: number }).bytes).then((f) => process.send!({ type: 'floor', ...f }));
      } else if (m.type === 'stop') {
        void lab.stop().then(() => process.exit(0));
      }
    });
    process.send!({ type: 'ready', url: lab.url, token: lab.token, caPem: lab.caPem });
  } catch (e) {
    process.send!({ type: 'error', message: (e as Error).message });
    process.exit(1);
  }
}

const bench: Bench = async () => {
  const lab = await startChildLab();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: lab.caPem });
  const url = new URL(lab.url);
  const request = requester(agent, url, { authorization: `Bearer ${lab.token}` });
  const lines: BenchLine[] = [];
  try {
    const empty = await lab.memory();
    for (let n = 0; n < NAMESPACES; n++) await request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${n}` } });
    const createMs: number[] = [];
    const t0 = performance.now();
    await createPods(request, createMs);
    const loadS = (performance.now() - t0) / 1000;
    lines.push({ name: `lab: create pod (${PODS} pods, 4 in flight, ${NODES} nodes)`, value: quantile(createMs, 0.5), unit: 'ms p50', note: `${(PODS / loadS).toFixed(0)} creates/s` });
    lines.push({ name: `lab: create pod (${PODS} pods, 4 in flight, ${NODES} nodes)`, value: quantile(createMs, 0.99), unit: 'ms p99' });

    const listMs: number[] = [];
    const floorMs: number[] = [];
    let bytes = (await request('GET', '/api/v1/pods')).text.length;
    const floor = await lab.floor(bytes);
    const floorAgent = new https.Agent({ keepAlive: true, ca: floor.caPem });
    const floorGet = requester(floorAgent, new URL(floor.url), {});
    // 200 lists: with fewer, the p99 is simply the slowest one (quantile() takes index floor(0.99 n)).
    for (let i = 0; i < LISTS; i++) {
      const s = performance.now();
      const r = await request('GET', '/api/v1/pods');
      listMs.push(performance.now() - s);
      bytes = r.text.length;
      if (r.code !== 200) throw new Error(`list: ${r.code}`);
      const f = performance.now();
      await floorGet('GET', '/');
      floorMs.push(performance.now() - f);
    }
    floorAgent.destroy();
    lines.push({ name: `lab: list pods -A (${PODS} pods, ${NODES} nodes)`, value: quantile(listMs, 0.5), unit: 'ms p50', note: `${(bytes / 1e6).toFixed(1)} MB per list, ${LISTS} lists` });
    lines.push({ name: `lab: list pods -A (${PODS} pods, ${NODES} nodes)`, value: quantile(listMs, 0.99), unit: 'ms p99', goal: '< 50 ms', met: quantile(listMs, 0.99) < 50, note: `slowest ${Math.max(...listMs).toFixed(2)} ms` });
    lines.push({
      name: 'lab: list pods -A against the transport floor',
      value: quantile(listMs, 0.5),
      unit: 'ms p50',
      baseline: { name: 'the same bytes from a bare Node https server in the lab process', value: quantile(floorMs, 0.5) },
      note: `floor p99 ${quantile(floorMs, 0.99).toFixed(2)} ms; the machine's load decides the absolute figures, this ratio is the lab's own cost`,
    });
    lines.push(...(await againstRealApiserver(request)));
    const selMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = performance.now();
      await request('GET', `/api/v1/namespaces/ns-3/pods?labelSelector=app%3Dapp-${i}`);
      selMs.push(performance.now() - s);
    }
    lines.push({ name: 'lab: list pods -n ns -l app=x', value: quantile(selMs, 0.5), unit: 'ms p50', note: `p99 ${quantile(selMs, 0.99).toFixed(2)} ms` });

    // Watch fan-out: 20 HTTP watch streams on all pods; time until every one has seen each new pod.
    const rv = (JSON.parse((await request('GET', '/api/v1/pods?limit=1')).text) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const arrivals = new Map<string, number[]>();
    const streams: http.ClientRequest[] = [];
    const watchAgent = new https.Agent({ keepAlive: false, ca: lab.caPem });
    for (let w = 0; w < WATCHERS; w++) {
      await new Promise<void>((resolve, reject) => {
        const req = https.request({ agent: watchAgent, host: url.hostname, port: url.port, path: `/api/v1/pods?watch=true&resourceVersion=${rv}`, headers: { authorization: `Bearer ${lab.token}` } }, (res) => {
          let buf = '';
          res.on('data', (c: Buffer) => {
            buf += c.toString();
            let i: number;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i);
              buf = buf.slice(i + 1);
              const e = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
              if (e.type !== 'ADDED') continue;
              const list = arrivals.get(e.object.metadata.name) ?? [];
              list.push(performance.now());
              arrivals.set(e.object.metadata.name, list);
            }
          });
          resolve();
        });
        req.on('error', reject);
        req.end();
        streams.push(req);
      });
    }
    const fanMs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const name = `fan-${i}`;
      const s = performance.now();
      await request('POST', '/api/v1/namespaces/ns-0/pods', { ...pod(PODS + i), metadata: { name } });
      // A deadline in time, not in turns of the event loop: a loaded machine takes more turns, not a lost event.
      while ((arrivals.get(name)?.length ?? 0) < WATCHERS) {
        if (performance.now() - s > 30_000) throw new Error(`watchers did not all see ${name} within 30 s`);
        await new Promise((r) => setImmediate(r));
      }
      fanMs.push(Math.max(...arrivals.get(name)!) - s);
    }
    lines.push({ name: `lab: watch fan-out to ${WATCHERS} watchers (create → all saw it)`, value: quantile(fanMs, 0.5), unit: 'ms p50', note: `p99 ${quantile(fanMs, 0.99).toFixed(2)} ms over 100 creates` });
    for (const s of streams) s.destroy();
    watchAgent.destroy();

    const full = await lab.memory();
    lines.push({
      name: `lab: lab process memory with ${NODES} nodes + ${PODS} pods`,
      value: Math.round(full.rss / 1e6),
      unit: 'MB RSS',
      note: `heap used ${Math.round(full.heapUsed / 1e6)} MB after gc; with ${NODES} nodes and no pods ${Math.round(empty.rss / 1e6)} MB RSS, heap ${Math.round(empty.heapUsed / 1e6)} MB (lab in a child process, bench client not counted)`,
    });
  } finally {
    agent.destroy();
    await lab.stop();
  }
  lines.push(...(await benchFullHistory(() => createMemoryStore())));
  lines.push(...(await benchEtcdStore()));
  return lines;
};

type Request = (method: string, path: string, body?: unknown) => Promise<{ code: number; text: string }>;

function requester(agent: https.Agent, url: URL, headers: Record<string, string>): Request {
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        { agent, host: url.hostname, port: url.port, method, path, headers: { ...headers, accept: 'application/json', ...(data ? { 'content-type': 'application/json' } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
}

function pod(i: number): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${i}`, labels: { app: `app-${i % 50}` } },
    spec: {
      nodeName: `w-${(i % (NODES - 3)) + 1}`,
      containers: [{ name: 'app', image: 'registry.example/app:1.0', ports: [{ containerPort: 8080 }], resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
    },
  };
}

/** The bench's PODS pods over NAMESPACES namespaces, 4 in flight. */
async function createPods(request: Request, createMs: number[] = []): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < PODS; i = next++) {
      const s = performance.now();
      const r = await request('POST', `/api/v1/namespaces/ns-${i % NAMESPACES}/pods`, pod(i));
      createMs.push(performance.now() - s);
      if (r.code !== 201) throw new Error(`create pod-${i}: ${r.code} ${r.text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** `list pods -A` as kubectl lists: pages of 500 following `continue`; returns the items seen. */
async function pagedList(request: Request): Promise<number> {
  let cont = '';
  let n = 0;
  for (;;) {
    const r = await request('GET', `/api/v1/pods?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
    if (r.code !== 200) throw new Error(`paged list: ${r.code} ${r.text.slice(0, 200)}`);
    const l = JSON.parse(r.text) as { items: unknown[]; metadata: { continue?: string } };
    n += l.items.length;
    if (!l.metadata.continue) return n;
    cont = l.metadata.continue;
  }
}

/**
 * The same pods in a real kube-apiserver (etcd 3.6, no controllers, no nodes: the pods stay Pending), then
 * `list pods -A` against the lab and the real one in alternation: whole (JSON, as client-go lists) and in
 * kubectl's pages of 500.
 */
async function againstRealApiserver(lab: Request): Promise<BenchLine[]> {
  const cp = await startControlPlane({ controllers: false, podSecurity: 'kubeadm' });
  // The admin kubeconfig's client certificate (a throw-away PKI of the helper's, never printed).
  const kc = YAML.parse(readFileSync(cp.kubeconfig, 'utf8')) as { users: { user: Record<string, string> }[] };
  const u = kc.users[0]!.user;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: cp.caPem, cert: Buffer.from(u['client-certificate-data']!, 'base64'), key: Buffer.from(u['client-key-data']!, 'base64') });
  try {
    const real = requester(agent, new URL(cp.server), {});
    for (let n = 0; n < NAMESPACES; n++) {
      const ns = await real('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${n}` } });
      if (ns.code !== 201) throw new Error(`real apiserver: create namespace: ${ns.code} ${ns.text.slice(0, 200)}`);
      // No controller manager: the ServiceAccount admission plugin needs the default account to exist.
      await real('POST', `/api/v1/namespaces/ns-${n}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    }
    const t0 = performance.now();
    await createPods(real);
    const loadS = (performance.now() - t0) / 1000;
    const time = async (fn: () => Promise<unknown>) => {
      const s = performance.now();
      await fn();
      return performance.now() - s;
    };
    const whole = (request: Request) => async () => {
      const r = await request('GET', '/api/v1/pods');
      if (r.code !== 200) throw new Error(`list: ${r.code}`);
      return r.text.length;
    };
    const labBytes = await whole(lab)();
    const realBytes = await whole(real)();
    const labMs: number[] = [];
    const realMs: number[] = [];
    const labPaged: number[] = [];
    const realPaged: number[] = [];
    for (let i = 0; i < 20; i++) {
      labMs.push(await time(whole(lab)));
      realMs.push(await time(whole(real)));
    }
    let items = 0;
    for (let i = 0; i < 10; i++) {
      labPaged.push(await time(async () => (items = await pagedList(lab))));
      realPaged.push(await time(() => pagedList(real)));
    }
    const p99 = (xs: number[]) => quantile(xs, 0.99);
    return [
      { name: `real kube-apiserver: list pods -A (${PODS} pods)`, value: quantile(realMs, 0.5), unit: 'ms p50', note: `p99 ${p99(realMs).toFixed(2)} ms; ${(realBytes / 1e6).toFixed(1)} MB per list (lab ${(labBytes / 1e6).toFixed(1)} MB); loaded at ${(PODS / loadS).toFixed(0)} creates/s` },
      { name: `lab vs real: list pods -A (${PODS} pods, whole, 20 each, alternating)`, value: p99(labMs), unit: 'ms p99', baseline: { name: 'real kube-apiserver p99', value: p99(realMs) }, goal: '<= 1.0x', met: p99(labMs) <= p99(realMs), note: `lab p50 ${quantile(labMs, 0.5).toFixed(2)} ms, real p50 ${quantile(realMs, 0.5).toFixed(2)} ms` },
      { name: `lab vs real: list pods -A in pages of 500, as kubectl (${items} pods, 10 each)`, value: p99(labPaged), unit: 'ms p99', baseline: { name: 'real kube-apiserver p99', value: p99(realPaged) }, goal: '<= 1.0x', met: p99(labPaged) <= p99(realPaged), note: `lab p50 ${quantile(labPaged, 0.5).toFixed(2)} ms, real p50 ${quantile(realPaged, 0.5).toFixed(2)} ms` },
    ];
  } finally {
    agent.destroy();
    await cp.stop();
  }
}

/**
 * Store writes once the watch history (20,000 events by default) is full, so every write evicts one event.
 * Exported so the figure can be taken against another store implementation.
 */
export async function benchFullHistory(createStore: () => Promise<LabStore>, label = 'lab store'): Promise<BenchLine[]> {
  const store = await createStore();
  try {
    await store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'hist' } });
    await store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'hist' }, data: { n: '0' } });
    const write = (i: number) => store.mutate('configmaps', 'hist', 'c', (o) => {
      o.data = { n: String(i) };
    });
    for (let i = 0; i < 21_000; i++) await write(i);
    const ms: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 5_000; i++) {
      const s = performance.now();
      await write(i);
      ms.push(performance.now() - s);
    }
    const perS = 5_000 / ((performance.now() - t0) / 1000);
    return [
      { name: `${label}: update with a full watch history (20,000 events)`, value: quantile(ms, 0.5), unit: 'ms p50', note: `p99 ${quantile(ms, 0.99).toFixed(3)} ms; ${perS.toFixed(0)} writes/s over 5,000 writes` },
    ];
  } finally {
    await store.close();
  }
}

/** The same pod create through a lab whose store is a real etcd (compare-and-swap txn per write, fsync'd). */
async function benchEtcdStore(): Promise<BenchLine[]> {
  const etcd = await startEtcd();
  const lab = await startLab({ nodes: 3, etcd: etcd.url });
  try {
    const ms: number[] = [];
    for (let i = 0; i < 300; i++) {
      const s = performance.now();
      await lab.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `e-${i}`, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'registry.example/app:1.0' }] } });
      ms.push(performance.now() - s);
    }
    const t = performance.now();
    await lab.stop();
    const again = await startLab({ nodes: 3, etcd: etcd.url });
    const reloadMs = performance.now() - t;
    const n = again.store.list('pods').items.length;
    await again.stop();
    return [
      { name: 'lab on etcd: create pod (store call, 1 in flight)', value: quantile(ms, 0.5), unit: 'ms p50', note: `p99 ${quantile(ms, 0.99).toFixed(2)} ms` },
      { name: 'lab on etcd: restart and reload', value: Math.round(reloadMs), unit: 'ms', note: `${n} pods served again` },
    ];
  } finally {
    await lab.stop();
    await etcd.stop();
  }
}

export default bench;

if (process.env.GROUNDWORK_LAB_BENCH_CHILD === '1' && process.send) await runChild();
