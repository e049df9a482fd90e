/**
 * Fuzzing the lab's PATCH and create paths (issue 20): random merge, strategic, apply and JSON patches and
 * create bodies — arrays, scalars, deep nesting, doubling copy operations, huge strings, broken JSON — against a
 * ConfigMap and a Node. Throughout, a loop checks that /readyz answers within a second; after every request the
 * answer is never a 500, an error is a Status, and the stored objects are still JSON objects with kind and
 * metadata that a typed client decodes. At the end real kubectl reads them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startLab, type Lab } from '../../src/lab/index.js';
import { MAX_JSON_DEPTH } from '../../src/lab/store/limits.js';
import { createKubectl } from './kubectl-helper.js';
import { labRequest, timeReadyz, type RawAnswer } from './lab-http.js';

let lab: Lab;
let core: k8s.CoreV1Api;
const dir = mkdtempSync(path.join(tmpdir(), 'gw-lab-fuzz-'));

beforeAll(async () => {
  lab = await startLab({ nodes: 1, kubeconfigPath: path.join(dir, 'kubeconfig') });
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(lab.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'target', namespace: 'default' }, data: { seed: 'x'.repeat(2000) } };
  const a = await labRequest(lab, 'POST', '/api/v1/namespaces/default/configmaps', { contentType: 'application/json', body: JSON.stringify(cm) });
  expect(a.status).toBe(201);
});
afterAll(async () => {
  await lab?.stop();
});

const TARGETS = {
  configmap: { path: '/api/v1/namespaces/default/configmaps/target', kind: 'ConfigMap' },
  node: { path: '/api/v1/nodes/cp-1', kind: 'Node' },
} as const;
type Target = keyof typeof TARGETS;

const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
  json: 'application/json-patch+json',
} as const;

const deep = (d: number, open = '[', close = ']') => `${open.repeat(d)}${close.repeat(d)}`;
const key = fc.constantFrom('metadata', 'data', 'spec', 'status', 'labels', 'annotations', 'kind', 'apiVersion', 'name', 'x', '$patch', '$retainKeys', 'finalizers', 'taints');
const value = fc.jsonValue({ maxDepth: 3 });
const pointer = fc.array(fc.oneof(key, fc.constantFrom('0', '-', '1')), { maxLength: 4 }).map((segs) => (segs.length ? `/${segs.join('/')}` : ''));

/** A body as text: mostly JSON of a generated value, sometimes hostile text. */
const hostileText = fc.oneof(
  fc.integer({ min: MAX_JSON_DEPTH - 2, max: 12_000 }).map((d) => deep(d)),
  fc.integer({ min: MAX_JSON_DEPTH - 2, max: 3_000 }).map((d) => `{"metadata":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`),
  fc.integer({ min: 1, max: 4 }).map((mb) => JSON.stringify({ data: { big: 'x'.repeat(mb * 800_000) } })),
  fc.constantFrom('[1,2,3]', '"Node"', '5', 'null', 'true', '{', '[{"op":', '{"metadata":5}', '{"metadata":[1]}', '{"data":{"a":{"b":1}}}'),
);

const jsonPatchOp = fc.oneof(
  fc.record({ op: fc.constantFrom('add', 'replace', 'test'), path: pointer, value }),
  fc.record({ op: fc.constantFrom('move', 'copy'), from: pointer, path: pointer }),
  fc.record({ op: fc.constant('remove'), path: pointer }),
);
/** Copies of the whole object (or a part) into itself: each one doubles it. */
const doubling = fc.tuple(fc.integer({ min: 2, max: 40 }), fc.constantFrom('', '/metadata', '/data')).map(([n, from]) =>
  Array.from({ length: n }, (_, i) => ({ op: 'copy', from, path: `${from === '' ? '/metadata' : from}/d${i}` })),
);

const mergeLike = fc.oneof(
  fc.dictionary(key, value, { maxKeys: 4 }),
  fc.record({ metadata: fc.record({ labels: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), value)), annotations: fc.dictionary(fc.string({ maxLength: 8 }), value) }, { requiredKeys: [] }) }),
  fc.record({ spec: fc.record({ taints: fc.array(fc.record({ key: fc.string({ maxLength: 5 }), effect: fc.constantFrom('NoSchedule', 'x'), $patch: fc.constantFrom('delete', 'replace', 'merge') }, { requiredKeys: ['key'] }), { maxLength: 4 }) }) }),
  fc.array(value, { maxLength: 4 }),
  value,
);

type Request = { verb: 'patch'; target: Target; type: keyof typeof PATCH_TYPES; body: string } | { verb: 'create'; body: string; contentType: string };

const patchRequest: fc.Arbitrary<Request> = fc.record({
  verb: fc.constant('patch' as const),
  target: fc.constantFrom<Target>('configmap', 'node'),
  type: fc.constantFrom<keyof typeof PATCH_TYPES>('merge', 'strategic', 'apply', 'json'),
  body: fc.oneof(
    { weight: 3, arbitrary: mergeLike.map((v) => JSON.stringify(v)) },
    { weight: 3, arbitrary: fc.array(jsonPatchOp, { maxLength: 8 }).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: doubling.map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: hostileText },
  ),
});

