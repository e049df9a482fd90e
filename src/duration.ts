/**
 * Durations as the operator reads them, in every message, table and summary: one rule. (The lab's tables keep
 * kubectl's own AGE format, lab/server/table.ts humanDuration, because they stand in for kubectl's output.)
 */

/**
 * 340ms · 1.5s (up to two minutes; `fixed`: always seconds with one decimal, 0.3s and 3.0s, for columns and summaries) · 12m (up to two
 * hours) · 30h (up to three days) · 4d.
 */
export function formatDuration(ms: number, o: { fixed?: boolean } = {}): string {
  if (ms < 120_000 && o.fixed) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10}s`;
  const m = Math.round(ms / 60_000);
  if (m < 120) return `${m}m`;
  const h = Math.round(m / 60);
  return h < 72 ? `${h}h` : `${Math.round(h / 24)}d`;
}
