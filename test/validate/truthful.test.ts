/**
 * Issue 14, through the lab: validate names the right suite and the real cause, and does not fail or leave
 * test namespaces behind because the API server is busy. The lab's store is read directly afterwards (not through
 * the API, which the api-errors fault would also hit).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { createFaultRegistry } from '../../src/lab/faults.js';
import { runValidate, type SuiteName } from '../../src/validate/index.js';
import type { LabOptions } from '../../src/lab/types.js';
import type { Io } from '../../src/io.js';

const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.stop()));
});

interface Report {
  status: string;
  results: { id: string; status: string; summary: string; detail?: string; why?: string; fix?: string; evidence?: Record<string, unknown> }[];
  cleanup?: { leftovers: string[]; commands?: string[] };
}

/** A repeatable "random" for api-errors: the same requests fail on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function captureIo(cwd: string): Io & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, stdin: new PassThrough(), env: { NO_COLOR: '1', CI: 'true' }, cwd, out: () => out, err: () => err };
}

async function settle(lab: Lab): Promise<void> {
  const deadline = Date.now() + 20_000;
  const pods = () => lab.store.list('pods', 'kube-system').items;
  while (Date.now() < deadline && (pods().length === 0 || !pods().every((p) => (p.status as { phase?: string } | undefined)?.phase === 'Running'))) await new Promise((r) => setTimeout(r, 100));
}

export async function validateLab(o: { faults?: string[]; seed?: number; lab?: Partial<LabOptions>; only?: SuiteName[]; timeoutS?: number; before?: (lab: Lab) => Promise<void> }): Promise<{ report: Report; code: number; lab: Lab; stderr: string }> {
  const faults = createFaultRegistry([], { random: seeded(o.seed ?? 14) });
  const lab = await startLab({ nodes: 3, cni: 'cilium', ...o.lab, controllers: createControllers({ timeScale: 0.1, faults }) });
  labs.push(lab);
  await settle(lab);
  await o.before?.(lab);
  for (const f of o.faults ?? []) faults.add(f);
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-truthful-'));
  const io = captureIo(dir);
  const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS: o.timeoutS ?? 30, only: o.only });
  return { report: JSON.parse(io.out()) as Report, code, lab, stderr: io.err() };
}

export function statuses(r: Report): Record<string, string> {
  return Object.fromEntries(r.results.map((x) => [x.id, x.status]));
}

export function leftNamespaces(lab: Lab): string[] {
  return lab.store.list('namespaces').items.map((n) => n.metadata.name!).filter((n) => n.startsWith('groundwork-validate'));
}

const HEALTHY = { 'control-plane': 'pass', connectivity: 'pass', dns: 'pass', netpol: 'pass', scheduling: 'pass', storage: 'pass' };

describe.concurrent('a busy API server does not change the verdict', () => {
  it.each([5, 20])('api-errors:%i — every suite passes as on a quiet lab, and cleanup leaves nothing', async (percent) => {
    const { report, code, lab } = await validateLab({ faults: [`api-errors:${percent}`] });
    expect(statuses(report), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual(HEALTHY);
    expect(code).toBe(0);
    expect(report.cleanup?.leftovers).toEqual([]);
    expect(leftNamespaces(lab)).toEqual([]);
  }, 300_000);
});
