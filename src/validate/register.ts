/**
 * Registers the validate stage with setup (src/setup.ts lazy-imports this module). It finds the kubeconfig the
 * bootstrap stage wrote (ctx.values.kubeconfig, then <stateDir>/secrets/kubeconfig); the engine runs the stage's
 * cleanup, so test namespaces go on success, failure and Ctrl-C.
 */
import { registerStageBuilder } from '../setup.js';
import { buildValidateStage } from './index.js';
import { securityOptionsFromSpec } from './security/expectations.js';

registerStageBuilder('validate', async (loaded) => buildValidateStage({ imageRegistry: loaded.spec.spec.images.registry || undefined, specNodes: loaded.spec.spec.nodes.map((n) => n.name), security: securityOptionsFromSpec(loaded.spec) }));
