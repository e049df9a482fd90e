/**
 * Registers the preflight stage with setup (src/setup.ts lazy-imports this module; importing it is the
 * registration, as with the other stage modules).
 */
import { registerStageBuilder } from '../setup.js';
import { buildPreflightStage } from './stage.js';

registerStageBuilder('preflight', async (loaded, opts) => buildPreflightStage(loaded, { ignore: opts.ignore }));
