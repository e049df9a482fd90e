/**
 * The cni, monitoring and backup stages of `groundwork setup` (src/setup.ts SETUP_STAGES lazy-imports them). The
 * stage builders only assemble Steps: nothing is written or contacted until a step runs, so `plan` can print them.
 */
import path from 'node:path';
import type { Stage, Step } from '../run/types.js';
import type { Spec } from '../spec/schema.js';
import { buildApplyBackupStep } from './apply.js';
import { buildBackupPlan } from './backup.js';
import type { ChartRef } from './charts.js';
import { buildCniPlan } from './cni.js';
import { buildCniGateStep, buildWorkloadsGateStep, type GateStepOptions } from './gates.js';
import { buildHelmStep, chartLocation, type ChartSources } from './helm.js';
import { buildMonitoringNotes, buildMonitoringReleases } from './monitoring.js';
import { buildAddonNamespaces, buildNamespacesStep } from './namespaces.js';

export const CNI_GATE_TIMEOUT_MS = 5 * 60_000;
export const MONITORING_GATE_TIMEOUT_MS = 10 * 60_000;

export interface AddonStageOptions {
  runDir: string;
  stateDir: string;
  /** Write the values files while building (false for `plan`). */
  writeFiles?: boolean;
  /** The spec file's directory: relative chart archive paths are relative to it, not to the working directory. */
  specDir?: string;
  /** Gate overrides (tests: a short timeout, the lab's client). */
  gate?: Partial<GateStepOptions>;
}

/** spec.addons.chartArchives with relative paths resolved against the spec's directory. */
export function resolveChartArchives(spec: Spec, specDir: string | undefined): Record<string, string> | undefined {
  const a = spec.spec.addons.chartArchives;
  if (!a) return undefined;
  return Object.fromEntries(Object.entries(a).map(([chart, file]) => [chart, specDir ? path.resolve(specDir, file) : file]));
}

/** Where the charts come from: local archives and the chart repository mirror of the spec. */
export function resolveChartSources(spec: Spec, specDir: string | undefined): ChartSources {
  return { archives: resolveChartArchives(spec, specDir), repository: spec.spec.images.chartRepository };
}

function chartNote(chart: ChartRef, sources: ChartSources): string {
  return `${chart.chart} ${chart.version} from ${chartLocation(chart, sources).from}`;
}

/** The namespaces step for releases (none when they all go into the cluster's own namespaces). */
function namespaceSteps(stage: string, charts: ChartRef[], o: AddonStageOptions, spec: Spec, includeListed = false): Step[] {
  const namespaces = buildAddonNamespaces(charts, spec.spec.security.podSecurity.namespaces, includeListed);
  return namespaces.length > 0 ? [buildNamespacesStep({ stage, namespaces, connect: o.gate?.connect })] : [];
}

export function buildCniStage(spec: Spec, o: AddonStageOptions): Stage {
  const plan = buildCniPlan(spec);
  const title = 'Install the CNI';
  if (!plan) {
    return { name: 'cni', title, steps: [], notes: ['spec.network.cni is none: bring your own CNI; nodes stay NotReady until one runs'] };
  }
  const sources = resolveChartSources(spec, o.specDir);
  const steps = [
    ...namespaceSteps('cni', plan.release ? [plan.release.chart] : [], o, spec, true),
    ...(plan.release ? [buildHelmStep({ stage: 'cni', release: plan.release, runDir: o.runDir, stateDir: o.stateDir, sources, writeFiles: o.writeFiles })] : []),
    buildCniGateStep(plan.daemonSet, { stage: 'cni', timeoutMs: CNI_GATE_TIMEOUT_MS, ...o.gate }),
  ];
  return { name: 'cni', title: `${title}: ${plan.cni}`, steps, notes: [...(plan.release ? [chartNote(plan.release.chart, sources)] : []), ...plan.notes] };
}

export function buildMonitoringStage(spec: Spec, o: AddonStageOptions): Stage {
  const releases = buildMonitoringReleases(spec);
  const sources = resolveChartSources(spec, o.specDir);
  const namespaces = [...new Set(releases.map((r) => r.chart.namespace))];
  const steps = [
    ...namespaceSteps('monitoring', releases.map((r) => r.chart), o, spec),
    ...releases.map((release) => buildHelmStep({ stage: 'monitoring', release, runDir: o.runDir, stateDir: o.stateDir, sources, writeFiles: o.writeFiles })),
    ...(releases.length > 0 ? [buildWorkloadsGateStep(namespaces, { stage: 'monitoring', timeoutMs: MONITORING_GATE_TIMEOUT_MS, ...o.gate })] : []),
  ];
  return { name: 'monitoring', title: 'Install monitoring and logging', steps, notes: [...releases.map((r) => chartNote(r.chart, sources)), ...buildMonitoringNotes(spec)] };
}

export function buildBackupStage(spec: Spec, o: AddonStageOptions): Stage {
  const plan = buildBackupPlan(spec);
  const steps = plan.objects.length > 0 ? [buildApplyBackupStep({ stage: 'backup', plan, runDir: o.runDir, connect: o.gate?.connect, writeFiles: o.writeFiles })] : [];
  return { name: 'backup', title: 'Schedule etcd backups', steps, notes: plan.notes };
}
