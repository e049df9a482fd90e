/**
 * The lab's node side on a real control plane (issue 13): kube-apiserver, kube-controller-manager and
 * kube-scheduler do the control plane's work, the lab's kubelets run the pods. A healthy lab passes validate;
 * `kubectl logs` reaches the lab's kubelet API through the real API server; a deleted pod is Terminating until
 * its kubelet has stopped it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { LAB_API_ADVERTISE_ADDRESS, hardenedAsGroundworkConfigures } from '../../src/lab/real/control-plane.js';
import { createControllers, type ControllerHandle } from '../../src/lab/controllers/index.js';
import { createFaultRegistry } from '../../src/lab/faults.js';
import { FAULT_DIAGNOSES, HEALTHY } from '../helpers/fault-diagnoses.js';
import { runValidate } from '../../src/validate/index.js';
import { buildProbePod } from '../../src/probe/index.js';
import { captureIo } from '../helpers/io.js';
import { waitLabSettled } from '../helpers/lab.js';

let cp: ControlPlane;
let lab: Lab;
let handle: ControllerHandle;
const faults = createFaultRegistry([], { nodes: () => ['cp-1', 'w-1', 'w-2'], api: 'real' });

/** Like setup's health gate: the nodes Ready and untainted and the system pods (CoreDNS, the CNI agents) Running and Ready. */
const waitSettled = () => waitLabSettled(lab, { timeoutMs: 60_000, minPods: 5, ready: true, intervalMs: 200 });

beforeAll(async () => {
  // Configured as groundwork configures a cluster's control plane (and `lab up --api real` starts one).
  cp = await startControlPlane({ ...(await hardenedAsGroundworkConfigures()), advertiseAddress: LAB_API_ADVERTISE_ADDRESS });
  lab = await startLab({ api: 'real', controlPlane: cp, nodes: 3, cni: 'cilium', controllers: createControllers({ timeScale: 0.1, faults }, (h) => (handle = h)) });
  await waitSettled();
}, 120_000);

/** Until the real API server (not only the lab's mirror) shows the node not Ready and tainted. */
async function waitNodeNotReady(name: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    // The condition, and the real node lifecycle controller's taint, which keeps the scheduler off it (as in a cluster).
    const r = await cp.kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}']);
    const [ready, ...taints] = r.stdout.trim().split(/\s+/);
    if (r.code === 0 && ready && ready !== 'True' && taints.some((t) => t.startsWith('node.kubernetes.io/'))) return;
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function validate(timeoutS: number): Promise<{ code: number; report: { results: { id: string; status: string; summary: string; why?: string; fix?: string }[] } }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-validate-real-'));
  const io = captureIo(dir);
  const code = await runValidate({ io, kubeconfig: lab.kubeconfigPath, stateDir: path.join(dir, '.groundwork'), json: true, timeoutS });
  return { code, report: JSON.parse(io.out()) as { results: { id: string; status: string; summary: string; why?: string; fix?: string }[] } };
}

afterAll(async () => {
  await lab?.stop();
  await cp?.stop();
});


