/**
 * Container logs of the lab's pods, in memory: the kubelet simulation appends lines, `kubectl logs [-f]`
 * reads them. Each container keeps its last 10,000 lines, like a rotated log file.
 */
import type { LogLine, PodLogs } from './store/types.js';

const MAX_LINES = 10_000;

export function createPodLogs(now: () => Date = () => new Date()): PodLogs {
  const lines = new Map<string, LogLine[]>();
  const followers = new Map<string, Set<(l: LogLine) => void>>();
  const key = (ns: string, pod: string, c: string) => `${ns}/${pod}/${c}`;
  return {
    append(ns, pod, container, line, time) {
      const k = key(ns, pod, container);
      let l = lines.get(k);
      if (!l) lines.set(k, (l = []));
      const entry = { time: (time ?? now()).toISOString(), line };
      l.push(entry);
      if (l.length > MAX_LINES) l.splice(0, l.length - MAX_LINES);
      for (const f of followers.get(k) ?? []) f(entry);
    },
    read(ns, pod, container) {
      return [...(lines.get(key(ns, pod, container)) ?? [])];
    },
    follow(ns, pod, container, onLine) {
      const k = key(ns, pod, container);
      let s = followers.get(k);
      if (!s) followers.set(k, (s = new Set()));
      s.add(onLine);
      return () => s!.delete(onLine);
    },
    drop(ns, pod) {
      const prefix = `${ns}/${pod}/`;
      for (const k of [...lines.keys()]) if (k.startsWith(prefix)) lines.delete(k);
    },
  };
}
