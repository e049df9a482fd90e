/**
 * The only door to external processes (STYLE 3). argv arrays only, never a shell string. Every call is
 * recorded in the audit log with secrets redacted; abort and timeout kill the whole process tree; a missing
 * tool becomes a UserError naming the tool and how to install it. Processes are started with execa, loaded on the
 * first spawn (see loadExeca), so a run that starts none never pays for it.
 */
import type { ResultPromise, execa as ExecaFn } from 'execa';
import { Cancelled, ToolError, UserError } from '../errors.js';
import { readFileSync, statSync } from 'node:fs';
import { Redactor } from '../run/secret.js';
import { formatDuration } from '../duration.js';
import path from 'node:path';

export interface AuditEntry {
  argv: string[];
  cwd: string;
  start: string;
  durationMs: number;
  exitCode: number | null;
  signal?: string;
  timedOut?: boolean;
  step?: string;
}

export interface AuditSink {
  record(entry: AuditEntry): void;
}

export interface ExecOptions {
  cwd?: string;
  /** Replaces the environment entirely when `replaceEnv` is set; otherwise extends process.env. */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  input?: string;
  /** Non-zero exit is returned instead of thrown. */
  allowFailure?: boolean;
  /** The step that ran the command, for the audit log. */
  step?: string;
  /** What the command waits for, said when it times out ("the snapshot of 212 MiB from etcd https://..."). */
  waitingFor?: string;
  /** Called with each line of combined output (already redacted), for live progress. */
  onLine?: (line: string) => void;
  /**
   * The file-mode creation mask of the child (e.g. 0o077 for a tool that writes secret files: they are born
   * 0600, never chmodded after the fact). Default: groundwork's own.
   */
  umask?: number;
  /**
   * Stdout as it comes, chunk by chunk, for output too large to hold (a listing of every key): it is not kept,
   * and the result's stdout is empty. Stderr is kept as always.
   */
  onStdout?: (chunk: Buffer) => void;
  /** Start it as a service instead (see startService): the call settles when the service exits. */
  service?: ServiceStart;
}

export interface ExecResult {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export type Exec = (argv: string[], opts?: ExecOptions) => Promise<ExecResult>;

/** How to get a tool that is missing, said in the error. */
const INSTALL_HINTS: Record<string, string> = {
  talosctl: 'install talosctl: https://www.talos.dev/latest/talos-guides/install/talosctl/ (curl -sL https://talos.dev/install | sh)',
  kubeadm: 'install kubeadm from the Kubernetes package repositories (pkgs.k8s.io), matching spec.kubernetesVersion',
  kubectl: 'install kubectl: https://kubernetes.io/docs/tasks/tools/',
  helm: 'install helm: https://helm.sh/docs/intro/install/',
  etcd: 'install etcd (Debian/Ubuntu: apt-get install etcd-server)',
  etcdctl: 'install etcdctl (Debian/Ubuntu: apt-get install etcd-client)',
  etcdutl: 'etcdutl ships with etcd 3.5+ release archives; with etcd 3.4 groundwork uses etcdctl instead',
  ssh: 'install an OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)',
  scp: 'install an OpenSSH client (Debian/Ubuntu: apt-get install openssh-client)',
};

export function installHint(tool: string): string {
  return INSTALL_HINTS[tool] ?? `install ${tool} and make sure it is on PATH`;
}

export interface ExecFactoryOptions {
  audit?: AuditSink;
  redactor?: Redactor;
  /** Default abort signal for every call (the run's). */
  signal?: AbortSignal;
  /** Base environment (defaults to process.env); tests pass their own PATH. */
  env?: Record<string, string | undefined>;
  /** Grace period between SIGTERM and SIGKILL for the process group. */
  killGraceMs?: number;
  /**
   * Where every child's process group is written down while it runs (the run's leftovers.json): if groundwork is
   * SIGKILLed, nothing is left to kill its children, so the next run in that state dir stops them.
   */
  leftovers?: LeftoverSink;
}

/** What must not outlive the run, written down before it is made (run/leftovers.ts keeps the records). */
export interface LeftoverItem {
  /** Local files to delete. */
  files?: string[];
  /** Local directories to delete with everything in them. */
  dirs?: string[];
  /** A command that removes it (e.g. ssh … rm -f FILE); exit 0 means gone. */
  argv?: string[];
  /** How long that command may take (default 30 s). */
  timeoutMs?: number;
  /** A process group to stop, if its leader is still this process (start time, from processIdentity). */
  process?: { pid: number; identity: string };
  /** A Kubernetes namespace to delete. */
  namespace?: { name: string; kubeconfig?: string; context?: string };
}

/** Where steps and the exec door record leftovers (StepContext.leftovers; run/leftovers.ts Leftovers). */
export interface LeftoverSink {
  /** Records it (owned by this process) and returns the id to clear it by. */
  add(what: string, item: LeftoverItem): string;
  clear(id: string): void;
}


function tail(text: string, lines = 12): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
}