describe('the lab on the real API', () => {
  it('registers its nodes with the real API server: Ready, their kubelet endpoint, leases renewed', async () => {
    const r = await cp.kubectl(['get', 'nodes', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const nodes = (JSON.parse(r.stdout) as { items: { metadata: { name: string }; status: { addresses: { type: string; address: string }[]; daemonEndpoints: { kubeletEndpoint: { Port: number } }; conditions: { type: string; status: string }[] } }[] }).items;
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual(['cp-1', 'w-1', 'w-2']);
    for (const n of nodes) {
      expect(n.status.addresses.find((a) => a.type === 'InternalIP')!.address).toMatch(/^127\.0\.100\.\d+$/);
      expect(n.status.daemonEndpoints.kubeletEndpoint.Port).toBeGreaterThan(0);
      expect(n.status.conditions.find((c) => c.type === 'Ready')!.status).toBe('True');
    }
    // One version: the lab's kubelets report the real API server's own (src/lab/version.ts).
    const server = JSON.parse((await cp.kubectl(['version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } };
    for (const n of nodes as unknown as { status: { nodeInfo: { kubeletVersion: string } } }[]) expect(n.status.nodeInfo.kubeletVersion).toBe(server.serverVersion.gitVersion);
    const leases = await cp.kubectl(['-n', 'kube-node-lease', 'get', 'leases', '-o', 'name']);
    expect(leases.stdout.trim().split('\n').sort()).toEqual(['lease.coordination.k8s.io/cp-1', 'lease.coordination.k8s.io/w-1', 'lease.coordination.k8s.io/w-2']);
  });

  it('the real scheduler binds the system pods and the real controller manager makes them', () => {
    const pods = lab.store.list('pods', 'kube-system').items;
    expect(pods.filter((p) => p.metadata.labels?.['k8s-app'] === 'kube-dns')).toHaveLength(2);
    expect(pods.filter((p) => p.metadata.labels?.['k8s-app'] === 'cilium')).toHaveLength(3);
    for (const p of pods) expect((p.status as { phase: string }).phase).toBe('Running');
  });

  it('kubectl logs (and --tail, --timestamps) reads a pod log from the lab kubelet through the real API server', async () => {
    const pod = buildProbePod({ kind: 'serve', port: 8080 }, { name: 'logs-demo', namespace: 'default' });
    const made = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    expect(made.code, made.stderr).toBe(0);
    const deadline = Date.now() + 30_000;
    let out = { code: 1, stdout: '', stderr: '' };
    while (Date.now() < deadline) {
      out = await cp.kubectl(['-n', 'default', 'logs', 'logs-demo']);
      if (out.code === 0 && out.stdout.includes('Started HTTP server')) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(out.stdout, out.stderr).toContain('Started HTTP server on port 8080');
    const ts = await cp.kubectl(['-n', 'default', 'logs', 'logs-demo', '--timestamps', '--tail=1']);
    expect(ts.stdout.trim()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z Started HTTP server on port 8080$/);
    // Deleting is graceful on the real API: Terminating until the lab's kubelet has stopped the pod.
    const del = await cp.kubectl(['-n', 'default', 'delete', 'pod', 'logs-demo', '--wait=true', '--timeout=60s']);
    expect(del.code, del.stderr).toBe(0);
    expect((await cp.kubectl(['-n', 'default', 'get', 'pod', 'logs-demo'])).stderr).toContain('NotFound');
  }, 90_000);

  it('a healthy 3-node lab passes every validate suite', async () => {
    const { code, report } = await validate(60);
    expect(Object.fromEntries(report.results.map((x) => [x.id, x.status])), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual(HEALTHY);
    expect(code).toBe(0);
    expect(handle.errors()).toEqual([]);
  }, 240_000);

  // The same table as the embedded API's (test/validate/lab.test.ts): the same diagnosis on both.
  it.each(FAULT_DIAGNOSES)('fault %s fails exactly %j with the cause, as on the embedded API', async (fault, failing, suite, summary, why) => {
    faults.add(fault);
    try {
      // Switched on in a running cluster: its effect is written through the API before validate looks.
      await handle.settle();
      if (fault.startsWith('node-not-ready:')) await waitNodeNotReady(fault.split(':')[1]!);
      const { code, report } = await validate(12);
      expect(Object.fromEntries(report.results.map((x) => [x.id, x.status])), JSON.stringify(report.results.map((x) => [x.id, x.summary]))).toEqual({ ...HEALTHY, ...failing });
      expect(code).toBe(1);
      const r = report.results.find((x) => x.id === suite)!;
      expect(r.summary).toMatch(summary);
      expect(r.why).toMatch(why);
      expect(r.fix).toBeTruthy();
    } finally {
      faults.clear();
      await waitSettled();
    }
  }, 240_000);

  it('refuses the api-* faults: a real kube-apiserver is not the lab\'s to slow down', () => {
    expect(() => faults.add('api-latency:100')).toThrow(/needs the embedded API/);
  });
});
