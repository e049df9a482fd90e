/**
 * The setup service: composes the stages of a cluster's Plan from the spec and runs it. Commands stay thin
 * (plan.ts, setup.ts under commands/); stage builders are lazy-imported so `--help` pays for none of them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError, EXIT, formatIssue } from './errors.js';
import type { Io } from './io.js';
import { mkdirInStateDir, resumeFlags, stateDirError, type RunFlags, type RunState } from './run/records.js';
import { STAGES, type Plan, type Stage, type StageName, type RunSummary } from './run/types.js';
import type { LoadedSpec } from './spec/load.js';
import type { Spec } from './spec/schema.js';
import { resolveStateDir } from './run/state-dir.js';

/** What every stage builder is given. */
export interface StagePlanOptions {
  runDir: string;
  stateDir: string;
  ignore?: string[];
  /**
   * Write generated files (Talos patches, kubeadm config, helm values) into runDir while building the plan, so a
   * dry run leaves them for the operator to read and diff. `plan` passes false: it writes nothing.
   */
  writeFiles?: boolean;
}

export type StageBuilder = (loaded: LoadedSpec, opts: StagePlanOptions) => Promise<Stage>;

/** One stage of setup: its name, its one title, what it needs, and how to build it (its module loads lazily). */
interface StageDef {
  readonly name: StageName;
  readonly title: string;
  /** A failure skips only the stages that need the failed one. */
  readonly needs: readonly StageName[];
  readonly build: StageBuilder;
}

const specDirOf = (loaded: LoadedSpec): string => path.dirname(path.resolve(loaded.file));

/**
 * The stages of setup, in the order they run: adding a stage is one entry here (its name also goes into
 * run/types.ts STAGES, the vocabulary playbooks and --stages share; the check below keeps both in step).
 * Validation and the drill both need a running cluster, not each other: a failing validation suite does not keep
 * the drill from running.
 */
export const SETUP_STAGES = [
  {
    name: 'preflight',
    title: 'Check prerequisites',
    needs: [],
    build: async (loaded, o) => (await import('./preflight/stage.js')).buildPreflightStage(loaded, { ignore: o.ignore }),
  },
  {
    name: 'bootstrap',
    title: 'Bootstrap the cluster',
    needs: ['preflight'],
    build: async (loaded, o) => (await import('./bootstrap/stage.js')).buildBootstrapStage(loaded, { runDir: o.runDir, stateDir: o.stateDir, writeFiles: o.writeFiles }),
  },
  {
    name: 'cni',
    title: 'Install the CNI',
    needs: ['preflight', 'bootstrap'],
    build: async (loaded, o) => (await import('./addons/stages.js')).buildCniStage(loaded.spec, { ...o, specDir: specDirOf(loaded) }),
  },
  {
    name: 'monitoring',
    title: 'Install monitoring and logging',
    needs: ['preflight', 'bootstrap', 'cni'],
    build: async (loaded, o) => (await import('./addons/stages.js')).buildMonitoringStage(loaded.spec, { ...o, specDir: specDirOf(loaded) }),
  },
  {
    name: 'backup',
    title: 'Schedule etcd backups',
    needs: ['preflight', 'bootstrap'],
    build: async (loaded, o) => (await import('./addons/stages.js')).buildBackupStage(loaded.spec, o),
  },
  {
    name: 'validate',
    title: 'Validate the running cluster',
    needs: ['preflight', 'bootstrap', 'cni'],
    // The stage finds the kubeconfig the bootstrap stage wrote; the engine runs its cleanup (test namespaces go on
    // success, failure and Ctrl-C).
    build: (loaded) => buildSpecValidateStage(loaded),
  },
  {
    name: 'drill',
    title: 'Rehearse an etcd restore',
    needs: ['preflight', 'bootstrap'],
    // A restore drill of the new cluster's etcd (talosctl, or ssh + etcdctl on the first control plane). Its steps
    // share a member and a scratch directory: atomic on resume, and the engine runs its cleanup.
    build: async (loaded, o) => {
      const { drillTargetFromSpec } = await import('./drill/index.js');
      return buildDrillStage({ target: drillTargetFromSpec(loaded.spec, { talosconfig: path.join(o.stateDir, 'secrets', 'talos', 'talosconfig') }) });
    },
  },
] as const satisfies readonly StageDef[];

/**
 * The validate stage for this spec: its image registry, node names and security expectations; rehearse adds the
 * lab's kubeconfig, nodes and timeout, and marks the security findings as the lab's.
 */
