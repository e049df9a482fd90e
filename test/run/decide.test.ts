/**
 * The engine's decisions, as tables: whether a stage runs (interrupted, a stage it needs failed, cannot run
 * here), whether a step starts (interrupted, an earlier step failed, resumed, once, dry run), what a resumed run
 * forgets (an unfinished atomic stage), and the verdict the event log gives.
 */
import { describe, expect, it } from 'vitest';
import { decideStage, decideStep, stepsToForget, type Decision, type StepFacts } from '../../src/run/decide.js';
import { skippedHeadlines, summarize } from '../../src/run/summary.js';
import type { RunEvent } from '../../src/run/events.js';
import type { StepState } from '../../src/run/records.js';
import { Secret } from '../../src/run/secret.js';
import type { Plan, Result, Stage, Step } from '../../src/run/types.js';

const step = (id: string, extra: Partial<Step> = {}): Step => ({ id, title: `step ${id}`, stage: 's', run: async () => ({ status: 'pass', summary: '' }), ...extra });
const stage = (name: string, extra: Partial<Stage> = {}): Stage => ({ name, title: `Stage ${name}`, steps: [step(`${name}1`)], ...extra });
const plan = (...stages: Stage[]): Plan => ({ title: 't', stages });
const done = (summary: string, extra: Partial<StepState> = {}): StepState => ({ status: 'pass', at: '2026-12-02T00:00:00Z', summary, ...extra });

describe('decideStage', () => {
  const p = plan(stage('a'), stage('b'), stage('c', { needs: ['a'] }), stage('d', { needs: [] }), stage('e', { needs: [], unavailable: { reason: 'etcd is not installed', fix: 'install it' } }));
  const cases: Array<[string, number, { stopped: boolean; failed: string[] }, Decision]> = [
    ['nothing failed: runs', 1, { stopped: false, failed: [] }, { run: true }],
    ['interrupted: not run', 1, { stopped: true, failed: [] }, { run: false, summary: 'not run: interrupted' }],
    ['an earlier stage failed (needs unset: every earlier stage)', 1, { stopped: false, failed: ['a'] }, { run: false, summary: 'not run: it needs stage a, which failed' }],
    ['a stage it does not need failed: runs', 2, { stopped: false, failed: ['b'] }, { run: true }],
    ['a stage it needs failed', 2, { stopped: false, failed: ['a', 'b'] }, { run: false, summary: 'not run: it needs stage a, which failed' }],
    ['a later stage failing never blocks an earlier one', 0, { stopped: false, failed: ['b'] }, { run: true }],
    ['needs nothing: runs whatever failed', 3, { stopped: false, failed: ['a', 'b'] }, { run: true }],
    ['cannot run here: the reason and the fix', 4, { stopped: false, failed: [] }, { run: false, summary: 'cannot run here: etcd is not installed', fix: 'install it' }],
    ['interrupted wins over cannot run here', 4, { stopped: true, failed: [] }, { run: false, summary: 'not run: interrupted' }],
  ];
  it.each(cases)('%s', (_, index, f, want) => {
    expect(decideStage(p, index, { stopped: f.stopped, failedStages: new Set(f.failed) })).toEqual(want);
  });
});

describe('decideStep', () => {
  const base: StepFacts = { stopped: false, stageStopped: false, values: {}, dryRun: false, redact: (t) => t.replaceAll('s3cret', '[redacted]') };
  const preview = { argv: [['kubeadm', 'join', '--token', 's3cret'], ['true']] };
  const cases: Array<[string, Step, Partial<StepFacts>, Decision]> = [
    ['a fresh step runs', step('a'), {}, { run: true }],
    ['interrupted', step('a'), { stopped: true, stageStopped: true }, { run: false, summary: 'not run: interrupted' }],
    ['an earlier step of the stage failed', step('a'), { stageStopped: true }, { run: false, summary: 'not run: an earlier step failed' }],
    ['finished in the resumed run', step('a'), { prev: done('ok') }, { run: false, summary: 'finished in an earlier attempt (ok)' }],
    ['failed in the resumed run: runs again', step('a'), { prev: done('bad', { status: 'fail' }) }, { run: true }],
    ['its secret output is gone: runs again', step('a'), { prev: done('token made', { secretOutputs: ['token'] }) }, { run: true }],
    ['its secret output is still here', step('a'), { prev: done('token made', { secretOutputs: ['token'] }), values: { token: new Secret('x') } }, { run: false, summary: 'finished in an earlier attempt (token made)' }],
    ['a once step is never redone for a lost secret', step('a', { once: true }), { prev: done('init', { secretOutputs: ['out'] }) }, { run: false, summary: 'finished in an earlier attempt (init)' }],
    ['done once already in another run', step('a', { once: true }), { once: { runId: 'r1' } }, { run: false, summary: 'done once already in run r1; never repeated' }],
    ['dry run: says what it would run, redacted', step('a', { preview }), { dryRun: true }, { run: false, summary: 'dry run: would run kubeadm join --token [redacted]; true' }],
    ['dry run without a preview', step('a'), { dryRun: true }, { run: false, summary: 'dry run' }],
    ['a resumed finished step is said before the dry run', step('a', { preview }), { dryRun: true, prev: done('ok') }, { run: false, summary: 'finished in an earlier attempt (ok)' }],
  ];
  it.each(cases)('%s', (_, s, f, want) => {
    expect(decideStep(s, { ...base, ...f })).toEqual(want);
  });
});

