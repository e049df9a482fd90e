/**
 * Retries on 429/503: the pure rule (tables), then the client against a small loopback server that answers
 * 503 + Retry-After as an overloaded kube-apiserver does, counting what it was asked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { DEFAULT_RETRY, isIdempotent, parseRetryAfter, retryDelayMs } from '../../src/kube/retry.js';
import { KubeApiError, loadKubeConfig, type KubeClient } from '../../src/kube/index.js';

describe('retryDelayMs', () => {
  it.each([
    ['503 with Retry-After 1', 503, '1', 0, 0, 1000],
    ['429 with Retry-After 2', 429, '2', 3, 5000, 2000],
    ['503 without Retry-After: backoff from 500 ms', 503, undefined, 0, 0, 500],
    ['503 without Retry-After, third retry', 503, undefined, 2, 1500, 2000],
    ['500 with Retry-After: the server asks', 500, '1', 0, 0, 1000],
    ['500 without Retry-After: final', 500, undefined, 0, 0, undefined],
    ['409 Conflict: final', 409, '1', 0, 0, undefined],
    ['404: final', 404, undefined, 0, 0, undefined],
    ['retries used up', 503, '1', 10, 0, undefined],
    ['budget would overrun', 503, '5', 1, 58_000, undefined],
    ['a huge Retry-After is clamped', 503, '3600', 0, 0, 10_000],
  ])('%s', (_name, code, ra, attempt, waited, want) => {
    expect(retryDelayMs(code, ra, attempt, waited, DEFAULT_RETRY)).toBe(want);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('repeats only requests whose repetition cannot change the outcome', () => {
    expect(['GET', 'PUT', 'DELETE', 'PATCH'].every(isIdempotent)).toBe(true);
    expect(isIdempotent('POST')).toBe(false);
  });
});

describe('the client retries 429/503 as kubectl does', () => {
  let server: http.Server;
  let kube: KubeClient;
  const seen: string[] = [];
  /** Per "METHOD path": how many 503s to answer before the real answer. */
  const failFirst = new Map<string, number>();
  const stored = new Set<string>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const key = `${req.method} ${req.url!.split('?')[0]}`;
        seen.push(key);
        const left = failFirst.get(key) ?? 0;
        const json = (code: number, obj: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(code, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(obj));
        };
        if (req.method === 'POST' && key.endsWith('/configmaps')) {
          const name = (JSON.parse(body) as { metadata: { name: string } }).metadata.name;
          // A create that reached the store but whose answer was lost behind a 503 (a proxy in front, say).
          if (left > 0) {
            failFirst.set(key, left - 1);
            stored.add(name);
            return json(503, { kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: 'try again' }, { 'Retry-After': '0' });
          }
          if (stored.has(name)) return json(409, { kind: 'Status', code: 409, reason: 'AlreadyExists', message: `configmaps "${name}" already exists` });
          stored.add(name);
          return json(201, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'a' } });
        }
        if (left > 0) {
          failFirst.set(key, left - 1);
          return json(503, { kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: 'the server is currently unable to handle the request' }, { 'Retry-After': '0' });
        }
        if (req.method === 'GET' && key.startsWith('/api/v1/namespaces/a/configmaps/', 4)) {
          const name = key.split('/').pop()!;
          return stored.has(name) ? json(200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'a' }, data: { from: 'get' } }) : json(404, { kind: 'Status', code: 404, reason: 'NotFound' });
        }
        if (req.method === 'GET') return json(200, { kind: 'NodeList', items: [{ metadata: { name: 'n1' } }], metadata: { resourceVersion: '1' } });
        return json(200, { kind: 'Status', status: 'Success' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-retry-'));
    const kc = path.join(dir, 'kubeconfig');
    writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`,
    );
    kube = await loadKubeConfig(kc, undefined, { env: { GROUNDWORK_LOOPBACK_ONLY: '1' } });
  });
  afterAll(async () => {
    kube?.close();
    await new Promise((r) => server.close(r));
  });

  it('a GET that meets two 503s succeeds on the third attempt', async () => {
    failFirst.set('GET /api/v1/nodes', 2);
    const l = await kube.list('v1', 'Node');
    expect(l.items.map((n) => n.metadata.name)).toEqual(['n1']);
    expect(seen.filter((s) => s === 'GET /api/v1/nodes')).toHaveLength(3);
  });

  it('gives up within the budget, saying how many times it asked', async () => {
    failFirst.set('DELETE /api/v1/namespaces/gone', 100);
    const err = (await kube.delete('v1', 'Namespace', 'gone').catch((e: unknown) => e)) as KubeApiError;
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.code).toBe(503);
    expect(err.attempts).toBe(DEFAULT_RETRY.maxRetries + 1);
    failFirst.delete('DELETE /api/v1/namespaces/gone');
  });

  it('a retried create that meets 409 AlreadyExists returns the object its first attempt made', async () => {
    failFirst.set('POST /api/v1/namespaces/a/configmaps', 1);
    const got = await kube.create<{ apiVersion: string; kind: string; metadata: { name: string; namespace: string }; data?: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lost-answer', namespace: 'a' } });
    expect(got.data).toEqual({ from: 'get' });
    expect(seen.filter((s) => s === 'POST /api/v1/namespaces/a/configmaps')).toHaveLength(2);
  });

  it('a first-attempt 409 is still an error (the object was someone else\'s)', async () => {
    const err = await kube.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lost-answer', namespace: 'a' } }).catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(409);
  });

  it('a plain POST is not repeated', async () => {
    failFirst.set('POST /apis/x/v1/things', 1);
    const err = await kube.request('POST', '/apis/x/v1/things', { body: {} }).catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(503);
    expect(seen.filter((s) => s === 'POST /apis/x/v1/things')).toHaveLength(1);
  });
});
