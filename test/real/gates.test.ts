/**
 * The rollout gates against a real control plane with Pod Security as Talos configures it: a workload that does not
 * roll out is reported with the event that says why (FailedCreate from the real controller manager when admission
 * refuses its pods, FailedScheduling from the real scheduler), not only "N/M ready". And the add-on namespace step
 * is what lets a node agent's pods in: the same DaemonSet gets its pod once groundwork has labelled the namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUENT_BIT_CHART } from '../../src/addons/charts.js';
import { buildCniGateStep, buildWorkloadsGateStep } from '../../src/addons/gates.js';
import { buildAddonNamespaces, buildNamespacesStep } from '../../src/addons/namespaces.js';
import { executeStep } from '../../src/run/engine.js';
import { createTestContext } from '../helpers/context.js';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';

/** A node agent like Fluent Bit: hostPath /var/log, on every node. */
function logAgent(namespace: string, name: string): object {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name, namespace },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          tolerations: [{ operator: 'Exists' }],
          containers: [{ name: 'agent', image: 'cr.fluentbit.io/fluent/fluent-bit:4.0.3', volumeMounts: [{ name: 'varlog', mountPath: '/var/log', readOnly: true }] }],
          volumes: [{ name: 'varlog', hostPath: { path: '/var/log' } }],
        },
      },
    },
  };
}

function deployment(namespace: string, name: string, podSpec: Record<string, unknown>): object {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }], ...podSpec } } },
  };
}

/** Restricted-clean, so the only thing in its way is that nothing can run it. */
const RESTRICTED_POD = {
  securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
};

describe('rollout gates on a real control plane (Talos Pod Security)', () => {
  let cp: ControlPlane;
  const ctx = () => ({ ...createTestContext(), values: { kubeconfig: cp.kubeconfig } });

  beforeAll(async () => {
    cp = await startControlPlane({ podSecurity: 'talos' });
    // One registered node (no kubelet behind it) so that DaemonSets want a pod; untainted for the scheduler's sake.
    const node = await cp.applyServerSide([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } } }]);
    expect(node.stderr).toBe('');
    // What `helm --create-namespace` leaves: namespaces without Pod Security labels, so the cluster default (baseline) rules.
    for (const ns of ['unlabelled', 'cni-test']) {
      expect((await cp.kubectl(['create', 'namespace', ns])).code).toBe(0);
      await cp.waitForDefaultServiceAccount(ns);
    }
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('the workloads gate names FailedCreate for a DaemonSet and a Deployment that Pod Security refuses, FailedScheduling for a pod with nowhere to go', async () => {
    const applied = await cp.applyServerSide([
      logAgent('unlabelled', 'fluent-bit'),
      deployment('unlabelled', 'hostnet', { hostNetwork: true }),
      deployment('unlabelled', 'homeless', { ...RESTRICTED_POD, nodeSelector: { 'groundwork.dev/no-such-node': 'x' } }),
    ]);
    expect(applied.code).toBe(0);
    const r = await executeStep(buildWorkloadsGateStep(['unlabelled'], { stage: 'monitoring', timeoutMs: 6000, intervalMs: 500 }), ctx());
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/DaemonSet unlabelled\/fluent-bit \(0\/1 pods ready; FailedCreate: Error creating: pods "fluent-bit-\w+" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \(volume "varlog"\)\)/);
    expect(r.summary).toMatch(/Deployment unlabelled\/hostnet \(0\/1 replicas ready; FailedCreate: Error creating: pods "hostnet-\w+-\w+" is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)\)$/);
    expect(r.summary).toMatch(/Deployment unlabelled\/homeless \(0\/1 replicas ready; FailedScheduling: 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/);
  }, 60_000);

  it('the CNI gate names the FailedCreate of its DaemonSet', async () => {
    const applied = await cp.applyServerSide([logAgent('cni-test', 'cilium')]);
    expect(applied.code).toBe(0);
    const r = await executeStep(buildCniGateStep({ namespace: 'cni-test', name: 'cilium' }, { stage: 'cni', timeoutMs: 4000, intervalMs: 500 }), ctx());
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/^not ready after 4s: DaemonSet cni-test\/cilium: no ready cilium pod on 1 of 1 nodes: node-1; nodes not Ready: node-1; FailedCreate: Error creating: pods "cilium-\w+" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes \(volume "varlog"\)$/);
    expect(r.evidence).toMatchObject({ events: [expect.stringContaining('FailedCreate')] });
  }, 60_000);

  it("groundwork's namespace step lets the log agent's pod in", async () => {
    const ns = FLUENT_BIT_CHART.namespace;
    const step = buildNamespacesStep({ stage: 'monitoring', namespaces: buildAddonNamespaces([FLUENT_BIT_CHART]) });
    expect((await executeStep(step, ctx())).status).toBe('pass');
    const labels = await cp.kubectl(['get', 'namespace', ns, '-o', 'jsonpath={.metadata.labels}']);
    expect(JSON.parse(labels.stdout)).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged', 'pod-security.kubernetes.io/audit': 'privileged' });
    await cp.waitForDefaultServiceAccount(ns);
    const applied = await cp.applyServerSide([logAgent(ns, 'fluent-bit')]);
    expect(applied.stderr).toBe('');
    let pods = '';
    for (let i = 0; i < 100 && pods === ''; i++) {
      pods = (await cp.kubectl(['-n', ns, 'get', 'pods', '-l', 'app=fluent-bit', '-o', 'name'])).stdout.trim();
      if (pods === '') await new Promise((res) => setTimeout(res, 100));
    }
    expect(pods).toMatch(/^pod\/fluent-bit-\w+$/);
    const events = await cp.kubectl(['-n', ns, 'get', 'events', '--field-selector', 'reason=FailedCreate', '-o', 'name']);
    expect(events.stdout.trim()).toBe('');
  }, 60_000);
});