function killTree(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    // The child is a process-group leader (detached): a negative pid signals the whole tree.
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Who a pid is, so a recorded pid is never mistaken for a later process that reused it: the start time in clock
 * ticks since boot (/proc/<pid>/stat, field 22). Undefined when the process is gone (or there is no /proc).
 */
export function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

export function isSameProcess(pid: number, identity: string): boolean {
  return processIdentity(pid) === identity;
}

/** Signals a recorded process group if its leader is still the process recorded. True if it was signalled. */
export function killProcessGroup(pid: number, identity: string, signal: NodeJS.Signals): boolean {
  if (!isSameProcess(pid, identity)) return false;
  killTree(pid, signal);
  return true;
}

/** Process groups still running: if groundwork exits first (a second Ctrl-C), none may be left behind. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function trackGroup(pid: number | undefined): void {
  if (!pid) return;
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of liveGroups) killTree(p, 'SIGKILL');
  });
}

/** The child inherits the creation mask at spawn, which is synchronous: set it just around that call. */
function withUmask<T>(mask: number | undefined, spawn: () => T): T {
  if (mask === undefined) return spawn();
  const old = process.umask(mask);
  try {
    return spawn();
  } finally {
    process.umask(old);
  }
}

/** What a finished child said and how it ended. */
interface ChildEnd {
  exitCode: number | null;
  signal?: string;
  /** The spawn error's code (ENOENT: no such program). */
  code?: string;
  stdout: string;
  stderr: string;
}

/** Most a child may print on one stream before the rest is dropped (a listing is streamed, never kept). */
const MAX_KEPT = 64 * 1024 * 1024;

/** Calls `each` with every complete line of a stream; a line that never ends is cut at 64 KiB. */
function lineSplitter(each: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let buf = '';
  return {
    push(chunk) {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        each(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (buf.length > 64 * 1024) buf = buf.slice(-1024);
    },
    end() {
      if (buf !== '') each(buf);
      buf = '';
    },
  };
}

type Execa = typeof ExecaFn;
let execaLoading: Promise<Execa> | undefined;

/**
 * execa, loaded once, on the first spawn. `npm run build` also writes dist/exec/execa.bundle.js
 * (src/exec/build-bundle.mjs): execa and its dependencies in one file instead of ~100 modules. It is used only when
 * newer than tsc's index.js, so a bundle left behind by an older build never runs; from src (tests) there is no
 * bundle and the package loads as it is.
 */
function loadExeca(): Promise<Execa> {
  return (execaLoading ??= (async () => {
    const bundle = new URL('./execa.bundle.js', import.meta.url);
    try {
      if (statSync(bundle).mtimeMs >= statSync(new URL(import.meta.url)).mtimeMs) return ((await import(bundle.href)) as { execa: Execa }).execa;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return (await import('execa')).execa;
  })());
}

/**
 * Spawns `file` with execa in its own process group (so a timeout or an abort can stop its whole tree) and collects
 * what it prints. Settles once, when the child has exited and its streams are closed, or when it could not be
 * started. Synchronous (execa spawns at the call), so the umask and the listeners are in place before any output.
 */
function runChild(
  execa: Execa,
  file: string,
  args: string[],
  o: {
    cwd: string;
    env: Record<string, string | undefined>;
    input?: string;
    /** Stdout goes here as it comes, and is not kept. */
    onStdout?: (chunk: Buffer) => void;
    onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
    umask?: number;
    /** Keep what it prints for the result (default true). */
    keep?: boolean;
  },
): { child: ResultPromise; done: Promise<ChildEnd> } {
  const child = withUmask(o.umask, () =>
    execa(file, args, {
      cwd: o.cwd,
      env: o.env,
      extendEnv: false,
      reject: false,
      detached: true,
      // Output is collected (bounded) or streamed here, never buffered by execa.
      buffer: false,
      ...(o.input !== undefined ? { input: o.input } : { stdin: 'ignore' as const }),
    }),
  );
  const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const size = { stdout: 0, stderr: 0 };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = child[name];
    const lines = o.onLine ? lineSplitter((l) => o.onLine!(l, name)) : undefined;
    stream?.on('data', (data: Buffer | string) => {
      const chunk = typeof data === 'string' ? Buffer.from(data) : data;
      lines?.push(chunk);
      if (name === 'stdout' && o.onStdout) return o.onStdout(chunk);
      if (o.keep !== false && size[name] + chunk.length <= MAX_KEPT) {
        kept[name].push(chunk);
        size[name] += chunk.length;
      }
    });
    stream?.on('end', () => lines?.end());
  }
  // reject: false, so this never rejects: a failed start comes back with its error code (ENOENT) and no exit code.
  const done = child.then((r) => ({
    exitCode: r.exitCode ?? null,
    ...(r.signal ? { signal: r.signal } : {}),
    ...(r.exitCode === undefined && !r.signal && r.code ? { code: r.code } : {}),
    stdout: Buffer.concat(kept.stdout).toString(),
    stderr: Buffer.concat(kept.stderr).toString(),
  }));
  return { child, done };
}

export function createExec(factory: ExecFactoryOptions = {}): Exec {
  const redactor = factory.redactor ?? new Redactor();
  const grace = factory.killGraceMs ?? 2000;

  return async function exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0 || !argv[0]) throw new Error('exec: empty argv');
    const [file, ...args] = argv;
    if (opts.service) return asService(argv, opts, opts.service);
    const execa = await loadExeca();
    const signals = [factory.signal, opts.signal].filter((s): s is AbortSignal => s !== undefined);
    if (signals.some((s) => s.aborted)) throw new Cancelled(`not started: ${redactor.redact(file!)}`);

    const baseEnv = opts.replaceEnv ? {} : (factory.env ?? process.env);
    const env = { ...baseEnv, ...opts.env };
    const start = new Date();
    const cwd = opts.cwd ?? process.cwd();
    let prev = '';
    const { child, done } = runChild(execa, file!, args, {
      cwd,
      env,
      input: opts.input,
      umask: opts.umask,
      onStdout: opts.onStdout,
      onLine: opts.onLine
        ? (line) => {
            // A secret may be announced on the line before it ("Using certificate key:").
            redactor.scan(`${prev}\n${line}`);
            opts.onLine!(redactor.redact(line));
            prev = line;
          }
        : undefined,
    });

    trackGroup(child.pid);
    const identity = factory.leftovers && child.pid !== undefined ? processIdentity(child.pid) : undefined;
    const recordId =
      identity !== undefined ? factory.leftovers!.add(`${path.basename(file!)} (pid ${child.pid})`, { process: { pid: child.pid!, identity } }) : undefined;
    let timedOut = false;
    let aborted = false;
    const terminate = () => {
      killTree(child.pid, 'SIGTERM');
      setTimeout(() => killTree(child.pid, 'SIGKILL'), grace).unref();
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          terminate();
        }, opts.timeoutMs)
      : undefined;
    const onAbort = () => {
      aborted = true;
      terminate();
    };
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });

    const r = await done;
    if (child.pid) liveGroups.delete(child.pid);
    if (recordId) factory.leftovers!.clear(recordId);
    if (timer) clearTimeout(timer);
    for (const s of signals) s.removeEventListener('abort', onAbort);
    const durationMs = Date.now() - start.getTime();
    const exitCode = r.exitCode;

    factory.audit?.record({
      argv: argv.map((a) => redactor.redact(a)),
      cwd,
      start: start.toISOString(),
      durationMs,
      exitCode,
      ...(r.signal ? { signal: r.signal } : {}),
      ...(timedOut ? { timedOut } : {}),
      ...(opts.step ? { step: opts.step } : {}),
    });

    const { stdout, stderr } = r;
    // Secrets a tool printed (a join command, a certificate key) are known from here on, whatever happens next:
    // a failure tail, a step's summary, a later line that mentions them.
    redactor.scan(stdout);
    redactor.scan(stderr);
    const shown = argv.map((a) => redactor.redact(a));

    if (r.code === 'ENOENT' && exitCode === null) {
      throw new UserError(`${file} is not installed or not on PATH`, {
        why: `groundwork needs ${file} to run: ${shown.join(' ')}`,
        fix: installHint(file!),
      });
    }
    if (aborted) throw new Cancelled(`${shown[0]} was stopped`);
    if (timedOut) {
      throw new ToolError(shown, exitCode ?? undefined, redactor.redact(tail(stderr || stdout)), {
        message: `${shown[0]} did not finish within ${formatDuration(opts.timeoutMs!)}${opts.waitingFor ? ` waiting for ${redactor.redact(opts.waitingFor)}` : ''} and was stopped`,
      });
    }
    if (r.code && exitCode === null) {
      throw new ToolError(shown, undefined, '', { message: `${shown[0]} could not be started (${r.code})` });
    }
    const result: ExecResult = { argv: shown, exitCode: exitCode ?? -1, stdout, stderr, durationMs };
    if (result.exitCode !== 0 && !opts.allowFailure) {
      throw new ToolError(shown, exitCode ?? undefined, redactor.redact(tail(stderr || stdout)));
    }
    return result;
  };

  /**
   * A service through the same door: started with the run's audit log, redactor, environment and leftovers
   * record; handed over once it runs; the call itself settles when it exits. It outlives the step that started
   * it, so only the run's signal (and stop()) end it, never the step's.
   */
  async function asService(argv: string[], opts: ExecOptions, how: ServiceStart): Promise<ExecResult> {
    const start = Date.now();
    const svc = await spawnService(argv, {
      cwd: opts.cwd,
      env: { ...(opts.replaceEnv ? {} : (factory.env ?? process.env)), ...opts.env },
      replaceEnv: true,
      signal: factory.signal,
      audit: factory.audit,
      redactor,
      step: opts.step,
      onLine: how.onLine,
      ...(factory.leftovers ? { record: { sink: factory.leftovers, what: how.what } } : {}),
    });
    how.started(svc);
    const exit = await svc.exited;
    return { argv: argv.map((a) => redactor.redact(a)), exitCode: exit.exitCode ?? -1, stdout: '', stderr: '', durationMs: Date.now() - start };
  }
}

