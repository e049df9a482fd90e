/**
 * A run's results and verdict, derived from its event log and nothing else (pure). The text summary, report.json,
 * junit.xml and state.json's status all come from what this returns.
 */
import type { RunEvent } from './events.js';
import type { Plan, Result, RunSummary } from './types.js';

/** Every step's result, in the order the steps ended. */
function resultsOf(events: readonly RunEvent[]): Result[] {
  return events.flatMap((e) => (e.type === 'step-end' ? [e.result] : []));
}

/**
 * Headline stages that did not run (every result a skip, and not because this is a dry run or a resume that
 * found them done): the run is incomplete, and the verdict names them.
 */
export function skippedHeadlines(plan: Plan, results: readonly Result[], dryRun: boolean): NonNullable<RunSummary['skippedHeadlines']> {
  if (dryRun) return [];
  return plan.stages
    .filter((st) => st.headline)
    .flatMap((st) => {
      const rs = results.filter((r) => r.stage === st.name || st.steps.some((x) => x.id === r.id));
      const skipped = rs.length > 0 && rs.every((r) => r.status === 'skip' && !/^finished in an earlier attempt|^done once already/.test(r.summary));
      return skipped ? [{ stage: st.name, title: st.title, reason: rs[0]!.summary }] : [];
    });
}

interface SummaryFacts {
  plan: Plan;
  dryRun: boolean;
  runId: string;
  runDir: string;
  startedAt: string;
  durationMs: number;
  ranOn?: Record<string, string>;
}

/** The run's summary: interrupted if the log says so, failed if a step failed, incomplete if a headline was skipped. */
export function summarize(events: readonly RunEvent[], f: SummaryFacts): RunSummary {
  const results = resultsOf(events);
  const interrupted = events.some((e) => e.type === 'interrupted');
  const headlines = skippedHeadlines(f.plan, results, f.dryRun);
  const status: RunSummary['status'] = interrupted ? 'interrupted' : results.some((r) => r.status === 'fail') ? 'fail' : headlines.length > 0 ? 'incomplete' : 'pass';
  return {
    runId: f.runId,
    runDir: f.runDir,
    status,
    results,
    startedAt: f.startedAt,
    durationMs: f.durationMs,
    ...(headlines.length > 0 ? { skippedHeadlines: headlines } : {}),
    ...(f.ranOn ? { ranOn: f.ranOn } : {}),
  };
}
