/** The cni, monitoring and backup stages as `groundwork plan` shows them, through setup's stage list. */
import { describe, expect, it } from 'vitest';
import { buildSetupPlan } from '../../src/setup.js';
import { formatPlan } from '../../src/run/plan-text.js';
import { parseSpec } from '../../src/spec/load.js';

const yaml = (cni: string, method: string, extra = '') => `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: demo }
spec:
  endpoint: https://127.0.10.11:6443
  bootstrap: { method: ${method} }
  nodes:
    - { name: cp-1, address: 127.0.10.11, role: control-plane }
    - { name: w-1, address: 127.0.10.21, role: worker }
  network: { podCIDR: 10.244.0.0/16, cni: ${cni} }
${extra}`;

const opts = { stages: ['cni', 'monitoring', 'backup'] as ('cni' | 'monitoring' | 'backup')[], runDir: '/c/.groundwork/runs/<run-id>', stateDir: '/c/.groundwork' };

describe('add-on stages in the setup plan', () => {
  it('flannel on kubeadm: helm call, values file, gate, and the NetworkPolicy warning', async () => {
    const plan = await buildSetupPlan(parseSpec(yaml('flannel', 'kubeadm', '  addons: { monitoring: none, logging: none, backup: false }\n'), 'cluster.yaml'), opts);
    expect(formatPlan(plan).split('\n').slice(2).join('\n')).toBe(`1. cni: Install the CNI: flannel
   note: flannel v0.26.7 from https://flannel-io.github.io/flannel/
   note: Flannel does not enforce NetworkPolicy: policies are accepted by the API server and silently ignored, so nothing isolates workloads; choose cilium or calico if you rely on them
   - cni-namespaces: Create namespace kube-flannel (privileged) with Pod Security labels [timeout 60s, retries 1]
       server-side applies Namespace kube-flannel (privileged): pod-security.kubernetes.io/enforce, audit and warn set to the level
   - cni-helm-flannel: Install flannel v0.26.7 (helm release flannel in kube-flannel) [timeout 600s, retries 1]
       $ helm upgrade --install flannel flannel --repo https://flannel-io.github.io/flannel/ --version v0.26.7 --namespace kube-flannel --values '/c/.groundwork/runs/<run-id>/addons/flannel-values.yaml' --kubeconfig /c/.groundwork/secrets/kubeconfig
       writes /c/.groundwork/runs/<run-id>/addons/flannel-values.yaml
       chart flannel v0.26.7 from https://flannel-io.github.io/flannel/; values in /c/.groundwork/runs/<run-id>/addons/flannel-values.yaml
   - cni-rollout: Wait for DaemonSet kube-flannel/kube-flannel-ds on every node and all nodes Ready (up to 300s) [timeout 360s]
       polls DaemonSet kube-flannel/kube-flannel-ds, its pods and the nodes through the Kubernetes API for up to 300s

2. monitoring: Install monitoring and logging
   note: spec.addons.monitoring is none: no metrics
   note: spec.addons.logging is none: no log collection
   (no steps)

3. backup: Schedule etcd backups
   note: spec.addons.backup is false: no scheduled etcd snapshots
   (no steps)
`);
  });

  it('cilium on talos with the defaults: every stage has steps; air-gap archives replace the repositories', async () => {
    const extra = '  addons: { chartArchives: { cilium: /charts/cilium-1.19.0.tgz, fluent-bit: charts/fluent-bit-0.50.0.tgz } }\n  images: { registry: "mirror.local:5000" }\n';
    const plan = await buildSetupPlan(parseSpec(yaml('cilium', 'talos', extra), '/site/cluster.yaml'), opts);
    const ids = plan.stages.map((s) => [s.name, s.steps.map((x) => x.id)]);
    expect(ids).toEqual([
      ['cni', ['cni-helm-cilium', 'cni-rollout']],
      ['monitoring', ['monitoring-namespaces', 'monitoring-helm-monitoring', 'monitoring-helm-fluent-bit', 'monitoring-rollout']],
      ['backup', ['backup-apply']],
    ]);
    const text = formatPlan(plan);
    expect(text).toContain('$ helm upgrade --install cilium /charts/cilium-1.19.0.tgz --version 1.19.0 --namespace kube-system');
    expect(text).toContain('note: cilium 1.19.0 from local archive /charts/cilium-1.19.0.tgz');
    expect(text).toContain('KubePrism localhost:7445');
    expect(text).toContain('needs Talos API access from Kubernetes on the control planes (role os:etcd:backup from kube-system): a KubeTalosAPIAccessConfig document');
    expect(text).toContain('$ helm upgrade --install monitoring kube-prometheus-stack --repo https://prometheus-community.github.io/helm-charts --version 77.11.0');
    expect(text).toContain('Wait for the workloads in monitoring, logging to be Ready');
    // A relative archive is relative to the spec file, not to where groundwork was started.
    expect(text).toContain('$ helm upgrade --install fluent-bit /site/charts/fluent-bit-0.50.0.tgz --version 0.50.0');
  });

  it('cni none: no steps, and the plan says why', async () => {
    const plan = await buildSetupPlan(parseSpec(yaml('none', 'kubeadm'), 'cluster.yaml'), { ...opts, stages: ['cni'] });
    expect(plan.stages[0]).toMatchObject({ name: 'cni', steps: [], notes: ['spec.network.cni is none: bring your own CNI; nodes stay NotReady until one runs'] });
  });

  it('a bad retention is a spec error at its line', () => {
    expect(() => parseSpec(yaml('cilium', 'kubeadm', '  addons: { retention: 15days }\n'), 'cluster.yaml')).toThrow(/cluster\.yaml:11:\d+ spec\.addons\.retention: "15days" is not a retention like "15d"/);
  });
});

describe('spec.addons.chartArchives', () => {
  it('names the charts it knows, so a typo is an error at its line', () => {
    expect(() => parseSpec(yaml('cilium', 'kubeadm', '  addons: { chartArchives: { cillium: /c.tgz } }\n'), 'cluster.yaml')).toThrow(/cluster\.yaml:11:\d+ spec\.addons\.chartArchives/);
  });
});
