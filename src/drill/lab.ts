/**
 * `groundwork drill --lab`: the lab's etcd as the drill target, and the extra check a lab drill makes after
 * verify: a lab API server booted on the restored member serves the namespaces and pods the restored keys hold,
 * listed through the Kubernetes API with the real kubectl.
 */
import { EXIT, UserError } from '../errors.js';
import type { StepContext, StepOutcome } from '../run/types.js';
import type { LabCheck, RestoredMember } from './drill.js';
import type { DrillTarget } from './targets.js';

export interface LabTarget {
  target: DrillTarget;
  check: LabCheck;
}

export function resolveLabTarget(o: { etcd?: string }): LabTarget {
  if (!o.etcd) {
    throw new UserError('--lab needs the etcd the lab keeps its objects in', {
      exitCode: EXIT.usage,
      fix: 'start the lab with `groundwork lab up --etcd http://127.0.0.1:PORT`, then pass --lab --lab-etcd http://127.0.0.1:PORT',
    });
  }
  let url: URL;
  try {
    url = new URL(o.etcd);
  } catch {
    throw new UserError(`--lab-etcd must be an etcd client URL, not "${o.etcd}"`, { exitCode: EXIT.usage, fix: '--lab-etcd http://127.0.0.1:2379' });
  }
  if (url.protocol !== 'http:' || !/^127\.\d+\.\d+\.\d+$/.test(url.hostname)) {
    throw new UserError(`--lab-etcd ${o.etcd} is not a plain http:// loopback address`, { exitCode: EXIT.usage, fix: 'the lab runs on 127.0.0.1: --lab-etcd http://127.0.0.1:2379' });
  }
  return { target: { kind: 'lab', endpoints: [o.etcd] }, check: checkLabOnRestored };
}

function countLines(text: string): number {
  return text.split('\n').filter((l) => l.trim() !== '').length;
}

/** Lists namespaces and pods with the real kubectl through an API server on the restored data; compares with the keys. */
async function compareThroughApi(kubeconfig: string, restored: RestoredMember, ctx: StepContext, server: string): Promise<StepOutcome> {
  const kubectl = (args: string[]) => ctx.exec(['kubectl', `--kubeconfig=${kubeconfig}`, ...args], { timeoutMs: 60_000 });
  const namespaces = countLines((await kubectl(['get', 'namespaces', '-o', 'name'])).stdout);
  const pods = countLines((await kubectl(['get', 'pods', '-A', '-o', 'name'])).stdout);
  const expected = { namespaces: restored.counts['/registry/namespaces'] ?? 0, pods: restored.counts['/registry/pods'] ?? 0 };
  const evidence = { namespaces, pods, expected };
  const problems = [
    namespaces !== expected.namespaces ? `${namespaces} namespaces through the API, ${expected.namespaces} in the restored keys` : undefined,
    pods !== expected.pods ? `${pods} pods through the API, ${expected.pods} in the restored keys` : undefined,
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    return { status: 'fail', summary: `the ${server} on the restored data disagrees: ${problems.join('; ')}`, evidence };
  }
  return { status: 'pass', summary: `a ${server} on the restored data lists ${namespaces} namespaces and ${pods} pods, as the restored keys hold`, evidence };
}

/** Boots a bare lab API server (no controllers, no node objects) on the restored member and lists through it. */
export async function checkLabOnRestored(restored: RestoredMember, ctx: StepContext): Promise<StepOutcome> {
  const { startLab } = await import('../lab/index.js');
  const lab = await startLab({ etcd: restored.clientUrl, skipNodeObjects: true });
  try {
    return await compareThroughApi(lab.kubeconfigPath, restored, ctx, 'lab API server');
  } finally {
    await lab.stop();
  }
}

/**
 * The same check for a lab on the real API (`rehearse --api real`): its etcd holds kube-apiserver's own encoding,
 * so a real kube-apiserver (no controllers: nothing may change the restored data) is booted on the restored member.
 */
export async function checkRealApiOnRestored(restored: RestoredMember, ctx: StepContext, programs: import('../lab/real/control-plane.js').ControlPlanePrograms): Promise<StepOutcome> {
  const { startRealControlPlane } = await import('../lab/real/control-plane.js');
  const cp = await startRealControlPlane({ etcdUrl: restored.clientUrl, controllers: false, programs });
  try {
    return await compareThroughApi(cp.kubeconfig, restored, ctx, 'kube-apiserver');
  } finally {
    await cp.stop();
  }
}
