/**
 * The real upstream programs built by `npm run real-tools` (tools/real/build.sh): talosctl, kubeadm,
 * kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, helm, and etcd/etcdctl/etcdutl 3.5 and 3.6.
 *
 * A test asks for a program by name and gets its absolute path; a missing program fails the test naming the
 * command that builds it (never a skip). Every use is recorded under `.real-tools-usage/` so that `.ci/run` can print
 * one line per program with its version and how many tests used it.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';

export type RealProgram =
  | 'talosctl'
  | 'kubeadm'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'helm'
  | 'etcd-3.5/etcd'
  | 'etcd-3.5/etcdctl'
  | 'etcd-3.5/etcdutl'
  | 'etcd-3.6/etcd'
  | 'etcd-3.6/etcdctl'
  | 'etcd-3.6/etcdutl';

const REPO = path.resolve(import.meta.dirname, '../..');

/** The directory `npm run real-tools` printed: $GROUNDWORK_REAL_TOOLS, else the cache's `current` link. */
export function realToolsDir(): string {
  const cache =
    process.env.GROUNDWORK_REAL_TOOLS_CACHE ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'groundwork', 'real-tools');
  const dir = process.env.GROUNDWORK_REAL_TOOLS ?? path.join(cache, 'current');
  if (!existsSync(path.join(dir, 'versions.json'))) {
    throw new Error(`the real programs are not built (looked in ${dir}): run \`npm run real-tools\` first`);
  }
  return realpathSync(dir);
}

/** Versions of the programs in the set, from versions.json. */
export function realToolVersions(): Record<string, string> {
  return JSON.parse(readFileSync(path.join(realToolsDir(), 'versions.json'), 'utf8')) as Record<string, string>;
}

function recordUse(program: string): void {
  let test = 'unknown';
  try {
    test = `${expect.getState().testPath ?? ''} > ${expect.getState().currentTestName ?? '(hook)'}`;
  } catch {
    /* outside a test */
  }
  const dir = path.join(REPO, '.real-tools-usage');
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, `${process.pid}.tsv`), `${program}\t${test.replace(/[\t\n]/g, ' ')}\n`);
}

/** Absolute path of one real program; records that the current test used it. */
export function realTool(program: RealProgram): string {
  const file = path.join(realToolsDir(), program);
  if (!existsSync(file)) throw new Error(`real program ${program} missing from ${realToolsDir()}: run \`npm run real-tools\``);
  recordUse(program);
  return file;
}

/**
 * A PATH directory built from scratch holding links to the named real programs under their plain names
 * (`etcd-3.6/etcdctl` becomes `etcdctl`), plus `extra` links (name → absolute target) such as /usr/bin/ssh.
 */
export function realToolsPath(programs: RealProgram[], extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-real-path-'));
  for (const p of programs) symlinkSync(realTool(p), path.join(dir, path.basename(p)));
  for (const [name, target] of Object.entries(extra)) symlinkSync(target, path.join(dir, name));
  return dir;
}