const createBody = fc.oneof(
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('ConfigMap'), metadata: fc.constant({ generateName: 'fuzz-' }), data: fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.string({ maxLength: 20 }), value)) }).map((v) => JSON.stringify(v)),
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('ConfigMap'), metadata: fc.oneof(value, fc.constant({ generateName: 'fuzz-' })), data: value }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: 4 }).map((mb) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'fuzz-' }, data: { big: 'x'.repeat(mb * 800_000) } })),
  fc.integer({ min: MAX_JSON_DEPTH - 2, max: 12_000 }).map((d) => `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"fuzz-"},"data":${deep(d)}}`),
  fc.array(value, { maxLength: 4 }).map((v) => JSON.stringify(v)),
  hostileText,
);
const createRequest: fc.Arbitrary<Request> = fc.record({
  verb: fc.constant('create' as const),
  body: createBody,
  contentType: fc.constantFrom('application/json', 'application/yaml'),
});

function send(r: Request): Promise<RawAnswer> {
  if (r.verb === 'create') return labRequest(lab, 'POST', '/api/v1/namespaces/default/configmaps', { contentType: r.contentType, body: r.body });
  const q = r.type === 'apply' ? '?fieldManager=fuzz&force=true' : '';
  return labRequest(lab, 'PATCH', `${TARGETS[r.target].path}${q}`, { contentType: PATCH_TYPES[r.type], body: r.body });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The stored object read back over HTTP: a JSON object of its kind with object metadata. */
async function expectStoredObject(target: Target): Promise<void> {
  const held = target === 'node' ? lab.store.get('nodes', undefined, 'cp-1') : lab.store.get('configmaps', 'default', 'target');
  expect(isMap(held) && isMap(held.metadata)).toBe(true);
  const a = await labRequest(lab, 'GET', TARGETS[target].path);
  expect(a.status).toBe(200);
  const o = JSON.parse(a.text) as unknown;
  expect(isMap(o)).toBe(true);
  const obj = o as Record<string, unknown>;
  expect(obj.kind).toBe(TARGETS[target].kind);
  expect(obj.apiVersion).toBe('v1');
  expect(isMap(obj.metadata)).toBe(true);
  const meta = obj.metadata as Record<string, unknown>;
  expect(typeof meta.name).toBe('string');
  for (const m of [meta.labels, meta.annotations]) {
    if (m !== undefined) expect(isMap(m) && Object.values(m).every((v) => typeof v === 'string')).toBe(true);
  }
}

describe('fuzzing PATCH and create', () => {
  it('the lab stays responsive and the store only ever holds objects', { timeout: 120_000 }, async () => {
    let running = true;
    let worst = 0;
    let probes = 0;
    const readyLoop = (async () => {
      while (running) {
        const r = await timeReadyz(lab);
        expect(r.status).toBe(200);
        worst = Math.max(worst, r.ms);
        probes++;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const seen = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof({ weight: 3, arbitrary: patchRequest }, { weight: 1, arbitrary: createRequest }), async (r) => {
          const a = await send(r);
          seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
          expect(a.status, `${a.status} ${a.text.slice(0, 300)}`).toBeLessThan(500);
          if (a.status >= 400) expect(JSON.parse(a.text)).toMatchObject({ kind: 'Status', code: a.status });
          if (r.verb === 'create' && a.status === 201) {
            const created = JSON.parse(a.text) as { metadata: { name: string } };
            await expectObjectAt(`/api/v1/namespaces/default/configmaps/${created.metadata.name}`);
          }
          await expectStoredObject('configmap');
          await expectStoredObject('node');
          // A typed client decodes both (it throws on what it cannot read).
          expect((await core.readNamespacedConfigMap({ name: 'target', namespace: 'default' })).metadata?.name).toBe('target');
          expect((await core.readNode({ name: 'cp-1' })).metadata?.name).toBe('cp-1');
        }),
        { numRuns: 150, seed: Number(process.env.GW_FUZZ_SEED ?? 20), endOnFailure: true },
      );
    } finally {
      running = false;
      await readyLoop;
    }
    expect(probes).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1000);
    // The run reached the interesting answers, not only one kind of refusal.
    expect([...seen.keys()].some((s) => s === 200)).toBe(true);
    expect([...seen.keys()].some((s) => s === 413)).toBe(true);
    expect([...seen.keys()].some((s) => s === 422 || s === 400)).toBe(true);

    // And kubectl itself reads them.
    const k = createKubectl(lab.kubeconfigPath);
    for (const args of [['get', 'configmap', 'target', '-n', 'default', '-o', 'json'], ['get', 'node', 'cp-1', '-o', 'json']]) {
      const out = await k.run(args);
      expect(out.code, out.stderr).toBe(0);
      expect(isMap(JSON.parse(out.stdout))).toBe(true);
    }
  });
});

async function expectObjectAt(p: string): Promise<void> {
  const a = await labRequest(lab, 'GET', p);
  expect(a.status).toBe(200);
  const o = JSON.parse(a.text) as unknown;
  expect(isMap(o) && isMap((o as { metadata?: unknown }).metadata)).toBe(true);
}