export async function buildSpecValidateStage(loaded: LoadedSpec, o: Omit<Partial<import('./validate/index.js').ValidateOptions>, 'security'> & { rehearsal?: boolean } = {}): Promise<Stage> {
  const { buildValidateStage } = await import('./validate/index.js');
  const { securityOptionsFromSpec } = await import('./validate/security/expectations.js');
  const { rehearsal, ...rest } = o;
  return buildValidateStage({
    imageRegistry: loaded.spec.spec.images.registry || undefined,
    specNodes: loaded.spec.spec.nodes.map((n) => n.name),
    ...rest,
    security: { ...securityOptionsFromSpec(loaded.spec), ...(rehearsal ? { rehearsal: true } : {}) },
  });
}

/** A drill as a plan stage: its steps share a member and a scratch directory (atomic on resume); the engine runs its cleanup. */
export async function buildDrillStage(options: import('./drill/drill.js').DrillOptions): Promise<Stage> {
  const { createDrill } = await import('./drill/index.js');
  const drill = createDrill(options);
  return { ...drill.stage, atomic: true, cleanup: (ctx) => drill.cleanup(ctx) };
}

/** run/types.ts STAGES and SETUP_STAGES name the same stages in the same order (a compile-time check). */
type NamesOf<T extends readonly { name: string }[]> = { -readonly [I in keyof T]: T[I]['name'] };
STAGES satisfies Readonly<NamesOf<typeof SETUP_STAGES>>;

export function parseStages(list: string | undefined): StageName[] | undefined {
  if (!list) return undefined;
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(STAGES as readonly string[]).includes(n));
  if (bad.length > 0)
    throw new UserError(`unknown stage${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`, { exitCode: EXIT.usage, fix: `--stages takes a comma-separated list of: ${STAGES.join(', ')}` });
  return STAGES.filter((s) => names.includes(s));
}

/** A stage built another way (rehearse, the wizard's rehearsal preflight), given the stage's own builder. */
export type StageOverride = (loaded: LoadedSpec, opts: StagePlanOptions, base: () => Promise<Stage>) => Promise<Stage>;

export interface SetupPlanOptions extends StagePlanOptions {
  stages?: readonly StageName[];
  /** Stages built another way, by name. */
  overrides?: Partial<Record<StageName, StageOverride>>;
  /** Stages of the caller's own (rehearse's lab), each placed before the first planned stage from `before` on. */
  extra?: { before: StageName; stage: Stage }[];
  /** The plan's title (default: setup's). */
  title?: string;
}

/**
 * The plan of setup, and of every command that runs setup's stages another way (rehearse, the wizard): the wanted
 * stages in order, each from its builder or its override, with its title and needs from SETUP_STAGES (a builder
 * may add a detail to the title after a colon, and may set needs of its own).
 */
export async function buildSetupPlan(loaded: LoadedSpec, opts: SetupPlanOptions): Promise<Plan> {
  const wanted = new Set<StageName>(opts.stages ?? STAGES);
  const extra = [...(opts.extra ?? [])];
  const stages: Stage[] = [];
  const order = (name: StageName) => STAGES.indexOf(name);
  for (const def of SETUP_STAGES as readonly StageDef[]) {
    if (!wanted.has(def.name)) continue;
    for (const e of extra.filter((x) => order(x.before) <= order(def.name))) stages.push(extra.splice(extra.indexOf(e), 1)[0]!.stage);
    const base = () => def.build(loaded, opts);
    const override = opts.overrides?.[def.name];
    const stage = await (override ? override(loaded, opts, base) : base());
    const title = stage.title.startsWith(`${def.title}: `) ? stage.title : def.title;
    stages.push({ needs: [...def.needs], ...stage, name: def.name, title });
  }
  stages.push(...extra.map((e) => e.stage));
  const { spec } = loaded;
  return {
    title: opts.title ?? `groundwork setup: cluster ${spec.metadata.name} (${spec.spec.bootstrap.method}, ${spec.spec.nodes.length} nodes, CNI ${spec.spec.network.cni}) from ${loaded.file}`,
    stages,
  };
}

export interface SetupOptions {
  file: string;
  stateDir?: string;
  json: boolean;
  color: boolean;
  dryRun: boolean;
  resume: boolean;
  stages?: StageName[];
  ignore?: string[];
  io: Io;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
  /** The spec, already loaded (the wizard's draft); default: loaded from `file`, its warnings on stderr. */
  loaded?: LoadedSpec;
  /** Stages built another way, by name (tests: short waits). */
  overrides?: SetupPlanOptions['overrides'];
  /** With --resume, the resumed run's recorded --stages and --ignore replace the ones given (the wizard's). */
  resumedFlagsWin?: boolean;
  /** The caller's own renderer (the wizard draws the run's store itself): the results are not printed. */
  renderer?: import('./run/renderers.js').Renderer;
}

/**
 * One state dir belongs to one cluster: its secrets (Talos secrets, kubeconfig) and once-only records (bootstrap)
 * would otherwise be taken for another cluster's (two specs side by side share `.groundwork`). The first real run
 * claims the dir; a different cluster is refused before anything runs.
 */
