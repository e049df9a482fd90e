/**
 * A restore drill as Steps of the 'drill' stage: inventory -> snapshot -> integrity -> restore -> boot -> verify
 * (-> lab API) -> teardown. Each phase is timed. The steps share one DrillState (the live member is a process,
 * not data), so a drill is never resumed half-way: every step continues on failure and later phases skip
 * themselves when what they need is missing; teardown always runs, and `cleanup` (for the engine's cleanup hooks)
 * tears down after Ctrl-C.
 *
 * Safety: the source is only read (plus the optional sentinel key); the snapshot, the restored data and the
 * member live in a scratch directory that must be empty; the member binds 127.0.0.1 only.
 */
import { dialRefusal } from '../net/loopback-guard.js';
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT, ToolError, UserError, fileError } from '../errors.js';
import { spawnService, type AuditSink, type Service } from '../exec/index.js';
import { appendAudit } from '../run/records.js';
import type { Plan, Stage, Step, StepContext, StepOutcome } from '../run/types.js';
import {
  KeyCounter,
  OTHER_PREFIX,
  OutputParseError,
  compareCounts,
  parseEndpointStatus,
  parseHashKv,
  parseKeyPage,
  parseSnapshotStatus,
  parseToolVersion,
  supportsBumpRevision,
  type HashKv,
  type SnapshotStatus,
} from './etcd-output.js';
import { makeDirs } from '../run/records.js';
import type { LeftoverSink } from '../run/leftovers.js';
import { appendDrillRecord, formatBytes, formatMs, type DrillRecord } from './history.js';
import { allocateMember, assertLoopbackOnly, buildMemberArgv, buildRestoreArgv, waitHealthy, BUMP_REVISION, type MemberAddress } from './member.js';
import { checkSnapshotFile, type SnapshotFileCheck } from './snapshot-file.js';
import {
  describeTarget,
  kubeadmEtcdctl,
  memberEtcdctl,
  remoteSnapshotPath,
  scrubEtcdEnv,
  sourceEtcdctl,
  type DrillTarget,
} from './targets.js';
import { SSH_USER, buildScpDownloadArgv, buildSshArgv, needsSudo, parseSshDestination, rawShell, sshDestination, type SshEndpoint } from '../net/ssh-argv.js';

/** etcdctl snapshot save on the node (as root), chown to the ssh user when that is not root, scp back. */
export function kubeadmSnapshotArgvs(ep: SshEndpoint, remote: string, local: string): string[][] {
  return [
    buildSshArgv(ep, [...kubeadmEtcdctl(), 'snapshot', 'save', remote], { asRoot: true }),
    ...(needsSudo(ep) ? [buildSshArgv(ep, ['chown', '--', rawShell('"$(id -u)"'), remote], { asRoot: true })] : []),
    buildScpDownloadArgv(ep, remote, local),
  ];
}

export const SENTINEL_KEY = '/groundwork/drill-sentinel';
export const PHASES = ['inventory', 'snapshot', 'integrity', 'restore', 'boot', 'verify', 'lab', 'teardown'] as const;
export type PhaseName = (typeof PHASES)[number];

export interface DrillTools {
  etcd?: string;
  etcdctl?: string;
  etcdutl?: string;
  talosctl?: string;
}

/** What the verify phase found in the restored member, handed to the lab check. */
export interface RestoredMember {
  clientUrl: string;
  revision: number;
  /** Keys per /registry prefix in the restored data. */
  counts: Record<string, number>;
}

/** What a --lab drill does after verify: boot a lab API server on the restored member and list through it. */
export type LabCheck = (restored: RestoredMember, ctx: StepContext) => Promise<StepOutcome>;

export interface DrillOptions {
  target: DrillTarget;
  /** Must be absent or empty. Default: a fresh directory under the system temp dir. */
  scratch?: string;
  /** Write a sentinel key to the source before the snapshot and read it back from the restored member. */
  sentinel?: boolean;
  /** Bump the revision and mark it compacted on restore, as a real Kubernetes restore does (only where supported). Default true. */
  bumpRevision?: boolean;
  tools?: DrillTools;
  /** Keys per `etcdctl get` page while counting: bounds memory whatever the database size. */
  pageSize?: number;
  bootTimeoutMs?: number;
  labCheck?: LabCheck;
  /** Append the drill to <stateDir>/drills.jsonl at teardown. Default true. */
  recordHistory?: boolean;
  now?: () => Date;
  id?: string;
  /** The environment processes see (tests pass a PATH built from scratch); default process.env. */
  env?: Record<string, string | undefined>;
}

interface SourceInventory {
  revision: number;
  version?: string;
  dbSize?: number;
  counts: Record<string, number>;
  total: number;
  hash?: HashKv;
}

export interface PhaseTiming {
  ms: number;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  summary: string;
}

/** Everything a drill learned, for the report and the history line. */
export interface DrillReport {
  id: string;
  target: string;
  status: 'pass' | 'fail' | 'interrupted';
  reasons: string[];
  startedAt: string;
  snapshotAt?: string;
  rpoMs?: number;
  rtoMs?: number;
  totalMs: number;
  phases: Partial<Record<PhaseName, PhaseTiming>>;
  source?: SourceInventory;
  snapshot?: { file?: string; bytes: number; sha256: string; verdict: string; status?: SnapshotStatus };
  restored?: { revision: number; counts: Record<string, number>; total: number; hash?: number; bumped: boolean; tool: string; etcdVersion?: string };
  sentinel?: { key: string; found: boolean };
}

