/**
 * `groundwork validate` against a 200-node lab (goal < 15 s) and a 1,000-node lab (goal < 60 s): total wall
 * time and how many pods it created (O(nodes): a server and a client per node, plus the spread pods and a few
 * fixed ones). GROUNDWORK_BENCH_VALIDATE_NODES=200,1000 (the default) picks the sizes. validate runs from dist/ (as
 * the CLI runs it, kube door bundled) when built, the lab from src/, both in this process.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startLab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { fileURLToPath } from 'node:url';
import type { BenchLine } from './types.js';

const GOAL_S: Record<number, number> = { 200: 15, 1000: 60 };

export default async function bench(): Promise<BenchLine[]> {
  const sizes = (process.env.GROUNDWORK_BENCH_VALIDATE_NODES ?? '200,1000').split(',').map(Number);
  const lines: BenchLine[] = [];
  // validate as it ships (`npm run bench` builds first): dist/, whose kube door is the bundle; from src/ under tsx it
  // would load @kubernetes/client-node's 826 modules through the TypeScript loader instead.
  const dist = fileURLToPath(new URL('../../dist/validate/index.js', import.meta.url));
  const { runValidate } = (await import(existsSync(dist) ? dist : '../../src/validate/index.js')) as typeof import('../../src/validate/index.js');
  for (const n of sizes) lines.push(...(await benchValidate(n, runValidate)));
  return lines;
}

async function benchValidate(NODES: number, runValidate: typeof import('../../src/validate/index.js').runValidate): Promise<BenchLine[]> {
  const lab = await startLab({ nodes: NODES, controlPlanes: 3, cni: 'cilium', controllers: createControllers() });
  try {
    // Let the lab's system pods come up first, as setup's health gate would.
    const deadline = Date.now() + 60_000;
    const settled = () => {
      const ps = lab.store.list('pods', 'kube-system').items;
      return ps.length > 0 && ps.every((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running');
    };
    while (Date.now() < deadline && !settled()) await new Promise((r) => setTimeout(r, 200));
    let pods = 0;
    const stopWatch = lab.store.watch('pods', undefined, {}, (e) => {
      if (e.type === 'ADDED' && e.object.metadata.namespace?.startsWith('groundwork-validate-')) pods++;
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-validate-'));
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    const stderr = new PassThrough();
    stderr.resume();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const code = await runValidate({
      io: { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1', CI: 'true' }, cwd: dir },
      kubeconfig: lab.kubeconfigPath,
      stateDir: path.join(dir, '.groundwork'),
      json: true,
      timeoutS: 300,
    });
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const goal = GOAL_S[NODES] ?? 60;
    stopWatch();
    const report = JSON.parse(out) as { results: { id: string; status: string; durationMs: number; evidence?: { probes?: number } }[] };
    const per = report.results.map((r) => `${r.id} ${r.status} ${(r.durationMs / 1000).toFixed(1)}s`).join(', ');
    const probes = report.results.find((r) => r.id === 'connectivity')?.evidence?.probes;
    const left = lab.store.list('namespaces').items.filter((n) => n.metadata.name!.startsWith('groundwork-validate-')).length;
    return [
      { name: `validate: ${NODES}-node lab, all suites (wall, cleanup included)`, value: wallS, unit: 's', goal: `< ${goal} s`, met: wallS < goal && code === 0, note: `exit ${code}; CPU ${cpuS.toFixed(1)} s (lab and validate, one process: what the machine's load does not change); ${per}` },
      { name: `validate: pods created on ${NODES} nodes`, value: pods, unit: 'pods', note: `${(pods / NODES).toFixed(2)} per node; connectivity probes: ${probes ?? '?'}; test namespaces left: ${left}` },
    ];
  } finally {
    await lab.stop();
  }
}
