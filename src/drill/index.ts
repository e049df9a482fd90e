/**
 * The `groundwork drill` service: runs a drill plan through the engine, prints the drill report (a timeline on
 * the terminal, or JSON), writes JUnit when asked, and shows the history. Knows nothing about flags.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkOutputFile, type Io } from '../io.js';
import type { RunSummary, StepContext } from '../run/types.js';
import { createDrill, PHASES, type DrillOptions, type DrillReport } from './drill.js';
import { formatBytes, formatCount, formatHistory, formatMs, readDrillHistory, summarizeHistory, historyFile } from './history.js';

export { createDrill, buildDrillPlan, type DrillOptions, type DrillReport, type Drill } from './drill.js';
export { drillTargetFromSpec, type DrillTarget } from './targets.js';
export { resolveLabTarget, checkLabOnRestored, checkRealApiOnRestored } from './lab.js';

export interface RunDrillOptions {
  drill: DrillOptions;
  stateDir: string;
  io: Io;
  json?: boolean;
  junit?: string;
  color?: boolean;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
  renderer?: 'auto' | 'default' | 'simple' | 'verbose' | 'silent';
}

export interface DrillOutcome {
  summary: RunSummary;
  report: DrillReport;
  exitCode: number;
}

function paint(on: boolean, code: number, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

/** The terminal report: verdict, a timeline of the phases, RPO/RTO, sizes and counts, reasons. */
export function formatDrillReport(r: DrillReport, summary: RunSummary, opts: { color?: boolean; width?: number; stateDir?: string } = {}): string {
  const color = opts.color ?? false;
  const verdict = r.status === 'pass' ? paint(color, 32, 'PASSED') : r.status === 'interrupted' ? paint(color, 33, 'INTERRUPTED') : paint(color, 31, 'FAILED');
  const out = [`restore drill of ${r.target}: ${verdict}`];
  const ran = PHASES.filter((p) => r.phases[p]);
  const total = ran.reduce((a, p) => a + r.phases[p]!.ms, 0) || 1;
  const barWidth = 24;
  for (const p of ran) {
    const ph = r.phases[p]!;
    const len = ph.status === 'skip' ? 0 : Math.max(1, Math.round((ph.ms / total) * barWidth));
    const mark = { pass: ' ', warn: '!', fail: 'x', skip: '-' }[ph.status];
    const bar = `${'#'.repeat(len)}${' '.repeat(barWidth - len)}`;
    const line = `  ${mark} ${p.padEnd(10)} ${formatMs(ph.ms).padStart(8)}  |${bar}|  ${ph.summary}`;
    const width = opts.width ?? 160;
    out.push(line.length > width ? `${line.slice(0, width - 1)}…` : line);
  }
  out.push('');
  out.push(`RPO (age of the snapshot when restored): ${formatMs(r.rpoMs)}`);
  out.push(`RTO (restore + boot + verify):           ${formatMs(r.rtoMs)}`);
  if (r.snapshot) out.push(`snapshot: ${formatBytes(r.snapshot.bytes)}, sha256 ${r.snapshot.sha256}${r.snapshot.status ? `, revision ${r.snapshot.status.revision}` : ''}`);
  if (r.restored) out.push(`restored: revision ${r.restored.revision}, ${formatCount(r.restored.total)} keys${r.restored.hash !== undefined ? `, hashkv ${r.restored.hash}` : ''} (${r.restored.tool}${r.restored.bumped ? ', revision bumped' : ''})`);
  if (r.reasons.length > 0) {
    out.push('');
    for (const reason of r.reasons) {
      out.push(`  - ${reason}`);
      // The step's own detail and fix, under the reason it explains.
      const res = summary.results.find((x) => (x.status === 'fail' || x.status === 'warn') && reason.endsWith(x.summary));
      if (res?.detail) out.push(...res.detail.split('\n').slice(0, 6).map((l) => `      ${l}`));
      if (res?.fix) out.push(`    fix: ${res.fix}`);
    }
  }
  out.push('');
  out.push(`run records: ${summary.runDir}`);
  if (opts.stateDir) out.push(`history: ${historyFile(opts.stateDir)} (groundwork drill history)`);
  return `${out.join('\n')}\n`;
}

export async function runDrill(o: RunDrillOptions): Promise<DrillOutcome> {
  if (o.junit) await checkOutputFile('--junit', path.resolve(o.io.cwd, o.junit));
  const drill = createDrill({ ...o.drill, env: o.drill.env ?? o.env });
  const { runPlan } = await import('../run/engine.js');
  const { exitCodeForSummary } = await import('../run/types.js');
  const { Redactor } = await import('../run/secret.js');
  // The run's redactor, also for the drill's own report (its reasons quote tool errors) printed below.
  const redactor = new Redactor();
  const extra: Record<string, unknown> = {};
  const summary = await runPlan(drill.plan, {
    redactor,
    command: 'drill',
    stateDir: o.stateDir,
    io: o.io,
    json: o.json,
    color: o.color,
    signal: o.signal,
    env: o.env,
    renderer: o.renderer,
    printResults: false,
    reportExtra: extra,
    cleanup: [
      async (ctx: StepContext) => {
        await drill.cleanup(ctx);
        // The engine spreads reportExtra after the cleanup hooks: the drill's figures land in report.json.
        extra.drill = drill.report();
      },
    ],
  });
  const report = redactor.redactDeep(drill.report());
  // The drill's own verdict: a warning in verify (e.g. the source compacted) is still a restore that worked.
  const exitCode = report.status === 'interrupted' ? 130 : exitCodeForSummary(summary) || (report.status === 'fail' ? 1 : 0);
  if (o.junit) {
    const { buildJunit } = await import('../run/report.js');
    await writeFile(path.resolve(o.io.cwd, o.junit), buildJunit(summary, 'groundwork drill'));
  }
  if (o.json) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path.join(summary.runDir, 'report.json'), 'utf8'));
    } catch {
      doc = { groundwork: 1, command: 'drill', ...summary, drill: report };
    }
    o.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  } else {
    o.io.stdout.write(redactor.redact(formatDrillReport(report, summary, { color: o.color, width: o.io.stdout.columns, stateDir: o.stateDir })));
  }
  return { summary, report, exitCode };
}

export async function showDrillHistory(o: { stateDir: string; io: Io; json?: boolean; limit?: number; now?: Date }): Promise<number> {
  const { records, unreadable } = await readDrillHistory(o.stateDir);
  const now = o.now ?? new Date();
  if (o.json) {
    o.io.stdout.write(`${JSON.stringify({ file: historyFile(o.stateDir), unreadable, trend: summarizeHistory(records, now), drills: records }, null, 2)}\n`);
  } else {
    o.io.stdout.write(formatHistory(records, now, o.limit));
    if (unreadable > 0) o.io.stderr.write(`warning: ${unreadable} unreadable line(s) in ${historyFile(o.stateDir)} were ignored\n`);
  }
  return 0;
}
