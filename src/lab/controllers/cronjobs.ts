/**
 * The CronJob controller: standard five-field schedules (minute hour day-of-month month day-of-week; `*`,
 * lists, ranges, steps, names, @hourly/@daily/...; parsed by croner as the spec is), in UTC unless spec.timeZone is "Etc/UTC"/"UTC" (others: UTC too).
 * Creates `<cronjob>-<minutes since epoch>` Jobs like the real controller, honours suspend,
 * concurrencyPolicy and the history limits, and records lastScheduleTime / active.
 */
import { isOwnedBy, iso, ownerRef, quietly, type Obj, type Runtime } from './runtime.js';
import type { KubeObject } from '../store/types.js';
import type { Cron } from 'croner';
import { parseCronSchedule } from '../../spec/fields.js';

/** A schedule as the spec edge parses it (croner, src/spec/fields.ts): one grammar for the spec and the lab. */
type CronFields = Cron;

/** The parsed schedule, or undefined when it is not a schedule a CronJob takes. */
export function parseCron(schedule: string): CronFields | undefined {
  const c = parseCronSchedule(schedule);
  return typeof c === 'string' ? undefined : c;
}

export function cronMatches(cron: CronFields, d: Date): boolean {
  return cron.match(new Date(Math.floor(d.getTime() / 60_000) * 60_000));
}

/** The latest scheduled minute in (after, now], if any (looks back at most one day, like startingDeadline). */
export function lastScheduleBetween(cron: CronFields, after: Date, now: Date): Date | undefined {
  const t = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const floor = Math.max(after.getTime(), t.getTime() - 24 * 3600_000);
  if (cronMatches(cron, t) && t.getTime() > floor) return t;
  const prev = cron.previousRuns(1, t)[0];
  return prev && prev.getTime() > floor ? prev : undefined;
}

export function nextScheduleAfter(cron: CronFields, now: Date): Date | undefined {
  return cron.nextRun(new Date(Math.floor(now.getTime() / 60_000) * 60_000)) ?? undefined;
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
