/**
 * The preflight service: load the spec, build the one-stage Plan, run it through the engine (progress on stderr,
 * results table or --json report on stdout, run records with report.json and junit.xml).
 */
import path from 'node:path';
import type { Io } from '../io.js';
import type { Plan, RunSummary } from '../run/types.js';
import type { LoadedSpec } from '../spec/load.js';
import { buildPreflightStage, type PreflightOptions } from './stage.js';
import { formatPortCatalog } from '../net/ports.js';
import { formatThresholds } from './thresholds.js';

export interface RunPreflightOptions extends PreflightOptions {
  file: string;
  stateDir?: string;
  json: boolean;
  color: boolean;
  io: Io;
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
}

export function buildPreflightPlan(loaded: LoadedSpec, opts: PreflightOptions): Plan {
  const { spec } = loaded;
  return {
    title: `groundwork preflight: cluster ${spec.metadata.name} (${spec.spec.bootstrap.method}, ${spec.spec.nodes.length} nodes, CNI ${spec.spec.network.cni}) from ${loaded.file}`,
    stages: [buildPreflightStage(loaded, opts)],
  };
}

export async function runPreflight(opts: RunPreflightOptions): Promise<RunSummary> {
  const { loadSpecAndWarn } = await import('../setup.js');
  const { runPlan } = await import('../run/engine.js');
  const { resolveStateDir } = await import('../run/state-dir.js');
  const loaded = await loadSpecAndWarn(opts.file, opts.io);
  const plan = buildPreflightPlan(loaded, opts);
  return runPlan(plan, {
    command: 'preflight',
    stateDir: resolveStateDir(opts.stateDir, opts.file, opts.io.cwd),
    io: opts.io,
    json: opts.json,
    color: opts.color,
    signal: opts.signal,
    env: opts.env,
    specFile: path.resolve(opts.file),
    reportExtra: { cluster: loaded.spec.metadata.name, ignored: opts.ignore ?? [] },
  });
}

/** `groundwork preflight --list`: the port catalog and every threshold with its source. */
export function formatPreflightCatalog(): string {
  return `Ports (role x bootstrap method x CNI):\n${formatPortCatalog()}\n\nThresholds:\n${formatThresholds()}\n`;
}
