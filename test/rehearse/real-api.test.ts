/**
 * `groundwork rehearse --api real` end to end, through the real binary with a PATH built from scratch: the lab's
 * node side on the real control plane, validate passes, and the drill restores the real kube-apiserver's etcd and
 * lists the restored data through a real kube-apiserver. Every report says which API it ran on. Without the
 * programs, `--api real` is a usage error naming `npm run real-tools`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realToolsPath } from '../helpers/real-tools.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/groundwork');

function rehearse(args: string[], PATH: string) {
  const cwd = mkdtempSync(path.join(tmpdir(), 'gw-rehearse-real-'));
  const r = spawnSync(process.execPath, [BIN, 'rehearse', ...args], { cwd, encoding: 'utf8', env: { PATH, NO_COLOR: '1', CI: 'true', GROUNDWORK_LOOPBACK_ONLY: '1', HOME: cwd }, timeout: 480_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('rehearse --api real', () => {
  it('passes end to end with the drill: validate on the real control plane, its etcd restored and listed through kube-apiserver', () => {
    const bin = realToolsPath(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'etcd-3.6/etcd', 'etcd-3.6/etcdctl', 'etcd-3.6/etcdutl']);
    const r = rehearse(['--api', 'real', '--stages', 'validate,drill', '--json'], `${bin}:/usr/bin:/bin`);
    const report = JSON.parse(r.out) as { status: string; ranOn: Record<string, string>; lab: { api: string }; results: { id: string; stage: string; status: string; summary: string }[]; runDir: string };
    expect(report.status, JSON.stringify(report.results.map((x) => [x.id, x.status, x.summary]))).toBe('pass');
    expect(r.code).toBe(0);
    expect(report.lab.api).toBe('real');
    expect(report.ranOn['lab api']).toMatch(/^real/);
    expect(report.results.filter((x) => x.stage === 'validate').map((x) => x.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass']); // the six suites and security
    expect(report.results.find((x) => /lab/.test(x.id) && x.stage === 'drill')?.summary ?? report.results.filter((x) => x.stage === 'drill').map((x) => x.summary).join(' | ')).toMatch(/kube-apiserver on the restored data lists \d+ namespaces and \d+ pods/);
    expect(readFileSync(path.join(report.runDir, 'junit.xml'), 'utf8')).toContain('<property name="lab api" value="real');
    expect(r.err).toMatch(/on the real control plane \(kube-apiserver, kube-controller-manager, kube-scheduler\)/);
  }, 600_000);

  it('without the programs, --api real is a usage error naming npm run real-tools', () => {
    const r = rehearse(['--api', 'real', '--stages', 'validate'], '/usr/bin:/bin');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/kube-apiserver/);
    expect(r.err).toContain('npm run real-tools');
  });
});
