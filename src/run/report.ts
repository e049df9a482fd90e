/** Results as text (the TTY table), as JUnit XML and as the JSON report. Pure. */
import { formatDuration } from '../duration.js';
import type { Plan, Result, RunSummary } from './types.js';
import { resultCounts } from './records.js';

const LABEL = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' } as const;

function paint(on: boolean, code: number, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

export function formatResult(r: Result, color = false): string {
  const colour = { pass: 32, warn: 33, fail: 31, skip: 90 }[r.status];
  const lines = [`${paint(color, colour, `[${LABEL[r.status]} ${r.id}]`)} ${r.summary}`];
  if (r.status === 'fail' || r.status === 'warn') {
    if (r.detail) lines.push(...r.detail.split('\n').map((l) => `    ${l}`));
    if (r.why) lines.push(`    why: ${r.why}`);
    if (r.fix) lines.push(`    fix: ${r.fix}`);
  }
  return lines.join('\n');
}

export function formatSummary(summary: RunSummary, color = false): string {
  const out: string[] = [];
  let stage = '';
  for (const r of summary.results) {
    if (r.stage !== stage) {
      stage = r.stage;
      out.push(`${stage}:`);
    }
    out.push(
      formatResult(r, color)
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  const c = resultCounts(summary.results);
  const verdict = { pass: 'passed', fail: 'failed', incomplete: 'INCOMPLETE', interrupted: 'interrupted' }[summary.status];
  out.push('');
  // A skipped headline stage is said on its own line, above the counts: it is what the run was for.
  for (const h of summary.skippedHeadlines ?? []) out.push(paint(color, 33, `SKIPPED ${h.stage}: ${h.title} did not run: ${h.reason.replace(/^cannot run here: /, '')}`));
  for (const [k, v] of Object.entries(summary.ranOn ?? {})) out.push(`${k}: ${v}`);
  out.push(`${verdict}: ${c.pass} passed, ${c.warn} warnings, ${c.fail} failed, ${c.skip} skipped in ${formatDuration(summary.durationMs, { fixed: true })}`);
  out.push(`run records: ${summary.runDir}`);
  return `${out.join('\n')}\n`;
}

function xmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // Control characters other than tab/newline are not allowed in XML 1.0.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

export function buildJunit(summary: RunSummary, name: string): string {
  const byStage = new Map<string, Result[]>();
  for (const r of summary.results) {
    const rs = byStage.get(r.stage);
    if (rs) rs.push(r);
    else byStage.set(r.stage, [r]);
  }
  const suites: string[] = [];
  const ranOn = Object.entries(summary.ranOn ?? {});
  const properties = ranOn.length === 0 ? '' : `    <properties>\n${ranOn.map(([k, v]) => `      <property name="${xmlEscape(k)}" value="${xmlEscape(v)}"/>`).join('\n')}\n    </properties>\n`;
  for (const [stage, rs] of byStage) {
    const c = resultCounts(rs);
    const time = rs.reduce((a, r) => a + r.durationMs, 0) / 1000;
    const cases = rs.map((r) => {
      const attrs = `name="${xmlEscape(r.id)}" classname="groundwork.${xmlEscape(stage)}" time="${(r.durationMs / 1000).toFixed(3)}"`;
      const text = xmlEscape([r.summary, r.detail, r.why && `why: ${r.why}`, r.fix && `fix: ${r.fix}`].filter(Boolean).join('\n'));
      if (r.status === 'fail') return `    <testcase ${attrs}>\n      <failure message="${xmlEscape(r.summary)}">${text}</failure>\n    </testcase>`;
      if (r.status === 'skip') return `    <testcase ${attrs}>\n      <skipped message="${xmlEscape(r.summary)}"/>\n    </testcase>`;
      if (r.status === 'warn') return `    <testcase ${attrs}>\n      <system-out>WARN: ${text}</system-out>\n    </testcase>`;
      return `    <testcase ${attrs}/>`;
    });
    suites.push(
      `  <testsuite name="${xmlEscape(stage)}" tests="${rs.length}" failures="${c.fail}" errors="0" skipped="${c.skip}" time="${time.toFixed(3)}">\n${properties}${cases.join('\n')}\n  </testsuite>`,
    );
  }
  const c = resultCounts(summary.results);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${xmlEscape(name)}" tests="${summary.results.length}" failures="${c.fail}" time="${(summary.durationMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}

/** report.json (and --json's stdout): the summary with the command, the plan's title and notes, what was swept. */
export function buildReport(
  summary: RunSummary,
  o: { command: string; plan: Plan; sweep?: { swept: unknown[]; failed: unknown[] }; extra?: Record<string, unknown> },
): Record<string, unknown> {
  return {
    groundwork: 1,
    command: o.command,
    plan: o.plan.title,
    ...summary,
    notes: o.plan.stages.flatMap((s) => (s.notes ?? []).map((n) => `${s.name}: ${n}`)),
    ...(o.sweep && (o.sweep.swept.length || o.sweep.failed.length) ? { leftovers: o.sweep } : {}),
    ...o.extra,
  };
}
