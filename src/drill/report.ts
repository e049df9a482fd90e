/** The drill's report and its history line, built from the state alone. Pure. */
import type { SnapshotStatus } from './etcd-output.js';
import type { DrillRecord } from './history.js';
import type { DrillState, PhaseName, PhaseTiming, SourceInventory } from './state.js';

/** Everything a drill learned, for the report and the history line. */
export interface DrillReport {
  id: string;
  target: string;
  status: 'pass' | 'fail' | 'interrupted';
  reasons: string[];
  startedAt: string;
  snapshotAt?: string;
  rpoMs?: number;
  rtoMs?: number;
  totalMs: number;
  phases: Partial<Record<PhaseName, PhaseTiming>>;
  source?: SourceInventory;
  snapshot?: { file?: string; bytes: number; sha256: string; verdict: string; status?: SnapshotStatus };
  restored?: { revision: number; counts: Record<string, number>; total: number; hash?: number; bumped: boolean; tool: string; etcdVersion?: string };
  sentinel?: { key: string; found: boolean };
}

const RTO_PHASES: PhaseName[] = ['restore', 'boot', 'verify'];

export function buildReport(st: DrillState, target: string, now: Date): DrillReport {
  const failed = Object.values(st.phases).some((p) => p.status === 'fail');
  const rto = RTO_PHASES.every((p) => st.phases[p]?.status === 'pass' || st.phases[p]?.status === 'warn')
    ? RTO_PHASES.reduce((a, p) => a + st.phases[p]!.ms, 0)
    : undefined;
  // RPO: what a restore at this moment would lose, i.e. the age of the snapshot when it was restored.
  const rpo = st.snapshotAt && st.restoreAt ? Math.max(0, st.restoreAt.getTime() - st.snapshotAt.getTime()) : undefined;
  const completed = st.phases.verify !== undefined && st.phases.verify.status !== 'skip';
  const src = st.source;
  return {
    id: st.id,
    target,
    status: st.interrupted ? 'interrupted' : failed || !completed ? 'fail' : 'pass',
    reasons: [...st.reasons, ...(!failed && !completed && !st.interrupted ? ['the drill did not reach verification'] : [])],
    startedAt: st.startedAt.toISOString(),
    ...(st.snapshotAt ? { snapshotAt: st.snapshotAt.toISOString() } : {}),
    ...(rpo !== undefined ? { rpoMs: rpo } : {}),
    ...(rto !== undefined ? { rtoMs: rto } : {}),
    totalMs: now.getTime() - st.startedAt.getTime(),
    phases: st.phases,
    ...(src?.keys
      ? { source: { revision: src.revision, ...(src.version ? { version: src.version } : {}), ...(src.dbSize !== undefined ? { dbSize: src.dbSize } : {}), counts: src.keys.counts, total: src.keys.total, ...(src.hash ? { hash: src.hash } : {}) } }
      : {}),
    ...(st.file
      ? { snapshot: { ...(st.snapshotOurs ? {} : { file: st.snapshotFile }), bytes: st.file.size, sha256: st.file.sha256, verdict: st.file.verdict, ...(st.status ? { status: st.status } : {}) } }
      : {}),
    ...(st.restored && st.restore ? { restored: { ...st.restored, bumped: st.restore.bumped, tool: st.restore.tool } } : {}),
    ...(st.sentinel ? { sentinel: { key: st.sentinel.key, found: st.sentinel.found === true } } : {}),
  };
}

/** The line appended to drills.jsonl. */
export function buildRecord(st: DrillState, rep: DrillReport, runId?: string): DrillRecord {
  return {
    version: 1,
    id: st.id,
    ...(runId ? { runId } : {}),
    at: st.startedAt.toISOString(),
    target: rep.target,
    status: rep.status,
    reasons: rep.reasons,
    ...(rep.rpoMs !== undefined ? { rpoMs: Math.round(rep.rpoMs) } : {}),
    ...(rep.rtoMs !== undefined ? { rtoMs: Math.round(rep.rtoMs) } : {}),
    phases: Object.fromEntries(Object.entries(rep.phases).map(([k, v]) => [k, { ms: Math.round(v.ms), status: v.status }])),
    ...(st.status ? { revision: st.status.revision } : {}),
    ...(st.restored ? { keys: st.restored.total } : {}),
    ...(st.file ? { snapshotBytes: st.file.size, sha256: st.file.sha256 } : {}),
    ...(st.restored?.etcdVersion ?? st.source?.version ? { etcdVersion: st.restored?.etcdVersion ?? st.source?.version } : {}),
  };
}
