import { afterEach, describe, expect, it } from 'vitest';
import { buildProbe } from '../../src/probe/index.js';
import { cronMatches, lastScheduleBetween, nextScheduleAfter, parseCron } from '../../src/lab/controllers/cronjobs.js';
import { conditionOf, startHarness, type Harness } from './controllers-harness.js';

describe('cron schedules', () => {
  it.each([
    ['0 */6 * * *', '2026-11-25T12:00:00Z', true],
    ['0 */6 * * *', '2026-11-25T13:00:00Z', false],
    ['*/15 9-17 * * 1-5', '2026-11-25T09:45:00Z', true], // a Wednesday
    ['*/15 9-17 * * 1-5', '2026-11-29T09:45:00Z', false], // a Sunday
    ['30 2 1 * *', '2026-12-01T02:30:00Z', true],
    ['0 0 * * 7', '2026-11-29T00:00:00Z', true], // 7 = Sunday
    ['@hourly', '2026-11-25T10:00:00Z', true],
    ['0 0 13 * 5', '2026-11-27T00:00:00Z', true], // dom OR dow when both restricted: Friday 27th
    // Names, as croner and the spec read them (the lab's old parser refused them).
    ['0 3 * * MON', '2026-11-30T03:00:00Z', true],
    ['0 3 * * MON', '2026-11-29T03:00:00Z', false],
    ['0 0 1 JAN-MAR *', '2027-02-01T00:00:00Z', true],
  ])('%s at %s: %s', (schedule, at, want) => {
    expect(cronMatches(parseCron(schedule)!, new Date(at))).toBe(want);
  });

  it.each(['* * * *', '61 * * * *', '*/0 * * * *', 'a b c d e', '5-1 * * * *'])('rejects %j', (s) => {
    expect(parseCron(s)).toBeUndefined();
  });

  it('finds the last and next scheduled minutes', () => {
    const f = parseCron('0 */6 * * *')!;
    expect(lastScheduleBetween(f, new Date('2026-11-25T05:00:00Z'), new Date('2026-11-25T06:20:00Z'))?.toISOString()).toBe('2026-11-25T06:00:00.000Z');
    expect(lastScheduleBetween(f, new Date('2026-11-25T06:00:00Z'), new Date('2026-11-25T06:20:00Z'))).toBeUndefined();
    expect(nextScheduleAfter(f, new Date('2026-11-25T06:20:00Z'))?.toISOString()).toBe('2026-11-25T12:00:00.000Z');
  });
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

describe('CronJob controller', () => {
  it('creates a Job when the schedule comes due and records lastScheduleTime', async () => {
    // The controllers' clock runs two minutes ahead, so an every-minute schedule is already due.
    h = await startHarness({ controllerOptions: { now: () => new Date(Date.now() + 120_000) } });
    await h.apply({
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'backup', namespace: 'default' },
      spec: { schedule: '* * * * *', concurrencyPolicy: 'Forbid', jobTemplate: { spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'agnhost', command: buildProbe({ kind: 'exit', code: 0 }) }] } } } } },
    });
    const job = await h.waitFor('job', () => h!.store.list('jobs.batch', 'default').items[0]);
    expect(job.metadata.name).toMatch(/^backup-\d+$/);
    expect(job.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'CronJob', name: 'backup', controller: true });
    await h.waitFor('job complete', () => conditionOf(h!.store.get('jobs.batch', 'default', job.metadata.name!), 'Complete')?.status === 'True');
    const cj = await h.waitFor('status', () => {
      const c = h!.store.get('cronjobs.batch', 'default', 'backup');
      return (c?.status as { lastSuccessfulTime?: string })?.lastSuccessfulTime ? c : undefined;
    });
    expect((cj.status as { lastScheduleTime: string }).lastScheduleTime).toMatch(/:00Z$/);
    expect(h.store.list('jobs.batch', 'default').items).toHaveLength(1);
  });
});
