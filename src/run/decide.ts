/**
 * What the engine does next, as pure functions of what it knows: the plan, the stages that failed, the resume
 * record, the values at hand, cancellation. No I/O, no clock: test/run/decide.test.ts tables them.
 */
import type { StepState } from './records.js';
import type { Plan, RunValues, Step } from './types.js';

/** A stage or step runs, or is skipped with the reason every output says. */
export type Decision = { run: true } | { run: false; summary: string; fix?: string };

const RUN: Decision = { run: true };

/**
 * Whether stage `index` of the plan runs: not after an interruption, not when a stage it needs failed (by
 * default: any earlier stage), not when it cannot run here.
 */
export function decideStage(plan: Plan, index: number, facts: { stopped: boolean; failedStages: ReadonlySet<string> }): Decision {
  const stage = plan.stages[index]!;
  if (facts.stopped) return { run: false, summary: 'not run: interrupted' };
  const earlier = new Set(plan.stages.slice(0, index).map((x) => x.name));
  const blockers = [...facts.failedStages].filter((n) => earlier.has(n) && (stage.needs === undefined || stage.needs.includes(n)));
  if (blockers.length > 0) return { run: false, summary: `not run: it needs stage ${blockers.join(', ')}, which failed` };
  if (stage.unavailable) return { run: false, summary: `cannot run here: ${stage.unavailable.reason}`, ...(stage.unavailable.fix ? { fix: stage.unavailable.fix } : {}) };
  return RUN;
}

export interface StepFacts {
  /** The run was interrupted: nothing more starts. */
  stopped: boolean;
  /** A step of this stage failed (one without continueOnFail): the rest of the stage does not run. */
  stageStopped: boolean;
  /** What the resumed run recorded of this step. */
  prev?: StepState;
  /** The values at hand (a finished step whose secret outputs are gone runs again). */
  values: RunValues;
  /** once.json's record of this step, for a `once` step. */
  once?: { runId: string };
  dryRun: boolean;
  /** Redacts what a dry run says it would run. */
  redact: (text: string) => string;
}

/** Whether a step starts, or why not (the probe `done()` is asked later, by the scheduler: it is I/O). */
export function decideStep(step: Step, f: StepFacts): Decision {
  if (f.stopped) return { run: false, summary: 'not run: interrupted' };
  if (f.stageStopped) return { run: false, summary: 'not run: an earlier step failed' };
  const mustRedo = f.prev?.secretOutputs?.some((k) => !(k in f.values)) && !step.once;
  if (f.prev && f.prev.status !== 'fail' && !mustRedo) return { run: false, summary: `finished in an earlier attempt (${f.prev.summary})` };
  if (f.once) return { run: false, summary: `done once already in run ${f.once.runId}; never repeated` };
  if (f.dryRun) {
    const argv = step.preview?.argv?.map((a) => a.join(' ')).join('; ');
    return { run: false, summary: `dry run${argv ? `: would run ${f.redact(argv)}` : ''}` };
  }
  return RUN;
}

/** The steps a resumed run forgets: those of an atomic stage that did not finish (it runs again whole). */
export function stepsToForget(plan: Plan, steps: Readonly<Record<string, StepState>>): string[] {
  return plan.stages.flatMap((stage) => {
    if (!stage.atomic) return [];
    const finished = stage.steps.every((st) => steps[st.id] && steps[st.id]!.status !== 'fail');
    return finished ? [] : stage.steps.map((st) => st.id).filter((id) => id in steps);
  });
}
