/**
 * The throw-away etcd member: free loopback ports, the restore argv (etcdutl 3.5+ or etcdctl 3.4), the etcd argv,
 * and the wait until it serves. Everything binds 127.0.0.1 only.
 */
import { get } from 'node:http';
import { findFreePorts } from '../exec/free-port.js';
import { randomBytes } from 'node:crypto';

export const LOOPBACK = '127.0.0.1';
export const MEMBER_NAME = 'groundwork-drill';
export const BUMP_REVISION = 1_000_000_000;

export interface MemberAddress {
  clientUrl: string;
  peerUrl: string;
  /** Fresh per drill, so the restored member can never join the source's cluster. */
  token: string;
}

export async function allocateMember(): Promise<MemberAddress> {
  const [client, peer] = (await findFreePorts(2)) as [number, number];
  return {
    clientUrl: `http://${LOOPBACK}:${client}`,
    peerUrl: `http://${LOOPBACK}:${peer}`,
    token: `groundwork-drill-${randomBytes(6).toString('hex')}`,
  };
}

export interface RestoreArgs {
  tool: 'etcdutl' | 'etcdctl';
  /** Path or name of the binary. */
  bin?: string;
  snapshot: string;
  dataDir: string;
  member: MemberAddress;
  skipHashCheck?: boolean;
  bumpRevision?: boolean;
}

export function buildRestoreArgv(a: RestoreArgs): string[] {
  return [
    a.bin ?? a.tool,
    'snapshot',
    'restore',
    a.snapshot,
    `--data-dir=${a.dataDir}`,
    `--name=${MEMBER_NAME}`,
    `--initial-cluster=${MEMBER_NAME}=${a.member.peerUrl}`,
    `--initial-cluster-token=${a.member.token}`,
    `--initial-advertise-peer-urls=${a.member.peerUrl}`,
    ...(a.skipHashCheck ? ['--skip-hash-check'] : []),
    ...(a.bumpRevision ? [`--bump-revision=${BUMP_REVISION}`, '--mark-compacted'] : []),
  ];
}

export function buildMemberArgv(dataDir: string, m: MemberAddress, bin = 'etcd'): string[] {
  return [
    bin,
    `--name=${MEMBER_NAME}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${MEMBER_NAME}=${m.peerUrl}`,
    `--initial-cluster-token=${m.token}`,
    // A restored Kubernetes database may be larger than etcd's 2 GiB default quota; the member only reads.
    '--quota-backend-bytes=8589934592',
    // A lone voter on loopback: with etcd's defaults (100 ms heartbeat, 1 s election timeout) it waits a random
    // 0.1-1.1 s before it elects itself; at 10/100 ms it serves within a tick of opening its data (etcd 3.4+).
    '--heartbeat-interval=10',
    '--election-timeout=100',
    '--log-level=warn',
  ];
}

/** Every URL a member would bind, checked before it starts: the drill must never listen beyond loopback. */
export function assertLoopbackOnly(argv: string[]): void {
  for (const a of argv) {
    const m = /^--(listen|advertise|initial-advertise)[a-z-]*urls=(.*)$/.exec(a);
    if (!m) continue;
    for (const u of m[2]!.split(',')) {
      const host = new URL(u).hostname;
      if (!/^127\.\d+\.\d+\.\d+$/.test(host)) throw new Error(`refusing to bind ${u}: the drill member listens on loopback only`);
    }
  }
}

/** Polls the member's /health until it answers healthy, it exits, or the time is up. */
export async function waitHealthy(
  clientUrl: string,
  opts: { timeoutMs: number; signal?: AbortSignal; exited?: Promise<unknown>; intervalMs?: number },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + opts.timeoutMs;
  let gone = false;
  void opts.exited?.then(() => (gone = true));
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (opts.signal?.aborted) return { ok: false, reason: 'interrupted' };
    if (gone) return { ok: false, reason: 'the member exited before it served' };
    try {
      const body = await getHealth(clientUrl);
      if (String(body.health) === 'true') return { ok: true };
      last = `health: ${JSON.stringify(body)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
  return { ok: false, reason: `not healthy within ${Math.round(opts.timeoutMs / 1000)}s (${last})` };
}

/**
 * The restored member's own version, from GET <clientUrl>/version (`{"etcdserver":"3.6.5",...}`): what
 * `etcdctl endpoint status` would say, without a process for it.
 */
export async function memberVersion(clientUrl: string): Promise<string | undefined> {
  // Only said in the report: a member that does not answer here fails the listing beside it, which says why.
  const body = (await getJson(`${clientUrl}/version`).catch(() => undefined)) as { etcdserver?: unknown } | undefined;
  return typeof body?.etcdserver === 'string' ? body.etcdserver : undefined;
}

function getHealth(clientUrl: string): Promise<{ health?: string | boolean }> {
  return getJson(`${clientUrl}/health`) as Promise<{ health?: string | boolean }>;
}

/** GET a small JSON answer with node:http: lighter than fetch (undici), and the member is plain http on loopback. */
function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c.length + text.length > 65536 ? '' : c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as unknown);
        } catch {
          reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 80)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}
