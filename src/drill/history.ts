/**
 * Drill history: every drill appends one line to <stateDir>/drills.jsonl; `groundwork drill history` reads it
 * line by line (the file grows for years) and shows the trend: RTO over time and the last success.
 */
import { appendFile } from 'node:fs/promises';
import { makeDirs } from '../run/records.js';
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { formatDuration } from '../duration.js';

export interface DrillRecord {
  version: 1;
  id: string;
  runId?: string;
  at: string;
  target: string;
  status: 'pass' | 'fail' | 'interrupted';
  reasons: string[];
  /** Age of the snapshot when the drill restored it. */
  rpoMs?: number;
  /** restore + boot + verify: how long getting a serving copy of the data takes. */
  rtoMs?: number;
  phases: Record<string, { ms: number; status: string }>;
  revision?: number;
  keys?: number;
  snapshotBytes?: number;
  sha256?: string;
  etcdVersion?: string;
}

export function historyFile(stateDir: string): string {
  return path.join(stateDir, 'drills.jsonl');
}

export async function appendDrillRecord(stateDir: string, rec: DrillRecord): Promise<void> {
  makeDirs(stateDir);
  await appendFile(historyFile(stateDir), `${JSON.stringify(rec)}\n`, { mode: 0o600 });
}

/** Reads every record; lines that are not records (a torn write, a hand edit) are counted, not fatal. */
export async function readDrillHistory(stateDir: string): Promise<{ records: DrillRecord[]; unreadable: number }> {
  const file = historyFile(stateDir);
  const records: DrillRecord[] = [];
  let unreadable = 0;
  if (!existsSync(file)) return { records, unreadable };
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as DrillRecord;
      if (r && typeof r.at === 'string' && typeof r.status === 'string') records.push(r);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  return { records, unreadable };
}

export interface HistoryTrend {
  drills: number;
  passed: number;
  lastSuccess?: DrillRecord;
  last?: DrillRecord;
  /** Median RTO of the last 5 passing drills and of the 5 before them: drift shows as a ratio. */
  recentRtoMs?: number;
  earlierRtoMs?: number;
  /** Days since the last successful drill, at `now`. */
  daysSinceSuccess?: number;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

export function summarizeHistory(records: DrillRecord[], now: Date = new Date()): HistoryTrend {
  const sorted = [...records].sort((a, b) => a.at.localeCompare(b.at));
  const passed = sorted.filter((r) => r.status === 'pass');
  const rtos = passed.map((r) => r.rtoMs).filter((v): v is number => typeof v === 'number');
  const lastSuccess = passed.at(-1);
  return {
    drills: sorted.length,
    passed: passed.length,
    ...(lastSuccess ? { lastSuccess, daysSinceSuccess: Math.floor((now.getTime() - Date.parse(lastSuccess.at)) / 86_400_000) } : {}),
    ...(sorted.length ? { last: sorted.at(-1) } : {}),
    ...(rtos.length ? { recentRtoMs: median(rtos.slice(-5)) } : {}),
    ...(rtos.length > 5 ? { earlierRtoMs: median(rtos.slice(-10, -5)) } : {}),
  };
}

/** A duration in the drill's tables and reports (src/duration.ts's one rule), `-` where none was measured. */
export function formatMs(ms: number | undefined): string {
  return ms === undefined ? '-' : formatDuration(ms);
}

/**
 * A whole number with thousands separators, as `toLocaleString('en-US')` writes it, without its cost: the first
 * toLocaleString of a process builds ICU's number formatter, about 35 ms of a small drill's CPU.
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n)) return String(n);
  const digits = String(Math.abs(n));
  let out = '';
  for (let i = digits.length; i > 0; i -= 3) out = `${digits.slice(Math.max(0, i - 3), i)}${out ? `,${out}` : ''}`;
  return n < 0 ? `-${out}` : out;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The `drill history` table: one line per drill, oldest first, then the trend. */
export function formatHistory(records: DrillRecord[], now: Date = new Date(), limit = 20): string {
  if (records.length === 0) return 'no drills yet: run `groundwork drill` to rehearse a restore\n';
  const sorted = [...records].sort((a, b) => a.at.localeCompare(b.at)).slice(-limit);
  const rows = [['WHEN', 'TARGET', 'RESULT', 'RTO', 'RPO', 'KEYS', 'SNAPSHOT']];
  for (const r of sorted) {
    rows.push([
      r.at.replace('T', ' ').slice(0, 19),
      r.target,
      r.status === 'pass' ? 'pass' : `${r.status}: ${r.reasons[0] ?? ''}`.slice(0, 60),
      formatMs(r.rtoMs),
      formatMs(r.rpoMs),
      r.keys === undefined ? '-' : String(r.keys),
      formatBytes(r.snapshotBytes),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const t = summarizeHistory(records, now);
  lines.push('');
  lines.push(`${t.drills} drills, ${t.passed} passed${records.length > sorted.length ? ` (last ${sorted.length} shown)` : ''}`);
  lines.push(t.lastSuccess ? `last success: ${t.lastSuccess.at} (${t.daysSinceSuccess} days ago)` : 'last success: never');
  if (t.recentRtoMs !== undefined) {
    const drift = t.earlierRtoMs ? ` (5 before: ${formatMs(t.earlierRtoMs)}, ${((t.recentRtoMs / t.earlierRtoMs - 1) * 100).toFixed(0)}% change)` : '';
    lines.push(`RTO, median of the last 5 passing drills: ${formatMs(t.recentRtoMs)}${drift}`);
  }
  return `${lines.join('\n')}\n`;
}
