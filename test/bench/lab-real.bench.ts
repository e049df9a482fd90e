/**
 * A 200-node lab on the real control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd) beside
 * the embedded API, in the same run: how long the lab takes to settle, `groundwork validate`'s wall time, and
 * memory (the lab process's RSS; on the real API also the control plane's programs, from /proc).
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { LAB_API_ADVERTISE_ADDRESS, hardenedAsGroundworkConfigures, startRealControlPlane, type RealControlPlane } from '../../src/lab/real/control-plane.js';
import { runValidate } from '../../src/validate/index.js';
import type { BenchLine } from './types.js';
import { captureIo } from '../helpers/io.js';
import { waitLabSettled } from '../helpers/lab.js';

const NODES = 200;

function rssMiB(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

async function measure(api: 'embedded' | 'real'): Promise<{ settleS: number; wallS: number; code: number; labMiB: number; cpMiB: number; cpPer: string; per: string }> {
  let cp: RealControlPlane | undefined;
  let lab: Lab | undefined;
  try {
    const t0 = performance.now();
    // Configured as groundwork configures a cluster's (and `rehearse --api real` starts it): the security suite passes.
    if (api === 'real') cp = await startRealControlPlane({ ...(await hardenedAsGroundworkConfigures()), advertiseAddress: LAB_API_ADVERTISE_ADDRESS });
    lab = await startLab({ api, controlPlane: cp, nodes: NODES, controlPlanes: 3, cni: 'cilium', controllers: createControllers() });
    await waitLabSettled(lab, { timeoutMs: 180_000, minPods: NODES, intervalMs: 200 });
    const settleS = (performance.now() - t0) / 1000;
    const dir = mkdtempSync(path.join(tmpdir(), `gw-bench-${api}-`));
    const io = captureIo(dir);
    const t1 = performance.now();
    const code = await runValidate({
      io,
      kubeconfig: lab.kubeconfigPath,
      stateDir: path.join(dir, '.groundwork'),
      json: true,
      timeoutS: 180,
    });
    const wallS = (performance.now() - t1) / 1000;
    const report = JSON.parse(io.out()) as { results: { id: string; status: string; summary: string; durationMs: number }[] };
    // A suite that did not pass says why, so a figure from a slow run is not taken for a fast broken one.
    const per = report.results.map((r) => `${r.id} ${r.status} ${(r.durationMs / 1000).toFixed(1)}s${r.status === 'pass' ? '' : ` (${r.summary.slice(0, 240)})`}`).join(', ');
    const programs = Object.entries(cp?.pids ?? {}).map(([name, pid]) => [name, pid ? rssMiB(pid) : 0] as const);
    const cpMiB = programs.reduce((a, [, m]) => a + m, 0);
    const cpPer = programs.map(([name, m]) => `${name} ${Math.round(m)} MiB`).join(', ');
    return { settleS, wallS, code, labMiB: process.memoryUsage().rss / 2 ** 20, cpMiB, cpPer, per };
  } finally {
    await lab?.stop();
    await cp?.stop();
  }
}

export default async function bench(): Promise<BenchLine[]> {
  const embedded = await measure('embedded');
  const real = await measure('real');
  const base = (name: string, value: number) => ({ name: `embedded API: ${name}`, value });
  return [
    { name: `lab on the real API: ${NODES} nodes settled (control plane start included)`, value: real.settleS, unit: 's', baseline: base('settled', embedded.settleS) },
    { name: `validate: ${NODES}-node lab on the real API (wall)`, value: real.wallS, unit: 's', baseline: base('validate wall', embedded.wallS), goal: '< 120 s', met: real.wallS < 120 && real.code === 0, note: `exit ${real.code}; ${real.per}; embedded: exit ${embedded.code}; ${embedded.per}` },
    { name: 'memory: the lab process (RSS) on the real API', value: Math.round(real.labMiB), unit: 'MiB', baseline: base('lab process RSS', Math.round(embedded.labMiB)), note: 'one process, measured after each run (embedded first)' },
    { name: 'memory: kube-apiserver + kcm + scheduler + etcd (RSS)', value: Math.round(real.cpMiB), unit: 'MiB', note: real.cpPer },
  ];
}
