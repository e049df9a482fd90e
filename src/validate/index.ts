/**
 * `groundwork validate`: runtime tests against a live cluster, as a Plan of one 'validate' stage whose Steps are
 * the suites (continueOnFail: one broken suite does not hide the others). `buildValidateStage` is also what setup
 * and rehearse run; the engine runs its `cleanup` after the plan so the test namespaces go away on
 * success, failure and Ctrl-C.
 */
import { setMaxListeners } from 'node:events';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { checkOutputFile, type Io } from '../io.js';
import { UserError } from '../errors.js';
import type { Stage, Step, StepContext, StepOutcome, RunSummary } from '../run/types.js';
import { ValidateSession, SUITES, type SuiteName, type ValidateOptions } from './session.js';
import { formatMatrix, type Matrix } from './matrix.js';
import { resolveStateDir } from '../run/state-dir.js';

export { SUITES, type SuiteName, type ValidateOptions } from './session.js';

type SuiteRun = (session: ValidateSession, ctx: StepContext) => Promise<StepOutcome>;

/** Each suite's title and its module, loaded when the suite runs. */
const SUITE_STEPS: Record<SuiteName, { title: string; load: () => Promise<SuiteRun> }> = {
  'control-plane': { title: 'Control plane: API, /readyz, nodes, kube-system, backups', load: async () => (await import('./suites/control-plane.js')).runControlPlane },
  connectivity: { title: 'Connectivity: pod-to-pod (same and cross node), ClusterIP, DNS name', load: async () => (await import('./suites/connectivity.js')).runConnectivity },
  dns: { title: 'DNS: CoreDNS health and Service name resolution', load: async () => (await import('./suites/dns.js')).runDns },
  netpol: { title: 'NetworkPolicy enforcement: default-deny, ingress and egress each proven on their own', load: async () => (await import('./suites/netpol.js')).runNetpol },
  scheduling: { title: 'Scheduling: spread, nodeAffinity, unsatisfiable requests, taints', load: async () => (await import('./suites/scheduling.js')).runScheduling },
  storage: { title: 'Storage: default StorageClass, bind, write, reschedule, read, release', load: async () => (await import('./suites/storage.js')).runStorage },
  security: { title: 'Security: anonymous access, RBAC, Pod Security, host access, audit log, encryption (CIS IDs)', load: async () => (await import('./suites/security.js')).runSecurity },
};

export interface ValidateStage extends Stage {
  /** Deletes the test namespaces (unless keep) and waits for them and their volumes to go. */
  cleanup(ctx: StepContext): Promise<void>;
  session: ValidateSession;
}

/** Parses `--only a,b` into suite names; unknown names are a usage error. */
export function parseSuites(list: string | undefined): SuiteName[] | undefined {
  if (list === undefined || list.trim() === '') return undefined;
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(SUITES as readonly string[]).includes(n));
  if (bad.length) throw new UserError(`unknown suite ${bad.map((b) => `"${b}"`).join(', ')} in --only`, { exitCode: 2, fix: `use some of: ${SUITES.join(', ')}` });
  return [...new Set(names)] as SuiteName[];
}

export function buildValidateStage(opts: ValidateOptions): ValidateStage {
  const session = new ValidateSession(opts);
  const wanted = opts.only ?? [...SUITES];
  const steps: Step[] = SUITES.filter((s) => wanted.includes(s)).map((suite) => ({
    id: suite,
    title: SUITE_STEPS[suite].title,
    stage: 'validate',
    continueOnFail: true,
    // The suites time out their own waits with a diagnosis; this is the backstop for a hung API.
    timeoutMs: session.timeoutMs * 4 + 60_000,
    run: (ctx) => {
      // Many requests and waits share the step's signal at once; that is by design, not a leak.
      setMaxListeners(0, ctx.signal);
      session.bindContext(ctx);
      return SUITE_STEPS[suite].load().then((run) => run(session, ctx));
    },
    preview: { note: suite === 'security' ? 'reads RBAC, namespaces, pods and policies; SubjectAccessReviews; server-side dry runs (a privileged pod, a baseline label); one Secret in groundwork-validate-<run id>, deleted' : `creates objects in namespace groundwork-validate-<run id>${suite === 'netpol' ? '-netpol' : ''}; deleted afterwards unless --keep` },
  }));
  return {
    name: 'validate',
    title: 'Validate the running cluster',
    steps,
    concurrency: steps.length,
    notes: opts.keep ? ['--keep: the test namespaces stay after the run'] : undefined,
    session,
    async cleanup(ctx) {
      await session.cleanup(ctx);
      // Cleanup runs last: the connection is no longer needed (an injected one belongs to the caller).
      if (!opts.kube) await session.close();
    },
  };
}

