/** Playbooks: external command sequences as data (playbooks/*.yaml). Format: playbooks/README.md. */
export { loadPlaybook, parsePlaybook, builtinPlaybookFile, type LoadedPlaybook } from './load.js';
export { renderArgv, renderTemplate, lookupPath, type RenderedArgv, type RenderSite } from './render.js';
export { playbookSteps, specVars, stepsFromPlaybookFile, type PlaybookStepsOptions } from './steps.js';
export { Playbook, PlaybookStep, parseDuration } from './schema.js';
