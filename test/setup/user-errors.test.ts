/**
 * User mistakes with paths are UserErrors naming the path, what is wrong and the fix: never an internal error
 * with a stack. In-process through main() where the mistake can be made as anyone; through bin/groundwork (dist/)
 * as an unprivileged user for "permission denied" (root reads everything).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';

const root = path.resolve(import.meta.dirname, '../..');

function workDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-usererr-'));
  chmodSync(dir, 0o755);
  copyFileSync(path.join(root, 'examples', 'lab.yaml'), path.join(dir, 'cluster.yaml'));
  chmodSync(path.join(dir, 'cluster.yaml'), 0o644);
  writeFileSync(path.join(dir, 'afile'), 'not a directory\n');
  return dir;
}

async function run(cwd: string, args: string[]): Promise<{ code: number; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = '';
  stdout.resume();
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(args, { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1', CI: 'true' }, cwd });
  return { code, err };
}

function expectUserError(r: { code: number; err: string }, message: RegExp, fix: RegExp): void {
  expect(r.err).not.toMatch(/internal error|\n\s+at /);
  expect(r.err).toMatch(message);
  expect(r.err).toMatch(fix);
  expect(r.code).toBe(2);
}

describe('paths that are the wrong kind of thing', () => {
  it('--state-dir a file (setup, preflight), or below a file', async () => {
    const dir = workDir();
    const f = path.join(dir, 'cluster.yaml');
    const file = path.join(dir, 'afile');
    for (const args of [['setup', '--yes', '--dry-run'], ['preflight']]) {
      const r = await run(dir, ['-f', f, '--state-dir', file, ...args]);
      expectUserError(r, new RegExp(`error: the state dir ${file} cannot be used: ${file} is a file, not a directory`), /fix: pass --state-dir a directory you can write/);
    }
    const below = await run(dir, ['-f', f, '--state-dir', path.join(file, 'x'), 'setup', '--yes', '--dry-run']);
    expectUserError(below, new RegExp(`${file} is a file, not a directory`), /fix: pass --state-dir/);
  });

  it('-f a directory; --snapshot a directory; --kubeconfig a directory; --junit a directory', async () => {
    const dir = workDir();
    expectUserError(await run(dir, ['-f', dir, 'plan']), new RegExp(`error: cannot read the cluster spec ${dir}: it is a directory, not a file`), /fix: pass the file inside it/);
    expectUserError(await run(dir, ['--state-dir', path.join(dir, 's'), 'drill', '--snapshot', dir]), new RegExp(`error: cannot read the snapshot ${dir}: it is a directory, not a file`), /--snapshot/);
    expectUserError(await run(dir, ['validate', '--kubeconfig', dir]), new RegExp(`error: cannot read kubeconfig ${dir}: it is a directory, not a file`), /--kubeconfig/);
    const snap = path.join(dir, 'snap.db');
    writeFileSync(snap, Buffer.alloc(4096));
    expectUserError(await run(dir, ['--state-dir', path.join(dir, 's'), 'drill', '--snapshot', snap, '--junit', dir]), new RegExp(`error: cannot write --junit ${dir}: it is a directory`), /fix: pass --junit with a file name/);
  });
});

describe('permission denied', () => {
  // As root, an unprivileged user makes the mistake; as anyone else, the test's own user does.
  const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const bin = (cwd: string, args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'groundwork'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, HOME: cwd, NO_COLOR: '1', CI: 'true' }, ...asOther });
    return { code: r.status ?? -1, err: r.stderr };
  };

  it('an unreadable spec, snapshot or kubeconfig; a state dir that is not writable', () => {
    const dir = workDir();
    const secret = path.join(dir, 'secret.yaml');
    copyFileSync(path.join(dir, 'cluster.yaml'), secret);
    chmodSync(secret, 0o000);
    const snap = path.join(dir, 'snap.db');
    writeFileSync(snap, Buffer.alloc(4096));
    chmodSync(snap, 0o000);
    const ro = path.join(dir, 'ro');
    mkdirSync(ro, { mode: 0o555 });
    chmodSync(ro, 0o555);
    const writable = path.join(dir, 'state');
    mkdirSync(writable);
    chmodSync(writable, 0o777);

    expectUserError(bin(dir, ['-f', secret, 'plan']), new RegExp(`error: cannot read the cluster spec ${secret}: permission denied`), new RegExp(`chmod u\\+r ${secret}`));
    expectUserError(bin(dir, ['--state-dir', writable, 'drill', '--snapshot', snap]), new RegExp(`error: cannot read the snapshot ${snap}: permission denied`), /--snapshot/);
    expectUserError(bin(dir, ['validate', '--kubeconfig', secret]), new RegExp(`error: cannot read kubeconfig ${secret}: permission denied`), /--kubeconfig/);
    expectUserError(bin(dir, ['--state-dir', path.join(ro, 'x'), 'setup', '--yes', '--dry-run']), new RegExp(`error: the state dir ${ro}/x is not writable: ${ro}: permission denied`), new RegExp(`chmod u\\+w ${ro}`));
  });
});
