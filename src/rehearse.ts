/**
 * `groundwork rehearse`: the whole flow on one machine. Starts a throw-away etcd and a lab shaped by the spec
 * (or the embedded 3+2 lab spec), then runs every stage that exists against it: preflight of this machine, the
 * bootstrap and add-on stages as a dry run (what would run, with the files they would use), runtime validation
 * against the lab, and a restore drill of the lab's etcd. Prints a summary and shuts everything down.
 * Nothing leaves this machine: the lab and its etcd listen on loopback only.
 */
import { existsSync } from 'node:fs';
import { ensureRunDir } from './run/records.js';
import { resolveStateDir } from './run/state-dir.js';
import { formatDuration } from './duration.js';
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { EXIT, UserError } from './errors.js';
import { MAX_LAB_NODES, labNodeAddress } from './lab/store/limits.js';
import type { Io } from './io.js';
import { STAGES, type RunSummary, type Stage, type StageName, type Step, type StepContext } from './run/types.js';
import type { LoadedSpec } from './spec/load.js';
import type { Spec } from './spec/schema.js';
import { buildDrillStage, buildSetupPlan, buildSpecValidateStage, loadSpecAndWarn, type StageOverride } from './setup.js';

export interface RehearseOptions {
  /** A spec file; when it doesn't exist the embedded lab spec is used. */
  file: string;
  /** Reshape the lab to N nodes (3 control planes from 3 nodes up, else 1). */
  nodes?: number;
  faults?: string[];
  stateDir?: string;
  json: boolean;
  color: boolean;
  io: Io;
  signal?: AbortSignal;
  /** Which stages to rehearse (default all). */
  stages?: StageName[];
  /** Validation waits, seconds (default 120). */
  timeoutS?: number;
  /** How long to wait for the lab to settle before validating anyway (ms, default 90 s; tests shorten it). */
  settleTimeoutMs?: number;
  /** The lab's API: 'real' (kube-apiserver, kube-controller-manager, kube-scheduler and etcd on loopback) or
   *  'embedded' (the in-process one). Default: real when its programs are there (PATH or the real-tools cache). */
  api?: 'real' | 'embedded';
  /** The caller's own renderer (the wizard draws the run's store itself): the results are not printed. */
  renderer?: import('./run/renderers.js').Renderer;
}

/** How to get what the drill needs (README: the main job runs it). */
const ETCD_FIX = 'run `npm run lab-tools` (or apt-get install etcd-server etcd-client)';

export const EMBEDDED_SPEC = fileURLToPath(new URL('../examples/lab.yaml', import.meta.url));

/** The spec with N nodes: 3 control planes from 3 nodes up (1 below), the rest workers, on 127.0.100.11 on. */
export function reshapeNodes(spec: Spec, n: number): Spec {
  if (!Number.isInteger(n) || n < 1 || n > MAX_LAB_NODES) throw new UserError(`--nodes must be between 1 and ${MAX_LAB_NODES}, not ${n}`, { exitCode: EXIT.usage });
  const cps = n >= 3 ? 3 : 1;
  const nodes = Array.from({ length: n }, (_, i) => {
    const cp = i < cps;
    return { name: cp ? `cp-${i + 1}` : `w-${i - cps + 1}`, address: labNodeAddress(i + 10), role: cp ? ('control-plane' as const) : ('worker' as const) };
  });
  return { ...spec, spec: { ...spec.spec, nodes } };
}

/** Steps that would act on real machines become previews: the rehearsal shows them and runs nothing. */
function asRehearsal(stage: Stage): Stage {
  return {
    ...stage,
    concurrency: undefined,
    notes: [...(stage.notes ?? []), 'rehearsal: shown, not run (the lab stands in for real machines)'],
    steps: stage.steps.map(
      (s): Step => ({
        id: s.id,
        title: s.title,
        stage: s.stage,
        preview: s.preview,
        async run() {
          const argv = s.preview?.argv?.map((a) => a.join(' ')).join('; ');
          return { status: 'skip', summary: argv ? `rehearsal: would run ${argv}` : 'rehearsal: would run on the real nodes' };
        },
      }),
    ),
  };
}

