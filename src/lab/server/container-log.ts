/**
 * A container's log as an HTTP answer, once for both doors the lab serves it through: the embedded API's
 * `pods/log` (src/lab/server/api-server.ts) and the kubelet API's `containerLogs` that a real kube-apiserver
 * forwards to (src/lab/real/node-servers.ts). Which lines (sinceSeconds, tailLines, limitBytes), how each is
 * written (timestamps), and following: new lines until the container terminates, the pod goes or the client does.
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject, LabStore, LogLine, PodLogs } from '../store/types.js';

export interface LogQuery {
  timestamps: boolean;
  follow: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  /** Stop after this many bytes (0 or absent: no limit). */
  limitBytes?: number;
  /** Timestamps as RFC 3339 with nanoseconds, as a kubelet writes them (else as stored, milliseconds). */
  nanoseconds?: boolean;
}

/** The lines asked for: those of the last sinceSeconds, then the last tailLines of them. */
export function selectLogLines(lines: readonly LogLine[], q: LogQuery, now = Date.now()): LogLine[] {
  let out = [...lines];
  if (q.sinceSeconds !== undefined) out = out.filter((l) => Date.parse(l.time) >= now - q.sinceSeconds! * 1000);
  if (q.tailLines !== undefined) out = q.tailLines <= 0 ? [] : out.slice(-q.tailLines);
  return out;
}

export function formatLogLine(l: LogLine, q: LogQuery): string {
  if (!q.timestamps) return `${l.line}\n`;
  return `${q.nanoseconds ? l.time.replace(/Z$/, '000000Z') : l.time} ${l.line}\n`;
}

function terminated(pod: KubeObject | undefined, container: string): boolean {
  const statuses = (pod?.status as { containerStatuses?: { name: string; state?: { terminated?: unknown } }[] } | undefined)?.containerStatuses ?? [];
  return statuses.find((s) => s.name === container)?.state?.terminated !== undefined;
}

/**
 * Writes the selected lines to a response whose head is sent, then (follow) the new ones; ends the response when
 * done. `onEnd` runs once, however it ended.
 */
export function streamContainerLog(res: ServerResponse, o: { store: LabStore; logs: PodLogs; namespace: string; pod: string; container: string; query: LogQuery; onEnd?: () => void }): void {
  const { store, logs, namespace, pod, container, query: q } = o;
  const limit = q.limitBytes ?? 0;
  let sent = 0;
  let done = false;
  let stops: (() => void)[] = [];
  const finish = (): void => {
    if (done) return;
    done = true;
    for (const stop of stops) stop();
    res.end();
    o.onEnd?.();
  };
  /** Writes a line (cut at the byte limit); false when nothing more may be written. */
  const write = (l: LogLine): boolean => {
    if (res.writableEnded || res.destroyed) return false;
    let text = formatLogLine(l, q);
    if (limit > 0) {
      if (sent >= limit) return false;
      text = text.slice(0, limit - sent);
    }
    sent += Buffer.byteLength(text);
    res.write(text);
    return limit <= 0 || sent < limit;
  };
  for (const l of selectLogLines(logs.read(namespace, pod, container), q)) if (!write(l)) return finish();
  if (!q.follow || terminated(store.get('pods', namespace, pod), container)) return finish();
  stops = [
    logs.follow(namespace, pod, container, (l) => {
      if (!write(l)) finish();
    }),
    store.watch('pods', namespace, { fieldSelector: `metadata.name=${pod}` }, (e) => {
      if (e.type === 'DELETED' || terminated(e.object, container)) setImmediate(finish);
    }),
  ];
  res.on('close', finish);
}
