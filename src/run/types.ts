import type { Exec, LeftoverSink } from '../exec/index.js';
import type { Redactor, Secret } from './secret.js';

/** Stage names, in the order setup runs them. */
export const STAGES = ['preflight', 'bootstrap', 'cni', 'monitoring', 'backup', 'validate', 'drill'] as const;
export type StageName = (typeof STAGES)[number];

export type Status = 'pass' | 'warn' | 'fail' | 'skip';

/**
 * What one Step found or did. A failure says what is wrong (summary), why it matters (why) and how to fix it (fix).
 * Reports carry Results, never raw stack traces.
 */
export interface Result {
  id: string;
  title: string;
  stage: string;
  status: Status;
  summary: string;
  detail?: string;
  why?: string;
  fix?: string;
  /** Structured evidence for machines: measurements, matrices, events. Secrets are scrubbed before it is saved. */
  evidence?: unknown;
  durationMs: number;
}

export type StepOutcome = Pick<Result, 'status' | 'summary'> & Partial<Pick<Result, 'detail' | 'why' | 'fix' | 'evidence'>>;

/** What a step would do, shown by `groundwork plan` without running anything. */
interface StepPreview {
  /** Exact argv of every process the step runs (placeholders already rendered; secrets as [redacted]). */
  argv?: string[][];
  /** Files the step writes. */
  files?: string[];
  note?: string;
}

export interface StepContext {
  /** .groundwork/runs/<id> */
  runDir: string;
  /** .groundwork */
  stateDir: string;
  signal: AbortSignal;
  exec: Exec;
  redactor: Redactor;
  dryRun: boolean;
  /** A line of progress for the renderer (stderr). Redacted before display. */
  log(line: string): void;
  /** Values steps hand to later steps, by typed key. Persisted in state.json for --resume (Secrets never are). */
  values: RunValues;
  /**
   * Marks a file as secret: chmod 0600, its contents (and each of its lines) are redacted from every output
   * from now on, and the path is remembered in state.json so a resumed run redacts it too.
   */
  registerSecretFile(path: string): Promise<void>;
  /**
   * The state dir's leftovers.json: record what must not outlive the run (a namespace, a scratch dir, a
   * process group) before making it, forget it once cleaned up. The next run sweeps what is left.
   */
  leftovers?: LeftoverSink;
}

/**
 * What steps hand to later steps. The keys groundwork's own steps share are named and typed here; a playbook
 * step's `capture` adds a key of the playbook's choosing (its stdout, or a Secret).
 */
export interface RunValues {
  /**
   * The admin kubeconfig of the cluster this run works on, when the caller knows it (a lab's); unset: where
   * bootstrap writes it (run/cluster-kubeconfig.ts is the one rule).
   */
  kubeconfig?: string;
  /** kubeadm init's output (join commands with the token and certificate key): secret, dropped once redacted. */
  kubeadmInitOutput?: Secret;
  /** A playbook capture: `{{ values.<name> }}` in a later step. */
  [capture: string]: string | Secret | undefined;
}

export interface Step {
  id: string;
  title: string;
  stage: string;
  run(ctx: StepContext): Promise<StepOutcome>;
  /** Idempotency probe: true means the effect already exists and the step is skipped ("already done"). */
  done?(ctx: StepContext): Promise<boolean>;
  /** Recorded in state.json when it succeeds and never run again in this state dir, even without --resume. */
  once?: boolean;
  timeoutMs?: number;
  retries?: number;
  /** A failing step with continueOnFail lets the rest of its stage run (checks do; side effects don't). */
  continueOnFail?: boolean;
  preview?: StepPreview;
}

export interface Stage {
  name: string;
  title: string;
  steps: Step[];
  /** Run this many steps of the stage at once (node-level steps, independent checks). Default: one at a time. */
  concurrency?: number;
  /**
   * Its steps share in-memory state (a drill's member, a validation session): a resumed run that finds the stage
   * unfinished runs it again from its first step instead of skipping the steps that finished.
   */
  atomic?: boolean;
  /** Runs after the plan, on success, failure and interruption (delete test namespaces, stop a drill member). */
  cleanup?: (ctx: StepContext) => Promise<void>;
  /** Said by `plan` and in reports: what this stage does not do yet, or warnings about the choices. */
  notes?: string[];
  /**
   * The stages this one depends on: a failure in one of them skips this stage ("not run: stage X failed"); a
   * failure elsewhere does not. Unset: every earlier stage (the safe default for side effects).
   */
  needs?: string[];
  /**
   * Why this stage cannot run here (a missing tool): the stage is a skip result with this reason, in the
   * progress, the summary and the report, instead of steps.
   */
  unavailable?: { reason: string; fix?: string };
  /**
   * The stage the run exists for (rehearse's drill): when it is skipped, the run is `incomplete` (exit 1), never
   * "passed".
   */
  headline?: boolean;
}

export interface Plan {
  title: string;
  stages: Stage[];
}

export interface RunSummary {
  runId: string;
  runDir: string;
  /** `incomplete`: nothing failed, but a headline stage could not run (see Stage.headline). */
  status: 'pass' | 'fail' | 'incomplete' | 'interrupted';
  results: Result[];
  /** Headline stages that were skipped, with why: the verdict names them. */
  skippedHeadlines?: { stage: string; title: string; reason: string }[];
  startedAt: string;
  durationMs: number;
  /** Where the run ran, as key/value facts every report states (e.g. { 'lab api': 'real' }): text, JSON, JUnit. */
  ranOn?: Record<string, string>;
}

/** A finished run's exit code (DESIGN: exit codes): 0 passed, 130 interrupted, 1 otherwise. */
export function exitCodeForSummary(s: RunSummary): number {
  return s.status === 'pass' ? 0 : s.status === 'interrupted' ? 130 : 1;
}
