/**
 * The CronJob controller: standard five-field schedules (minute hour day-of-month month day-of-week; `*`,
 * lists, ranges, steps, @hourly/@daily/...), in UTC unless spec.timeZone is "Etc/UTC"/"UTC" (others: UTC too).
 * Creates `<cronjob>-<minutes since epoch>` Jobs like the real controller, honours suspend,
 * concurrencyPolicy and the history limits, and records lastScheduleTime / active.
 */
import { isOwnedBy, iso, ownerRef, quietly, type Obj, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

/** The set of values each field allows, or undefined when the schedule is not valid cron. */
export function parseCron(schedule: string): Set<number>[] | undefined {
  const fields = (MACROS[schedule.trim()] ?? schedule).trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const out: Set<number>[] = [];
  for (const [i, f] of fields.entries()) {
    const [lo, hi] = RANGES[i]!;
    const set = new Set<number>();
    for (const part of f.split(',')) {
      const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
      if (!m) return undefined;
      let a = lo;
      let b = hi;
      if (m[1] !== '*') {
        const [x, y] = m[1]!.split('-').map(Number);
        a = x!;
        b = y ?? (m[2] ? hi : x!);
      }
      const step = m[2] ? Number(m[2]) : 1;
      if (a < lo || b > hi || a > b || step < 1) return undefined;
      for (let v = a; v <= b; v += step) set.add(i === 4 && v === 7 ? 0 : v);
    }
    out.push(set);
  }
  return out;
}

export function cronMatches(fields: Set<number>[], d: Date): boolean {
  const [min, hour, dom, mon, dow] = fields as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (!min.has(d.getUTCMinutes()) || !hour.has(d.getUTCHours()) || !mon.has(d.getUTCMonth() + 1)) return false;
  // Day-of-month and day-of-week: when both are restricted, either may match (cron's rule).
  const domAll = dom.size === 31;
  const dowAll = dow.size === 7;
  const domOk = dom.has(d.getUTCDate());
  const dowOk = dow.has(d.getUTCDay());
  return domAll || dowAll ? domOk && dowOk : domOk || dowOk;
}

/** The latest scheduled minute in (after, now], if any (looks back at most one day, like startingDeadline). */
export function lastScheduleBetween(fields: Set<number>[], after: Date, now: Date): Date | undefined {
  const t = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  for (let i = 0; i < 24 * 60 && t.getTime() > after.getTime(); i++, t.setTime(t.getTime() - 60_000)) {
    if (cronMatches(fields, t)) return new Date(t);
  }
  return undefined;
}

export function nextScheduleAfter(fields: Set<number>[], now: Date): Date | undefined {
  const t = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 60_000);
  for (let i = 0; i < 366 * 24 * 60; i++, t.setTime(t.getTime() + 60_000)) if (cronMatches(fields, t)) return new Date(t);
  return undefined;
}

function isFinished(job: KubeObject): boolean {
  return (((job.status as Obj)?.conditions ?? []) as Obj[]).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export async function reconcileCronJobs(rt: Runtime): Promise<void> {
  const now = rt.now();
  for (const cj of rt.store.list('cronjobs.batch').items) {
    if (cj.metadata.deletionTimestamp) continue;
    const spec = cj.spec as Obj;
    const fields = parseCron(String(spec.schedule ?? ''));
    if (!fields) {
      await rt.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: "${spec.schedule}"`, 'cronjob-controller');
      continue;
    }
    const ns = cj.metadata.namespace!;
    const jobs = rt.store.list('jobs.batch', ns).items.filter((j) => isOwnedBy(j, cj));
    const active = jobs.filter((j) => !isFinished(j));
    const status = (cj.status ?? {}) as Obj;
    const since = new Date(status.lastScheduleTime ?? cj.metadata.creationTimestamp ?? now.toISOString());
    const due = spec.suspend ? undefined : lastScheduleBetween(fields, since, now);
    let lastScheduleTime = status.lastScheduleTime as string | undefined;
    if (due) {
      const policy = spec.concurrencyPolicy ?? 'Allow';
      if (policy === 'Forbid' && active.length > 0) {
        await rt.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid', 'cronjob-controller');
      } else {
        if (policy === 'Replace') for (const j of active) await quietly(rt.store.delete('jobs.batch', ns, j.metadata.name!, { propagationPolicy: 'Background' }));
        const name = `${cj.metadata.name}-${Math.floor(due.getTime() / 60_000)}`;
        const tpl = (spec.jobTemplate ?? {}) as Obj;
        const made = await quietly(
          rt.store.create({
            apiVersion: 'batch/v1',
            kind: 'Job',
            metadata: {
              name,
              namespace: ns,
              labels: { ...(tpl.metadata?.labels ?? {}) },
              annotations: { ...(tpl.metadata?.annotations ?? {}), 'batch.kubernetes.io/cronjob-scheduled-timestamp': due.toISOString() },
              ownerReferences: [ownerRef(cj)],
            },
            spec: structuredClone(tpl.spec ?? {}),
          }, { skipValidation: true }),
        );
        if (made) await rt.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${name}`, 'cronjob-controller');
      }
      lastScheduleTime = iso(due);
    }
    // History limits: oldest finished Jobs go first.
    const finished = jobs.filter(isFinished).sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
    const ok = finished.filter((j) => (((j.status as Obj).conditions ?? []) as Obj[]).some((c) => c.type === 'Complete' && c.status === 'True'));
    const bad = finished.filter((j) => !ok.includes(j));
    for (const [list, limit] of [[ok, spec.successfulJobsHistoryLimit ?? 3], [bad, spec.failedJobsHistoryLimit ?? 1]] as const) {
      for (const j of list.slice(0, Math.max(0, list.length - Number(limit)))) await quietly(rt.store.delete('jobs.batch', ns, j.metadata.name!, { propagationPolicy: 'Background' }));
    }
    const nowActive = rt.store.list('jobs.batch', ns).items.filter((j) => isOwnedBy(j, cj) && !isFinished(j));
    const next: Obj = {
      ...(nowActive.length ? { active: nowActive.map((j) => ({ apiVersion: 'batch/v1', kind: 'Job', name: j.metadata.name, namespace: ns, uid: j.metadata.uid })) } : {}),
      ...(lastScheduleTime ? { lastScheduleTime } : {}),
      ...(status.lastSuccessfulTime ? { lastSuccessfulTime: status.lastSuccessfulTime } : {}),
    };
    const lastOk = ok.at(-1);
    if (lastOk && (lastOk.status as Obj).completionTime) next.lastSuccessfulTime = (lastOk.status as Obj).completionTime;
    if (JSON.stringify(next) !== JSON.stringify(status)) {
      await quietly(rt.store.mutate('cronjobs.batch', ns, cj.metadata.name!, (o) => {
        o.status = next;
      }, { subresource: 'status', skipValidation: true }));
    }
    const upcoming = nextScheduleAfter(fields, now);
    if (upcoming) rt.wake(Math.min(upcoming.getTime() - now.getTime(), 2 ** 31 - 1));
  }
}
