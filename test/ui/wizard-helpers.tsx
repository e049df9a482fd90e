/** Mounting the wizard in ink-testing-library with fake services, and reading its frames. */
import React from 'react';
import type { WizardServices, WizardProps } from '../../src/ui/wizard/Wizard.js';
import type { SpecInput } from '../../src/spec/schema.js';

export const plain = (s: string | undefined) => (s ?? '').replace(/\u001b\[[0-9;]*m/g, '');
export const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** Waits until the last frame contains text (ink throttles frames; a loaded machine renders late). */
export async function frameWith(app: { lastFrame(): string | undefined }, text: string | RegExp | ((frame: string) => boolean), timeoutMs = 3000): Promise<string> {
  const start = Date.now();
  for (;;) {
    const f = plain(app.lastFrame());
    if (typeof text === 'string' ? f.includes(text) : typeof text === 'function' ? text(f) : text.test(f)) return f;
    if (Date.now() - start > timeoutMs) return f;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function fakeServices(over: Partial<WizardServices> = {}): WizardServices & { saved: string[] } {
  const saved: string[] = [];
  return {
    specFile: 'cluster.yaml',
    saved,
    async save(yaml) {
      saved.push(yaml);
      return 'cluster.yaml';
    },
    async planText() {
      return 'groundwork setup: cluster lab\n1. preflight: Check prerequisites\n';
    },
    async preflight() {
      return [];
    },
    async run() {
      throw new Error('not in this test');
    },
    cancel() {},
    ...over,
  };
}

export async function mountWizard(o: { services?: WizardServices & { saved: string[] }; initial?: SpecInput } & Partial<Omit<WizardProps, 'services' | 'initial' | 'onExit'>> = {}) {
  const { render } = await import('ink-testing-library');
  const { Wizard } = await import('../../src/ui/wizard/Wizard.js');
  const { defaultDraft } = await import('../../src/ui/wizard/model.js');
  const services = o.services ?? fakeServices();
  let code: number | undefined;
  const { services: _s, initial, ...rest } = o;
  const app = render(<Wizard initial={initial ?? defaultDraft()} services={services} color={false} {...rest} onExit={(c) => (code = c)} />);
  await tick();
  const press = async (k: string, n = 1) => {
    for (let i = 0; i < n; i++) {
      app.stdin.write(k);
      await tick(15);
    }
  };
  return { app, services, press, code: () => code };
}

export const KEY = {
  UP: '\u001B[A',
  DOWN: '\u001B[B',
  RIGHT: '\u001B[C',
  LEFT: '\u001B[D',
  BACKSPACE: '\u007F',
  ENTER: '\r',
  ESC: '\u001B',
  CTRL_U: '\u0015',
  CTRL_N: '\u000e',
} as const;
