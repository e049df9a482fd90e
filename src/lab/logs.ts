/**
 * Container logs of the lab's pods, in memory: the kubelet simulation appends lines, `kubectl logs [-f]`
 * reads them. Each container keeps its last 10,000 lines, like a rotated log file.
 */
import type { LogLine, PodLogs } from './store/types.js';

const MAX_LINES = 10_000;

export function createPodLogs(now: () => Date = () => new Date()): PodLogs {
  // Per pod, then per container: dropping a pod's logs is one delete, not a scan of every container's.
  const lines = new Map<string, Map<string, LogLine[]>>();
  const followers = new Map<string, Set<(l: LogLine) => void>>();
  const podKey = (ns: string, pod: string) => `${ns}/${pod}`;
  const key = (ns: string, pod: string, c: string) => `${ns}/${pod}/${c}`;
  return {
    append(ns, pod, container, line, time) {
      const k = key(ns, pod, container);
      let byContainer = lines.get(podKey(ns, pod));
      if (!byContainer) lines.set(podKey(ns, pod), (byContainer = new Map()));
      let l = byContainer.get(container);
      if (!l) byContainer.set(container, (l = []));
      const entry = { time: (time ?? now()).toISOString(), line };
      l.push(entry);
      if (l.length > MAX_LINES) l.splice(0, l.length - MAX_LINES);
      for (const f of followers.get(k) ?? []) f(entry);
    },
    read(ns, pod, container) {
      return [...(lines.get(podKey(ns, pod))?.get(container) ?? [])];
    },
    follow(ns, pod, container, onLine) {
      const k = key(ns, pod, container);
      let s = followers.get(k);
      if (!s) followers.set(k, (s = new Set()));
      s.add(onLine);
      return () => s!.delete(onLine);
    },
    drop(ns, pod) {
      lines.delete(podKey(ns, pod));
    },
  };
}
