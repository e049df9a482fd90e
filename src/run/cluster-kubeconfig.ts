/**
 * The kubeconfig of the cluster a run builds, for every stage after bootstrap (add-ons, gates, validation): one
 * rule, in one place.
 */
import path from 'node:path';
import type { StepContext } from './types.js';

/** Where bootstrap writes the admin kubeconfig: <stateDir>/secrets/kubeconfig. */
export function stateDirKubeconfig(stateDir: string): string {
  return path.join(stateDir, 'secrets', 'kubeconfig');
}

/** The one the run was given (values.kubeconfig, `stored`), else the one bootstrap writes into the state dir. */
export function clusterKubeconfig(ctx: Pick<StepContext, 'values' | 'stateDir'>): { path: string; stored: boolean } {
  const v = ctx.values.kubeconfig;
  return v ? { path: v, stored: true } : { path: stateDirKubeconfig(ctx.stateDir), stored: false };
}
