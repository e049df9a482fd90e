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

export interface SetupPlanOptions {
  stages?: StageName[];
  runDir: string;
  stateDir: string;
  ignore?: string[];
  /**
   * Write generated files (Talos patches, kubeadm config, helm values) into runDir while building the plan, so a
   * dry run leaves them for the operator to read and diff. `plan` passes false: it writes nothing.
   */
  writeFiles?: boolean;
}

export function parseStages(list: string | undefined): StageName[] | undefined {
  if (!list) return undefined;
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(STAGES as readonly string[]).includes(n));
  if (bad.length > 0)
    throw new UserError(`unknown stage${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`, { exitCode: EXIT.usage, fix: `--stages takes a comma-separated list of: ${STAGES.join(', ')}` });
  return STAGES.filter((s) => names.includes(s));
}

const STAGE_TITLES: Record<StageName, string> = {
  preflight: 'Check prerequisites',
  bootstrap: 'Bootstrap the cluster',
  cni: 'Install the CNI',
  monitoring: 'Install monitoring and logging',
  backup: 'Schedule etcd backups',
  validate: 'Validate the running cluster',
  drill: 'Rehearse an etcd restore',
};

/**
 * What each setup stage depends on: a failure skips only the stages that need the failed one. Validation and the
 * drill both need a running cluster, not each other: a failing validation suite does not keep the drill from running.
 */
export const STAGE_NEEDS: Record<StageName, StageName[]> = {
  preflight: [],
  bootstrap: ['preflight'],
  cni: ['preflight', 'bootstrap'],
  monitoring: ['preflight', 'bootstrap', 'cni'],
  backup: ['preflight', 'bootstrap'],
  validate: ['preflight', 'bootstrap', 'cni'],
  drill: ['preflight', 'bootstrap'],
};

type StageBuilder = (loaded: LoadedSpec, opts: SetupPlanOptions) => Promise<Stage>;

const BUILDERS: Partial<Record<StageName, StageBuilder>> = {};

/** Registers a stage builder (done by the module that owns the stage, imported lazily below). */
export function registerStageBuilder(name: StageName, builder: StageBuilder): void {
  BUILDERS[name] = builder;
}

async function loadBuilders(): Promise<void> {
  // Each import registers its builder. Kept in one place so adding a stage is one line.
  await Promise.all(STAGE_MODULES.map((load) => load()));
}

/** Lazy loaders of the stage modules that exist. */
const STAGE_MODULES: Array<() => Promise<unknown>> = [
  () => import('./preflight/register.js'),
  () => import('./bootstrap/register.js'),
  () => import('./addons/stages.js'),
  () => import('./validate/register.js'),
  () => import('./drill/register.js'),
];

export async function buildSetupPlan(loaded: LoadedSpec, opts: SetupPlanOptions): Promise<Plan> {
  await loadBuilders();
  const wanted = opts.stages ?? [...STAGES];
  const stages: Stage[] = [];
  for (const name of wanted) {
    const builder = BUILDERS[name];
    const stage: Stage = builder ? await builder(loaded, opts) : { name, title: STAGE_TITLES[name], steps: [], notes: ['not available in this build'] };
    stages.push({ needs: STAGE_NEEDS[name], ...stage });
  }
  const { spec } = loaded;
  return {
    title: `groundwork setup: cluster ${spec.metadata.name} (${spec.spec.bootstrap.method}, ${spec.spec.nodes.length} nodes, CNI ${spec.spec.network.cni}) from ${loaded.file}`,
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
}

export function stateDirFor(file: string, stateDir: string | undefined): string {
  return stateDir ? path.resolve(stateDir) : path.join(path.dirname(path.resolve(file)), '.groundwork');
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
  const loaded = await loadSpecAndWarn(opts.file, opts.io);
  const stateDir = stateDirFor(opts.file, opts.stateDir);
  if (!opts.dryRun) claimStateDir(stateDir, loaded.spec);
  const run = resolveRun(stateDir, 'setup', opts.resume);
  const { stages, ignore, flags } = setupFlags(run.resumed, opts);
  const plan = await buildSetupPlan(loaded, { stages, runDir: run.runDir, stateDir, ignore, writeFiles: true });
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
    reportExtra: { cluster: loaded.spec.metadata.name, stages: plan.stages.map((s) => ({ name: s.name, notes: s.notes ?? [] })) },
  });
}

export async function printPlan(opts: { file: string; stateDir?: string; json: boolean; stages?: string; io: Io }): Promise<void> {
  const { formatPlan, planToJson } = await import('./run/plan-text.js');
  const loaded = await loadSpecAndWarn(opts.file, opts.io);
  const stateDir = stateDirFor(opts.file, opts.stateDir);
  // Nothing runs and nothing is written: paths show where a new run would put its files.
  const runDir = path.join(stateDir, 'runs', '<run-id>');
  const plan = await buildSetupPlan(loaded, { stages: parseStages(opts.stages), runDir, stateDir, writeFiles: false });
  opts.io.stdout.write(opts.json ? `${JSON.stringify(planToJson(plan), null, 2)}\n` : formatPlan(plan));
}
