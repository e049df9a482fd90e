/**
 * `groundwork lab up --api real` through the real binary, with a PATH holding the real control plane's programs:
 * the lab says which API it runs on, kubectl sees its nodes Ready through the real kube-apiserver, and `lab fault`
 * reaches the lab's own admin listener (found in the kubeconfig) to break and mend it; Ctrl-C stops everything.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realTool, realToolsPath } from '../helpers/real-tools.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/groundwork');

describe('groundwork lab up --api real', () => {
  it('serves a lab on the real control plane; lab fault add/list/clear reach it; SIGINT stops it', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-lab-up-real-'));
    const env = { PATH: `${realToolsPath(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd-3.6/etcd'])}:/usr/bin:/bin`, HOME: cwd, NO_COLOR: '1', CI: 'true' };
    const child = spawn(process.execPath, [BIN, 'lab', 'up', '--api', 'real', '--nodes', '2', '--json'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => stdout.includes('\n') && resolve());
      void exited.then((c) => reject(new Error(`lab up exited ${c}:\n${stdout}\n${stderr}`)));
    });
    const summary = JSON.parse(stdout.split('\n')[0]!) as { api: string; url: string; kubeconfig: string; store: string; nodes: { name: string; internalIP: string }[] };
    expect(summary.api).toBe('real');
    expect(summary.store).toMatch(/^etcd http:\/\/127\.0\.0\.1:\d+$/);
    expect(summary.nodes.map((n) => [n.name, n.internalIP])).toEqual([['cp-1', '127.0.100.1'], ['w-1', '127.0.100.2']]);
    expect(statSync(summary.kubeconfig).mode & 0o777).toBe(0o600);
    const kubectl = spawnSync(realTool('kubectl'), ['--kubeconfig', summary.kubeconfig, 'get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'], { encoding: 'utf8', env: { HOME: cwd, PATH: '/usr/bin:/bin' } });
    expect(kubectl.stderr).toBe('');
    expect(kubectl.stdout.trim().split('\n')).toEqual(['cp-1 True', 'w-1 True']);
    const gw = (...args: string[]) => spawnSync(process.execPath, [BIN, 'lab', 'fault', ...args, '--kubeconfig', summary.kubeconfig], { cwd, encoding: 'utf8', env, timeout: 20_000 });
    expect(gw('add', 'dns-down').stdout).toBe('active faults: dns-down\n');
    expect(gw('list').stdout).toBe('active faults: dns-down\n');
    const refused = gw('add', 'api-latency:100');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/needs the embedded API/);
    expect(gw('clear').stdout).toBe('cleared: dns-down\nno active faults\n');
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('lab stopped');
    // The control plane went with it: nothing answers at its URL any more.
    const after = spawnSync(realTool('kubectl'), ['--kubeconfig', summary.kubeconfig, 'get', 'nodes', '--request-timeout=2s'], { encoding: 'utf8', env: { HOME: cwd, PATH: '/usr/bin:/bin' } });
    expect(after.status).not.toBe(0);
    expect(after.stderr).toMatch(/was refused/);
  }, 120_000);
});
