/**
 * leftovers.json written in batches (issue 17): a record is on disk as soon as `add` returns, the clear of an
 * exited process's record rides on the next write, and a SIGKILL at any point still leaves a record of every
 * process that is running; the next run's sweep stops those and drops the stale ones without a word.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createExec, processIdentity } from '../../src/exec/index.js';
import { Leftovers, pendingLeftovers, sweepLeftovers } from '../../src/run/leftovers.js';

const fixture = path.join(import.meta.dirname, '..', 'fixtures', 'leftovers-kill.ts');
const state = () => mkdtempSync(path.join(tmpdir(), 'gw-leftovers-'));
const ids = (dir: string) => pendingLeftovers(dir).map((l) => l.id);

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('Leftovers', () => {
  it('writes a record before add returns, and the clear of an exited process with the next write', () => {
    const dir = state();
    const l = new Leftovers(dir, 'r1');
    const a = l.add('etcdctl (pid 1)', { process: { pid: 1, identity: 'x' } });
    expect(ids(dir)).toEqual([a]);
    l.clear(a);
    // Still on disk: harmless (a sweep checks the process is still the one recorded), and one write saved.
    expect(ids(dir)).toEqual([a]);
    const b = l.add('etcdctl (pid 2)', { process: { pid: 2, identity: 'y' } });
    expect(ids(dir)).toEqual([b]);
    l.clear(b);
    l.flush();
    expect(existsSync(path.join(dir, 'leftovers.json'))).toBe(false);
  });

  it('clears anything but a process at once', () => {
    const dir = state();
    const l = new Leftovers(dir, 'r2');
    const p = l.add('etcd (pid 3)', { process: { pid: 3, identity: 'z' } });
    const d = l.add('scratch', { dirs: [path.join(dir, 'scratch')] });
    expect(ids(dir)).toEqual([p, d]);
    l.clear(p);
    l.clear(d);
    // The directory's clear is written now, and takes the process's waiting clear with it.
    expect(ids(dir)).toEqual([]);
  });

  it("keeps other runs' records when it writes", () => {
    const dir = state();
    const one = new Leftovers(dir, 'one');
    const two = new Leftovers(dir, 'two');
    const a = one.add('a', { process: { pid: 4, identity: 'a' } });
    const b = two.add('b', { files: [path.join(dir, 'b')] });
    one.clear(a);
    const c = one.add('c', { process: { pid: 5, identity: 'c' } });
    expect(ids(dir).sort()).toEqual([b, c].sort());
  });

  it('a run that exits writes the clears still waiting', () => {
    const dir = state();
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, dir, 'exit'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { live } = JSON.parse(r.stdout) as { live: [number, number] };
    // The exit hook stopped the process still recorded; the other's record had been cleared (as if it had exited).
    expect(existsSync(path.join(dir, 'leftovers.json'))).toBe(false);
    process.kill(-live[0], 'SIGKILL');
  });

  it('a SIGKILL leaves a record of every running process; the next sweep stops them and drops the stale one', async () => {
    const dir = state();
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, dir, 'kill'], { encoding: 'utf8' });
    expect(r.signal).toBe('SIGKILL');
    const { live } = JSON.parse(r.stdout) as { live: [number, number] };
    const left = pendingLeftovers(dir);
    expect(left.map((l) => l.process?.pid).sort()).toEqual([...live, expect.any(Number)].sort());
    for (const pid of live) {
      expect(alive(pid)).toBe(true);
      expect(left.find((l) => l.process?.pid === pid)?.process?.identity).toBe(processIdentity(pid));
    }
    const said: string[] = [];
    const swept = await sweepLeftovers(dir, createExec(), (line) => said.push(line));
    expect(swept.swept.map((s) => s.what).sort()).toEqual(live.map((pid) => `sleep (pid ${pid})`).sort());
    expect(said.some((s) => s.includes('true (pid'))).toBe(false);
    for (const pid of live) expect(alive(pid)).toBe(false);
    expect(existsSync(path.join(dir, 'leftovers.json'))).toBe(false);
  });
});
