import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createExec } from '../../src/exec/index.js';
import { UserError } from '../../src/errors.js';
import { createFakeTools, waitForHang } from '../helpers/fake-tools.js';

function fresh() {
  return mkdtempSync(path.join(tmpdir(), 'gw-fakes-'));
}

describe('createFakeTools', () => {
  it('answers a matching call, records it, and verify() passes', async () => {
    const f = createFakeTools(fresh(), { talosctl: [{ match: ['version', '--insecure', '--nodes', /127\.0\.\d+\.\d+/], stdout: 'Server:\n\tTag: v1.10.5\n' }] });
    const exec = createExec({ env: f.env });
    const r = await exec(['talosctl', 'version', '--insecure', '--nodes', '127.0.10.11']);
    expect(r.stdout).toContain('v1.10.5');
    expect(r.stderr).toBe('');
    expect(f.sequence()).toEqual(['talosctl version --insecure --nodes 127.0.10.11']);
    expect(() => f.verify()).not.toThrow();
  });

  it('fails an unexpected call with 127 and a loud message, and verify() names it', async () => {
    const f = createFakeTools(fresh(), { talosctl: [{ match: ['version'], optional: true }] });
    const exec = createExec({ env: f.env });
    const r = await exec(['talosctl', 'bootstrap'], { allowFailure: true });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('UNEXPECTED CALL');
    expect(() => f.verify()).toThrow(/unexpected call: talosctl \["bootstrap"\]/);
  });

  it('verify() fails for an expected call that never came', () => {
    const f = createFakeTools(fresh(), { kubeadm: [{ match: ['init'] }] });
    expect(() => f.verify()).toThrow(/expected call never came: kubeadm init/);
  });

  it('builds PATH from scratch: no kubectl, docker or system dirs', async () => {
    const f = createFakeTools(fresh(), { ssh: [] });
    expect(f.path.split(":")).toEqual([path.join(f.dir, "bin"), path.join(f.dir, "interp")]);
    expect(readdirSync(path.join(f.dir, "interp")).sort()).toEqual(["cat", "grep", "mkdir", "sh", "sleep"]);
    const exec = createExec({ env: f.env });
    await expect(exec(['kubectl', 'version', '--client'])).rejects.toBeInstanceOf(UserError);
    await expect(exec(['docker', 'ps'])).rejects.toBeInstanceOf(UserError);
  });

  it('writes files named by argv, honours times, and shares marks between rules', async () => {
    const dir = fresh();
    const f = createFakeTools(dir, {
      talosctl: [
        { match: ['gen', 'secrets', '--output-file', /.*/], writeFiles: { '{argAfter:--output-file}': 'secret: 1\n' }, times: 1 },
        { match: ['bootstrap'], mark: ['bootstrapped'], times: 1 },
        { match: ['etcd', 'members'], when: { marked: ['bootstrapped'] }, stdout: 'member\n' },
        { match: ['etcd', 'members'], when: { unmarked: ['bootstrapped'] }, exitCode: 1 },
      ],
    });
    const exec = createExec({ env: f.env });
    const out = path.join(dir, 'out', 'secrets.yaml');
    await exec(['talosctl', 'gen', 'secrets', '--output-file', out]);
    expect(readFileSync(out, 'utf8')).toBe('secret: 1\n');
    expect((await exec(['talosctl', 'etcd', 'members'], { allowFailure: true })).exitCode).toBe(1);
    await exec(['talosctl', 'bootstrap']);
    expect((await exec(['talosctl', 'etcd', 'members'])).stdout).toBe('member\n');
    // times: 1 — the second bootstrap is unexpected.
    expect((await exec(['talosctl', 'bootstrap'], { allowFailure: true })).exitCode).toBe(127);
    expect(f.marked('bootstrapped')).toBe(true);
  });

  it('hang: sets its marks, parks mid-command, and an abort ends it', async () => {
    const f = createFakeTools(fresh(), { talosctl: [{ match: ['bootstrap'], hang: true, mark: ['bootstrapped'] }] });
    const abort = new AbortController();
    const exec = createExec({ env: f.env, signal: abort.signal, killGraceMs: 200 });
    const running = exec(['talosctl', 'bootstrap']);
    expect(await waitForHang(f)).toBe('talosctl bootstrap');
    expect(f.marked('bootstrapped')).toBe(true);
    abort.abort();
    await expect(running).rejects.toThrow(/stopped/);
    expect(existsSync(path.join(f.dir, 'state', 'hanging'))).toBe(true);
  });
});

describe('createFakeTools under load', () => {
  it('parallel calls each get their own sequence number and a limited rule is taken exactly `times`', async () => {
    const f = createFakeTools(fresh(), { kubeadm: [{ match: ['join'], times: 3 }] });
    const exec = createExec({ env: f.env });
    const results = await Promise.all(Array.from({ length: 6 }, () => exec(['kubeadm', 'join'], { allowFailure: true })));
    expect(results.map((r) => r.exitCode).sort()).toEqual([0, 0, 0, 127, 127, 127]);
    expect(f.calls().map((c) => c.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('hangAtCall parks the nth call after its effects; the log and marks survive for the resume', async () => {
    const f = createFakeTools(fresh(), { talosctl: [{ match: ['apply-config'], mark: ['applied'] }, { match: ['version'] }] });
    f.hangAtCall(2);
    const abort = new AbortController();
    const exec = createExec({ env: f.env, signal: abort.signal, killGraceMs: 200 });
    await exec(['talosctl', 'version']);
    const running = exec(['talosctl', 'apply-config']);
    expect(await waitForHang(f)).toBe('talosctl apply-config');
    abort.abort();
    await expect(running).rejects.toThrow(/stopped/);
    expect(f.marked('applied')).toBe(true);
    f.hangAtCall(0);
    expect((await createExec({ env: f.env })(['talosctl', 'version'])).exitCode).toBe(0);
    expect(f.sequence()).toEqual(['talosctl version', 'talosctl apply-config', 'talosctl version']);
  });
});
