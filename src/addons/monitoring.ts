/**
 * Monitoring and logging values builders (pure): metrics (kube-prometheus-stack or victoria-metrics-k8s-stack,
 * each with Grafana) and logs (Fluent Bit). Retention, storage class, resources and the image mirror come from
 * the spec; sizes are defaults a small cluster can afford.
 */
import type { Spec } from '../spec/schema.js';
import { FLUENT_BIT_CHART, KUBE_PROMETHEUS_STACK_CHART, VICTORIA_METRICS_CHART } from './charts.js';
import type { HelmRelease, Values } from './cni.js';
import { mirrorImage, normalizeMirror } from './images.js';
import { auditLogDir } from '../bootstrap/security.js';

/** Requests sized for a small cluster; limits on memory only (CPU limits throttle scrapes for no gain). */
const MONITORING_RESOURCES = {
  prometheus: { requests: { cpu: '500m', memory: '2Gi' }, limits: { memory: '4Gi' } },
  alertmanager: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
  operator: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
  grafana: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
  vmsingle: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } },
  fluentBit: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
} as const;

const METRICS_VOLUME_SIZE = '50Gi';
const GRAFANA_VOLUME_SIZE = '10Gi';
const ALERTMANAGER_VOLUME_SIZE = '2Gi';

function storageClassField(spec: Spec): Values {
  const sc = spec.spec.addons.storageClass;
  return sc ? { storageClassName: sc } : {};
}

function claimTemplate(spec: Spec, size: string): Values {
  return { spec: { ...storageClassField(spec), accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } } };
}

function grafanaValues(spec: Spec): Values {
  return {
    enabled: true,
    persistence: { enabled: true, size: GRAFANA_VOLUME_SIZE, ...storageClassField(spec) },
    resources: structuredClone(MONITORING_RESOURCES.grafana),
  };
}

function buildKubePrometheusStackValues(spec: Spec): Values {
  const values: Values = {
    prometheus: {
      prometheusSpec: {
        retention: spec.spec.addons.retention,
        storageSpec: { volumeClaimTemplate: claimTemplate(spec, METRICS_VOLUME_SIZE) },
        resources: structuredClone(MONITORING_RESOURCES.prometheus),
      },
    },
    alertmanager: {
      alertmanagerSpec: {
        storage: { volumeClaimTemplate: claimTemplate(spec, ALERTMANAGER_VOLUME_SIZE) },
        resources: structuredClone(MONITORING_RESOURCES.alertmanager),
      },
    },
    prometheusOperator: { resources: structuredClone(MONITORING_RESOURCES.operator) },
    grafana: grafanaValues(spec),
  };
  const mirror = normalizeMirror(spec.spec.images.registry);
  // The chart and its subcharts (grafana, kube-state-metrics, node-exporter) put global.imageRegistry in front
  // of each image's path, which is the mirror layout images.ts assumes.
  if (mirror !== '') values.global = { imageRegistry: mirror };
  return values;
}

function buildVictoriaMetricsValues(spec: Spec): Values {
  const values: Values = {
    vmsingle: {
      enabled: true,
      spec: {
        retentionPeriod: spec.spec.addons.retention,
        storage: { ...storageClassField(spec), accessModes: ['ReadWriteOnce'], resources: { requests: { storage: METRICS_VOLUME_SIZE } } },
        resources: structuredClone(MONITORING_RESOURCES.vmsingle),
      },
    },
    alertmanager: { enabled: true, spec: { resources: structuredClone(MONITORING_RESOURCES.alertmanager) } },
    grafana: grafanaValues(spec),
  };
  const mirror = normalizeMirror(spec.spec.images.registry);
  // VictoriaMetrics charts prefix every image (operator-managed ones too) with global.image.registry.
  if (mirror !== '') values.global = { image: { registry: mirror }, imageRegistry: mirror };
  return values;
}

type LogDestination = Spec['spec']['addons']['logDestination'];

/** Where the logs go, in words (plan notes, the values header). */
function describeLogDestination(d: LogDestination): string {
  return d === 'stdout' ? 'stdout of the Fluent Bit pods (kubectl logs -n logging daemonset/fluent-bit)' : `${d.type} at ${d.url}`;
}

function fluentSection(kind: string, entries: Array<[string, string | number | undefined]>): string {
  const set = entries.filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '');
  return [`[${kind}]`, ...set.map(([k, v]) => `    ${k} ${v}`)].join('\n');
}

/** How many times a chunk is retried before it is dropped (the chart's default outputs retried forever). */
const LOG_RETRY_LIMIT = 5;

