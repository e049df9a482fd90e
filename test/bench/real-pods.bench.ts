/**
 * `groundwork validate` (all suites) on real pods beside the lab (issue 21): `lab up --api real --nodes-real 2`
 * (real kubelets, containerd, CNI, kube-proxy, CoreDNS, local-path-provisioner, NetworkPolicy enforcement) against
 * `lab up --api real --nodes 3 --control-planes 1` (the same real control plane, two simulated nodes that take
 * pods), both through the CLI as an operator runs them, in the same run. Reports each one's wall time from
 * `lab up` to ready, validate's wall time and per-suite results, and the ratio real / simulated.
 * Needs root and the real-node programs (tools/real/build-node.sh, build-addons.sh): without them it is an error
 * line naming what is missing, never a figure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { realToolsPath } from '../helpers/real-tools.js';
import type { BenchLine } from './types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/groundwork');

interface Report { status: string; results: { id: string; status: string; summary: string; durationMs: number }[] }
interface Measured { upS: number; wallS: number; code: number; passed: number; total: number; per: string }

export default async function bench(): Promise<BenchLine[]> {
  if (process.getuid?.() !== 0) throw new Error('real pods need root (kubelet and containerd in network namespaces): run `sudo npm run bench -- real-pods`');
  const cache = process.env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'groundwork/real-tools');
  for (const [link, how] of [['node-current', 'bash tools/real/build-node.sh'], ['addons-current', 'bash tools/real/build-addons.sh']] as const) {
    if (!existsSync(path.join(cache, link, '.complete'))) throw new Error(`${path.join(cache, link)} is not built: run \`${how}\``);
  }
  const simulated = await measure(['--nodes', '3', '--control-planes', '1'], []);
  const real = await measure(['--nodes-real', '2'], ['--image-registry', 'groundwork.local']);
  const line = (label: string, m: Measured): BenchLine => ({
    name: `validate: ${label}, all suites (wall, cleanup included)`,
    value: m.wallS,
    unit: 's',
    note: `exit ${m.code}; ${m.passed}/${m.total} suites passed; lab up to ready ${m.upS.toFixed(1)} s; ${m.per}`,
  });
  return [
    line('2 simulated nodes on the real control plane (lab up --api real --nodes 3 --control-planes 1)', simulated),
    line('2 real nodes (lab up --api real --nodes-real 2)', real),
    {
      name: 'validate on real pods vs on the lab',
      value: real.wallS,
      unit: 's',
      baseline: { name: 'the same validate on 2 simulated nodes', value: simulated.wallS },
      note: `what real pods cost over the network model: containers started from local images, CNI, kube-proxy and kube-router programming, real DNS and volumes`,
    },
  ];
}

async function measure(shape: string[], validateFlags: string[]): Promise<Measured> {
  const cwd = mkdtempSync(path.join(tmpdir(), 'gw-bench-real-pods-'));
  const kubeconfig = path.join(cwd, 'lab.kubeconfig');
  const env = { PATH: `${realToolsPath(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd-3.6/etcd'])}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: process.env.HOME ?? cwd, NO_COLOR: '1', CI: 'true', GROUNDWORK_LOOPBACK_ONLY: '1' };
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, [BIN, 'lab', 'up', '--api', 'real', ...shape, '--json', '--kubeconfig', kubeconfig], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', () => out.includes('\n') && resolve());
      void exited.then((c) => reject(new Error(`lab up ${shape.join(' ')} exited ${c}: ${err.slice(-2000)}`)));
    });
    const upS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const r = spawnSync(process.execPath, [BIN, 'validate', '--kubeconfig', kubeconfig, ...validateFlags, '--timeout', '180', '--json'], { cwd, env, encoding: 'utf8', timeout: 900_000 });
    const wallS = (performance.now() - t1) / 1000;
    if (!r.stdout.trim().startsWith('{')) throw new Error(`validate on ${shape.join(' ')} printed no report (exit ${r.status}): ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(r.stdout) as Report;
    // A suite that did not pass says why, so a figure from a fast broken run is not taken for a fast good one.
    const per = report.results.map((x) => `${x.id} ${x.status} ${(x.durationMs / 1000).toFixed(1)}s${x.status === 'pass' || x.status === 'skip' ? '' : ` (${x.summary.slice(0, 200)})`}`).join(', ');
    return { upS, wallS, code: r.status ?? -1, passed: report.results.filter((x) => x.status === 'pass').length, total: report.results.length, per };
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
  }
}
