import type { PodSecurityLevel } from '../kube/pod-security.js';

/**
 * The charts groundwork installs, pinned. Changing a version here is a reviewed change: the values builders and
 * the vendored schema (test/fixtures/addons) follow the chart they were written against.
 */

export interface ChartRef {
  /** Chart name in its repository (and the key for spec.addons.chartArchives). */
  chart: string;
  repo: string;
  version: string;
  /** Helm release name and namespace groundwork uses. */
  release: string;
  namespace: string;
  /**
   * The Pod Security level of the release's namespace, which groundwork creates with these labels before helm runs
   * (kube-system is the cluster's own and left alone). Node agents need `privileged`: the Talos default
   * (`baseline`) forbids their hostNetwork, hostPID and hostPath volumes.
   */
  podSecurity: PodSecurityLevel;
}

/** Cilium 1.19.0 (released 2026-02). */
export const CILIUM_CHART: ChartRef = { chart: 'cilium', repo: 'https://helm.cilium.io/', version: '1.19.0', release: 'cilium', namespace: 'kube-system', podSecurity: 'privileged' };

/**
 * Calico through the Tigera operator chart: it is the install method the Calico project documents for Helm, and
 * the operator reconciles an Installation resource (IP pools, registry) instead of us templating calico-node.
 * The operator runs with hostNetwork; it creates and labels calico-system for calico-node itself.
 */
export const CALICO_CHART: ChartRef = { chart: 'tigera-operator', repo: 'https://docs.tigera.io/calico/charts', version: 'v3.30.3', release: 'calico', namespace: 'tigera-operator', podSecurity: 'privileged' };

export const FLANNEL_CHART: ChartRef = { chart: 'flannel', repo: 'https://flannel-io.github.io/flannel/', version: 'v0.26.7', release: 'flannel', namespace: 'kube-flannel', podSecurity: 'privileged' };

export const KUBE_PROMETHEUS_STACK_CHART: ChartRef = {
  chart: 'kube-prometheus-stack',
  repo: 'https://prometheus-community.github.io/helm-charts',
  version: '77.11.0',
  release: 'monitoring',
  namespace: 'monitoring',
  // node-exporter: hostNetwork, hostPID and a hostPath mount of /.
  podSecurity: 'privileged',
};

export const VICTORIA_METRICS_CHART: ChartRef = {
  chart: 'victoria-metrics-k8s-stack',
  repo: 'https://victoriametrics.github.io/helm-charts/',
  version: '0.58.3',
  release: 'monitoring',
  namespace: 'monitoring',
  // node-exporter: hostNetwork, hostPID and a hostPath mount of /.
  podSecurity: 'privileged',
};

/** Fluent Bit reads /var/log of each node through hostPath volumes. */
export const FLUENT_BIT_CHART: ChartRef = { chart: 'fluent-bit', repo: 'https://fluent.github.io/helm-charts', version: '0.50.0', release: 'fluent-bit', namespace: 'logging', podSecurity: 'privileged' };

export const ALL_CHARTS: readonly ChartRef[] = [CILIUM_CHART, CALICO_CHART, FLANNEL_CHART, KUBE_PROMETHEUS_STACK_CHART, VICTORIA_METRICS_CHART, FLUENT_BIT_CHART];
