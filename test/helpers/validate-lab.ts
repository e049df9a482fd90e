/**
 * `runValidate --json` against a test lab with faults added after it settled (test/validate/truthful*.test.ts).
 * The lab's store is read directly afterwards (not through the API, which the api-errors fault would also hit).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Lab, LabOptions } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { createFaultRegistry } from '../../src/lab/faults.js';
import { runValidate, type SuiteName } from '../../src/validate/index.js';
import { captureIo } from './io.js';
import { waitLabSettled } from './lab.js';

export interface ValidateReport {
  status: string;
  results: { id: string; status: string; summary: string; detail?: string; why?: string; fix?: string; evidence?: Record<string, unknown> }[];
  cleanup?: { leftovers: string[]; commands?: string[] };
}

export interface ValidateLabOptions {
  faults?: string[];
  seed?: number;
  lab?: Partial<LabOptions>;
  only?: SuiteName[];
  timeoutS?: number;
  specNodes?: string[];
  before?: (lab: Lab) => Promise<void>;
  /** After the faults, until this holds in the lab's store (20 s at most): on the real API a fault's taints are
   *  the node lifecycle controller's, a moment after the node reports it; validate runs on a cluster already broken. */
  until?: (lab: Lab) => boolean;
}

/** A repeatable "random" for api-errors: the same requests fail on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A settled 3-node Cilium lab (started by `start`), `before`, then the faults, then validate. */
export async function validateLab(start: (opts: LabOptions) => Promise<Lab>, o: ValidateLabOptions): Promise<{ report: ValidateReport; code: number; lab: Lab; stderr: string }> {
  const faults = createFaultRegistry([], { random: seeded(o.seed ?? 14) });
  const lab = await start({ nodes: 3, cni: 'cilium', ...o.lab, controllers: createControllers({ timeScale: 0.1, faults }) });
  await waitLabSettled(lab, { timeoutMs: 20_000 });
  await o.before?.(lab);
  for (const f of o.faults ?? []) faults.add(f);
  if (o.until) {
    const deadline = Date.now() + 20_000;
    while (!o.until(lab)) {
      if (Date.now() >= deadline) throw new Error('the lab did not show the fault within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-truthful-'));
  const io = captureIo(dir);
  const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS: o.timeoutS ?? 30, only: o.only, specNodes: o.specNodes });
  return { report: JSON.parse(io.out()) as ValidateReport, code, lab, stderr: io.err() };
}

export function statuses(r: ValidateReport): Record<string, string> {
  return Object.fromEntries(r.results.map((x) => [x.id, x.status]));
}

export function result(r: ValidateReport, id: string) {
  return r.results.find((x) => x.id === id)!;
}

/** Cordons the named nodes (a `before`). */
export const cordon = (names: string[]) => async (lab: Lab) => {
  for (const n of names) await lab.store.patch('nodes', undefined, n, 'merge', { spec: { unschedulable: true } });
};

/** Every node carries node.kubernetes.io/not-ready (an `until` for cni-not-ready). */
export const allNotReadyTainted = (lab: Lab): boolean =>
  lab.store.list('nodes').items.every((n) => ((n.spec as { taints?: { key: string }[] } | undefined)?.taints ?? []).some((t) => t.key === 'node.kubernetes.io/not-ready'));
