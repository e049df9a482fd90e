/**
 * The lab's API server defends itself as kube-apiserver does (issue 20): request and object size limits,
 * nesting limits answered 400, JSON patches whose work is bounded, bodies and results that are not objects
 * refused, authentication before the URL is decoded. One case per defect found by hand, each with the Status
 * body the real server sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createMemoryStore, MemoryBackend } from '../../src/lab/store/store.js';
import { EtcdBackend } from '../../src/lab/store/etcd.js';
import { ApiError, type KubeObject } from '../../src/lab/store/types.js';
import { MAX_JSON_DEPTH } from '../../src/lab/store/limits.js';
import { jsonOf, labRequest, timeReadyz } from './lab-http.js';

let lab: Lab;
const CM = '/api/v1/namespaces/default/configmaps';

beforeAll(async () => {
  lab = await startLab({ nodes: 1 });
});
afterAll(async () => {
  await lab?.stop();
});

async function createConfigMap(name: string, data: Record<string, string> = { a: '1' }): Promise<KubeObject> {
  const a = await labRequest(lab, 'POST', CM, { contentType: 'application/json', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data }) });
  expect(a.status).toBe(201);
  return jsonOf(a) as KubeObject;
}

function expectStatus(a: { status: number; text: string }, code: number, reason: string): Record<string, unknown> {
  expect(a.status).toBe(code);
  const s = jsonOf(a);
  expect(s).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason });
  return s;
}

describe('JSON patch work is bounded', () => {
  it('22 copy operations doubling the object stop at the copy limit (422) while /readyz keeps answering', async () => {
    const before = await createConfigMap('doubling', { seed: 'x'.repeat(1000) });
    // Each op copies the whole data map into itself: 2^22 times the object if nothing stops it.
    const ops = Array.from({ length: 22 }, (_, i) => ({ op: 'copy', from: '/data', path: `/data/d${i}` }));
    const patch = labRequest(lab, 'PATCH', `${CM}/doubling`, { contentType: 'application/json-patch+json', body: JSON.stringify(ops) });
    const ready = await timeReadyz(lab);
    const a = await patch;
    const s = expectStatus(a, 422, 'Invalid');
    expect(s.message).toMatch(/^Unable to complete the copy, the accumulated size increase of copy is \d+, exceeding the limit 3145728$/);
    expect(ready.status).toBe(200);
    expect(lab.store.get('configmaps', 'default', 'doubling')?.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('more than 10,000 operations are refused with 413 before any is applied', async () => {
    await createConfigMap('many-ops');
    const ops = Array.from({ length: 10_001 }, () => ({ op: 'test', path: '/kind', value: 'ConfigMap' }));
    const a = await labRequest(lab, 'PATCH', `${CM}/many-ops`, { contentType: 'application/json-patch+json', body: JSON.stringify(ops) });
    expect(expectStatus(a, 413, 'RequestEntityTooLarge').message).toBe('The allowed maximum operations in a JSON patch is 10000, got 10001');
  });

  it('a strategic merge of a long list onto a long list is linear (readyz answers meanwhile)', async () => {
    const env = (prefix: string) => Array.from({ length: 12_000 }, (_, i) => ({ name: `${prefix}${i}`, value: 'v' }));
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'long-env' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36', env: env('A') }] } };
    const c = await labRequest(lab, 'POST', '/api/v1/namespaces/default/pods', { contentType: 'application/json', body: JSON.stringify(pod) });
    expect(c.status).toBe(201);
    const patch = labRequest(lab, 'PATCH', '/api/v1/namespaces/default/pods/long-env', {
      contentType: 'application/strategic-merge-patch+json',
      body: JSON.stringify({ spec: { containers: [{ name: 'c', env: env('B') }] } }),
    });
    const ready = await timeReadyz(lab);
    const a = await patch;
    expect(a.status).toBe(200);
    expect(((jsonOf(a).spec as { containers: { env: unknown[] }[] }).containers[0].env).length).toBe(24_000);
  });
});

describe('a patch body that is not an object never replaces the object', () => {
  it.each([
    ['application/merge-patch+json', 422, 'Invalid', /^ "" is invalid: patch: Invalid value: "\[1,2,3\]": couldn't get version\/kind; json parse error: json: cannot unmarshal array into Go value/],
    ['application/strategic-merge-patch+json', 400, 'BadRequest', /^json: cannot unmarshal array into Go value of type map\[string\]interface \{\}$/],
    ['application/apply-patch+yaml', 400, 'BadRequest', /^error decoding YAML: .*cannot unmarshal array into Go value of type map\[string\]interface \{\}$/],
  ])('%s with [1,2,3] → %i %s; the Node stays a Node', async (contentType, code, reason, message) => {
    // An apply patch names its field manager (without one the answer is 422 for the missing fieldManager).
    const a = await labRequest(lab, 'PATCH', `/api/v1/nodes/cp-1${contentType.includes('apply') ? '?fieldManager=t' : ''}`, { contentType, body: '[1,2,3]' });
    expect(expectStatus(a, code, reason).message).toMatch(message);
    const node = jsonOf(await labRequest(lab, 'GET', '/api/v1/nodes/cp-1'));
    expect(node).toMatchObject({ kind: 'Node', apiVersion: 'v1', metadata: { name: 'cp-1' } });
  });

  it('a JSON patch whose result is an array (replace of the root) → 422; a JSON patch that is an object → 400', async () => {
    const a = await labRequest(lab, 'PATCH', '/api/v1/nodes/cp-1', { contentType: 'application/json-patch+json', body: '[{"op":"replace","path":"","value":[1,2,3]}]' });
    expect(expectStatus(a, 422, 'Invalid').message).toContain('cannot unmarshal array');
    const b = await labRequest(lab, 'PATCH', '/api/v1/nodes/cp-1', { contentType: 'application/json-patch+json', body: '{"op":"add"}' });
    expect(expectStatus(b, 400, 'BadRequest').message).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    expect(lab.store.get('nodes', undefined, 'cp-1')?.kind).toBe('Node');
  });

  it('a merge patch turning metadata into a number → 422, not a 500', async () => {
    const a = await labRequest(lab, 'PATCH', '/api/v1/nodes/cp-1', { contentType: 'application/merge-patch+json', body: '{"metadata":5}' });
    expectStatus(a, 422, 'Invalid');
  });

  it('create and update with an array body → 400 naming the expected kind', async () => {
    const a = await labRequest(lab, 'POST', CM, { contentType: 'application/json', body: '[1,2,3]' });
    expect(expectStatus(a, 400, 'BadRequest').message).toMatch(/^the object provided is unrecognized \(must be of type ConfigMap\): couldn't get version\/kind/);
    await createConfigMap('put-array');
    const b = await labRequest(lab, 'PUT', `${CM}/put-array`, { contentType: 'application/json', body: '[1,2,3]' });
    expectStatus(b, 400, 'BadRequest');
  });
});

describe('size limits', () => {
  it('an object over 1.5 MiB is refused with 413 (create, update and patch); the store keeps the old one', async () => {
    const big = 'x'.repeat(2_900_000);
    const a = await labRequest(lab, 'POST', CM, { contentType: 'application/json', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'huge' }, data: { big } }) });
    expect(expectStatus(a, 413, 'RequestEntityTooLarge').message).toMatch(/^etcdserver: request is too large/);
    expect(lab.store.get('configmaps', 'default', 'huge')).toBeUndefined();

    const cm = await createConfigMap('grows');
    const p = await labRequest(lab, 'PATCH', `${CM}/grows`, { contentType: 'application/merge-patch+json', body: JSON.stringify({ data: { big: 'y'.repeat(1_600_000) } }) });
    expectStatus(p, 413, 'RequestEntityTooLarge');
    const u = await labRequest(lab, 'PUT', `${CM}/grows`, { contentType: 'application/json', body: JSON.stringify({ ...cm, data: { big: 'z'.repeat(1_600_000) } }) });
    expectStatus(u, 413, 'RequestEntityTooLarge');
    expect(lab.store.get('configmaps', 'default', 'grows')?.metadata.resourceVersion).toBe(cm.metadata.resourceVersion);

    // Just under the limit is fine.
    const ok = await labRequest(lab, 'PATCH', `${CM}/grows`, { contentType: 'application/merge-patch+json', body: JSON.stringify({ data: { big: 'y'.repeat(1_500_000) } }) });
    expect(ok.status).toBe(200);
  });

  it('a request body over 3 MiB is refused with 413 "Request entity too large: limit is 3145728"', async () => {
    const a = await labRequest(lab, 'POST', CM, { contentType: 'application/json', body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'body' }, data: { big: 'x'.repeat(3_200_000) } }) });
    expect(expectStatus(a, 413, 'RequestEntityTooLarge').message).toBe('Request entity too large: limit is 3145728');
  });
});

describe('nesting limits', () => {
  const deepJson = (d: number) => `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":${'['.repeat(d)}${']'.repeat(d)}}`;

  it('10,000-deep JSON → 400 with a Status (was a 500)', async () => {
    const a = await labRequest(lab, 'POST', CM, { contentType: 'application/json', body: deepJson(10_000) });
    expect(expectStatus(a, 400, 'BadRequest').message).toContain('exceeded max depth');
  });

  it('deep flow YAML in an apply patch and deep block YAML in a create → 400', async () => {
    const flow = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep-apply}\nx: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`;
    const a = await labRequest(lab, 'PATCH', `${CM}/deep-apply?fieldManager=t`, { contentType: 'application/apply-patch+yaml', body: flow });
    expectStatus(a, 400, 'BadRequest');
    const block = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep-block\n${Array.from({ length: MAX_JSON_DEPTH + 20 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`;
    const b = await labRequest(lab, 'POST', CM, { contentType: 'application/yaml', body: block });
    expectStatus(b, 400, 'BadRequest');
  });

  it('a JSON patch that nests a value past the limit → 400, and a deep-but-allowed body still works', async () => {
    await createConfigMap('deep-patch');
    const deep = JSON.parse(`${'['.repeat(MAX_JSON_DEPTH - 5)}${']'.repeat(MAX_JSON_DEPTH - 5)}`) as unknown;
    const ops = [{ op: 'add', path: '/metadata/x', value: { a: { b: { c: { d: { e: { f: deep } } } } } } }];
    const a = await labRequest(lab, 'PATCH', `${CM}/deep-patch`, { contentType: 'application/json-patch+json', body: JSON.stringify(ops) });
    expectStatus(a, 400, 'BadRequest');
    const shallow = labRequest(lab, 'PATCH', `${CM}/deep-patch`, { contentType: 'application/merge-patch+json', body: JSON.stringify({ metadata: { labels: { a: 'b' } } }) });
    expect((await shallow).status).toBe(200);
  });
});

describe('authentication before the URL is decoded', () => {
  it('/api/%zz: 401 without a token, 400 with one', async () => {
    const anon = await labRequest(lab, 'GET', '/api/%zz', { token: null });
    expectStatus(anon, 401, 'Unauthorized');
    const authed = await labRequest(lab, 'GET', '/api/%zz');
    expect(expectStatus(authed, 400, 'BadRequest').message).toContain('invalid URL escape');
  });
});

describe('the store refuses non-objects itself', () => {
  const notObjects: unknown[] = [[1, 2, 3], 'Node', 5, null, { apiVersion: 'v1', kind: 'ConfigMap', metadata: [1] }];

  it.each(notObjects.map((v) => [JSON.stringify(v), v]))('memory store: create(%s) → 400', async (_, v) => {
    const s = await createMemoryStore();
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    await expect(s.create(v as KubeObject)).rejects.toMatchObject({ code: 400 });
    const arr = Object.assign([1, 2, 3], { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x' } });
    await expect(s.create(arr as unknown as KubeObject)).rejects.toBeInstanceOf(ApiError);
    expect(s.get('namespaces', undefined, 'x')).toBeUndefined();
    await s.close();
  });

  it('memory store: a patch producing a non-object never reaches the backend', async () => {
    const s = await createMemoryStore();
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } });
    await expect(s.patch('namespaces', undefined, 'n', 'merge', [1, 2, 3])).rejects.toMatchObject({ code: 422 });
    await expect(s.patch('namespaces', undefined, 'n', 'json', [{ op: 'replace', path: '', value: 'x' }])).rejects.toMatchObject({ code: 422 });
    expect(s.get('namespaces', undefined, 'n')?.kind).toBe('Namespace');
    await s.close();
  });

  it('both backends refuse to persist a non-object', async () => {
    await expect(new MemoryBackend().put('/registry/x/y', [1, 2] as unknown as KubeObject, 0)).rejects.toBeInstanceOf(ApiError);
    // Refused before any request: no etcd needed at this address.
    await expect(new EtcdBackend('http://127.0.0.1:1').put('/registry/x/y', [1, 2] as unknown as KubeObject, 0)).rejects.toBeInstanceOf(ApiError);
  });
});

describe('long lists', () => {
  it('a list longer than one batch goes out whole and in order, as JSON and as a watch replay', async () => {
    const s = await createMemoryStore();
    await s.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'many' } });
    const l = await startLab({ nodes: 1 });
    try {
      await l.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'many' } });
      for (let i = 0; i < 700; i++) await l.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${String(i).padStart(4, '0')}`, namespace: 'many' }, data: { i: String(i) } });
      const a = await labRequest(l, 'GET', '/api/v1/namespaces/many/configmaps');
      expect(a.status).toBe(200);
      const list = jsonOf(a) as { kind: string; items: KubeObject[] };
      expect(list.kind).toBe('ConfigMapList');
      expect(list.items.map((o) => o.metadata.name)).toEqual(Array.from({ length: 700 }, (_, i) => `cm-${String(i).padStart(4, '0')}`));
      const w = await labRequest(l, 'GET', '/api/v1/namespaces/many/configmaps?watch=true&timeoutSeconds=1');
      const events = w.text.trim().split('\n').map((line) => JSON.parse(line) as { type: string; object: KubeObject });
      expect(events.length).toBe(700);
      expect(events.every((e) => e.type === 'ADDED')).toBe(true);
    } finally {
      await l.stop();
      await s.close();
    }
  });

  it('a long list sent again from its kept bytes says what the store holds: a write, a delete, a selector, a resourceVersion', async () => {
    const l = await startLab({ nodes: 1 });
    try {
      await l.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'again' } });
      for (let i = 0; i < 600; i++) await l.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${String(i).padStart(4, '0')}`, namespace: 'again', labels: { half: String(i % 2) } }, data: { i: String(i) } });
      const list = async (q = '') => {
        const a = await labRequest(l, 'GET', `/api/v1/namespaces/again/configmaps${q}`);
        expect(a.status).toBe(200);
        expect(Number(a.headers['content-length'])).toBe(Buffer.byteLength(a.text));
        return jsonOf(a) as { metadata: { resourceVersion: string }; items: KubeObject[] };
      };
      const first = await list();
      const second = await list();
      expect(second).toEqual(first);
      // Unrelated writes move the store's resourceVersion on: the list says the latest, its items unchanged.
      await l.store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'elsewhere', namespace: 'default' } });
      const moved = await list();
      expect(Number(moved.metadata.resourceVersion)).toBeGreaterThan(Number(first.metadata.resourceVersion));
      expect(moved.items).toEqual(first.items);
      await l.store.mutate('configmaps', 'again', 'cm-0123', (o) => {
        o.data = { i: 'changed' };
      });
      await l.store.delete('configmaps', 'again', 'cm-0599');
      const changed = await list();
      expect(changed.items).toHaveLength(599);
      expect(changed.items.find((o) => o.metadata.name === 'cm-0123')?.data).toEqual({ i: 'changed' });
      expect(changed.items.some((o) => o.metadata.name === 'cm-0599')).toBe(false);
      // Another query (300 items: long too) keeps bytes of its own.
      const half = await list('?labelSelector=half%3D0');
      expect(half.items).toHaveLength(300);
      expect(await list('?labelSelector=half%3D0')).toEqual(half);
      expect(half.items.map((o) => o.metadata.name)).toEqual(changed.items.filter((o) => o.metadata.labels?.half === '0').map((o) => o.metadata.name));
      expect((await list()).items).toEqual(changed.items);
    } finally {
      await l.stop();
    }
  });
});
