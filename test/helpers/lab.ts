/** Waiting for a test lab to settle, as setup's health gate does, read from the lab's store. */
import { afterAll, beforeAll } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import type { LabOptions } from '../../src/lab/types.js';
import type { KubeObject } from '../../src/lab/store/types.js';

export interface LabSettleOptions {
  /** How long to wait before failing, naming the pods' and nodes' phases. */
  timeoutMs: number;
  /** At least this many kube-system pods (default 1: the system pods have been created). */
  minPods?: number;
  /** Also the pods Ready, every node Ready and no node carrying a node.kubernetes.io/ taint (default false). */
  ready?: boolean;
  /** Poll interval (default 100 ms). */
  intervalMs?: number;
  /** A fault present from the start may keep the lab from settling: wait out the deadline, then go on (no throw). */
  allowUnsettled?: boolean;
}

const phase = (o: KubeObject): string => (o.status as { phase?: string } | undefined)?.phase ?? 'no phase';
const readyStatus = (o: KubeObject): string => ((o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).find((c) => c.type === 'Ready')?.status ?? 'none';
const isReady = (o: KubeObject): boolean => readyStatus(o) === 'True';
const lifecycleTaints = (n: KubeObject): string[] => ((n.spec as { taints?: { key: string }[] } | undefined)?.taints ?? []).map((t) => t.key).filter((k) => k.startsWith('node.kubernetes.io/'));

/** Until the lab's kube-system pods are Running (and with `ready`, Ready, with the nodes Ready and untainted); throws at the deadline. */
export async function waitLabSettled(lab: Lab, o: LabSettleOptions): Promise<void> {
  const minPods = o.minPods ?? 1;
  const settled = (): boolean => {
    const pods = lab.store.list('pods', 'kube-system').items;
    if (pods.length < minPods || !pods.every((p) => phase(p) === 'Running' && (!o.ready || isReady(p)))) return false;
    if (!o.ready) return true;
    const nodes = lab.store.list('nodes').items;
    return nodes.every((n) => isReady(n) && lifecycleTaints(n).length === 0);
  };
  const deadline = Date.now() + o.timeoutMs;
  while (!settled()) {
    if (Date.now() >= deadline) {
      if (o.allowUnsettled) return;
      throw new Error(`the lab did not settle within ${o.timeoutMs / 1000}s: ${describeLab(lab)}`);
    }
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
}

/** The kube-system pods' phases (and Ready) and the nodes' Ready status and lifecycle taints, for a failure message. */
function describeLab(lab: Lab): string {
  const pods = lab.store.list('pods', 'kube-system').items.map((p) => `${p.metadata.name} ${phase(p)} Ready=${readyStatus(p)}`);
  const nodes = lab.store.list('nodes').items.map((n) => {
    const taints = lifecycleTaints(n);
    return `${n.metadata.name} Ready=${readyStatus(n)}${taints.length ? ` tainted ${taints.join(',')}` : ''}`;
  });
  return `kube-system pods (${pods.length}): ${pods.join(', ') || 'none'}; nodes: ${nodes.join(', ') || 'none'}`;
}

/** One lab for the tests of a file: started before them, stopped after them; call the result inside a test. */
export function labForTests(options: LabOptions): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await startLab(options);
  });
  afterAll(async () => {
    await lab?.stop();
  });
  return () => {
    if (!lab) throw new Error('the lab did not start (see beforeAll)');
    return lab;
  };
}
