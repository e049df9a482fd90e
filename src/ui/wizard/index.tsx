/** Mounts the wizard on the terminal and resolves with the exit code it chose. */
import React from 'react';
import { render } from 'ink';
import type { SpecInput } from '../../spec/schema.js';
import type { SpecIssue } from '../../errors.js';
import { Wizard, type WizardServices } from './Wizard.js';

// The wizard's start-up needs these too; exported here so one (bundled) module serves the whole first screen.
// Light (yaml alone): the spec stack (model.ts) loads after ink's first frame, as a chunk of its own.
export { defaultDraft } from './screens.js';
export { draftFromYaml } from './start.js';

export async function mountWizard(opts: { initial: SpecInput; initialText?: string; problems?: SpecIssue[]; services: WizardServices; color: boolean; stdout: NodeJS.WriteStream; stdin: NodeJS.ReadStream; rows?: number; painted?: number }): Promise<number> {
  let code = 0;
  // The first frame was painted without ink (first-paint.ts): back to its first line, cleared, and ink draws
  // the same frame there in the same tick, so nothing flickers.
  if (opts.painted) opts.stdout.write(`\r\u001b[${opts.painted}A\u001b[J`);
  const app = render(<Wizard initial={opts.initial} initialText={opts.initialText} problems={opts.problems} services={opts.services} color={opts.color} rows={opts.rows ?? opts.stdout.rows ?? 24} onExit={(c) => (code = c)} />, {
    stdout: opts.stdout,
    stdin: opts.stdin,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  await app.waitUntilExit();
  return code;
}