/** How a service is started through exec (see startService). */
export interface ServiceStart {
  /** What it is, in words, for the leftovers record ("the drill's throw-away etcd member"). */
  what: string;
  /** Each line it prints (redacted). */
  onLine?: (line: string) => void;
  started(service: Service): void;
}

/**
 * Starts a long-running process through an Exec (a step's ctx.exec): audited, redacted and recorded as a
 * leftover like every other process, resolved as soon as it runs.
 */
export function startService(exec: Exec, argv: string[], opts: Omit<ExecOptions, 'service'> & Omit<ServiceStart, 'started'>): Promise<Service> {
  const { what, onLine, ...rest } = opts;
  return new Promise<Service>((resolve, reject) => {
    let started = false;
    exec(argv, { ...rest, service: { what, ...(onLine ? { onLine } : {}), started: (s) => ((started = true), resolve(s)) } }).then(
      () => undefined,
      (err: unknown) => {
        if (!started) reject(err);
      },
    );
  });
}

export interface ServiceOptions {
  cwd?: string;
  /** Replaces the environment entirely when `replaceEnv` is set; otherwise extends process.env. */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  /** Aborting it stops the service (the whole process group). */
  signal?: AbortSignal;
  audit?: AuditSink;
  redactor?: Redactor;
  step?: string;
  /** Each line the service prints (stdout and stderr, redacted). Output is never buffered whole. */
  onLine?: (line: string) => void;
  /** Grace period between SIGTERM and SIGKILL when stopping. */
  killGraceMs?: number;
  /**
   * Where the process group is written down while it runs (the state dir's leftovers.json), so that a
   * groundwork killed with SIGKILL has it stopped by the next run. `what` says what it is, in words.
   */
  record?: { sink: LeftoverSink; what: string };
}

