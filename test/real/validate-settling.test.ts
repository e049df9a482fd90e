/**
 * Nodes that just joined, on the real control plane: kube-apiserver's TaintNodesByCondition admission creates every
 * node tainted node.kubernetes.io/not-ready:NoSchedule, and kube-controller-manager's node lifecycle controller takes
 * the taint off once the node is Ready (on a 200-node lab that takes ~20 s: ten nodes a second). Here that controller
 * is off and the test plays it, taking the taints off once validate says it waits, so the moment lasts exactly as
 * long as the test wants: validate then judges the settled nodes, with the real scheduler placing the spread pods;
 * a taint nobody takes off is named after the wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { LAB_API_ADVERTISE_ADDRESS, hardenedAsGroundworkConfigures } from '../../src/lab/real/control-plane.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { loadKubeConfig, type KubeClient, type KubeObject } from '../../src/kube/index.js';
import { ValidateSession } from '../../src/validate/session.js';
import { runControlPlane } from '../../src/validate/suites/control-plane.js';
import { runScheduling } from '../../src/validate/suites/scheduling.js';
import type { StepContext } from '../../src/run/types.js';

let cp: ControlPlane;
let lab: Lab;
let kube: KubeClient;
const NODES = ['cp-1', 'w-1', 'w-2', 'w-3'];
type Taint = { key: string; effect: string };
const taintsOf = (n: KubeObject | undefined): Taint[] => ((n?.spec as { taints?: Taint[] } | undefined)?.taints ?? []);
const isReady = (n: KubeObject): boolean => ((n.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

beforeAll(async () => {
  cp = await startControlPlane({
    ...(await hardenedAsGroundworkConfigures()),
    advertiseAddress: LAB_API_ADVERTISE_ADDRESS,
    controllerManagerArgs: ['--controllers=*,-node-lifecycle-controller'],
  });
  lab = await startLab({ api: 'real', controlPlane: cp, nodes: NODES.length, cni: 'cilium', controllers: createControllers({ timeScale: 0.1 }) });
  // Every node Ready and still tainted, its CNI agent running (CoreDNS stays Pending: it does not tolerate the taint).
  const deadline = Date.now() + 60_000;
  const joined = () => {
    const nodes = lab.store.list('nodes').items;
    const agents = lab.store.list('pods', 'kube-system').items.filter((p) => p.metadata.labels?.['k8s-app'] === 'cilium' && (p.status as { phase?: string } | undefined)?.phase === 'Running');
    return nodes.length === NODES.length && nodes.every((n) => isReady(n) && taintsOf(n).some((t) => t.key === 'node.kubernetes.io/not-ready')) && agents.length === NODES.length;
  };
  while (!joined()) {
    if (Date.now() >= deadline) throw new Error(`the nodes did not join Ready and tainted within 60 s:\n${cp.logs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  kube = await loadKubeConfig(lab.kubeconfigPath);
}, 120_000);

afterAll(async () => {
  kube?.close();
  await lab?.stop();
  await cp?.stop();
});

/** What the node lifecycle controller does once a node is Ready: its not-ready taint off, the others kept. */
async function untaint(names: string[]): Promise<void> {
  for (const n of names) {
    const taints = taintsOf(lab.store.get('nodes', undefined, n)).filter((t) => t.key !== 'node.kubernetes.io/not-ready');
    await lab.store.patch('nodes', undefined, n, 'merge', { spec: { taints: taints.length ? taints : null } });
  }
}

function context(run: string, onLog: (line: string) => void = () => {}): { ctx: StepContext; logs: string[] } {
  const logs: string[] = [];
  const log = (line: string) => {
    logs.push(line);
    onLog(line);
  };
  return { logs, ctx: { runDir: `/x/runs/${run}`, stateDir: '/x', signal: new AbortController().signal, log, values: {} } as unknown as StepContext };
}

describe('validate on nodes the node lifecycle controller has not untainted yet', () => {
  // First: nobody takes the taints off (the controller is off), so this case must run before the next one does.
  it('a lifecycle taint nobody takes off is named after the wait, with the controller to check', async () => {
    const { ctx, logs } = context('settle-1');
    // timeoutS bounds the wait too (30 s at most): 3 s here.
    const s = new ValidateSession({ kube, timeoutS: 3 });
    const control = await runControlPlane(s, ctx);
    expect(logs).toEqual([
      'waiting up to 3 s for the node lifecycle controller: 4 Ready nodes (cp-1, w-1, w-2, w-3) still tainted node.kubernetes.io/not-ready:NoSchedule',
      'still after 3 s: 4 Ready nodes (cp-1, w-1, w-2, w-3) still tainted node.kubernetes.io/not-ready:NoSchedule; judging the nodes as they are',
    ]);
    expect(control.status).toBe('warn');
    expect(control.summary).toContain('w-1, w-2, w-3 tainted node.kubernetes.io/not-ready:NoSchedule; no node takes pods at all');
    expect(control.fix).toMatch(/^check kube-controller-manager/);
  }, 60_000);

  it('waits for the controller, then the real scheduler spreads over every node and nothing is called wrong', async () => {
    let untainted: Promise<void> | undefined;
    const { ctx, logs } = context('settle-2', (line) => {
      if (line.startsWith('waiting up to')) untainted ??= untaint(NODES);
    });
    const s = new ValidateSession({ kube, timeoutS: 60 });
    // Concurrently, as validate runs them: both judge the one settled view.
    const [control, scheduling] = await Promise.all([runControlPlane(s, ctx), runScheduling(s, ctx)]);
    await untainted;
    await s.cleanup(ctx);
    expect(logs).toContain('waiting up to 30 s for the node lifecycle controller: 4 Ready nodes (cp-1, w-1, w-2, w-3) still tainted node.kubernetes.io/not-ready:NoSchedule');
    expect(logs).toContain('the node lifecycle controller took the taints off; judging the nodes as they are now');
    expect(control.summary).toContain('3 nodes take pods');
    expect(control.summary).not.toMatch(/take no pods/);
    expect([scheduling.status, scheduling.summary]).toEqual(['pass', expect.stringContaining('3 pods spread one per schedulable node')]);
  }, 120_000);
});
