import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/groundwork');

function inTemp(example: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-dry-'));
  copyFileSync(path.join(root, 'examples', example), path.join(dir, 'cluster.yaml'));
  return dir;
}

describe('setup --dry-run and plan', () => {
  it('plan writes nothing; a dry run writes every generated file and runs nothing', () => {
    const dir = inTemp('talos-ha.yaml');
    const out = execFileSync(process.execPath, [bin, 'plan'], { cwd: dir, encoding: 'utf8' });
    expect(out).toContain('talosctl gen secrets');
    expect(out).toMatch(/helm upgrade --install cilium cilium .*--version \S+/);
    expect(existsSync(path.join(dir, '.groundwork'))).toBe(false);

    const report = JSON.parse(execFileSync(process.execPath, [bin, 'setup', '--yes', '--dry-run', '--json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    expect(report.status).toBe('pass');
    expect(report.results.every((r: { status: string }) => r.status === 'skip')).toBe(true);
    const run = path.join(dir, '.groundwork', 'runs', readdirSync(path.join(dir, '.groundwork', 'runs'))[0]!);
    const values = parse(readFileSync(path.join(run, 'addons', 'cilium-values.yaml'), 'utf8'));
    expect(values.ipam.operator.clusterPoolIPv4PodCIDRList).toEqual(['10.244.0.0/16']);
    expect(readdirSync(path.join(run, 'bootstrap', 'talos')).sort()).toEqual(['cluster-patch.yaml', 'node-cp-1.yaml', 'node-cp-2.yaml', 'node-cp-3.yaml', 'node-w-1.yaml', 'node-w-2.yaml']);
    // nothing ran: no process in the audit log
    expect(existsSync(path.join(run, 'audit.jsonl'))).toBe(false);
  });

  it.each(['talos-ha.yaml', 'kubeadm-small.yaml'])('%s: a dry run writes every generated file the plan names', (example) => {
    const dir = inTemp(example);
    const plan = JSON.parse(execFileSync(process.execPath, [bin, 'plan', '--json'], { cwd: dir, encoding: 'utf8' })) as { stages: { steps: { files: string[] }[] }[] };
    const runPrefix = path.join(dir, '.groundwork', 'runs', '<run-id>') + path.sep;
    // Files in the run directory are generated from the spec; secrets and drill scratch come from running steps.
    const named = plan.stages.flatMap((st) => st.steps.flatMap((s) => s.files)).filter((f) => f.startsWith(runPrefix)).map((f) => f.slice(runPrefix.length));
    expect(named).toContain(path.join('addons', 'etcd-backup.yaml'));
    execFileSync(process.execPath, [bin, 'setup', '--yes', '--dry-run', '--json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const run = path.join(dir, '.groundwork', 'runs', readdirSync(path.join(dir, '.groundwork', 'runs'))[0]!);
    const missing = named.filter((f) => !existsSync(path.join(run, f)));
    expect(missing).toEqual([]);
    expect(readFileSync(path.join(run, 'addons', 'etcd-backup.yaml'), 'utf8')).toContain('kind: CronJob');
  });
});
