import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runPlan, resolveRun } from '../../src/run/engine.js';
import type { Plan, Step } from '../../src/run/types.js';
import type { Io } from '../../src/io.js';

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'gw-engine-'));
}

function captureIo(): Io & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c) => (o += c));
  stderr.on('data', (c) => (e += c));
  return { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1' }, cwd: process.cwd(), out: () => o, err: () => e };
}

/** A PATH with one fake tool that appends its argv to a log and runs an optional action. */
function fakeBin(dir: string, name: string, body = ''): { path: string; log: string } {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = path.join(dir, `${name}.log`);
  writeFileSync(path.join(bin, name), `#!/bin/sh\necho "$*" >> ${log}\n${body}\n`);
  chmodSync(path.join(bin, name), 0o755);
  return { path: `${bin}:/bin:/usr/bin`, log };
}

/** Alive and not a zombie (an orphan that init has not reaped yet is dead for our purpose). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

function step(id: string, run: Step['run'], extra: Partial<Step> = {}): Step {
  return { id, title: `step ${id}`, stage: 'bootstrap', run, ...extra };
}

function plan(steps: Step[], more: Plan['stages'] = []): Plan {
  return { title: 'test plan', stages: [{ name: 'bootstrap', title: 'Bootstrap', steps }, ...more] };
}

describe('runPlan', () => {
  it('runs steps in order and writes audit.jsonl, state.json, report.json and junit.xml', async () => {
    const dir = tmp();
    const { path: PATH, log } = fakeBin(dir, 'tool');
    const io = captureIo();
    const s = await runPlan(
      plan([step('a', async (ctx) => (await ctx.exec(['tool', 'one']), { status: 'pass', summary: 'one' })), step('b', async (ctx) => (await ctx.exec(['tool', 'two words']), { status: 'warn', summary: 'two', why: 'w', fix: 'f' }))]),
      { command: 'setup', stateDir: dir, io, env: { PATH }, renderer: 'simple' },
    );
    expect(s.status).toBe('pass');
    expect(readFileSync(log, 'utf8')).toBe('one\ntwo words\n');
    const audit = readFileSync(path.join(s.runDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.map((a) => a.argv)).toEqual([['tool', 'one'], ['tool', 'two words']]);
    expect(audit[0]).toMatchObject({ exitCode: 0, step: 'a' });
    const state = JSON.parse(readFileSync(path.join(s.runDir, 'state.json'), 'utf8'));
    expect(Object.keys(state.steps)).toEqual(['a', 'b']);
    expect(state.status).toBe('pass');
    const report = JSON.parse(readFileSync(path.join(s.runDir, 'report.json'), 'utf8'));
    expect(report.results.map((r: { status: string }) => r.status)).toEqual(['pass', 'warn']);
    expect(readFileSync(path.join(s.runDir, 'junit.xml'), 'utf8')).toContain('<testcase name="b" classname="groundwork.bootstrap"');
    expect(io.out()).toContain('[WARN b] two');
    expect(io.out()).toContain('fix: f');
  });

  it('stops after a failed step, reports why and how to fix, and marks later steps not run', async () => {
    const dir = tmp();
    const { path: PATH } = fakeBin(dir, 'tool', 'echo "node unreachable" >&2; exit 3');
    const io = captureIo();
    const ran: string[] = [];
    const s = await runPlan(
      plan(
        [step('a', async (ctx) => (await ctx.exec(['tool']), { status: 'pass', summary: 'x' })), step('b', async () => (ran.push('b'), { status: 'pass', summary: 'y' }))],
        [{ name: 'cni', title: 'CNI', steps: [step('c', async () => (ran.push('c'), { status: 'pass', summary: 'z' }))] }],
      ),
      { command: 'setup', stateDir: dir, io, env: { PATH }, renderer: 'simple' },
    );
    expect(s.status).toBe('fail');
    expect(ran).toEqual([]);
    const a = s.results.find((r) => r.id === 'a')!;
    expect(a.status).toBe('fail');
    expect(a.summary).toContain('tool exited with code 3');
    expect(a.detail).toContain('node unreachable');
    expect(a.fix).toContain('--resume');
    expect(s.results.find((r) => r.id === 'b')!.summary).toBe('not run: an earlier step failed');
  });

  it('lets continueOnFail steps finish their stage, then stops the next stage', async () => {
    const dir = tmp();
    const ran: string[] = [];
    const check = (id: string, status: 'pass' | 'fail') => step(id, async () => (ran.push(id), { status, summary: id }), { continueOnFail: true, stage: 'preflight' });
    const s = await runPlan(
      { title: 't', stages: [{ name: 'preflight', title: 'P', steps: [check('p1', 'fail'), check('p2', 'pass')] }, { name: 'bootstrap', title: 'B', steps: [step('b', async () => (ran.push('b'), { status: 'pass', summary: '' }))] }] },
      { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple' },
    );
    expect(ran).toEqual(['p1', 'p2']);
    expect(s.status).toBe('fail');
  });

  it('runs a once step only once per state dir, even in a new run', async () => {
    const dir = tmp();
    let n = 0;
    const p = plan([step('bootstrap-etcd', async () => (n++, { status: 'pass', summary: 'bootstrapped' }), { once: true })]);
    await runPlan(p, { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple' });
    const second = await runPlan(p, { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple' });
    expect(n).toBe(1);
    expect(second.results[0]!.status).toBe('skip');
    expect(second.results[0]!.summary).toMatch(/done once already in run .*never repeated/);
  });

  it('skips a step whose done() probe says its effect exists', async () => {
    let n = 0;
    const s = await runPlan(plan([step('a', async () => (n++, { status: 'pass', summary: '' }), { done: async () => true })]), {
      command: 'setup',
      stateDir: tmp(),
      io: captureIo(),
      renderer: 'simple',
    });
    expect(n).toBe(0);
    expect(s.results[0]!.summary).toContain('already done');
  });

  it('retries a failing step and times out a hung one, killing its process tree', async () => {
    const dir = tmp();
    let attempts = 0;
    const pidFile = path.join(dir, 'grandchild.pid');
    const { path: PATH } = fakeBin(dir, 'hang', `sleep 30 & echo $! > ${pidFile}; wait`);
    const s = await runPlan(
      plan([
        step('flaky', async () => (++attempts < 3 ? { status: 'fail', summary: 'not yet' } : { status: 'pass', summary: 'third time' }), { retries: 2 }),
        step('hung', async (ctx) => (await ctx.exec(['hang']), { status: 'pass', summary: '' }), { timeoutMs: 700 }),
      ]),
      { command: 'setup', stateDir: dir, io: captureIo(), env: { PATH }, renderer: 'simple' },
    );
    expect(attempts).toBe(3);
    expect(s.results[0]!.status).toBe('pass');
    expect(s.results[1]!.status).toBe('fail');
    expect(s.results[1]!.summary).toContain('did not finish within 700ms');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 300));
    expect(isRunning(pid)).toBe(false);
  });

  it('on abort kills the running tool, runs cleanup hooks, saves state and reports interrupted', async () => {
    const dir = tmp();
    const { path: PATH } = fakeBin(dir, 'slow', 'sleep 30');
    const ac = new AbortController();
    let cleaned = false;
    setTimeout(() => ac.abort(), 400);
    const started = Date.now();
    const s = await runPlan(
      plan([step('a', async () => ({ status: 'pass', summary: 'fast' })), step('b', async (ctx) => (await ctx.exec(['slow']), { status: 'pass', summary: '' })), step('c', async () => ({ status: 'pass', summary: '' }))]),
      { command: 'setup', stateDir: dir, io: captureIo(), env: { PATH }, renderer: 'simple', signal: ac.signal, cleanup: [async () => void (cleaned = true)] },
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(s.status).toBe('interrupted');
    expect(cleaned).toBe(true);
    const state = JSON.parse(readFileSync(path.join(s.runDir, 'state.json'), 'utf8'));
    expect(state.status).toBe('interrupted');
    expect(Object.keys(state.steps)).toEqual(['a']);
    // --resume picks this run up again
    expect(resolveRun(dir, 'setup', true).runId).toBe(s.runId);
  });

  it('dry run runs nothing and says what it would run', async () => {
    let n = 0;
    const s = await runPlan(plan([step('a', async () => (n++, { status: 'pass', summary: '' }), { preview: { argv: [['talosctl', 'bootstrap', '--nodes', '127.0.100.1']] } })]), {
      command: 'setup',
      stateDir: tmp(),
      io: captureIo(),
      renderer: 'simple',
      dryRun: true,
    });
    expect(n).toBe(0);
    expect(s.results[0]!.summary).toBe('dry run: would run talosctl bootstrap --nodes 127.0.100.1');
  });

  it('never lets a secret reach audit.jsonl, state.json, report.json, junit.xml or the terminal', async () => {
    const dir = tmp();
    const secret = 'abcdef.0123456789abcdef';
    const secretFile = path.join(dir, 'token');
    const { path: PATH } = fakeBin(dir, 'kubeadm', `echo "join with token ${secret}"; echo "token ${secret} failed" >&2; exit 1`);
    const io = captureIo();
    const s = await runPlan(
      plan([
        step('gen', async (ctx) => {
          writeFileSync(secretFile, `${secret}\n`);
          await ctx.registerSecretFile(secretFile);
          ctx.log(`generated ${secret}`);
          return { status: 'pass', summary: `token ${secret} created`, evidence: { token: secret } };
        }),
        step('join', async (ctx) => (await ctx.exec(['kubeadm', 'join', '--token', secret]), { status: 'pass', summary: '' })),
      ]),
      { command: 'setup', stateDir: dir, io, env: { PATH }, renderer: 'verbose' },
    );
    expect(s.status).toBe('fail');
    expect((readFileSync(secretFile).length, (await import('node:fs')).statSync(secretFile).mode & 0o777)).toBe(0o600);
    const artifacts = ['audit.jsonl', 'state.json', 'report.json', 'junit.xml'].map((f) => readFileSync(path.join(s.runDir, f), 'utf8'));
    for (const text of [...artifacts, io.out(), io.err()]) {
      expect(text).not.toContain(secret);
    }
    expect(artifacts[0]).toContain('[redacted]');
  });
});

describe('secret values handed between steps', () => {
  it('are never saved, and a resumed run produces them again before the steps that need them', async () => {
    const { Secret } = await import('../../src/run/secret.js');
    const dir = tmp();
    let captures = 0;
    let failB = true;
    const seen: string[] = [];
    const p = plan([
      step('token', async (ctx) => {
        captures++;
        ctx.values.token = new Secret(`tok-${captures}-abcdefghij`);
        ctx.values.endpoint = 'https://127.0.100.1:6443';
        return { status: 'pass', summary: 'token created' };
      }),
      step('join', async (ctx) => {
        const t = ctx.values.token;
        seen.push(t instanceof Secret ? t.reveal() : String(t));
        return failB ? { status: 'fail', summary: 'node not reachable' } : { status: 'pass', summary: 'joined' };
      }),
    ]);
    const first = await runPlan(p, { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple' });
    expect(first.status).toBe('fail');
    const saved = readFileSync(path.join(first.runDir, 'state.json'), 'utf8');
    expect(saved).not.toContain('tok-1');
    expect(JSON.parse(saved).values).toEqual({ endpoint: 'https://127.0.100.1:6443' });
    failB = false;
    const second = await runPlan(p, { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple', resume: true });
    expect(second.status).toBe('pass');
    expect(captures).toBe(2);
    expect(seen).toEqual(['tok-1-abcdefghij', 'tok-2-abcdefghij']);
  });
});

describe('resume and dry runs', () => {
  it('a dry run after a failed run does not hide the failed run from --resume', async () => {
    const dir = tmp();
    const failing = await runPlan(plan([step('a', async () => ({ status: 'fail', summary: 'node unreachable' }))]), { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple' });
    await new Promise((r) => setTimeout(r, 5));
    const dry = await runPlan(plan([step('a', async () => ({ status: 'pass', summary: '' }))]), { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple', dryRun: true });
    expect(dry.status).toBe('pass');
    expect(resolveRun(dir, 'setup', true).runId).toBe(failing.runId);
  });
});

describe('stage cleanup and atomic stages', () => {
  it('runs every stage cleanup after the plan, even when a step failed', async () => {
    const cleaned: string[] = [];
    const s = await runPlan(
      {
        title: 't',
        stages: [
          { name: 'validate', title: 'V', steps: [step('v', async () => ({ status: 'fail', summary: 'broken' }), { stage: 'validate' })], cleanup: async () => void cleaned.push('validate') },
          { name: 'drill', title: 'D', steps: [step('d', async () => ({ status: 'pass', summary: '' }), { stage: 'drill' })], cleanup: async () => void cleaned.push('drill') },
        ],
      },
      { command: 'setup', stateDir: tmp(), io: captureIo(), renderer: 'simple' },
    );
    expect(s.status).toBe('fail');
    expect(cleaned).toEqual(['validate', 'drill']);
  });

  it('runs an unfinished atomic stage again from its first step on resume', async () => {
    const dir = tmp();
    const ran: string[] = [];
    let failVerify = true;
    const stage = {
      name: 'drill',
      title: 'Drill',
      atomic: true,
      steps: [
        step('snapshot', async () => (ran.push('snapshot'), { status: 'pass', summary: '' }), { stage: 'drill' }),
        step('verify', async () => (ran.push('verify'), failVerify ? { status: 'fail', summary: 'member gone' } : { status: 'pass', summary: '' }), { stage: 'drill' }),
      ],
    };
    await runPlan({ title: 't', stages: [stage] }, { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple' });
    failVerify = false;
    const s = await runPlan({ title: 't', stages: [stage] }, { command: 'setup', stateDir: dir, io: captureIo(), renderer: 'simple', resume: true });
    expect(s.status).toBe('pass');
    expect(ran).toEqual(['snapshot', 'verify', 'snapshot', 'verify']);
  });
});

describe('resume after a real kill between steps', () => {
  it('continues from state.json and never repeats a finished or once step', () => {
    const dir = tmp();
    const { path: PATH, log } = fakeBin(dir, 'tool');
    const marker = path.join(dir, 'killed');
    const desc = {
      stateDir: path.join(dir, 'state'),
      path: PATH,
      steps: [
        { id: 'gen-secrets', argv: ['tool', 'gen-secrets'], once: true },
        { id: 'apply', argv: ['tool', 'apply'], killSelfUnless: marker },
        { id: 'bootstrap', argv: ['tool', 'bootstrap'], once: true },
      ],
    };
    const fixture = path.join(import.meta.dirname, '../fixtures/run-plan.ts');
    const first = spawnSync(process.execPath, ['--import', 'tsx', fixture, JSON.stringify({ ...desc, resume: false })], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(first.signal).toBe('SIGKILL');
    expect(readFileSync(log, 'utf8')).toBe('gen-secrets\n');
    const second = spawnSync(process.execPath, ['--import', 'tsx', fixture, JSON.stringify({ ...desc, resume: true })], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(second.status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('gen-secrets\napply\nbootstrap\n');
    expect(second.stdout).toContain('[SKIP gen-secrets] finished in an earlier attempt');
    // one run directory: the resumed run continued the first
    expect(readdirSync(path.join(desc.stateDir, 'runs'))).toHaveLength(1);
    expect(existsSync(marker)).toBe(true);
    void execFileSync;
  });
});

describe('skips are results (issue 15)', () => {
  it('shows a step that returns skip as skipped in piped progress, never with a tick', async () => {
    const io = captureIo();
    const s = await runPlan(
      { title: 't', stages: [{ name: 'bootstrap', title: 'Bootstrap the cluster', steps: [step('a', async () => ({ status: 'skip', summary: 'rehearsal: would run talosctl' }))] }] },
      { command: 'rehearse', stateDir: tmp(), io, renderer: 'simple', color: false },
    );
    expect(s.results[0]!.status).toBe('skip');
    const lines = io.err().split('\n');
    expect(lines.some((l) => l.includes('step a') && /skip/i.test(l))).toBe(true);
    expect(lines.filter((l) => l.includes('✔'))).toEqual([]);
  });

  it('a stage that cannot run is a skip with its reason; a skipped headline stage makes the run incomplete (exit 1)', async () => {
    const io = captureIo();
    const { exitCodeForSummary } = await import('../../src/run/types.js');
    const s = await runPlan(
      {
        title: 't',
        stages: [
          { name: 'validate', title: 'Validate', steps: [step('v', async () => ({ status: 'pass', summary: 'ok' }), { stage: 'validate' })] },
          { name: 'drill', title: 'Rehearse an etcd restore', steps: [], headline: true, unavailable: { reason: 'etcd is not installed on this machine', fix: 'install etcd' } },
        ],
      },
      { command: 'rehearse', stateDir: tmp(), io, renderer: 'simple', color: false },
    );
    expect(s.status).toBe('incomplete');
    expect(exitCodeForSummary(s)).toBe(1);
    expect(s.results.find((r) => r.stage === 'drill')).toMatchObject({ status: 'skip', summary: 'cannot run here: etcd is not installed on this machine', fix: 'install etcd' });
    expect(io.out()).toContain('SKIPPED drill: Rehearse an etcd restore did not run: etcd is not installed on this machine');
    expect(io.out()).toMatch(/INCOMPLETE: 1 passed, 0 warnings, 0 failed, 1 skipped/);
    expect(io.err()).not.toMatch(/✔ Rehearse an etcd restore/);
    expect(io.err()).toMatch(/Rehearse an etcd restore.*SKIPPED|SKIPPED.*Rehearse an etcd restore/i);
    const report = JSON.parse(readFileSync(path.join(s.runDir, 'report.json'), 'utf8'));
    expect(report.status).toBe('incomplete');
    expect(report.skippedHeadlines).toEqual([{ stage: 'drill', title: 'Rehearse an etcd restore', reason: 'cannot run here: etcd is not installed on this machine' }]);
  });

  it('a failed stage skips only the stages that need it: the drill runs when a validation suite fails', async () => {
    const ran: string[] = [];
    const s = await runPlan(
      {
        title: 't',
        stages: [
          { name: 'lab', title: 'Lab', needs: [], steps: [step('l', async () => (ran.push('l'), { status: 'pass', summary: '' }), { stage: 'lab' })] },
          { name: 'validate', title: 'Validate', needs: ['lab'], steps: [step('v', async () => (ran.push('v'), { status: 'fail', summary: 'dns broken' }), { stage: 'validate', continueOnFail: true })] },
          { name: 'drill', title: 'Drill', needs: ['lab'], steps: [step('d', async () => (ran.push('d'), { status: 'pass', summary: '' }), { stage: 'drill' })] },
          { name: 'after', title: 'After', steps: [step('x', async () => (ran.push('x'), { status: 'pass', summary: '' }), { stage: 'after' })] },
        ],
      },
      { command: 'rehearse', stateDir: tmp(), io: captureIo(), renderer: 'simple' },
    );
    expect(ran).toEqual(['l', 'v', 'd']);
    expect(s.status).toBe('fail');
    expect(s.results.find((r) => r.id === 'x')!.summary).toBe('not run: it needs stage validate, which failed');
  });
});
