/**
 * The wizard's services: everything it needs done (save the spec, build the plan, run preflight, run the
 * plan or a rehearsal), as callbacks. The UI itself never spawns processes or calls APIs.
 */
import { existsSync, readFileSync, copyFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Io } from './io.js';
import type { LoadedSpec } from './spec/load.js';
import type { StartingPoint } from './ui/wizard/model.js';
import type { WizardServices, RunMode } from './ui/wizard/Wizard.js';
import type { Result } from './run/types.js';
import { buildSetupPlan, runSetup } from './setup.js';
import { resolveStateDir } from './run/state-dir.js';

export interface WizardOptions {
  file: string;
  stateDir?: string;
  color: boolean;
  io: Io;
  /** Lines of the first frame already painted without ink (ui/wizard/first-paint.ts): ink draws over them. */
  painted?: number;
  /** What the rehearsal runs with (default: every stage, on the API rehearse picks: real when its programs are there). */
  rehearsal?: Pick<import('./rehearse.js').RehearseOptions, 'api' | 'faults' | 'stages' | 'timeoutS' | 'settleTimeoutMs'>;
}

type WizardUi = typeof import('./ui/wizard/index.js');

/**
 * The wizard's UI module. `npm run build` also writes dist/ui/wizard/bundle.js (src/ui/build-bundle.mjs):
 * ink, react and the spec loader in one file, which draws the first screen in a fraction of the time the
 * separate modules take (issue 9). It is used only when newer than tsc's index.js, so a bundle left behind by
 * an older build never runs; from src (tests) there is no bundle and the modules load as they are.
 */
export async function loadWizardUi(): Promise<WizardUi> {
  const bundle = new URL('./ui/wizard/bundle.js', import.meta.url);
  try {
    if (statSync(bundle).mtimeMs >= statSync(new URL('./ui/wizard/index.js', import.meta.url)).mtimeMs) return (await import(bundle.href)) as WizardUi;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return import('./ui/wizard/index.js');
}

/**
 * Reads an existing spec as the wizard's starting point (pre-fills every screen, and saving edits that file in
 * place), or the defaults when there is none. A file that is no YAML mapping comes back with its problems.
 */
export async function initialDraft(file: string, ui?: WizardUi): Promise<StartingPoint> {
  const { defaultDraft, draftFromYaml } = ui ?? (await loadWizardUi());
  return existsSync(file) ? draftFromYaml(readFileSync(file, 'utf8'), file) : { draft: defaultDraft() };
}

export function createWizardServices(opts: WizardOptions): WizardServices {
  const stateDir = resolveStateDir(opts.stateDir, opts.file, opts.io.cwd);
  let abort = new AbortController();
  const silentIo: Io = { ...opts.io, env: opts.io.env };

  const services: WizardServices = {
    specFile: opts.file,
    stateDir,
    async save(yaml: string) {
      // Nothing is lost: an existing, different file is kept as .bak first.
      if (existsSync(opts.file) && readFileSync(opts.file, 'utf8') !== yaml) copyFileSync(opts.file, `${opts.file}.bak`);
      await writeFile(opts.file, yaml);
      return opts.file;
    },
    async planText(loaded: LoadedSpec) {
      const { formatPlan } = await import('./run/plan-text.js');
      const plan = await buildSetupPlan(loaded, { runDir: path.join(stateDir, 'runs', '<run-id>'), stateDir, writeFiles: false });
      return formatPlan(plan);
    },
    async preflight(loaded: LoadedSpec, ignore: string[], mode: RunMode): Promise<Result[]> {
      const { runPlan, resolveRun } = await import('./run/engine.js');
      const run = resolveRun(stateDir, 'preflight', false);
      const overrides = mode === 'rehearse' ? { preflight: (await import('./rehearse.js')).rehearsalPreflight(ignore) } : undefined;
      const plan = await buildSetupPlan(loaded, { stages: ['preflight'], runDir: run.runDir, stateDir, ignore, overrides, ...(mode === 'rehearse' ? { title: 'preflight (rehearsal)' } : {}) });
      const summary = await runPlan(plan, { command: 'preflight', stateDir, io: silentIo, renderer: 'silent', printResults: false, run, specFile: path.resolve(opts.file) });
      return summary.results;
    },
    async run(loaded: LoadedSpec, o: { mode: RunMode; ignore: string[]; resume: boolean; onStore: Parameters<WizardServices['run']>[1]['onStore'] }) {
      abort = new AbortController();
      // The wizard draws the run's store itself.
      const renderer = (await import('./run/renderers.js')).storeRenderer(o.onStore);
      if (o.mode === 'rehearse') {
        const { runRehearse } = await import('./rehearse.js');
        return runRehearse({ ...opts.rehearsal, file: opts.file, stateDir: opts.stateDir, json: false, color: opts.color, io: silentIo, signal: abort.signal, renderer });
      }
      // A resumed run keeps the stages and ignored checks it was started with.
      return runSetup({ file: opts.file, stateDir: opts.stateDir, loaded, json: false, color: opts.color, dryRun: false, resume: o.resume, ignore: o.ignore, resumedFlagsWin: true, io: silentIo, signal: abort.signal, renderer });
    },
    cancel() {
      abort.abort();
    },
  };
  return services;
}

export async function runWizard(opts: WizardOptions): Promise<number> {
  const stateDir = resolveStateDir(opts.stateDir, opts.file, opts.io.cwd);
  // Run records load yaml and the redactor (tens of ms): only worth it when a run was ever recorded here.
  const [ui, records] = await Promise.all([loadWizardUi(), existsSync(path.join(stateDir, 'runs')) ? import('./run/records.js') : undefined]);
  const resumable = records?.findResumableRun(stateDir, 'setup');
  const services = createWizardServices(opts);
  if (resumable) {
    const failed = Object.entries(resumable.steps).find(([, s]) => s.status === 'fail');
    services.resumable = { runId: resumable.runId, summary: failed ? `${failed[0]} failed` : resumable.status };
  }
  const start = await initialDraft(opts.file, ui);
  return ui.mountWizard({
    initial: start.draft,
    initialText: start.text,
    problems: start.problems,
    services,
    color: opts.color,
    stdout: opts.io.stdout as NodeJS.WriteStream,
    stdin: opts.io.stdin as NodeJS.ReadStream,
    painted: opts.painted,
  });
}
