/**
 * What a drill knows, phase by phase: one explicit record the phases fill in (and the report is built from).
 * The live member is a process handle, not data, so a drill is never resumed half-way.
 */
import type { Service } from '../exec/index.js';
import type { LeftoverSink } from '../run/leftovers.js';
import type { HashKv, SnapshotStatus } from './etcd-output.js';
import type { MemberAddress } from './member.js';
import type { SnapshotFileCheck } from './snapshot-file.js';

export const PHASES = ['inventory', 'snapshot', 'integrity', 'restore', 'boot', 'verify', 'lab', 'teardown'] as const;
export type PhaseName = (typeof PHASES)[number];

export interface PhaseTiming {
  ms: number;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  summary: string;
}

export interface KeyCounts {
  counts: Record<string, number>;
  total: number;
}

export interface SourceInventory {
  revision: number;
  version?: string;
  dbSize?: number;
  counts: Record<string, number>;
  total: number;
  hash?: HashKv;
}

/** The tool that reads and restores snapshots, found once per drill. */
export interface SnapshotTool {
  tool: 'etcdutl' | 'etcdctl';
  bin: string;
  /** `--bump-revision --mark-compacted` offered (etcdutl 3.5.10+, 3.6). */
  canBump: boolean;
  /** x.y.z, when the probe asked for it (etcdctl). */
  version?: string;
}

/** A restore under way or done: started as soon as the snapshot is on disk, used only if integrity passes. */
interface RestoreRun {
  dataDir: string;
  member: MemberAddress;
  bumped: boolean;
  tool: 'etcdutl' | 'etcdctl';
  startedAt: Date;
  done: Promise<{ exitCode: number; text: string; ms: number }>;
}

/** The snapshot being saved: begun beside the inventory when nothing must be written first. */
export interface SaveRun {
  at: Date;
  /** performance.now() when it began. */
  t0: number;
  done: Promise<{ file: string }>;
  /** The source's size is known: the save that began without it gets the deadline that size gives. */
  bound(dbSize: number | undefined): void;
  /** The source did not answer: stop saving. */
  stop(): void;
}

export interface DrillState {
  id: string;
  startedAt: Date;
  scratch?: { dir: string; created: boolean };
  /** leftovers.json entries for the scratch data, forgotten once removed. */
  scratchRecords?: { sink: LeftoverSink; ids: string[] };
  snapshotFile?: string;
  snapshotOurs: boolean;
  snapshotAt?: Date;
  /** The source's revision, version and size from the inventory; its keys and hashkv once the snapshot phase counted them. */
  source?: { revision: number; version?: string; dbSize?: number; keys?: KeyCounts; hash?: HashKv };
  sentinel?: { key: string; value: string; found?: boolean };
  sentinelRemoved?: boolean;
  file?: SnapshotFileCheck;
  status?: SnapshotStatus;
  integrityOk: boolean;
  saveRun?: SaveRun;
  /** The source's keys (and hashkv, unbumped) at the inventory's revision, read once the file passed integrity (filling `source`). */
  sourceReads?: Promise<{ err?: unknown }>;
  /** Begins `sourceReads` (set by the snapshot phase when there is a source; integrity calls it once the file passed, boot again: once). */
  beginSourceReads?: () => void;
  /** Our snapshot, deleted while the member boots. */
  snapshotRemoved?: Promise<void>;
  restoreRun?: RestoreRun;
  restoreAt?: Date;
  restore?: { dataDir: string; member: MemberAddress; bumped: boolean; tool: 'etcdutl' | 'etcdctl' };
  service?: Service;
  memberLog: string[];
  restored?: { revision: number; counts: Record<string, number>; total: number; hash?: number; etcdVersion?: string };
  phases: Partial<Record<PhaseName, PhaseTiming>>;
  reasons: string[];
  interrupted: boolean;
  tornDown: boolean;
  recorded: boolean;
}

export function newDrillState(id: string, startedAt: Date, snapshotOurs: boolean): DrillState {
  return { id, startedAt, snapshotOurs, memberLog: [], integrityOk: false, phases: {}, reasons: [], interrupted: false, tornDown: false, recorded: false };
}