/**
 * Tools this rehearsal itself runs, with what for: preflight keeps their absence a failure, and the stage that
 * runs them fails with the same words (a warning there and a failure later would contradict each other).
 */
export type RehearsalNeeds = Record<string, string>;

/** Why the rehearsal's drill needs kubectl: it lists the restored data through a lab API server with it. */
export const KUBECTL_FOR_DRILL = "the drill lists the restored data through a lab API server with the real kubectl";

/** Preflight in a rehearsal checks this machine and the spec; findings that would block a real run are warnings. */
export async function buildRehearsalPreflight(loaded: LoadedSpec, ignore: string[] = [], needs: RehearsalNeeds = {}): Promise<Stage> {
  const { buildPreflightStage } = await import('./preflight/stage.js');
  return preflightAsAdvice(buildPreflightStage(loaded, { role: 'operator', remote: false, reach: false, ignore }), needs);
}

/** The rehearsal's preflight in place of setup's (the wizard's rehearsal mode too). */
export function rehearsalPreflight(ignore: string[] = [], needs: RehearsalNeeds = {}): StageOverride {
  return (loaded) => buildRehearsalPreflight(loaded, ignore, needs);
}

/** A stage that would act on real machines, shown and not run; it needs nothing (nothing of it runs). */
const shownNotRun: StageOverride = async (_loaded, _opts, base) => ({ ...asRehearsal(await base()), needs: [] });

function preflightAsAdvice(stage: Stage, needs: RehearsalNeeds): Stage {
  return {
    ...stage,
    needs: [],
    notes: [...(stage.notes ?? []), 'rehearsal: node reachability is not checked (the lab simulates the nodes); failures are reported as warnings, except for tools this rehearsal runs'],
    steps: stage.steps.map((s) => ({
      ...s,
      async run(ctx: StepContext) {
        const r = await s.run(ctx);
        if (r.status !== 'fail') return r;
        const tool = s.id.startsWith('tool-') ? s.id.slice('tool-'.length) : undefined;
        const neededFor = tool === undefined ? undefined : needs[tool];
        // Missing, the tool stops the rehearsal; present but older than the spec's cluster wants, it still talks to
        // the lab (the real run's requirement stays a warning below).
        const missing = (r.evidence as { path?: unknown } | undefined)?.path == null;
        if (neededFor && missing) return { ...r, summary: `${r.summary}: this rehearsal needs it (${neededFor})` };
        return { ...r, status: 'warn' as const, summary: `${r.summary} (would fail a real run)` };
      },
    })),
  };
}

/** The drill's lab check, refusing at once (in preflight's words) when kubectl is missing. */
function labCheckNeedingKubectl(haveKubectl: boolean, check: import('./drill/drill.js').LabCheck): import('./drill/drill.js').LabCheck {
  if (haveKubectl) return check;
  return async () => {
    const { installHint } = await import('./exec/index.js');
    return { status: 'fail', summary: `kubectl is not on PATH: this rehearsal needs it (${KUBECTL_FOR_DRILL})`, fix: installHint('kubectl') };
  };
}

/**
 * A freshly started lab, like a freshly installed cluster, needs a moment: kube-system workloads (CNI agents,
 * CoreDNS) come up after the nodes. Validation starts once they are Ready, as it would after the add-on gates.
 */
function labSettledStage(timeoutMs = 90_000): Stage {
  return {
    name: 'lab',
    title: 'Wait for the lab',
    needs: [],
    steps: [
      {
        id: 'lab-settled',
        title: "Wait for the lab's kube-system workloads to be Ready",
        stage: 'lab',
        async run(ctx) {
          const { loadKubeConfig } = await import('./kube/index.js');
          const { lookWorkloads } = await import('./addons/gates.js');
          const { pollUntil } = await import('./run/sleep.js');
          const { clusterKubeconfig } = await import('./run/cluster-kubeconfig.js');
          const kube = await loadKubeConfig(clusterKubeconfig(ctx).path);
          const { view, done } = await pollUntil(() => lookWorkloads(kube, ['kube-system'], ctx.signal), (v) => v.ready, { timeoutMs, intervalMs: 250, signal: ctx.signal });
          // Not settling is what some faults do (dns-down, cni-not-ready, node-not-ready): a warning, so validate
          // still runs and says what it finds rather than hiding behind this gate.
          return done
            ? { status: 'pass', summary: view.summary }
            : { status: 'warn', summary: `the lab did not settle within ${formatDuration(timeoutMs)}: ${view.summary}; validating anyway`, why: 'a fault the lab was started with (--fault) or a slow machine keeps kube-system from becoming Ready', fix: 'read the validate results below: they name what is broken' };
        },
      },
    ],
  };
}

