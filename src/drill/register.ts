/**
 * Registers the drill stage with setup (src/setup.ts lazy-imports this module): a restore drill of the new
 * cluster's etcd, through talosctl (Talos) or ssh + etcdctl (kubeadm) on the first control plane. Its steps share
 * a member and a scratch directory, so the stage is atomic on resume and the engine runs its cleanup.
 */
import path from 'node:path';
import { registerStageBuilder } from '../setup.js';
import { createDrill } from './drill.js';
import { drillTargetFromSpec } from './targets.js';

registerStageBuilder('drill', async (loaded, opts) => {
  const talosconfig = path.join(opts.stateDir, 'secrets', 'talos', 'talosconfig');
  const drill = createDrill({ target: drillTargetFromSpec(loaded.spec, { talosconfig }) });
  return { ...drill.stage, atomic: true, cleanup: (ctx) => drill.cleanup(ctx) };
});