export interface ServiceExit {
  exitCode: number | null;
  signal?: string;
}

/** A long-running process (e.g. a throw-away etcd member) that outlives the call that started it. */
export interface Service {
  pid: number;
  /** Settles when the process has exited, however that happened. Never rejects. */
  exited: Promise<ServiceExit>;
  /** True until the process has exited. */
  readonly running: boolean;
  /** SIGTERM to the process group, SIGKILL after the grace period; resolves when it has exited. */
  stop(): Promise<ServiceExit>;
}

/**
 * Starts a background process in its own process group, for services that must run while later steps talk to
 * them. Recorded in the audit log when it exits (argv redacted); stopped with its whole tree on abort, on stop(),
 * and (SIGKILL) if groundwork itself exits first, so no member is ever left behind.
 */
export async function spawnService(argv: string[], opts: ServiceOptions = {}): Promise<Service> {
  if (argv.length === 0 || !argv[0]) throw new Error('spawnService: empty argv');
  const redactor = opts.redactor ?? new Redactor();
  const grace = opts.killGraceMs ?? 5000;
  const [file, ...args] = argv;
  const shown = argv.map((a) => redactor.redact(a));
  const execa = await loadExeca();
  if (opts.signal?.aborted) throw new Cancelled(`not started: ${shown[0]}`);
  const cwd = opts.cwd ?? process.cwd();
  const env = { ...(opts.replaceEnv ? {} : process.env), ...opts.env };
  const start = new Date();
  const onLine = opts.onLine;
  // Output is handed on line by line and never kept: a service may run for as long as the drill does.
  const { child, done } = runChild(execa, file!, args, {
    cwd,
    env,
    keep: false,
    onLine: onLine
      ? (line) => {
          redactor.scan(line);
          onLine(redactor.redact(line));
        }
      : undefined,
  });

  let running = true;

  // One process 'exit' hook for every live child (a per-service listener trips Node's MaxListeners warning past 10).
  trackGroup(child.pid);
  const identity = child.pid !== undefined ? processIdentity(child.pid) : undefined;
  let recordId: string | undefined;
  if (opts.record && child.pid !== undefined && identity !== undefined) {
    try {
      recordId = opts.record.sink.add(`${opts.record.what} (pid ${child.pid})`, { process: { pid: child.pid, identity } });
    } catch {
      /* an unwritable state dir must not stop the service; the exit hook still kills it */
    }
  }
  const forgetRecord = () => {
    if (recordId) opts.record!.sink.clear(recordId);
    recordId = undefined;
  };
  const terminate = () => {
    if (!running) return;
    killTree(child.pid, 'SIGTERM');
    setTimeout(() => {
      if (running) killTree(child.pid, 'SIGKILL');
    }, grace).unref();
  };
  opts.signal?.addEventListener('abort', terminate, { once: true });

  const exited: Promise<ServiceExit & { code?: string }> = done.then((r) => {
    running = false;
    if (child.pid !== undefined) liveGroups.delete(child.pid);
    forgetRecord();
    opts.signal?.removeEventListener('abort', terminate);
    opts.audit?.record({
      argv: shown,
      cwd,
      start: start.toISOString(),
      durationMs: Date.now() - start.getTime(),
      exitCode: r.exitCode,
      ...(r.signal ? { signal: r.signal } : {}),
      ...(opts.step ? { step: opts.step } : {}),
    });
    return { exitCode: r.exitCode, ...(r.signal ? { signal: r.signal } : {}), ...(r.code ? { code: r.code } : {}) };
  });

  // Either it starts, or it fails to (a missing binary is the operator's to fix, not a crash).
  const started = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    void exited.then(() => resolve(false));
  });
  if (!started || child.pid === undefined) {
    const r = await exited;
    if (r.code === 'ENOENT') {
      throw new UserError(`${file} is not installed or not on PATH`, { why: `groundwork needs ${file} to run: ${shown.join(' ')}`, fix: installHint(file!) });
    }
    throw new ToolError(shown, r.exitCode ?? undefined, '', { message: `${shown[0]} could not be started` });
  }

  const service: Service = {
    pid: child.pid,
    exited: exited.then(({ exitCode, signal }) => ({ exitCode, ...(signal ? { signal } : {}) })),
    get running() {
      return running;
    },
    async stop() {
      terminate();
      return service.exited;
    },
  };
  return service;
}
