/**
 * `groundwork lab up` through the real binary (dist/, built by `npx tsc -p .` / `npm test`), as a new user
 * would try it: start it, run `kubectl --kubeconfig <file> get nodes` from "another terminal", Ctrl-C it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKubectl } from './kubectl-helper.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist/commands/lab.js'))) spawnSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'inherit' });
});

function startUp(args: string[], cwd: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/groundwork'), 'lab', 'up', ...args], {
    cwd,
    env: { PATH: '/nonexistent', HOME: cwd, NO_COLOR: '1', CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (stdout.includes('Ctrl-C stops the lab')) resolve();
    });
    void exited.then((c) => reject(new Error(`lab up exited ${c}:\n${stdout}\n${stderr}`)));
  });
  return { child, ready, exited, out: () => stdout, err: () => stderr };
}

describe('groundwork lab up', () => {
  it('serves a lab, writes a 0600 kubeconfig, tells the user how to use it, and stops cleanly on SIGINT', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-lab-up-'));
    const up = startUp(['--nodes', '4', '--control-planes', '2'], cwd);
    await up.ready;
    const kubeconfig = path.join(cwd, 'lab.kubeconfig');
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    expect(up.out()).toContain(`kubectl --kubeconfig ${kubeconfig} get nodes`);
    expect(up.out()).toMatch(/lab is up: https:\/\/127\.0\.0\.1:\d+ /);
    const k = createKubectl(kubeconfig);
    const r = await k.run(['--kubeconfig', kubeconfig, 'get', 'nodes']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual([
      'cp-1 Ready control-plane',
      'cp-2 Ready control-plane',
      'w-1 Ready <none>',
      'w-2 Ready <none>',
    ]);
    // Faults at run time, from "another terminal" too.
    const gw = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/groundwork'), ...args], { cwd, encoding: 'utf8', env: { PATH: '/nonexistent', HOME: cwd, NO_COLOR: '1', CI: 'true' }, timeout: 20_000 });
    const add = gw('lab', 'fault', 'add', 'api-errors:100');
    expect(add.stdout).toBe('active faults: api-errors:100\n');
    const failing = await k.run(['--kubeconfig', kubeconfig, 'get', 'pods', '--request-timeout=5s']);
    expect(failing.code).not.toBe(0);
    const clear = gw('lab', 'fault', 'clear');
    expect(clear.stdout).toBe('cleared: api-errors:100\nno active faults\n');
    expect((await k.run(['--kubeconfig', kubeconfig, 'get', 'nodes'])).code).toBe(0);
    up.child.kill('SIGINT');
    const code = await up.exited;
    expect(code).toBe(130);
    expect(up.err()).toContain('lab stopped');
    const after = await k.run(['--kubeconfig', kubeconfig, 'get', 'nodes', '--request-timeout=2s']);
    expect(after.code).not.toBe(0);
    expect(after.stderr).toMatch(/was refused/);
  });

  it.each([
    [['--nodes', '2', '--control-planes', '3'], '--control-planes (3) cannot exceed --nodes (2)'],
    [['--nodes', 'many'], "option '--nodes <n>' argument 'many' is invalid"],
    [['--etcd', 'http://10.0.0.1:2379'], '--etcd must be a plain http:// URL on this machine'],
    [['--fault', 'bogus'], 'unknown fault "bogus"'],
  ])('refuses %j with exit code 2', (args, message) => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-lab-up-'));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/groundwork'), 'lab', 'up', ...args], { cwd, encoding: 'utf8', env: { PATH: '/nonexistent', HOME: cwd, NO_COLOR: '1', CI: 'true' }, timeout: 20_000 });
    expect(r.stderr).toContain(message);
    expect(r.status).toBe(2);
  });
});
