import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { playbookSteps } from '../../src/playbook/steps.js';

function onlySpecError(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    expect(e.issues.length).toBeGreaterThan(0);
    for (const i of e.issues) expect(i.line).toBeGreaterThanOrEqual(1);
  }
}

const token = fc.oneof(
  fc.constantFrom('name: x\n', 'stage: cni\n', 'steps:\n', '  - id: a\n', '    title: t\n', '    run: [', ']', '\n', '{{', '}}', '{{ item.name }}', '{{ values.x }}', '"{{ \\"{{\\" }}"', 'forEach: ', 'nodes', 'when: ', 'capture: ', 'secret: ', 'timeout: ', '2m', '-1', ', ', ': ', '- ', '  '),
  fc.string({ maxLength: 6 }),
);

describe('the playbook loader and expander never throw anything but SpecError', () => {
  it('for YAML-shaped noise, loaded and then expanded with arbitrary vars', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), fc.jsonValue({ maxDepth: 3 }), (parts, vars) => {
        onlySpecError(() => {
          const pb = parsePlaybook(parts.join(''), 'p.yaml');
          playbookSteps(pb, { nodes: [{ name: 'a' }], vars } as Record<string, unknown>);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('for any strings in the templates of a valid playbook', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        const text = `name: x\nstage: cni\nsteps:\n  - id: s\n    title: ${JSON.stringify(a)}\n    run: [tool, ${JSON.stringify(b)}]\n    creates: ${JSON.stringify(c)}\n`;
        onlySpecError(() => playbookSteps(parsePlaybook(text, 'p.yaml'), { item: { name: 'n' } }));
      }),
      { numRuns: 300 },
    );
  });
});
