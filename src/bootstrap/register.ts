/**
 * Registers the bootstrap stage with setup (src/setup.ts lazy-imports this module; importing it is the
 * registration, as with the other stage modules).
 */
import { registerStageBuilder } from '../setup.js';
import { buildBootstrapStage } from './stage.js';

registerStageBuilder('bootstrap', async (loaded, opts) => buildBootstrapStage(loaded, { runDir: opts.runDir, stateDir: opts.stateDir, writeFiles: opts.writeFiles }));