/** The Fluent Bit [OUTPUT] section for the destination (classic config format, as the chart's config.outputs). */
function buildFluentBitOutputs(d: LogDestination): string {
  if (d === 'stdout') return `${fluentSection('OUTPUT', [['Name', 'stdout'], ['Match', '*'], ['Format', 'json_lines']])}\n`;
  const u = new URL(d.url);
  const tlsOn = u.protocol === 'https:' || u.protocol === 'tls:';
  const defaultPort = { loki: 3100, elasticsearch: 9200, opensearch: 9200, http: tlsOn ? 443 : 80, forward: 24224 }[d.type];
  const common: Array<[string, string | number | undefined]> = [
    ['Match', '*'],
    ['Host', u.hostname.replace(/^\[|\]$/g, '')],
    ['Port', u.port === '' ? defaultPort : Number(u.port)],
    ['tls', tlsOn ? 'On' : 'Off'],
  ];
  const path = u.pathname === '/' ? undefined : u.pathname + u.search;
  const byType: Record<typeof d.type, Array<[string, string | number | undefined]>> = {
    loki: [['Name', 'loki'], ...common, ['Uri', path], ['Labels', 'job=fluent-bit'], ['Auto_Kubernetes_Labels', 'On']],
    elasticsearch: [['Name', 'es'], ...common, ['Path', path], ['Logstash_Format', 'On'], ['Suppress_Type_Name', 'On'], ['Replace_Dots', 'On']],
    opensearch: [['Name', 'opensearch'], ...common, ['Path', path], ['Logstash_Format', 'On'], ['Suppress_Type_Name', 'On'], ['Replace_Dots', 'On']],
    http: [['Name', 'http'], ...common, ['Uri', path ?? '/'], ['Format', 'json']],
    forward: [['Name', 'forward'], ...common],
  };
  return `${fluentSection('OUTPUT', [...byType[d.type], ['Retry_Limit', LOG_RETRY_LIMIT]])}\n`;
}

/**
 * The [INPUT] sections: container logs from every node without Fluent Bit's own (with a stdout destination they
 * would be read back and printed again, without end); the API audit log of the control planes; on kubeadm also the
 * kubelet's journal (Talos has no journal).
 */
function buildFluentBitInputs(spec: Spec): string {
  const own = `/var/log/containers/${FLUENT_BIT_CHART.release}-*_${FLUENT_BIT_CHART.namespace}_*.log`;
  const sections = [
    fluentSection('INPUT', [['Name', 'tail'], ['Path', '/var/log/containers/*.log'], ['Exclude_Path', own], ['multiline.parser', 'docker, cri'], ['Tag', 'kube.*'], ['Mem_Buf_Limit', '5MB'], ['Skip_Long_Lines', 'On']]),
  ];
  // The API audit log (src/bootstrap/security.ts) exists on control planes only; elsewhere the path matches nothing.
  // It is the one copy that outlives the node (Talos keeps it on the ephemeral partition).
  if (spec.spec.security.audit !== false) {
    sections.push(fluentSection('INPUT', [['Name', 'tail'], ['Path', `${auditLogDir(spec)}/*.log`], ['Parser', 'json'], ['Tag', 'audit.*'], ['Mem_Buf_Limit', '5MB'], ['Skip_Long_Lines', 'On']]));
  }
  if (spec.spec.bootstrap.method === 'kubeadm') {
    sections.push(fluentSection('INPUT', [['Name', 'systemd'], ['Tag', 'host.*'], ['Systemd_Filter', '_SYSTEMD_UNIT=kubelet.service'], ['Read_From_Tail', 'On']]));
  }
  return `${sections.join('\n\n')}\n`;
}

function buildFluentBitValues(spec: Spec): Values {
  const values: Values = {
    resources: structuredClone(MONITORING_RESOURCES.fluentBit),
    // Logs from every node, control planes included.
    tolerations: [{ operator: 'Exists' }],
    // Strings replace the chart's defaults whole: its outputs are two Elasticsearch outputs to elasticsearch-master
    // (retried forever), which exists in no cluster groundwork builds.
    config: { inputs: buildFluentBitInputs(spec), outputs: buildFluentBitOutputs(spec.spec.addons.logDestination) },
  };
  const mirror = normalizeMirror(spec.spec.images.registry);
  if (mirror !== '') {
    values.image = { repository: mirrorImage(mirror, 'cr.fluentbit.io/fluent/fluent-bit') };
    values.testFramework = { image: { repository: mirrorImage(mirror, 'docker.io/library/busybox') } };
  }
  return values;
}

/** The releases of the monitoring stage, in install order (metrics first: Fluent Bit has nothing to depend on). */
export function buildMonitoringReleases(spec: Spec): HelmRelease[] {
  const out: HelmRelease[] = [];
  const a = spec.spec.addons;
  if (a.monitoring === 'kube-prometheus-stack') out.push({ chart: KUBE_PROMETHEUS_STACK_CHART, values: buildKubePrometheusStackValues(spec) });
  if (a.monitoring === 'victoria-metrics') out.push({ chart: VICTORIA_METRICS_CHART, values: buildVictoriaMetricsValues(spec) });
  if (a.logging === 'fluent-bit') out.push({ chart: FLUENT_BIT_CHART, values: buildFluentBitValues(spec) });
  return out;
}

export function buildMonitoringNotes(spec: Spec): string[] {
  const a = spec.spec.addons;
  const notes: string[] = [];
  if (a.monitoring !== 'none') {
    notes.push(`metrics kept ${a.retention} on ${METRICS_VOLUME_SIZE} volumes of ${a.storageClass ? `StorageClass ${a.storageClass}` : 'the default StorageClass'}; Grafana included`);
    // Said rather than silently disabled: the operator decides whether to expose them.
    notes.push('etcd, kube-scheduler and kube-controller-manager serve metrics on 127.0.0.1 by default: their scrape targets show as down until bound to the node address');
  } else notes.push('spec.addons.monitoring is none: no metrics');
  if (a.logging === 'none') notes.push('spec.addons.logging is none: no log collection');
  else notes.push(`Fluent Bit collects container logs on every node${spec.spec.security.audit !== false ? ` and the API audit log (${auditLogDir(spec)}) of the control planes` : ''} and sends them to ${describeLogDestination(a.logDestination)} (spec.addons.logDestination)`);
  return notes;
}
