/**
 * A restore drill as Steps of the 'drill' stage: inventory -> snapshot -> integrity -> restore -> boot -> verify
 * (-> lab API) -> teardown, phases over one explicit DrillState (src/drill/state.ts). Every process a phase runs
 * comes from its argv builder (src/drill/argv.ts), which `plan` shows too; the report is built from the state alone
 * (src/drill/report.ts); every process, the member included, goes through the step's exec (audited there).
 *
 * What overlaps, without weakening what is checked: the snapshot is saved beside the inventory's status (unless
 * a sentinel must be written first); the restore starts while integrity reads the file, and is used only if the
 * file passes; once it has passed, the source's keys (and its hashkv, when the restore does not bump the revision:
 * only then is it compared) are read at the inventory's pinned revision, beside the rest of the restore and the
 * member's boot (begun earlier they took a core from the longest step); a snapshot of ours is deleted while the
 * member boots (nothing reads it after the restore); the restored member's figures are read side by side.
 *
 * Every step continues on failure and later phases skip themselves when what they need is missing; teardown
 * always runs, and `cleanup` (for the engine's cleanup hooks) tears down after Ctrl-C.
 *
 * Safety: the source is only read (plus the optional sentinel key); the snapshot, the restored data and the
 * member live in a scratch directory that must be empty; the member binds 127.0.0.1 only.
 */
import { dialRefusal } from '../net/loopback-guard.js';
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT, ToolError, UserError, fileError } from '../errors.js';
import { startService } from '../exec/index.js';
import { makeDirs } from '../run/records.js';
import type { Plan, Stage, Step, StepContext, StepOutcome } from '../run/types.js';
import { drillArgv, SENTINEL_KEY, type DrillTools, type Etcdctl } from './argv.js';
import { KeyCounter, KeyListing, OTHER_PREFIX, OutputParseError, compareCounts, parseEndpointStatus, parseHashKv, parseSnapshotStatus, parseToolVersion, compareMinor, supportsBumpRevision, type HashKv } from './etcd-output.js';
import { appendDrillRecord, formatBytes, formatCount, formatMs } from './history.js';
import { formatDuration } from '../duration.js';
import { allocateMember, assertLoopbackOnly, memberVersion, waitHealthy, BUMP_REVISION, type MemberAddress } from './member.js';
import { buildRecord, buildReport, type DrillReport } from './report.js';
import { checkSnapshotFile, hasAppendedHash } from './snapshot-file.js';
import { newDrillState, type KeyCounts, type PhaseName, type SaveRun, type SnapshotTool } from './state.js';
import { describeTarget, scrubEtcdEnv, type DrillTarget } from './targets.js';
import { SSH_USER, parseSshDestination, sshDestination } from '../net/ssh-argv.js';

export { SENTINEL_KEY, kubeadmSnapshotArgvs, type DrillTools } from './argv.js';
export { PHASES, type PhaseName, type PhaseTiming } from './state.js';
export type { DrillReport } from './report.js';

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
  tools?: Partial<DrillTools>;
  bootTimeoutMs?: number;
  labCheck?: LabCheck;
  /** Append the drill to <stateDir>/drills.jsonl at teardown. Default true. */
  recordHistory?: boolean;
  now?: () => Date;
  id?: string;
  /** The environment processes see (tests pass a PATH built from scratch); default process.env. */
  env?: Record<string, string | undefined>;
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
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
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

/** A phase's outcome; `ms` when the phase's work did not run inside its step (a restore begun during integrity). */
type PhaseOutcome = StepOutcome & { ms?: number };

