/**
 * The two API servers the conformance script runs against, behind one interface: raw HTTPS (what client-go,
 * the Python client and groundwork's kube door send) and the real kubectl. `embedded` is the lab's in-process
 * API (startLab with its controllers); `real` is kube-apiserver with its controller manager and scheduler
 * (test/helpers/control-plane.ts, Pod Security as Talos configures it).
 */
import https from 'node:https';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { realTool } from '../helpers/real-tools.js';

export interface Answer {
  status: number;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: any;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface KubectlAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Target {
  name: 'embedded' | 'real';
  request(method: string, path: string, opts?: RequestOptions): Promise<Answer>;
  /** A watch stream: the events read until `count` arrived, the stream ended, or `waitMs` passed. */
  watch(path: string, count: number, waitMs?: number): Promise<{ status: number; events: { type: string; object: any }[] }>;
  kubectl(args: string[], input?: string): Promise<KubectlAnswer>;
}

interface Credentials {
  server: string;
  ca: string;
  cert?: string;
  key?: string;
  token?: string;
}

/** The cluster, CA and user of a kubeconfig's current context (certificate or token). */
export function credentialsOf(kubeconfigPath: string): Credentials {
  const kc = YAML.parse(readFileSync(kubeconfigPath, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { token?: string; 'client-certificate-data'?: string; 'client-key-data'?: string } }[];
  };
  const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);
  const user = kc.users[0]!.user;
  return {
    server: kc.clusters[0]!.cluster.server,
    ca: b64(kc.clusters[0]!.cluster['certificate-authority-data'])!,
    cert: b64(user['client-certificate-data']),
    key: b64(user['client-key-data']),
    token: user.token,
  };
}

function requestOf(c: Credentials, method: string, p: string, opts: RequestOptions) {
  const u = new URL(c.server);
  const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  let payload: string | undefined;
  if (opts.body !== undefined) {
    payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return { options: { hostname: u.hostname, port: u.port, path: p, method, ca: c.ca, cert: c.cert, key: c.key, headers, agent: false }, payload };
}

export function createTarget(name: Target['name'], kubeconfigPath: string): Target {
  const c = credentialsOf(kubeconfigPath);
  const home = mkdtempSync(path.join(tmpdir(), `gw-conformance-${name}-`));
  const kubectlBin = realTool('kubectl');
  return {
    name,
    request(method, p, opts = {}) {
      const { options, payload } = requestOf(c, method, p, opts);
      return new Promise((resolve, reject) => {
        const req = https.request(options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (b: Buffer) => chunks.push(b));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body, text });
          });
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(payload);
      });
    },
    watch(p, count, waitMs = 3000) {
      const { options } = requestOf(c, 'GET', p, {});
      return new Promise((resolve, reject) => {
        const events: { type: string; object: any }[] = [];
        let status = 0;
        let buf = '';
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          req.destroy();
          resolve({ status, events });
        };
        const timer = setTimeout(finish, waitMs);
        const req = https.request(options, (res) => {
          status = res.statusCode ?? 0;
          res.on('data', (b: Buffer) => {
            buf += b.toString('utf8');
            let i: number;
            while ((i = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, i).trim();
              buf = buf.slice(i + 1);
              if (line === '') continue;
              try {
                events.push(JSON.parse(line) as { type: string; object: unknown });
              } catch {
                events.push({ type: 'UNPARSEABLE', object: line.slice(0, 200) });
              }
              if (events.length >= count) return finish();
            }
          });
          res.on('end', () => {
            // A non-watch answer (a List, a Status) is one JSON document without a newline.
            if (buf.trim() !== '') {
              try {
                events.push({ type: 'BODY', object: JSON.parse(buf) as unknown });
              } catch {
                events.push({ type: 'UNPARSEABLE', object: buf.slice(0, 200) });
              }
            }
            finish();
          });
          res.on('error', () => finish());
        });
        req.on('error', (e) => (done ? undefined : reject(e)));
        req.end();
      });
    },
    kubectl(args, input) {
      return new Promise((resolve) => {
        const child = spawn(kubectlBin, ['--kubeconfig', kubeconfigPath, ...args], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { PATH: '/usr/bin:/bin', HOME: home, LANG: 'C', NO_COLOR: '1' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.end(input ?? '');
      });
    },
  };
}