interface DrillState {
  id: string;
  startedAt: Date;
  scratch?: { dir: string; created: boolean };
  /** leftovers.json entries for the scratch data, forgotten once removed. */
  scratchRecords?: { sink: LeftoverSink; ids: string[] };
  snapshotFile?: string;
  snapshotOurs: boolean;
  snapshotAt?: Date;
  source?: SourceInventory;
  sentinel?: { key: string; value: string; found?: boolean };
  sentinelRemoved?: boolean;
  file?: SnapshotFileCheck;
  status?: SnapshotStatus;
  integrityOk: boolean;
  restoreAt?: Date;
  restore?: { dataDir: string; member: MemberAddress; bumped: boolean; tool: 'etcdutl' | 'etcdctl' };
  service?: Service;
  memberLog: string[];
  restored?: { revision: number; counts: Record<string, number>; total: number; hash?: number; etcdVersion?: string };
  phases: Partial<Record<PhaseName, PhaseTiming>>;
  reasons: string[];
  interrupted: boolean;
  tornDown: boolean;
  recorded: boolean;
}

export interface Drill {
  plan: Plan;
  stage: Stage;
  /** Stops the member and removes the scratch data; safe to call more than once (engine cleanup hook). */
  cleanup(ctx?: StepContext): Promise<void>;
  report(): DrillReport;
}

const STAGE = 'drill';

/** What to check when a phase's tool fails, by phase (the tool's own words are in the detail). */
const TOOL_FIX: Partial<Record<PhaseName, string>> = {
  inventory: 'check that the source etcd answers at the endpoint given, with the right --cacert/--cert/--key (or ssh access for --kubeadm)',
  snapshot: 'check access to the source (endpoint and client certificates, ssh for --kubeadm, talosconfig for --talos) and free space in --scratch',
  restore: 'check free space in --scratch and that the snapshot passed the integrity phase',
  verify: 'the restored member stopped answering: see the member log in the boot phase',
};

/** Checks made before anything runs, so a bad flag fails at once naming the flag (exit 2). */
function validateOptions(o: DrillOptions): void {
  const t = o.target;
  if (t.kind === 'endpoints' || t.kind === 'lab') {
    for (const e of t.endpoints) {
      let host = '';
      try {
        host = new URL(e).hostname.replace(/^\[|\]$/g, '');
      } catch {
        throw new UserError(`--endpoints ${e} is not a URL`, { exitCode: EXIT.usage, fix: 'pass --endpoints https://HOST:2379' });
      }
      const refusal = dialRefusal(host, o.env ?? process.env);
      if (refusal) throw new UserError(refusal, { exitCode: EXIT.usage });
    }
  }
  // The argv builder keeps any value data (after "--"); a name that is no user name or host is refused anyway.
  if (t.kind === 'kubeadm' && (!parseSshDestination(sshDestination(t.ssh)) || (t.ssh.user !== undefined && !SSH_USER.test(t.ssh.user)))) {
    throw new UserError(`--kubeadm ${JSON.stringify(sshDestination(t.ssh))} is not [user@]HOST`, { exitCode: EXIT.usage, fix: 'pass --kubeadm [user@]HOST: a login name and an IP address or DNS name' });
  }
  if ((t.kind === 'endpoints' || t.kind === 'lab') && t.endpoints.length === 0) {
    throw new UserError('no etcd endpoint given', { exitCode: EXIT.usage, fix: 'pass --endpoints https://HOST:2379' });
  }
  if (t.kind === 'snapshot') {
    const fix = 'pass --snapshot with the path of an etcd snapshot (.db) file';
    if (!existsSync(t.file)) throw new UserError(`snapshot file not found: ${t.file}`, { exitCode: EXIT.usage, fix });
    // Opened now, not in the middle of the drill: unreadable or a directory is the operator's to fix.
    try {
      if (statSync(t.file).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      closeSync(openSync(t.file, 'r'));
    } catch (e) {
      throw fileError('the snapshot', t.file, e, { fix });
    }
  }
  if (o.scratch !== undefined) {
    const dir = path.resolve(o.scratch);
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) throw new UserError(`--scratch ${o.scratch} is not a directory`, { exitCode: EXIT.usage, fix: 'pass --scratch with an empty or new directory' });
      if (readdirSync(dir).length > 0) {
        throw new UserError(`--scratch ${o.scratch} is not empty`, {
          exitCode: EXIT.usage,
          why: 'the drill deletes what it restores there at the end; it never mixes its files with others',
          fix: 'pass --scratch with an empty or new directory (or leave it out for a temporary one)',
        });
      }
    }
    // Refuse anything inside an etcd data directory: a drill must never write where a member keeps its data.
    for (let d = dir; ; d = path.dirname(d)) {
      if (existsSync(path.join(d, 'member', 'snap')) || existsSync(path.join(d, 'member', 'wal'))) {
        throw new UserError(`--scratch ${o.scratch} is inside the etcd data directory ${d}`, {
          exitCode: EXIT.usage,
          why: 'the drill must never write into a data directory',
          fix: 'pass --scratch with a directory outside any etcd data directory',
        });
      }
      if (path.dirname(d) === d) break;
    }
  }
}

/**
 * How long a phase that moves the whole database may take: a minute to get going, plus the size at 8 MiB/s (a
 * slow disk or an ssh copy). Unknown size: 30 minutes, the old fixed bound.
 */
export function scaledTimeoutMs(bytes: number | undefined): number {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes <= 0) return 30 * 60_000;
  return Math.round(60_000 + (bytes / (8 * 1024 * 1024)) * 1000);
}

function newDrillId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}

function topPrefixes(counts: Record<string, number>, n = 4): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([p, c]) => `${p} ${c}`)
    .join(', ');
}

function errorText(err: unknown): string {
  if (err instanceof ToolError) return [err.message, err.stderrTail].filter(Boolean).join(': ');
  return err instanceof Error ? err.message : String(err);
}