/** Builds a drill: its stage of steps and the means to clean up and report. */
export function createDrill(opts: DrillOptions): Drill {
  validateOptions(opts);
  const now = opts.now ?? (() => new Date());
  const startedAt = now();
  const tools: DrillTools = { etcd: 'etcd', etcdctl: 'etcdctl', etcdutl: 'etcdutl', talosctl: 'talosctl', ...opts.tools };
  const target = opts.target;
  const argv = drillArgv(target, tools);
  const source = argv.source;
  const wantSentinel = opts.sentinel ?? target.kind === 'lab';
  const env = scrubEtcdEnv(opts.env ?? process.env);
  const st = newDrillState(opts.id ?? newDrillId(startedAt), startedAt, target.kind !== 'snapshot');
  const report = () => buildReport(st, describeTarget(target), now());

  // A snapshot holds every secret of the cluster: whatever the tools write is born 0600 (umask 077).
  const run = (ctx: StepContext, a: string[], o: { allowFailure?: boolean; timeoutMs?: number; waitingFor?: string; step?: string; onStdout?: (c: Buffer) => void; signal?: AbortSignal } = {}) =>
    ctx.exec(a, {
      env,
      timeoutMs: o.timeoutMs ?? 120_000,
      allowFailure: o.allowFailure,
      umask: 0o077,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.waitingFor ? { waitingFor: o.waitingFor } : {}),
      ...(o.step ? { step: o.step } : {}),
      ...(o.onStdout ? { onStdout: o.onStdout } : {}),
    });

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
  function phase(name: PhaseName, id: string, title: string, body: (ctx: StepContext) => Promise<PhaseOutcome>): Step {
    return {
      id,
      title,
      stage: STAGE,
      continueOnFail: true,
      timeoutMs: 30 * 60_000,
      async run(ctx) {
        const t0 = performance.now();
        // When the phase started, relative to the drill's start (the wizard's timeline).
        const atMs = Math.max(0, now().getTime() - st.startedAt.getTime());
        let out: PhaseOutcome;
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
        const { ms: ownMs, ...outcome } = out;
        const ms = ownMs ?? performance.now() - t0;
        st.phases[name] = { ms, status: outcome.status, summary: outcome.summary };
        if (outcome.status === 'fail') st.reasons.push(outcome.summary.startsWith(`${name}:`) ? outcome.summary : `${name}: ${outcome.summary}`);
        if (outcome.status === 'warn') st.reasons.push(`${name} (warning): ${outcome.summary}`);
        // RPO once the restore ran, RTO once restore, boot and verify did: each result carries what is known so far.
        const { rpoMs, rtoMs } = report();
        return {
          ...outcome,
          evidence: { phase: name, ms: Math.round(ms), atMs, ...(outcome.evidence as object | undefined), ...(rpoMs !== undefined ? { rpoMs: Math.round(rpoMs) } : {}), ...(rtoMs !== undefined ? { rtoMs: Math.round(rtoMs) } : {}) },
        };
      },
    };
  }

  const skip = (summary: string): PhaseOutcome => ({ status: 'skip', summary });

  // --- reads that talk to etcd -----------------------------------------------------------------------------

  /** Counts every key by /registry prefix from one streamed listing: memory stays flat whatever the size. */
  async function countKeys(ctx: StepContext, etcdctl: Etcdctl, revision: number | undefined, bytes: number | undefined): Promise<KeyCounts & { revision: number }> {
    const counter = new KeyCounter();
    const listing = new KeyListing((k) => counter.add(k));
    let said = 0;
    const timeoutMs = scaledTimeoutMs(bytes);
    await run(ctx, argv.listKeys(etcdctl, revision, Math.ceil(timeoutMs / 1000)), {
      timeoutMs,
      onStdout: (chunk) => {
        listing.push(chunk);
        if (counter.total - said >= 50_000) ctx.log(`counted ${formatCount((said = counter.total))} keys`);
      },
    });
    const end = listing.end();
    if (end.more) throw new OutputParseError('get', 'the listing said more keys follow, though it asked for all of them');
    return { counts: counter.toRecord(), total: counter.total, revision: end.revision };
  }

  async function hashAt(ctx: StepContext, etcdctl: Etcdctl, revision: number, bytes: number | undefined): Promise<{ hash?: HashKv; why?: string }> {
    const timeoutMs = scaledTimeoutMs(bytes);
    const r = await run(ctx, argv.hashKv(etcdctl, revision, Math.ceil(timeoutMs / 1000)), { allowFailure: true, timeoutMs });
    if (r.exitCode !== 0) {
      const text = `${r.stderr}\n${r.stdout}`;
      if (/compacted/.test(text)) return { why: `revision ${revision} has been compacted on the source` };
      if (/future revision/.test(text)) return { why: `revision ${revision} is ahead of this member` };
      throw new ToolError(r.argv, r.exitCode, text.trim().split('\n').slice(-4).join('\n'));
    }
    return { hash: parseHashKv(r.stdout)[0] };
  }

  /**
   * The tool for `snapshot status` and `snapshot restore`, probed once per drill: etcdutl when it answers (its
   * restore help also says whether it can bump the revision), else etcdctl up to 3.5. etcdctl 3.6 dropped both
   * (status even prints its help and exits 0), so it is refused by name.
   */
  let probe: Promise<SnapshotTool> | undefined;
  function snapshotTool(ctx: StepContext): Promise<SnapshotTool> {
    probe ??= (async (): Promise<SnapshotTool> => {
      const help = await run(ctx, argv.probe.etcdutl, { allowFailure: true, timeoutMs: 15_000 }).catch((err: unknown) => {
        if (err instanceof UserError) return undefined;
        throw err;
      });
      if (help?.exitCode === 0) return { tool: 'etcdutl', bin: tools.etcdutl, canBump: supportsBumpRevision(`${help.stdout}\n${help.stderr}`) };
      const v = await run(ctx, argv.probe.etcdctl, { allowFailure: true, timeoutMs: 15_000 });
      const version = parseToolVersion(`${v.stdout}\n${v.stderr}`);
      if (version && compareMinor(version, '3.6') >= 0) {
        throw new UserError(`etcdctl ${version} has no snapshot status or restore (they moved to etcdutl in etcd 3.6), and etcdutl is not on the PATH`, {
          fix: `install etcdutl ${version} (it ships in the etcd release archive beside etcdctl) and put it on the PATH`,
        });
      }
      return { tool: 'etcdctl', bin: tools.etcdctl, canBump: false, ...(version ? { version } : {}) };
    })();
    probe.catch(() => undefined);
    return probe;
  }

  /**
   * The save (for kubeadm: the save on the node, then the copy back), begun as soon as nothing must come before
   * it: beside the inventory's status when there is no sentinel to write first, else once it is written. Its
   * deadline scales with the source's size once the inventory knows it (until then, the 30-minute bound).
   */
  function beginSave(ctx: StepContext): SaveRun {
    if (st.saveRun) return st.saveRun;
    const abort = new AbortController();
    // Armed only while the first command runs, the one begun before the size was known.
    let deadline: { ms: number; timer?: NodeJS.Timeout } | undefined;
    let firstDone = false;
    let stopped = false;
    const t0 = performance.now();
    const at = now();
    const describe = () => `the snapshot${st.source?.dbSize ? ` of ${formatBytes(st.source.dbSize)}` : ''} from ${describeTarget(target)}`;
    const done = (async () => {
      const dir = await ensureScratch(ctx);
      const file = path.join(dir, 'snapshot.db');
      const argvs = argv.snapshot.save(file, st.id);
      try {
        for (const [i, a] of argvs.entries()) {
          const waitingFor = i > 0 && i === argvs.length - 1 ? `the copy of the snapshot from ${describeTarget(target)}` : describe();
          try {
            await run(ctx, a, { timeoutMs: scaledTimeoutMs(st.source?.dbSize), waitingFor, signal: abort.signal, step: 'drill-snapshot' });
          } catch (err) {
            // Stopped by the deadline set once the size was known: said as a timeout, as exec says its own.
            if (deadline?.timer && abort.signal.aborted && !ctx.signal.aborted && !stopped) {
              throw new ToolError(a, undefined, '', { message: `${a[0]} did not finish within ${formatDuration(deadline.ms)} waiting for ${waitingFor} and was stopped` });
            }
            throw err;
          } finally {
            if (i === 0) {
              firstDone = true;
              if (deadline?.timer) clearTimeout(deadline.timer);
            }
          }
        }
      } finally {
        // kubeadm: saved as root on the node and copied back; the node's copy goes whatever happened.
        const rmRemote = argv.snapshot.removeRemote(st.id);
        if (rmRemote) await run(ctx, rmRemote, { allowFailure: true, step: 'drill-snapshot' });
      }
      return { file };
    })();
    done.catch(() => undefined);
    st.saveRun = {
      at,
      t0,
      done,
      bound(dbSize) {
        if (deadline || firstDone || abort.signal.aborted) return;
        const ms = scaledTimeoutMs(dbSize);
        deadline = { ms, timer: setTimeout(() => abort.abort(), Math.max(0, ms - (performance.now() - t0))) };
        deadline.timer!.unref();
      },
      stop() {
        stopped = true;
        abort.abort();
      },
    };
    return st.saveRun;
  }

  // --- phases ---------------------------------------------------------------------------------------------

  const inventory = phase('inventory', 'drill-inventory', 'Inventory the source etcd (revision, version, size)', async (ctx) => {
    if (!source) {
      return skip(target.kind === 'snapshot' ? 'no live source: the snapshot file is checked on its own' : 'talos exposes no key listing; the restored copy is checked on its own');
    }
    const answer = async (a: string[]) => {
      try {
        return await run(ctx, a, { timeoutMs: 30_000, waitingFor: `an answer from ${describeTarget(target)}` });
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
      await answer(argv.inventory.sentinelPut(value));
      st.sentinel = { key: SENTINEL_KEY, value };
    } else {
      // Nothing has to be written first: the snapshot is saved beside the status (the snapshot phase waits for it;
      // a source that moved on in between is read again at the snapshot's revision in verify).
      beginSave(ctx);
    }
    let answered: Awaited<ReturnType<typeof answer>>;
    try {
      answered = await answer(argv.inventory.status());
    } catch (err) {
      // A source that does not answer its status will not send a snapshot either: don't wait for it.
      st.saveRun?.stop();
      throw err;
    }
    const status = parseEndpointStatus(answered.stdout)[0];
    if (!status) {
      st.saveRun?.stop();
      throw new UserError('the source etcd did not report its status');
    }
    st.source = { revision: status.revision, version: status.version, dbSize: status.dbSize };
    st.saveRun?.bound(status.dbSize);
    return {
      status: 'pass',
      summary: `revision ${status.revision}, etcd ${status.version}, ${formatBytes(status.dbSize)}; keys and hashkv at that revision are read once the snapshot is saved`,
      evidence: { revision: status.revision, dbSize: status.dbSize, etcdVersion: status.version },
    };
  });

  const snapshot = phase('snapshot', 'drill-snapshot', 'Take a snapshot', async (ctx) => {
    // Found while the snapshot is taken: integrity and restore need it.
    void snapshotTool(ctx);
    if (target.kind === 'snapshot') {
      st.snapshotFile = path.resolve(target.file);
      st.snapshotAt = (await stat(st.snapshotFile)).mtime;
      return { status: 'pass', summary: `using ${target.file} (written ${formatMs(now().getTime() - st.snapshotAt.getTime())} ago)` };
    }
    // A source that did not answer the inventory will not answer a snapshot either: don't wait for it (a save
    // begun beside it was stopped).
    if (source && !st.source) {
      await st.saveRun?.done.catch(() => undefined);
      return skip(`not taken: the inventory of ${describeTarget(target)} failed`);
    }
    const saving = beginSave(ctx);
    const { file } = await saving.done;
    const at = saving.at;
    if (!existsSync(file)) throw new UserError(`the snapshot command finished but wrote no file at ${file}`);
    await chmod(file, 0o600);
    st.snapshotFile = file;
    st.snapshotAt = at;
    const size = (await stat(file)).size;
    // Reads at the inventory's revision give the same answer whenever they run. Begun beside the save they slowed
    // it more than they took (both read the whole database on the source); begun with integrity they took a core
    // from the restore, the longest step. So they begin once the file has passed integrity (its status and sha256
    // done, the restore still running), beside the rest of the restore and the member's boot, and verify compares
    // with them; a drill whose snapshot failed integrity reads nothing more from the source.
    const inv = st.source;
    if (source && inv) {
      st.beginSourceReads = () => {
        if (st.sourceReads) return;
        // The source's hashkv is compared only with an unbumped restore (a bumped one cannot hash alike by
        // construction, verify says so): with the revision bumped it is not read at all.
        const hashed = st.restoreRun?.bumped ? Promise.resolve({} as { hash?: HashKv }) : hashAt(ctx, source, inv.revision, inv.dbSize);
        st.sourceReads = Promise.all([countKeys(ctx, source, inv.revision, inv.dbSize), hashed]).then(
          ([keys, { hash }]) => {
            inv.keys = { counts: keys.counts, total: keys.total };
            if (hash) inv.hash = hash;
            return {};
          },
          (err: unknown) => ({ err }),
        );
      };
    }
    return {
      status: 'pass',
      summary: `${formatBytes(size)} saved${inv ? `; the source's keys (and hashkv, unless the revision is bumped) at revision ${inv.revision} are read once it passes integrity` : ''}`,
      evidence: { bytes: size },
      // From the save's start, which may have been beside the inventory.
      ms: performance.now() - saving.t0,
    };
  });

  /** The restore, begun as soon as the file's size and the tool are known; its result counts only if integrity passes. */
  async function startRestore(ctx: StepContext, tool: SnapshotTool, file: string, size: number): Promise<void> {
    const dir = await ensureScratch(ctx);
    const member = await allocateMember();
    const dataDir = path.join(dir, 'restored.etcd');
    const bumped = tool.canBump && opts.bumpRevision !== false;
    // A raw copy of member/snap/db has no appended sha256: the restore must be told (integrity says so too).
    const a = argv.restore({ tool: tool.tool, bin: tool.bin, snapshot: file, dataDir, member, skipHashCheck: !hasAppendedHash(size), bumpRevision: bumped });
    assertLoopbackOnly(a);
    const t0 = performance.now();
    const startedAt = now();
    const done = run(ctx, a, { allowFailure: true, step: 'drill-restore', timeoutMs: scaledTimeoutMs(size), waitingFor: `the restore of the ${formatBytes(size)} snapshot into ${dataDir}` }).then((r) => ({
      exitCode: r.exitCode,
      text: `${r.stderr}\n${r.stdout}`,
      ms: performance.now() - t0,
    }));
    done.catch(() => undefined);
    st.restoreRun = { dataDir, member, bumped, tool: tool.tool, startedAt, done };
  }

  const integrity = phase('integrity', 'drill-integrity', 'Check the snapshot (status, hash, sha256)', async (ctx) => {
    if (!st.snapshotFile) return skip('no snapshot to check');
    const snapFile = st.snapshotFile;
    // etcd's own status reads the file while we stream it for the sha256 and the restore copies it: three
    // readers, two cores. Our check speaks first: on a broken file etcd 3.4 may panic, and that is only a confirmation.
    const tool = await snapshotTool(ctx);
    const fileSize = (await stat(snapFile)).size;
    const statusRun = run(ctx, argv.integrity.status(tool.bin, snapFile), { allowFailure: true, timeoutMs: scaledTimeoutMs(fileSize), waitingFor: `${tool.bin} to read the ${formatBytes(fileSize)} snapshot` });
    statusRun.catch(() => undefined);
    await startRestore(ctx, tool, snapFile, fileSize);
    const file = await checkSnapshotFile(snapFile, ctx.signal);
    st.file = file;
    const fix = target.kind === 'snapshot' ? 'this backup cannot be restored: take a new one and check where backups are written and copied' : 'take the snapshot again; check the disk and the copy';
    if (file.verdict !== 'ok' && file.verdict !== 'no-hash') {
      await statusRun.catch(() => undefined);
      return { status: 'fail', summary: `integrity: ${file.reason}`, why: 'a snapshot that fails this check cannot be restored', fix, evidence: { bytes: file.size, sha256: file.sha256, verdict: file.verdict } };
    }
    const r = await statusRun;
    const statusName = path.basename(tool.bin);
    if (r.exitCode !== 0) {
      // etcd 3.4 panics with a Go stack trace on some broken files: keep the first line, never the trace.
      const firstLine = (r.stderr.split('\n').find((l) => /^(panic|Error|error|fatal error|unexpected fault)/.test(l.trim())) ?? r.stderr.split('\n')[0] ?? '').trim();
      return { status: 'fail', summary: `integrity: ${statusName} snapshot status rejects the file (${firstLine.slice(0, 160)})`, fix, evidence: { bytes: file.size, sha256: file.sha256, verdict: file.verdict } };
    }
    const status = parseSnapshotStatus(r.stdout);
    st.status = status;
    st.integrityOk = true;
    st.beginSourceReads?.();
    const base = `revision ${status.revision}, ${plural(status.totalKey, 'bolt key')}, ${formatBytes(file.size)}, hash ${status.hash.toString(16).padStart(8, '0')}, sha256 ${file.sha256.slice(0, 12)}…`;
    const evidence = { bytes: file.size, sha256: file.sha256, verdict: file.verdict, ...status };
    if (file.verdict === 'no-hash') return { status: 'warn', summary: `${base}; ${file.reason}`, evidence };
    return { status: 'pass', summary: base, evidence };
  });

  const restore = phase('restore', 'drill-restore', 'Restore into a scratch directory', async () => {
    const r = st.restoreRun;
    if (!st.snapshotFile || !st.integrityOk || !r) {
      // Begun beside integrity: nothing may still be writing when the phase says it did not restore.
      await r?.done.catch(() => undefined);
      return skip('no snapshot that passed the integrity check');
    }
    st.restoreAt = r.startedAt;
    const res = await r.done;
    if (res.exitCode !== 0) {
      const integrityProblem = /sha256|missing hash|invalid database|checksum|unexpected EOF|file size too small/i.exec(res.text);
      const last = res.text.trim().split('\n').filter((l) => !/^\s*\{"level":"info"/.test(l)).slice(-3).join('\n');
      return {
        status: 'fail',
        summary: integrityProblem ? `integrity: the restore refuses the snapshot (${integrityProblem[0]})` : `the restore failed (exit ${res.exitCode})`,
        detail: last,
        fix: integrityProblem ? 'this snapshot is corrupted: take a new one' : 'see the output above',
        ms: res.ms,
      };
    }
    st.restore = { dataDir: r.dataDir, member: r.member, bumped: r.bumped, tool: r.tool };
    return {
      status: 'pass',
      summary: `restored with ${r.tool}${r.bumped ? ` (revision bumped by ${formatCount(BUMP_REVISION)}, marked compacted)` : ''}`,
      evidence: { tool: r.tool, bumped: r.bumped },
      ms: res.ms,
    };
  });

  /**
   * Asked only when the member did not start (no cost to a drill that works): a member opens data written by its
   * own minor or an older one, and a restore by an older etcdctl is not one a newer member opens (seen: etcdctl
   * 3.4's restore, etcd 3.6's member). Both happen when the PATH mixes releases.
   */
  async function versionSkew(ctx: StepContext): Promise<{ summary: string; why: string; fix: string } | undefined> {
    const r = await run(ctx, argv.probe.etcd, { allowFailure: true, timeoutMs: 15_000 }).catch(() => undefined);
    const member = r ? parseToolVersion(`${r.stdout}\n${r.stderr}`) : undefined;
    if (!member) return undefined;
    const source = st.source?.version;
    const restorer = (await probe?.catch(() => undefined))?.version;
    const release = (v: string) => v.split('.').slice(0, 2).join('.');
    const fix = (v: string) => `put etcd, etcdctl and etcdutl of one release (${release(v)}) first on the PATH and run the drill again`;
    if (source && compareMinor(member, source) < 0) {
      return { summary: `the drill's etcd is ${member}, older than the source's ${source}`, why: 'an etcd member opens data written by its own minor version or an older one, not by a newer one', fix: fix(source) };
    }
    if (restorer && compareMinor(restorer, member) < 0) {
      return { summary: `restored by etcdctl ${restorer}, booted by etcd ${member}`, why: "a member does not open every data dir an older release's restore writes", fix: fix(member) };
    }
    return undefined;
  }

  const boot = phase('boot', 'drill-boot', 'Boot a throw-away etcd member on loopback', async (ctx) => {
    if (!st.restore) return skip('nothing restored');
    // Restored and checked: nothing reads our snapshot again. Deleting it (it may be gigabytes) goes on while the
    // member boots, not at teardown; an operator's --snapshot file is never touched.
    if (st.snapshotOurs && st.snapshotFile && st.scratch && path.dirname(st.snapshotFile) === st.scratch.dir) {
      st.snapshotRemoved = rm(st.snapshotFile, { force: true });
      st.snapshotRemoved.catch(() => undefined);
    }
    const a = argv.boot(st.restore.dataDir, st.restore.member);
    assertLoopbackOnly(a);
    st.beginSourceReads?.();
    st.service = await startService(ctx.exec, a, {
      env,
      what: "the drill's throw-away etcd member",
      onLine: (l) => {
        st.memberLog.push(l);
        if (st.memberLog.length > 20) st.memberLog.shift();
      },
    });
    const h = await waitHealthy(st.restore.member.clientUrl, { timeoutMs: opts.bootTimeoutMs ?? 60_000, signal: ctx.signal, exited: st.service.exited });
    if (!h.ok) {
      const skew = await versionSkew(ctx);
      return {
        status: 'fail',
        summary: `the restored member did not start: ${h.reason}${skew ? `; ${skew.summary}` : ''}`,
        detail: st.memberLog.slice(-8).join('\n'),
        ...(skew ? { why: skew.why, fix: skew.fix } : {}),
      };
    }
    return { status: 'pass', summary: `serving on ${st.restore.member.clientUrl} (pid ${st.service.pid})`, evidence: { clientUrl: st.restore.member.clientUrl } };
  });

  const verify = phase('verify', 'drill-verify', 'Verify the restored data', async (ctx) => {
    if (!st.service?.running || !st.restore || !st.status) return skip('no restored member running');
    const m = argv.member(st.restore.member.clientUrl);
    const snapRev = st.status.revision;
    const expectedRev = snapRev + (st.restore.bumped ? BUMP_REVISION : 0);
    const problems: string[] = [];
    const notes: string[] = [];
    // Every figure below is an independent read (the member is idle, the source is read at a pinned revision):
    // ask for them side by side.
    const inv = st.source;
    const sourceMoved = inv !== undefined && source !== undefined && inv.revision !== snapRev;
    const [version, restored, restoredHash, sourceCounts, sourceHashAt, sentinelOut] = await Promise.all([
      // The member's version from its /version; its revision is the listing's own (the member is idle).
      memberVersion(st.restore.member.clientUrl),
      countKeys(ctx, m, undefined, st.file?.size),
      st.restore.bumped ? Promise.resolve(undefined) : hashAt(ctx, m, snapRev, st.file?.size),
      sourceMoved ? countKeys(ctx, source!, snapRev, inv!.dbSize).then((v) => ({ v }), (err: unknown) => ({ err })) : Promise.resolve(undefined),
      sourceMoved && !st.restore.bumped ? hashAt(ctx, source!, snapRev, inv!.dbSize) : Promise.resolve(undefined),
      st.sentinel ? run(ctx, argv.verify.sentinelGet(m)) : Promise.resolve(undefined),
      // Begun after the save, at the inventory's revision: they have long finished at this size or are close to.
      st.sourceReads,
    ]);
    const inventoryRead = await st.sourceReads;
    if (inventoryRead?.err !== undefined && !sourceMoved) {
      const err = inventoryRead.err;
      if (ctx.signal.aborted || !(err instanceof ToolError || err instanceof OutputParseError)) throw err;
      problems.push(`the source could not be read at revision ${inv!.revision}: ${errorText(err).split('\n')[0]}`);
    }
    const status = { revision: restored.revision, version };
    if (status.revision < expectedRev) problems.push(`the restored revision is ${status.revision}, the snapshot's is ${expectedRev}`);
    const hash = restoredHash?.hash?.hash;
    st.restored = { revision: status.revision, counts: restored.counts, total: restored.total, ...(hash !== undefined ? { hash } : {}), ...(status.version ? { etcdVersion: status.version } : {}) };

    // The source's counts and hash at the snapshot's revision: from the reads begun after the save when nothing
    // changed since the inventory, else asked again (the source may have moved on, or compacted that revision away).
    let expected: KeyCounts | undefined;
    let sourceHash: number | undefined;
    if (inv && source) {
      if (!sourceMoved) {
        expected = inv.keys;
        sourceHash = inv.hash?.hash;
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
    } else if (!sourceMoved && inventoryRead?.err === undefined) {
      notes.push('the source gave no key counts at its revision: key counts not compared');
    }
    // A bumped restore is the realistic one (etcdutl 3.5+ does it by default here): its hashkv cannot equal the
    // source's by construction, so saying so is information, not a warning; counts and the sentinel still compare.
    const info: string[] = [];
    if (st.restore.bumped) info.push('hashkv not compared: the revision was bumped, as in a real Kubernetes restore');
    else if (sourceHash !== undefined && hash !== undefined && sourceHash !== hash) problems.push(`hashkv at revision ${snapRev}: restored ${hash}, source ${sourceHash}`);
    else if (sourceHash === undefined && source && !notes.some((n) => n.startsWith('hashkv'))) notes.push('hashkv not compared: the source gave none');
    if (st.sentinel && sentinelOut) {
      const got = sentinelOut.stdout.trim();
      st.sentinel.found = got === st.sentinel.value;
      if (!st.sentinel.found) problems.push(`the sentinel ${st.sentinel.key} written before the snapshot is ${got ? 'different' : 'missing'} in the restored data`);
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
    const r = await run(ctx, argv.teardown.sentinelDel(), { allowFailure: true, timeoutMs: 30_000, waitingFor: `${describeTarget(target)} to delete the sentinel` }).catch((err: unknown) => ({ exitCode: -1, stderr: errorText(err), stdout: '' }));
    if (r.exitCode === 0) {
      st.sentinelRemoved = true;
      return 'sentinel removed from the source';
    }
    return `the sentinel ${st.sentinel.key} is still in the source (remove it: etcdctl del ${st.sentinel.key}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`;
  }

  async function stopAndRemove(): Promise<string[]> {
    const done: string[] = [];
    // A save begun beside the inventory, a restore begun beside integrity: each finishes (or is stopped by the
    // run's signal) before its directory goes.
    await st.saveRun?.done.catch(() => undefined);
    await st.restoreRun?.done.catch(() => undefined);
    await st.sourceReads;
    await st.snapshotRemoved?.catch(() => undefined);
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
    const rec = buildRecord(st, report(), runId);
    // Reasons quote tool errors: the history is redacted like every other record.
    await appendDrillRecord(stateDir, redactor ? redactor.redactDeep(rec) : rec);
  }

  const teardown = phase('teardown', 'drill-teardown', 'Tear down the member and the scratch data', async (ctx) => {
    const [done, sentinel] = await Promise.all([stopAndRemove(), removeSentinel(ctx)]);
    if (sentinel) done.push(sentinel);
    st.tornDown = true;
    const status = sentinel && !st.sentinelRemoved ? ('warn' as const) : ('pass' as const);
    // Teardown is timed before the history line is written, so the record carries it.
    st.phases.teardown = { ms: 0, status, summary: done.join(', ') || 'nothing to remove' };
    await record(ctx.stateDir, path.basename(ctx.runDir), ctx.redactor);
    return { status, summary: done.join(', ') || 'nothing to remove' };
  });

  // What `groundwork plan` shows: each phase's argv from the same builders, with the values only a run knows in
  // <angle brackets>.
  const scratchShown = opts.scratch ?? '<temp dir>';
  const snapShown = target.kind === 'snapshot' ? target.file : path.join(scratchShown, 'snapshot.db');
  const dataShown = path.join(scratchShown, 'restored.etcd');
  const placeholder: MemberAddress = { clientUrl: 'http://127.0.0.1:<free port>', peerUrl: 'http://127.0.0.1:<free port>', token: 'groundwork-drill-<random>' };
  const memberShown = argv.member(placeholder.clientUrl);
  const snapTool = 'etcdutl|etcdctl';
  inventory.preview = source
    ? { argv: [...(wantSentinel ? [argv.inventory.sentinelPut('<drill id>@<time>')] : []), argv.inventory.status()], note: wantSentinel ? `writes only ${SENTINEL_KEY} to the source, then the snapshot is saved` : 'reads only; the snapshot is saved beside the status' }
    : { note: 'no live source to inventory' };
  const removeRemote = argv.snapshot.removeRemote('<drill id>');
  snapshot.preview =
    target.kind === 'snapshot'
      ? { argv: [argv.probe.etcdutl, argv.probe.etcdctl], note: `uses ${target.file} as it is (read only); finds the snapshot tool (etcdctl version only without etcdutl)` }
      : {
          argv: [
            ...argv.snapshot.save(snapShown, '<drill id>'),
            ...(removeRemote ? [removeRemote] : []),
            ...(source ? [argv.listKeys(source, '<revision>', '<by size>'), argv.hashKv(source, '<revision>', '<by size>')] : []),
            argv.probe.etcdutl,
            argv.probe.etcdctl,
          ],
          files: [snapShown],
          note: `${source ? 'the source is listed (and hashed, when the revision is not bumped) at the inventory revision once the file passes integrity, beside the restore and the boot; ' : ''}etcdctl version only without etcdutl`,
        };
  integrity.preview = { argv: [argv.integrity.status(snapTool, snapShown)], note: 'also streams the file once for its sha256; the restore starts alongside and counts only if the file passes' };
  restore.preview = { argv: [argv.restore({ tool: 'etcdctl', bin: snapTool, snapshot: snapShown, dataDir: dataShown, member: placeholder })], files: [dataShown] };
  boot.preview = { argv: [argv.boot(dataShown, placeholder)], note: 'listens on 127.0.0.1 only' };
  verify.preview = {
    argv: [argv.listKeys(memberShown, undefined, '<by size>'), argv.hashKv(memberShown, '<snapshot revision>', '<by size>'), ...(wantSentinel ? [argv.verify.sentinelGet(memberShown)] : [])],
    note: "the member's revision from the listing, its version from GET /version; hashkv only when the revision was not bumped; the source is read again only if it moved on since the inventory",
  };
  teardown.preview = {
    ...(wantSentinel && source ? { argv: [argv.teardown.sentinelDel()] } : {}),
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
    report,
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