async function loadRehearsalSpec(o: RehearseOptions): Promise<LoadedSpec> {
  const loaded = await loadSpecAndWarn(existsSync(o.file) ? o.file : EMBEDDED_SPEC, o.io);
  return o.nodes === undefined ? loaded : { ...loaded, spec: reshapeNodes(loaded.spec, o.nodes) };
}

export async function runRehearse(o: RehearseOptions): Promise<RunSummary> {
  const loaded = await loadRehearsalSpec(o);
  const stateDir = resolveStateDir(o.stateDir, existsSync(o.file) ? o.file : undefined, o.io.cwd);
  const { resolveRun, runPlan } = await import('./run/engine.js');
  const run = resolveRun(stateDir, 'rehearse', false);
  ensureRunDir(run.runDir, stateDir);
  const wanted = new Set<StageName>(o.stages ?? STAGES);
  const say = (line: string) => {
    if (!o.renderer) o.io.stderr.write(`${line}\n`);
  };

  // --api real asked for explicitly without its programs: say which are missing and the command that builds them.
  const { api, programs } = (await import('./lab/real/control-plane.js')).chooseLabApi(o.api, o.io.env);
  // On the embedded API the lab's store is a real etcd when one is installed, so the drill can restore it; on the
  // real API its kube-apiserver's etcd is the drill's source.
  const { spawnService } = await import('./exec/index.js');
  const member = await import('./drill/member.js');
  const { realWorld } = await import('./preflight/world.js');
  const world = realWorld(o.io.env);
  const haveEtcd = api === 'real' || (await world.which('etcd')) !== undefined;
  const haveKubectl = (await world.which('kubectl')) !== undefined;
  let etcd: Awaited<ReturnType<typeof spawnService>> | undefined;
  let etcdUrl: string | undefined;
  // The lab's etcd data is scratch: removed at the end, so rehearsals don't pile up WAL files in run records.
  const labEtcdDir = path.join(run.runDir, 'lab-etcd');
  // What an earlier rehearsal here left (a second Ctrl-C, SIGKILL) goes first; this one's etcd is written down.
  const { Leftovers, sweepLeftovers } = await import('./run/leftovers.js');
  const { createExec } = await import('./exec/index.js');
  const swept = await sweepLeftovers(stateDir, createExec({ env: o.io.env, signal: o.signal }), say, { env: o.io.env, signal: o.signal });
  const leftovers = new Leftovers(stateDir, run.runId);
  const dirRecord = leftovers.add(`the lab's etcd data ${labEtcdDir}`, { dirs: [labEtcdDir] });
  const stops: Array<() => Promise<unknown>> = [() => rm(labEtcdDir, { recursive: true, force: true }).then(() => leftovers.clear(dirRecord))];
  try {
    if (api === 'embedded' && haveEtcd) {
      const addr = await member.allocateMember();
      const argv = member.buildMemberArgv(labEtcdDir, addr);
      member.assertLoopbackOnly(argv);
      // Not stopped by Ctrl-C itself: cleanup runs in order (test namespaces, then the lab, then its etcd), and
      // the lab's API needs its store until the namespaces are gone.
      etcd = await spawnService(argv, { record: { sink: leftovers, what: "the lab's etcd" } });
      stops.unshift(() => etcd!.stop());
      const ok = await member.waitHealthy(addr.clientUrl, { timeoutMs: 20_000, signal: o.signal, exited: etcd.exited });
      if (!ok.ok) throw new UserError(`the lab's etcd did not start: ${ok.reason}`, { fix: 'check that etcd runs on this machine: `etcd --version`' });
      etcdUrl = addr.clientUrl;
    } else if (api === 'embedded') say(`etcd is not installed: the lab keeps its objects in memory and the restore drill is SKIPPED; to run it, ${ETCD_FIX}`);

    const { startLab } = await import('./lab/index.js');
    const { startControllers } = await import('./lab/controllers/index.js');
    const lab = await startLab({
      api,
      spec: loaded.spec,
      etcd: etcdUrl,
      faults: o.faults,
      controllers: startControllers,
      kubeconfigPath: path.join(run.runDir, 'lab.kubeconfig'),
      controlPlaneOptions: { programs, record: { sink: leftovers, what: "the lab's control plane" } },
    });
    stops.unshift(() => lab.stop());
    if (api === 'real') etcdUrl = lab.etcdUrl;
    const apiWords = api === 'real' ? 'the real control plane (kube-apiserver, kube-controller-manager, kube-scheduler)' : 'the embedded API';
    say(`lab: ${lab.nodes.length} nodes at ${lab.url} on ${apiWords} (kubeconfig ${lab.kubeconfigPath})${etcdUrl ? `, store etcd ${etcdUrl}` : ''}`);

    const drillRuns = wanted.has('drill') && etcdUrl !== undefined;
    const labStage = labSettledStage(o.settleTimeoutMs);
    const plan = await buildSetupPlan(loaded, {
      title: `groundwork rehearse: cluster ${loaded.spec.metadata.name} on the lab (${api} API, ${lab.nodes.length} nodes, CNI ${loaded.spec.spec.network.cni}${o.faults?.length ? `, faults ${o.faults.join(', ')}` : ''})`,
      stages: [...wanted],
      runDir: run.runDir,
      stateDir,
      writeFiles: true,
      // Validation and the drill need only the lab, which settles first.
      extra: wanted.has('validate') || wanted.has('drill') ? [{ before: 'validate', stage: labStage }] : [],
      overrides: {
        preflight: rehearsalPreflight([], drillRuns ? { kubectl: KUBECTL_FOR_DRILL } : {}),
        bootstrap: shownNotRun,
        cni: shownNotRun,
        monitoring: shownNotRun,
        backup: shownNotRun,
        // A failing suite does not keep the drill from running.
        validate: async () => ({
          ...(await buildSpecValidateStage(loaded, { throwAwayCluster: true, rehearsal: true, timeoutS: o.timeoutS, specNodes: lab.nodes.map((n) => n.name) })),
          needs: [labStage.name],
        }),
        drill: async () => {
          // The title is the stage's own (SETUP_STAGES).
          if (!etcdUrl) return { name: 'drill', title: '', steps: [], needs: [labStage.name], headline: true, unavailable: { reason: 'etcd is not installed on this machine', fix: ETCD_FIX } };
          const { checkLabOnRestored, checkRealApiOnRestored } = await import('./drill/index.js');
          const labCheck: import('./drill/drill.js').LabCheck = programs ? (restored, ctx) => checkRealApiOnRestored(restored, ctx, programs) : checkLabOnRestored;
          const stage = await buildDrillStage({ target: { kind: 'lab', endpoints: [etcdUrl] }, labCheck: labCheckNeedingKubectl(haveKubectl, labCheck), sentinel: true, scratch: path.join(run.runDir, 'drill-scratch') });
          return { ...stage, needs: [labStage.name], headline: true };
        },
      },
    });
    return await runPlan(plan, {
      command: 'rehearse',
      stateDir,
      io: o.io,
      json: o.json,
      color: o.color,
      signal: o.signal,
      run,
      // The cluster every stage works on: the lab's, given once (validation finds it in the run's values).
      values: { kubeconfig: lab.kubeconfigPath },
      // Swept before the lab started (its etcd's leftovers must go first): in the report, and not swept twice.
      swept,
      specFile: existsSync(o.file) ? path.resolve(o.file) : undefined,
      ...(o.renderer ? { renderer: o.renderer, printResults: false } : {}),
      reportExtra: { cluster: loaded.spec.metadata.name, lab: { api, nodes: lab.nodes.map((n) => n.name), faults: o.faults ?? [], store: etcdUrl ? 'etcd' : 'memory' } },
      ranOn: { 'lab api': api === 'real' ? 'real (kube-apiserver, kube-controller-manager, kube-scheduler, etcd)' : 'embedded' },
    });
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    leftovers.flush();
  }
}