export interface RunValidateOptions extends ValidateOptions {
  io: Io;
  /** Spec file: spec.images.registry is used unless --image-registry is given (read only if it exists). */
  specFile?: string;
  stateDir?: string;
  json?: boolean;
  junit?: string;
  color?: boolean;
  signal?: AbortSignal;
}

/** The connectivity matrix from a run's results, if that suite ran. */
export function matrixOf(summary: RunSummary): Matrix | undefined {
  const r = summary.results.find((x) => x.id === 'connectivity');
  return (r?.evidence as { matrix?: Matrix } | undefined)?.matrix;
}

/** JUnit with the matrix as the connectivity test case's system-out (the engine's JUnit shows details only on failures). */
export function junitWithMatrix(junit: string, matrix: Matrix | undefined): string {
  if (!matrix) return junit;
  const esc = formatMatrix(matrix).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return junit.replace(/(<testcase name="connectivity"[^>]*?)(\/>|>)/, (_m, open: string, end: string) => (end === '/>' ? `${open}>\n      <system-out>${esc}</system-out>\n    </testcase>` : `${open}>\n      <system-out>${esc}</system-out>`));
}

/** Runs the validate plan; returns the exit code. */
export async function runValidate(o: RunValidateOptions): Promise<number> {
  const { runPlan, resolveRun } = await import('../run/engine.js');
  const { exitCodeForSummary } = await import('../run/types.js');
  const { buildJunit } = await import('../run/report.js');
  let imageRegistry = o.imageRegistry;
  let specNodes = o.specNodes;
  let security = o.security;
  if (o.specFile && existsSync(o.specFile)) {
    const { loadSpec } = await import('../spec/load.js');
    const loaded = await loadSpec(o.specFile);
    imageRegistry ??= loaded.spec.spec.images?.registry;
    const { securityOptionsFromSpec } = await import('./security/expectations.js');
    security = { ...securityOptionsFromSpec(loaded.spec), ...security };
    specNodes ??= loaded.spec.spec.nodes.map((n) => n.name);
  }
  const stateDir = resolveStateDir(o.stateDir, o.specFile && existsSync(o.specFile) ? o.specFile : undefined, o.io.cwd);
  if (o.junit) await checkOutputFile('--junit', o.junit);
  // A kubeconfig problem is a usage error, said before anything runs (not six failed suites).
  const kube = o.kube ?? (await (await import('../kube/index.js')).loadKubeConfig(o.kubeconfig, o.context, { env: o.env }));
  const stage = buildValidateStage({ ...o, imageRegistry, specNodes, security, kube });
  const run = resolveRun(stateDir, 'validate', false);
  const extra: Record<string, unknown> = {};
  const summary = await runPlan(
    // The stage's own cleanup is replaced by the hook below, which also reports what it deleted or kept.
    { title: 'groundwork validate', stages: [{ ...stage, cleanup: undefined }] },
    {
      command: 'validate',
      stateDir,
      io: o.io,
      json: o.json,
      color: o.color,
      signal: o.signal ?? o.io.signal,
      run,
      reportExtra: extra,
      cleanup: [
        async (ctx) => {
          const r = await stage.session.cleanup(ctx);
          extra.cleanup = r;
          if (r.leftovers.length || r.commands?.length) {
            o.io.stderr.write(`warning: cleanup left ${r.leftovers.join(', ') || 'namespaces it could not list'}\n`);
            for (const c of r.commands ?? []) o.io.stderr.write(`  finish it with: ${c}\n`);
          }
          if (r.kept.length) o.io.stderr.write(`--keep: kept ${r.kept.join(', ')}\n`);
        },
      ],
    },
  );
  if (!o.kube) kube.close();
  const matrix = matrixOf(summary);
  if (!o.json && matrix) o.io.stdout.write(`\nconnectivity matrix:\n${formatMatrix(matrix)}\n`);
  if (o.junit) await writeFile(o.junit, junitWithMatrix(buildJunit(summary, 'groundwork validate'), matrix));
  return exitCodeForSummary(summary);
}

/** `--print-rbac`: the ClusterRole as YAML. */
export async function printRbac(io: Io): Promise<void> {
  const { stringify } = await import('yaml');
  const { buildClusterRole } = await import('./objects.js');
  io.stdout.write(`# The least groundwork validate needs. Bind it to the user or service account that runs it:\n#   kubectl create clusterrolebinding groundwork-validate --clusterrole=groundwork-validate --user=NAME\n${stringify(buildClusterRole())}`);
}