export function claimStateDir(stateDir: string, spec: Spec): void {
  const file = path.join(stateDir, 'cluster.json');
  const me = { name: spec.metadata.name, endpoint: spec.spec.endpoint };
  if (existsSync(file)) {
    let owner: { name?: string; endpoint?: string } = {};
    try {
      owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner;
    } catch {
      /* unreadable: claim it anew */
    }
    if (owner.name !== undefined && (owner.name !== me.name || owner.endpoint !== me.endpoint)) {
      throw new UserError(`the state dir ${stateDir} belongs to cluster "${owner.name}" (${owner.endpoint}), not "${me.name}" (${me.endpoint})`, {
        exitCode: EXIT.usage,
        why: 'its secrets, kubeconfig and once-only bootstrap records are that cluster\'s; sharing them would act on the wrong cluster',
        fix: `keep each cluster's spec in its own directory, or pass --state-dir .groundwork-${me.name}`,
      });
    }
    if (owner.name !== undefined) return;
  }
  mkdirInStateDir(stateDir, stateDir);
  try {
    writeFileSync(file, `${JSON.stringify(me, null, 2)}\n`);
  } catch (err) {
    throw stateDirError(stateDir, err) ?? err;
  }
}

/** Loads and validates the spec; its warnings (an even control-plane count, flannel) go to stderr. */
export async function loadSpecAndWarn(file: string, io: Pick<Io, 'stderr'>): Promise<LoadedSpec> {
  const { loadSpec } = await import('./spec/load.js');
  const loaded = await loadSpec(file);
  for (const w of loaded.warnings) io.stderr.write(`${formatIssue(w)}\n`);
  return loaded;
}

/**
 * --stages and --ignore of this run: recorded in its state; with --resume, the interrupted run's (a different
 * value given again is a usage error naming both).
 */
export function setupFlags(resumed: RunState | undefined, given: { stages?: StageName[]; ignore?: string[] }): { stages?: StageName[]; ignore?: string[]; flags: RunFlags } {
  const asked: RunFlags = { ...(given.stages ? { stages: given.stages } : {}), ...(given.ignore?.length ? { ignore: given.ignore } : {}) };
  const flags = resumeFlags(resumed, asked, (f, v) => (f === 'stages' ? `--stages ${v.join(',')}` : v.map((x) => `--${f} ${x}`).join(' ')));
  return { stages: flags.stages ? parseStages(flags.stages.join(',')) : undefined, ignore: flags.ignore, flags };
}

export async function runSetup(opts: SetupOptions): Promise<RunSummary> {
  const { resolveRun, runPlan } = await import('./run/engine.js');
  const loaded = opts.loaded ?? (await loadSpecAndWarn(opts.file, opts.io));
  const stateDir = resolveStateDir(opts.stateDir, opts.file, opts.io.cwd);
  if (!opts.dryRun) claimStateDir(stateDir, loaded.spec);
  const run = resolveRun(stateDir, 'setup', opts.resume);
  const { stages, ignore, flags } = setupFlags(run.resumed, opts.resumedFlagsWin && run.resumed?.flags ? {} : opts);
  const plan = await buildSetupPlan(loaded, { stages, runDir: run.runDir, stateDir, ignore, writeFiles: true, overrides: opts.overrides });
  return runPlan(plan, {
    flags,
    command: 'setup',
    stateDir,
    io: opts.io,
    json: opts.json,
    color: opts.color,
    resume: opts.resume,
    dryRun: opts.dryRun,
    signal: opts.signal,
    env: opts.env,
    specFile: path.resolve(opts.file),
    run,
    ...(opts.renderer ? { renderer: opts.renderer, printResults: false } : {}),
    reportExtra: { cluster: loaded.spec.metadata.name, stages: plan.stages.map((s) => ({ name: s.name, notes: s.notes ?? [] })) },
  });
}

export async function printPlan(opts: { file: string; stateDir?: string; json: boolean; stages?: string; io: Io }): Promise<void> {
  const { formatPlan, planToJson } = await import('./run/plan-text.js');
  const loaded = await loadSpecAndWarn(opts.file, opts.io);
  const stateDir = resolveStateDir(opts.stateDir, opts.file, opts.io.cwd);
  // Nothing runs and nothing is written: paths show where a new run would put its files.
  const runDir = path.join(stateDir, 'runs', '<run-id>');
  const plan = await buildSetupPlan(loaded, { stages: parseStages(opts.stages), runDir, stateDir, writeFiles: false });
  opts.io.stdout.write(opts.json ? `${JSON.stringify(planToJson(plan), null, 2)}\n` : formatPlan(plan));
}