/** Builds a drill: its stage of steps and the means to clean up and report. */
export function createDrill(opts: DrillOptions): Drill {
  validateOptions(opts);
  const now = opts.now ?? (() => new Date());
  const startedAt = now();
  const tools = { etcd: 'etcd', etcdctl: 'etcdctl', etcdutl: 'etcdutl', talosctl: 'talosctl', ...opts.tools };
  const target = opts.target;
  const pageSize = opts.pageSize ?? 5_000;
  const wantSentinel = opts.sentinel ?? target.kind === 'lab';
  const source = sourceEtcdctl(target, tools.etcdctl);
  const baseEnv = opts.env ?? process.env;
  const env = scrubEtcdEnv(baseEnv);
  const st: DrillState = {
    id: opts.id ?? newDrillId(startedAt),
    startedAt,
    snapshotOurs: target.kind !== 'snapshot',
    memberLog: [],
    integrityOk: false,
    phases: {},
    reasons: [],
    interrupted: false,
    tornDown: false,
    recorded: false,
  };

  // A snapshot holds every secret of the cluster: whatever the tools write is born 0600 (umask 077).
  const run = (ctx: StepContext, argv: string[], o: { allowFailure?: boolean; timeoutMs?: number; waitingFor?: string } = {}) =>
    ctx.exec(argv, { env, timeoutMs: o.timeoutMs ?? 120_000, allowFailure: o.allowFailure, umask: 0o077, ...(o.waitingFor ? { waitingFor: o.waitingFor } : {}) });

  async function ensureScratch(ctx: StepContext): Promise<string> {
    if (st.scratch) return st.scratch.dir;
    const dir = await makeScratch();
    // The snapshot and the restored keyspace are the whole cluster's data: written down before they exist, so a
    // run that cannot finish its cleanup (a second Ctrl-C, SIGKILL) has the next run remove them.
    if (ctx.leftovers) {
      const dirs = st.scratch!.created ? [dir] : [path.join(dir, 'restored.etcd'), path.join(dir, 'snapshot.db')];
      st.scratchRecords = { sink: ctx.leftovers, ids: [ctx.leftovers.add(`the drill's scratch data (a snapshot and the restored keyspace) in ${dir}`, { dirs })] };
    }
    return dir;
  }

  async function makeScratch(): Promise<string> {
    if (opts.scratch !== undefined) {
      const dir = path.resolve(opts.scratch);
      const existed = existsSync(dir);
      if (existed && readdirSync(dir).length > 0) throw new UserError(`--scratch ${opts.scratch} is not empty`, { fix: 'pass --scratch with an empty or new directory' });
      makeDirs(dir, 0o700);
      st.scratch = { dir, created: !existed };
    } else {
      st.scratch = { dir: await mkdtemp(path.join(tmpdir(), 'groundwork-drill-')), created: true };
    }
    // Snapshots hold every Secret of the cluster: nobody else may read them.
    await chmod(st.scratch.dir, 0o700);
    return st.scratch.dir;
  }

  /** Times a phase and records its outcome; a thrown error becomes a failed outcome with its reason. */
  function phase(name: PhaseName, id: string, title: string, body: (ctx: StepContext) => Promise<StepOutcome>, extra: Partial<Step> = {}): Step {
    return {
      id,
      title,
      stage: STAGE,
      continueOnFail: true,
      timeoutMs: 30 * 60_000,
      ...extra,
      async run(ctx) {
        const t0 = performance.now();
        // When the phase started, relative to the drill's start (the wizard's timeline).
        const atMs = Math.max(0, now().getTime() - st.startedAt.getTime());
        let out: StepOutcome;
        try {
          out = await body(ctx);
        } catch (err) {
          if (ctx.signal.aborted) {
            // Interrupted or timed out: the engine reports which; teardown (or cleanup) still removes everything.
            st.phases[name] = { ms: performance.now() - t0, status: 'fail', summary: 'stopped before it finished' };
            st.reasons.push(`${name}: stopped before it finished`);
            throw err;
          }
          if (err instanceof UserError) out = { status: 'fail', summary: err.message, ...(err.why ? { why: err.why } : {}), ...(err.fix ? { fix: err.fix } : {}) };
          else if (err instanceof ToolError) out = { status: 'fail', summary: err.message, detail: err.stderrTail, ...(TOOL_FIX[name] ? { fix: TOOL_FIX[name] } : {}) };
          else if (err instanceof OutputParseError) out = { status: 'fail', summary: err.message, why: 'an etcd tool answered in a form groundwork does not know (a version it was not tested with?)' };
          else {
            // A bug: the engine renders it as one; the drill's own record still says where it happened.
            st.phases[name] = { ms: performance.now() - t0, status: 'fail', summary: `internal error: ${(err as Error).message}` };
            st.reasons.push(`${name}: internal error: ${(err as Error).message}`);
            throw err;
          }
        }
        const ms = performance.now() - t0;
        st.phases[name] = { ms, status: out.status, summary: out.summary };
        if (out.status === 'fail') st.reasons.push(out.summary.startsWith(`${name}:`) ? out.summary : `${name}: ${out.summary}`);
        if (out.status === 'warn') st.reasons.push(`${name} (warning): ${out.summary}`);
        // RPO once the restore ran, RTO once restore, boot and verify did: each result carries what is known so far.
        const { rpoMs, rtoMs } = buildReport();
        return {
          ...out,
          evidence: { phase: name, ms: Math.round(ms), atMs, ...(out.evidence as object | undefined), ...(rpoMs !== undefined ? { rpoMs: Math.round(rpoMs) } : {}), ...(rtoMs !== undefined ? { rtoMs: Math.round(rtoMs) } : {}) },
        };
      },
    };
  }

  const skip = (summary: string): StepOutcome => ({ status: 'skip', summary });

  // --- helpers that talk to etcd -------------------------------------------------------------------------

  /** Counts every key by /registry prefix, page by page at a pinned revision: memory stays flat. */
  async function countKeys(ctx: StepContext, etcdctl: (args: string[]) => string[], revision: number): Promise<{ counts: Record<string, number>; total: number }> {
    const counter = new KeyCounter();
    let from = '';
    let first = true;
    for (;;) {
      // --from-key "" lists the whole keyspace; later pages restart at the last key seen, which is skipped.
      const limit = first ? pageSize : pageSize + 1;
      const r = await run(ctx, etcdctl(['get', '--keys-only', '-w', 'json', '--from-key', `--limit=${limit}`, `--rev=${revision}`, '--', from]));
      const page = parseKeyPage(r.stdout);
      let keys = page.keys;
      if (!first) {
        if (keys[0] !== from) throw new Error(`key listing lost its place after ${JSON.stringify(from)}`);
        keys = keys.slice(1);
      }
      for (const k of keys) counter.add(k);
      if (!page.more || keys.length === 0) break;
      from = Buffer.from(keys.at(-1)!, 'latin1').toString('utf8');
      first = false;
      ctx.log(`counted ${counter.total.toLocaleString('en-US')} keys`);
    }
    return { counts: counter.toRecord(), total: counter.total };
  }

  async function hashAt(ctx: StepContext, etcdctl: (args: string[]) => string[], revision: number): Promise<{ hash?: HashKv; why?: string }> {
    const r = await run(ctx, etcdctl(['endpoint', 'hashkv', '-w', 'json', `--rev=${revision}`]), { allowFailure: true });
    if (r.exitCode !== 0) {
      const text = `${r.stderr}\n${r.stdout}`;
      if (/compacted/.test(text)) return { why: `revision ${revision} has been compacted on the source` };
      if (/future revision/.test(text)) return { why: `revision ${revision} is ahead of this member` };
      throw new ToolError(r.argv, r.exitCode, text.trim().split('\n').slice(-4).join('\n'));
    }
    return { hash: parseHashKv(r.stdout)[0] };
  }

  async function hasTool(ctx: StepContext, bin: string): Promise<boolean> {
    try {
      const r = await run(ctx, [bin, 'version'], { allowFailure: true, timeoutMs: 15_000 });
      return r.exitCode === 0;
    } catch (err) {
      if (err instanceof UserError) return false;
      throw err;
    }
  }

  /**
   * The tool for `snapshot status` and `snapshot restore`: etcdutl when it is on the PATH, else etcdctl up to
   * 3.5. etcdctl 3.6 dropped both (status even prints its help and exits 0), so it is refused by name.
   */
  let snapshotTool: Promise<'etcdutl' | 'etcdctl'> | undefined;
  function resolveSnapshotTool(ctx: StepContext): Promise<'etcdutl' | 'etcdctl'> {
    snapshotTool ??= (async () => {
      if (await hasTool(ctx, tools.etcdutl)) return 'etcdutl' as const;
      const v = await run(ctx, [tools.etcdctl, 'version'], { allowFailure: true, timeoutMs: 15_000 });
      const version = parseToolVersion(`${v.stdout}\n${v.stderr}`);
      const [major = 0, minor = 0] = (version ?? '').split('.').map(Number);
      if (major > 3 || (major === 3 && minor >= 6)) {
        throw new UserError(`etcdctl ${version} has no snapshot status or restore (they moved to etcdutl in etcd 3.6), and etcdutl is not on the PATH`, {
          fix: `install etcdutl ${version} (it ships in the etcd release archive beside etcdctl) and put it on the PATH`,
        });
      }
      return 'etcdctl' as const;
    })();
    return snapshotTool;
  }

  // --- phases ---------------------------------------------------------------------------------------------

  const inventory = phase('inventory', 'drill-inventory', 'Inventory the source etcd (revision, keys per prefix, hashkv)', async (ctx) => {
    if (!source) {
      return skip(target.kind === 'snapshot' ? 'no live source: the snapshot file is checked on its own' : 'talos exposes no key listing; the restored copy is checked on its own');
    }
    const answer = async (args: string[]) => {
      try {
        return await run(ctx, source(args), { timeoutMs: 30_000, waitingFor: `an answer from ${describeTarget(target)}` });
      } catch (err) {
        if (!(err instanceof ToolError) || ctx.signal.aborted) throw err;
        const said = err.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
        throw new UserError(`${describeTarget(target)} did not answer (${err.message})${said ? `: ${said.slice(0, 240)}` : ''}`, {
          why: 'the drill snapshots and compares a live source; nothing else can run without it',
          fix: TOOL_FIX.inventory,
        });
      }
    };
    if (wantSentinel) {
      const value = `${st.id}@${now().toISOString()}`;
      await answer(['put', '--', SENTINEL_KEY, value]);
      st.sentinel = { key: SENTINEL_KEY, value };
    }
    const status = parseEndpointStatus((await answer(['endpoint', 'status', '-w', 'json'])).stdout)[0];
    if (!status) throw new UserError('the source etcd did not report its status');
    // Both only read at the pinned revision: run them side by side.
    const [{ counts, total }, { hash }] = await Promise.all([countKeys(ctx, source, status.revision), hashAt(ctx, source, status.revision)]);
    st.source = { revision: status.revision, version: status.version, dbSize: status.dbSize, counts, total, ...(hash ? { hash } : {}) };
    return {
      status: 'pass',
      summary: `revision ${status.revision}, ${plural(total, 'key')} (${topPrefixes(counts)}), etcd ${status.version}`,
      evidence: { revision: status.revision, total, counts, hashkv: hash?.hash, dbSize: status.dbSize, etcdVersion: status.version },
    };
  });

  const snapshot = phase('snapshot', 'drill-snapshot', 'Take a snapshot', async (ctx) => {
    if (target.kind === 'snapshot') {
      st.snapshotFile = path.resolve(target.file);
      st.snapshotAt = (await stat(st.snapshotFile)).mtime;
      return { status: 'pass', summary: `using ${target.file} (written ${formatMs(now().getTime() - st.snapshotAt.getTime())} ago)` };
    }
    // A source that did not answer the inventory will not answer a snapshot either: don't wait for it.
    if (source && !st.source) return skip(`not taken: the inventory of ${describeTarget(target)} failed`);
    const dir = await ensureScratch(ctx);
    const file = path.join(dir, 'snapshot.db');
    const at = now();
    const dbSize = st.source?.dbSize;
    const timeoutMs = scaledTimeoutMs(dbSize);
    const waitingFor = `the snapshot${dbSize ? ` of ${formatBytes(dbSize)}` : ''} from ${describeTarget(target)}`;
    if (target.kind === 'endpoints' || target.kind === 'lab') {
      await run(ctx, source!(['snapshot', 'save', file]), { timeoutMs, waitingFor });
    } else if (target.kind === 'talos') {
      const tc = target.talosconfig ? [`--talosconfig=${target.talosconfig}`] : [];
      await run(ctx, [tools.talosctl, ...tc, '-n', target.node, 'etcd', 'snapshot', file], { timeoutMs, waitingFor });
    } else if (target.kind === 'kubeadm') {
      const remote = remoteSnapshotPath(st.id);
      // Saved as root (the certs are root's), handed to the ssh user to copy back, then removed from the node.
      try {
        const argvs = kubeadmSnapshotArgvs(target.ssh, remote, file);
        for (const [i, argv] of argvs.entries()) {
          await run(ctx, argv, { timeoutMs, waitingFor: i === argvs.length - 1 ? `the copy of ${remote} from ${describeTarget(target)}` : waitingFor });
        }
      } finally {
        await run(ctx, buildSshArgv(target.ssh, ['rm', '-f', '--', remote], { asRoot: true }), { allowFailure: true });
      }
    }
    if (!existsSync(file)) throw new UserError(`the snapshot command finished but wrote no file at ${file}`);
    await chmod(file, 0o600);
    st.snapshotFile = file;
    st.snapshotAt = at;
    const size = (await stat(file)).size;
    return { status: 'pass', summary: `${formatBytes(size)} saved`, evidence: { bytes: size } };
  });

  const integrity = phase('integrity', 'drill-integrity', 'Check the snapshot (status, hash, sha256)', async (ctx) => {
    if (!st.snapshotFile) return skip('no snapshot to check');
    // etcd's own status reads the file while we stream it for the sha256: two readers, two cores. Our check
    // speaks first: on a broken file etcd 3.4 may panic, and that is only a confirmation.
    const statusTool = (await resolveSnapshotTool(ctx)) === 'etcdutl' ? tools.etcdutl : tools.etcdctl;
    const fileSize = (await stat(st.snapshotFile)).size;
    const statusRun = run(ctx, [statusTool, 'snapshot', 'status', st.snapshotFile, '-w', 'json'], { allowFailure: true, timeoutMs: scaledTimeoutMs(fileSize), waitingFor: `${statusTool} to read the ${formatBytes(fileSize)} snapshot` });
    statusRun.catch(() => undefined);
    const file = await checkSnapshotFile(st.snapshotFile, ctx.signal);
    st.file = file;
    const fix = target.kind === 'snapshot' ? 'this backup cannot be restored: take a new one and check where backups are written and copied' : 'take the snapshot again; check the disk and the copy';
    if (file.verdict !== 'ok' && file.verdict !== 'no-hash') {
      await statusRun.catch(() => undefined);
      return { status: 'fail', summary: `integrity: ${file.reason}`, why: 'a snapshot that fails this check cannot be restored', fix, evidence: { bytes: file.size, sha256: file.sha256, verdict: file.verdict } };
    }
    const r = await statusRun;
    if (r.exitCode !== 0) {
      // etcd 3.4 panics with a Go stack trace on some broken files: keep the first line, never the trace.
      const firstLine = (r.stderr.split('\n').find((l) => /^(panic|Error|error|fatal error|unexpected fault)/.test(l.trim())) ?? r.stderr.split('\n')[0] ?? '').trim();
      return { status: 'fail', summary: `integrity: ${statusTool} snapshot status rejects the file (${firstLine.slice(0, 160)})`, fix, evidence: { bytes: file.size, sha256: file.sha256, verdict: file.verdict } };
    }
    const status = parseSnapshotStatus(r.stdout);
    st.status = status;
    st.integrityOk = true;
    const base = `revision ${status.revision}, ${plural(status.totalKey, 'bolt key')}, ${formatBytes(file.size)}, hash ${status.hash.toString(16).padStart(8, '0')}, sha256 ${file.sha256.slice(0, 12)}…`;
    const evidence = { bytes: file.size, sha256: file.sha256, verdict: file.verdict, ...status };
    if (file.verdict === 'no-hash') return { status: 'warn', summary: `${base}; ${file.reason}`, evidence };
    return { status: 'pass', summary: base, evidence };
  });

  const restore = phase('restore', 'drill-restore', 'Restore into a scratch directory', async (ctx) => {
    if (!st.snapshotFile || !st.integrityOk) return skip('no snapshot that passed the integrity check');
    const dir = await ensureScratch(ctx);
    st.restoreAt = now();
    const member = await allocateMember();
    const dataDir = path.join(dir, 'restored.etcd');
    const useUtl = (await resolveSnapshotTool(ctx)) === 'etcdutl';
    let bump = false;
    if (useUtl && opts.bumpRevision !== false) {
      const help = await run(ctx, [tools.etcdutl, 'snapshot', 'restore', '--help'], { allowFailure: true });
      bump = supportsBumpRevision(`${help.stdout}\n${help.stderr}`);
    }
    const argv = buildRestoreArgv({
      tool: useUtl ? 'etcdutl' : 'etcdctl',
      bin: useUtl ? tools.etcdutl : tools.etcdctl,
      snapshot: st.snapshotFile,
      dataDir,
      member,
      skipHashCheck: st.file?.verdict === 'no-hash',
      bumpRevision: bump,
    });
    assertLoopbackOnly(argv);
    const size = st.file?.size ?? (await stat(st.snapshotFile)).size;
    const r = await run(ctx, argv, { allowFailure: true, timeoutMs: scaledTimeoutMs(size), waitingFor: `the restore of the ${formatBytes(size)} snapshot into ${dataDir}` });
    if (r.exitCode !== 0) {
      const text = `${r.stderr}\n${r.stdout}`;
      const integrityProblem = /sha256|missing hash|invalid database|checksum|unexpected EOF|file size too small/i.exec(text);
      const last = text.trim().split('\n').filter((l) => !/^\s*\{"level":"info"/.test(l)).slice(-3).join('\n');
      return {
        status: 'fail',
        summary: integrityProblem ? `integrity: the restore refuses the snapshot (${integrityProblem[0]})` : `the restore failed (exit ${r.exitCode})`,
        detail: last,
        fix: integrityProblem ? 'this snapshot is corrupted: take a new one' : 'see the output above',
      };
    }
    st.restore = { dataDir, member, bumped: bump, tool: useUtl ? 'etcdutl' : 'etcdctl' };
    return {
      status: 'pass',
      summary: `restored with ${st.restore.tool}${bump ? ` (revision bumped by ${BUMP_REVISION.toLocaleString('en-US')}, marked compacted)` : ''}`,
      evidence: { tool: st.restore.tool, bumped: bump },
    };
  });

  const boot = phase('boot', 'drill-boot', 'Boot a throw-away etcd member on loopback', async (ctx) => {
    if (!st.restore) return skip('nothing restored');
    const argv = buildMemberArgv(st.restore.dataDir, st.restore.member, tools.etcd);
    assertLoopbackOnly(argv);
    const audit: AuditSink = {
      record: (e) => appendAudit(path.join(ctx.runDir, 'audit.jsonl'), ctx.redactor.redact(JSON.stringify(e))),
    };
    st.service = await spawnService(argv, {
      env: { ...baseEnv, ...env },
      replaceEnv: true,
      redactor: ctx.redactor,
      audit: existsSync(ctx.runDir) ? audit : undefined,
      step: 'drill-boot',
      ...(ctx.leftovers ? { record: { sink: ctx.leftovers, what: "the drill's throw-away etcd member" } } : {}),
      onLine: (l) => {
        st.memberLog.push(l);
        if (st.memberLog.length > 20) st.memberLog.shift();
      },
    });
    const h = await waitHealthy(st.restore.member.clientUrl, { timeoutMs: opts.bootTimeoutMs ?? 60_000, signal: ctx.signal, exited: st.service.exited });
    if (!h.ok) {
      return { status: 'fail', summary: `the restored member did not start: ${h.reason}`, detail: st.memberLog.slice(-8).join('\n') };
    }
    return { status: 'pass', summary: `serving on ${st.restore.member.clientUrl} (pid ${st.service.pid})`, evidence: { clientUrl: st.restore.member.clientUrl } };
  });

  const verify = phase('verify', 'drill-verify', 'Verify the restored data', async (ctx) => {
    if (!st.service?.running || !st.restore || !st.status) return skip('no restored member running');
    const member = memberEtcdctl(st.restore.member.clientUrl, tools.etcdctl);
    const m = (args: string[]) => [...member, ...args];
    const status = parseEndpointStatus((await run(ctx, m(['endpoint', 'status', '-w', 'json']))).stdout)[0]!;
    const snapRev = st.status.revision;
    const expectedRev = snapRev + (st.restore.bumped ? BUMP_REVISION : 0);
    const problems: string[] = [];
    const notes: string[] = [];
    if (status.revision < expectedRev) problems.push(`the restored revision is ${status.revision}, the snapshot's is ${expectedRev}`);
    // The restored member's figures and (when the source moved on) the source's at the snapshot revision are
    // independent reads: ask for them side by side.
    const sourceMoved = st.source !== undefined && source !== undefined && st.source.revision !== snapRev;
    const [restored, restoredHash, sourceCounts, sourceHashAt] = await Promise.all([
      countKeys(ctx, m, status.revision),
      st.restore.bumped ? Promise.resolve(undefined) : hashAt(ctx, m, snapRev),
      sourceMoved ? countKeys(ctx, source!, snapRev).then((v) => ({ v }), (err: unknown) => ({ err })) : Promise.resolve(undefined),
      sourceMoved ? hashAt(ctx, source!, snapRev) : Promise.resolve(undefined),
    ]);
    const hash = restoredHash?.hash?.hash;
    st.restored = { revision: status.revision, counts: restored.counts, total: restored.total, ...(hash !== undefined ? { hash } : {}), etcdVersion: status.version };

    // The source's counts and hash at the snapshot's revision: from the inventory when nothing changed since,
    // else asked again (the source may have moved on, or compacted that revision away).
    let expected: { counts: Record<string, number>; total: number } | undefined;
    let sourceHash: number | undefined;
    if (st.source && source) {
      if (st.source.revision === snapRev) {
        expected = st.source;
        sourceHash = st.source.hash?.hash;
      } else {
        if (sourceCounts && 'v' in sourceCounts) expected = sourceCounts.v;
        else if (sourceCounts) {
          notes.push(`the source no longer has revision ${snapRev}: key counts not compared (${errorText(sourceCounts.err).split('\n')[0]})`);
        }
        sourceHash = sourceHashAt?.hash?.hash;
        if (sourceHashAt?.why) notes.push(`hashkv not compared: ${sourceHashAt.why}`);
      }
    }
    if (expected) {
      const diffs = compareCounts(expected.counts, restored.counts);
      for (const d of diffs) problems.push(`${d.prefix}: ${d.actual} keys restored, ${d.expected} in the source at revision ${snapRev}`);
    } else if (!source) {
      notes.push('no live source to compare key counts with');
    }
    // A bumped restore is the realistic one (etcdutl 3.5+ does it by default here): its hashkv cannot equal the
    // source's by construction, so saying so is information, not a warning; counts and the sentinel still compare.
    const info: string[] = [];
    if (st.restore.bumped) info.push('hashkv not compared: the revision was bumped, as in a real Kubernetes restore');
    else if (sourceHash !== undefined && hash !== undefined && sourceHash !== hash) problems.push(`hashkv at revision ${snapRev}: restored ${hash}, source ${sourceHash}`);
    else if (sourceHash === undefined && source && !notes.some((n) => n.startsWith('hashkv'))) notes.push('hashkv not compared: the source gave none');
    if (st.sentinel) {
      const r = await run(ctx, m(['get', '--print-value-only', '--', st.sentinel.key]));
      st.sentinel.found = r.stdout.trim() === st.sentinel.value;
      if (!st.sentinel.found) problems.push(`the sentinel ${st.sentinel.key} written before the snapshot is ${r.stdout.trim() ? 'different' : 'missing'} in the restored data`);
    }
    const evidence = {
      revision: status.revision,
      total: restored.total,
      counts: restored.counts,
      hashkv: hash,
      sourceHashkv: sourceHash,
      sentinel: st.sentinel ? st.sentinel.found : undefined,
      notes: [...notes, ...info],
    };
    if (problems.length > 0) {
      return { status: 'fail', summary: `the restored data differs: ${problems[0]}${problems.length > 1 ? ` (+${problems.length - 1} more)` : ''}`, detail: [...problems, ...notes, ...info].join('\n'), evidence };
    }
    const checks = [
      `${plural(restored.total, 'key')} in ${plural(Object.keys(restored.counts).filter((p) => p !== OTHER_PREFIX).length, 'prefix').replace(/xs$/, 'xes')}${expected ? ' match the source' : ''}`,
      hash !== undefined && sourceHash !== undefined ? `hashkv ${hash} matches` : undefined,
      st.sentinel?.found ? 'sentinel read back' : undefined,
    ].filter(Boolean);
    const said = [...notes, ...info];
    return { status: notes.length > 0 && source ? 'warn' : 'pass', summary: `revision ${status.revision}: ${checks.join(', ')}${said.length ? `; ${said[0]}` : ''}`, detail: said.join('\n') || undefined, evidence };
  });

  const lab = phase('lab', 'drill-lab-api', 'Boot a lab API server on the restored data and list through it', async (ctx) => {
    if (!opts.labCheck) return skip('not a lab drill');
    if (!st.service?.running || !st.restore || !st.restored) return skip('no restored member running');
    return opts.labCheck({ clientUrl: st.restore.member.clientUrl, revision: st.restored.revision, counts: st.restored.counts }, ctx);
  });

  /** The sentinel is the drill's only write to the source: it goes again once the drill is over. */
  async function removeSentinel(ctx: StepContext | undefined): Promise<string | undefined> {
    if (!st.sentinel || !source || !ctx || st.sentinelRemoved) return undefined;
    const r = await run(ctx, source(['del', '--', st.sentinel.key]), { allowFailure: true, timeoutMs: 30_000, waitingFor: `${describeTarget(target)} to delete the sentinel` }).catch((err: unknown) => ({ exitCode: -1, stderr: errorText(err), stdout: '' }));
    if (r.exitCode === 0) {
      st.sentinelRemoved = true;
      return 'sentinel removed from the source';
    }
    return `the sentinel ${st.sentinel.key} is still in the source (remove it: etcdctl del ${st.sentinel.key}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`;
  }

  async function stopAndRemove(): Promise<string[]> {
    const done: string[] = [];
    if (st.service?.running) {
      await st.service.stop();
      done.push('member stopped');
    }
    if (st.scratch) {
      if (st.scratch.created) await rm(st.scratch.dir, { recursive: true, force: true });
      else {
        // An operator's empty --scratch stays; only what the drill put there goes.
        for (const name of ['restored.etcd', 'snapshot.db']) await rm(path.join(st.scratch.dir, name), { recursive: true, force: true });
      }
      done.push('scratch removed');
      for (const id of st.scratchRecords?.ids ?? []) st.scratchRecords!.sink.clear(id);
      st.scratchRecords = undefined;
    }
    return done;
  }

  async function record(stateDir: string, runId?: string, redactor?: { redactDeep<T>(v: T): T }): Promise<void> {
    if (st.recorded || opts.recordHistory === false) return;
    st.recorded = true;
    const rep = buildReport();
    const rec: DrillRecord = {
      version: 1,
      id: st.id,
      ...(runId ? { runId } : {}),
      at: st.startedAt.toISOString(),
      target: rep.target,
      status: rep.status,
      reasons: rep.reasons,
      ...(rep.rpoMs !== undefined ? { rpoMs: Math.round(rep.rpoMs) } : {}),
      ...(rep.rtoMs !== undefined ? { rtoMs: Math.round(rep.rtoMs) } : {}),
      phases: Object.fromEntries(Object.entries(rep.phases).map(([k, v]) => [k, { ms: Math.round(v.ms), status: v.status }])),
      ...(st.status ? { revision: st.status.revision } : {}),
      ...(st.restored ? { keys: st.restored.total } : {}),
      ...(st.file ? { snapshotBytes: st.file.size, sha256: st.file.sha256 } : {}),
      ...(st.restored?.etcdVersion ?? st.source?.version ? { etcdVersion: st.restored?.etcdVersion ?? st.source?.version } : {}),
    };
    // Reasons quote tool errors: the history is redacted like every other record.
    await appendDrillRecord(stateDir, redactor ? redactor.redactDeep(rec) : rec);
  }

  const teardown = phase('teardown', 'drill-teardown', 'Tear down the member and the scratch data', async (ctx) => {
    const done = await stopAndRemove();
    const sentinel = await removeSentinel(ctx);
    if (sentinel) done.push(sentinel);
    st.tornDown = true;
    const status = sentinel && !st.sentinelRemoved ? ('warn' as const) : ('pass' as const);
    // Teardown is timed before the history line is written, so the record carries it.
    st.phases.teardown = { ms: 0, status, summary: done.join(', ') || 'nothing to remove' };
    await record(ctx.stateDir, path.basename(ctx.runDir), ctx.redactor);
    return { status, summary: done.join(', ') || 'nothing to remove' };
  });

  function buildReport(): DrillReport {
    const failed = Object.values(st.phases).some((p) => p.status === 'fail');
    const rtoPhases: PhaseName[] = ['restore', 'boot', 'verify'];
    const rto = rtoPhases.every((p) => st.phases[p]?.status === 'pass' || st.phases[p]?.status === 'warn')
      ? rtoPhases.reduce((a, p) => a + st.phases[p]!.ms, 0)
      : undefined;
    // RPO: what a restore at this moment would lose, i.e. the age of the snapshot when it was restored.
    const rpo = st.snapshotAt && st.restoreAt ? Math.max(0, st.restoreAt.getTime() - st.snapshotAt.getTime()) : undefined;
    const completed = st.phases.verify !== undefined && st.phases.verify.status !== 'skip';
    return {
      id: st.id,
      target: describeTarget(target),
      status: st.interrupted ? 'interrupted' : failed || !completed ? 'fail' : 'pass',
      reasons: [...st.reasons, ...(!failed && !completed && !st.interrupted ? ['the drill did not reach verification'] : [])],
      startedAt: st.startedAt.toISOString(),
      ...(st.snapshotAt ? { snapshotAt: st.snapshotAt.toISOString() } : {}),
      ...(rpo !== undefined ? { rpoMs: rpo } : {}),
      ...(rto !== undefined ? { rtoMs: rto } : {}),
      totalMs: now().getTime() - st.startedAt.getTime(),
      phases: st.phases,
      ...(st.source ? { source: st.source } : {}),
      ...(st.file
        ? { snapshot: { ...(st.snapshotOurs ? {} : { file: st.snapshotFile }), bytes: st.file.size, sha256: st.file.sha256, verdict: st.file.verdict, ...(st.status ? { status: st.status } : {}) } }
        : {}),
      ...(st.restored && st.restore ? { restored: { ...st.restored, bumped: st.restore.bumped, tool: st.restore.tool } } : {}),
      ...(st.sentinel ? { sentinel: { key: st.sentinel.key, found: st.sentinel.found === true } } : {}),
    };
  }

  // What `groundwork plan` shows: the argv of each phase, with the values only a run knows in <angle brackets>.
  const scratchShown = opts.scratch ?? '<temp dir>';
  const snapShown = target.kind === 'snapshot' ? target.file : path.join(scratchShown, 'snapshot.db');
  const dataShown = path.join(scratchShown, 'restored.etcd');
  const placeholder: MemberAddress = { clientUrl: 'http://127.0.0.1:<free port>', peerUrl: 'http://127.0.0.1:<free port>', token: 'groundwork-drill-<random>' };
  inventory.preview = source
    ? {
        argv: [
          ...(wantSentinel ? [source(['put', '--', SENTINEL_KEY, '<drill id>@<time>'])] : []),
          source(['endpoint', 'status', '-w', 'json']),
          source(['get', '--keys-only', '-w', 'json', '--from-key', `--limit=${pageSize}`, '--rev=<revision>', '--', '']),
          source(['endpoint', 'hashkv', '-w', 'json', '--rev=<revision>']),
        ],
        note: wantSentinel ? `writes only ${SENTINEL_KEY} to the source` : 'reads only',
      }
    : { note: 'no live source to inventory' };
  snapshot.preview =
    target.kind === 'endpoints' || target.kind === 'lab'
      ? { argv: [source!(['snapshot', 'save', snapShown])], files: [snapShown] }
      : target.kind === 'talos'
        ? { argv: [[tools.talosctl, ...(target.talosconfig ? [`--talosconfig=${target.talosconfig}`] : []), '-n', target.node, 'etcd', 'snapshot', snapShown]], files: [snapShown] }
        : target.kind === 'kubeadm'
          ? { argv: kubeadmSnapshotArgvs(target.ssh, remoteSnapshotPath('<drill id>'), snapShown), files: [snapShown] }
          : { note: `uses ${target.file} as it is (read only)` };
  integrity.preview = { argv: [['etcdutl|etcdctl', 'snapshot', 'status', snapShown, '-w', 'json']], note: 'also streams the file once for its sha256' };
  restore.preview = { argv: [buildRestoreArgv({ tool: 'etcdctl', bin: 'etcdutl|etcdctl', snapshot: snapShown, dataDir: dataShown, member: placeholder })], files: [dataShown] };
  boot.preview = { argv: [buildMemberArgv(dataShown, placeholder, tools.etcd)], note: 'listens on 127.0.0.1 only' };
  teardown.preview = {
    ...(wantSentinel && source ? { argv: [source(['del', '--', SENTINEL_KEY])] } : {}),
    note: `stops the member, removes ${opts.scratch ? `what the drill wrote in ${opts.scratch}` : 'the temp dir'}${wantSentinel && source ? ' and the sentinel key' : ''}; appends to drills.jsonl`,
  };

  const steps = [inventory, snapshot, integrity, restore, boot, verify, ...(opts.labCheck ? [lab] : []), teardown];
  const notes = [
    `target: ${describeTarget(target)}; writes to the source: ${wantSentinel && source ? `only the sentinel key ${SENTINEL_KEY}, deleted at teardown` : 'none'}`,
    'the restored member listens on 127.0.0.1 only, in an empty scratch directory removed at the end',
  ];
  const stage: Stage = { name: STAGE, title: 'Restore drill', steps, notes };
  return {
    plan: { title: `restore drill of ${describeTarget(target)}`, stages: [stage] },
    stage,
    report: buildReport,
    async cleanup(ctx) {
      if (st.tornDown) return;
      const begun = Object.keys(st.phases).length > 0 || st.scratch !== undefined || st.service !== undefined;
      await stopAndRemove();
      await removeSentinel(ctx);
      st.tornDown = true;
      // Teardown did not run as a step: the drill was interrupted (or its stage stopped) half-way.
      if (begun) {
        st.interrupted = true;
        if (ctx) await record(ctx.stateDir, path.basename(ctx.runDir), ctx.redactor);
      }
    },
  };
}

/** The drill stage as a Plan (for `setup` and `rehearse` to take its stage). */
export function buildDrillPlan(opts: DrillOptions): Plan {
  return createDrill(opts).plan;
}
