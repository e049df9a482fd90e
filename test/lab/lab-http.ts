/**
 * Raw HTTPS requests to an in-process lab: any method, content type and body (valid or not), the answer's
 * status and body as text. For tests that send what no well-behaved client would.
 */
import https from 'node:https';
import type { Lab } from '../../src/lab/index.js';

export interface RawAnswer {
  status: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export function labRequest(
  lab: Pick<Lab, 'url' | 'caPem' | 'token'>,
  method: string,
  path: string,
  opts: { body?: string | Buffer; contentType?: string; token?: string | null } = {},
): Promise<RawAnswer> {
  const u = new URL(lab.url);
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? lab.token : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.contentType) headers['content-type'] = opts.contentType;
  return new Promise((resolve, reject) => {
    // `path` goes on the wire as given (no URL normalization), so a test can send a broken escape.
    const req = https.request({ hostname: u.hostname, port: u.port, path, method, ca: lab.caPem, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Parses an answer that must be JSON: a Kubernetes object or a Status. */
export function jsonOf(a: Pick<RawAnswer, 'text'>): Record<string, unknown> {
  return JSON.parse(a.text) as Record<string, unknown>;
}

/** How long GET /readyz takes while something else runs (the lab shares the test's event loop). */
export async function timeReadyz(lab: Pick<Lab, 'url' | 'caPem' | 'token'>): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const a = await labRequest(lab, 'GET', '/readyz', { token: null });
  return { ms: performance.now() - t0, status: a.status };
}