describe('stepsToForget', () => {
  const atomic = stage('drill', { atomic: true, steps: [step('d1'), step('d2'), step('d3')] });
  const plain = stage('pre', { steps: [step('p1'), step('p2')] });
  const p = plan(plain, atomic);
  it.each([
    ['nothing recorded', {}, []],
    ['an atomic stage half done: its recorded steps go', { d1: done('a'), d2: done('b') }, ['d1', 'd2']],
    ['an atomic stage with a failed step: all go', { d1: done('a'), d2: done('b'), d3: done('c', { status: 'fail' }) }, ['d1', 'd2', 'd3']],
    ['an atomic stage finished: kept', { d1: done('a'), d2: done('b'), d3: done('c', { status: 'skip' }) }, []],
    ['a plain stage half done: kept (its steps resume one by one)', { p1: done('a') }, []],
  ] as Array<[string, Record<string, StepState>, string[]]>)('%s', (_, steps, want) => {
    expect(stepsToForget(p, steps)).toEqual(want);
  });
});

describe('the verdict from the event log', () => {
  const r = (id: string, stageName: string, status: Result['status'], summary: string = status): Result => ({ id, title: id, stage: stageName, status, summary, durationMs: 1 });
  const end = (x: Result): RunEvent => ({ type: 'step-end', id: x.id, status: x.status, summary: x.summary, durationMs: x.durationMs, result: x });
  const headline = plan(stage('pre'), stage('drill', { headline: true, steps: [step('d1'), step('d2')] }));
  const facts = { plan: headline, dryRun: false, runId: 'r', runDir: '/r', startedAt: 'then', durationMs: 5 };
  it.each([
    ['every step passed', [end(r('pre1', 'pre', 'pass')), end(r('d1', 'drill', 'pass'))], 'pass'],
    ['a warning still passes', [end(r('pre1', 'pre', 'warn')), end(r('d1', 'drill', 'pass'))], 'pass'],
    ['a failure fails', [end(r('pre1', 'pre', 'fail')), end(r('d1', 'drill', 'skip', 'not run: it needs stage pre, which failed'))], 'fail'],
    ['the headline skipped: incomplete', [end(r('pre1', 'pre', 'pass')), end(r('d1', 'drill', 'skip', 'cannot run here: no etcd')), end(r('d2', 'drill', 'skip', 'cannot run here: no etcd'))], 'incomplete'],
    ['the headline found done on resume: pass', [end(r('pre1', 'pre', 'pass')), end(r('d1', 'drill', 'skip', 'finished in an earlier attempt (ok)'))], 'pass'],
    ['interrupted, whatever else', [end(r('pre1', 'pre', 'fail')), { type: 'interrupted' }, { type: 'finished' }], 'interrupted'],
  ] as Array<[string, RunEvent[], string]>)('%s', (_, events, want) => {
    const s = summarize(events, facts);
    expect(s.status).toBe(want);
    expect(s.results).toEqual(events.flatMap((e) => (e.type === 'step-end' ? [e.result] : [])));
  });

  it('names the skipped headline, except in a dry run', () => {
    const rs = [r('pre1', 'pre', 'pass'), r('d1', 'drill', 'skip', 'cannot run here: no etcd')];
    expect(skippedHeadlines(headline, rs, false)).toEqual([{ stage: 'drill', title: 'Stage drill', reason: 'cannot run here: no etcd' }]);
    expect(skippedHeadlines(headline, rs, true)).toEqual([]);
    expect(summarize(rs.map(end), facts)).toMatchObject({ status: 'incomplete', skippedHeadlines: [{ stage: 'drill' }], runId: 'r', runDir: '/r', durationMs: 5 });
  });
});
