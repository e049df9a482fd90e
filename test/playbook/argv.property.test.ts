/**
 * Acceptance property: any string an operator puts in a spec field is either refused by the spec loader, naming
 * the field with its line and column, or reaches the tool as exactly one argv element, byte for byte. And the
 * renderer holds its half for any string at all (even ones the spec refuses): the value goes through specVars,
 * a playbook step, ctx.exec and a real process that writes its argv NUL-separated to a file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parsePlaybook } from '../../src/playbook/load.js';
import { playbookSteps, specVars } from '../../src/playbook/steps.js';
import { SpecError } from '../../src/errors.js';
import { parseSpec } from '../../src/spec/load.js';
import { createTestContext } from '../helpers/context.js';
import { createFakeBin } from './fake-tools.js';

const NASTY = [' ', '  ', '"', "'", ';', '&&', '|', '$(reboot)', '`id`', '${HOME}', '$HOME', '\n', '\r\n', '\t', '*', '?', '[a-z]', '~', '!', '#', '\\', '>', '<', '(', ')', '{{ secretsDir }}', '{{', '}}', '-rf', '--', '=', '%s', 'é', '日本', '🙂', '\u200b', '\u2028', '\ufeff', 'a b'];

/** Strings an argv can carry: anything but NUL, well-formed UTF-16 (the kernel takes bytes, we send UTF-8). */
const fieldValue = fc
  .oneof(
    fc.constantFrom('', ...NASTY),
    fc.string({ unit: fc.constantFrom(...NASTY), maxLength: 6 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
  )
  .filter((s) => !s.includes('\0') && s.isWellFormed());

const PLAYBOOK = parsePlaybook(
  `name: argv-property
stage: bootstrap
steps:
  - id: record
    title: "Record {{ nodes.firstControlPlane.name }}"
    run: [record, --registry, "{{ spec.images.registry }}", "--disk={{ nodes.firstControlPlane.installDisk }}", "x{{ nodes.firstControlPlane.labels.zone }}y", "{{ metadata.name }}"]
`,
  'playbooks/argv-property.yaml',
);

const LAB = parse(readFileSync('examples/lab.yaml', 'utf8')) as { spec: { images?: object; nodes: Record<string, unknown>[] } };

function specText(registry: string, disk: string, zone: string): string {
  const data = structuredClone(LAB);
  data.spec.images = { registry };
  data.spec.nodes[0] = { ...data.spec.nodes[0], installDisk: disk, labels: { zone } };
  return stringify(data);
}

describe('a spec value becomes exactly one argv element', () => {
  const bin = createFakeBin();
  const out = path.join(bin.dir, 'argv');
  bin.add('record', `printf '%s\\0' "$@" > '${out}'`);

  it('for any string in any of three fields, inside or as a whole element (50 real processes)', async () => {
    await fc.assert(
      fc.asyncProperty(fieldValue, fieldValue, fieldValue, async (registry, disk, zone) => {
        let spec;
        try {
          spec = parseSpec(specText(registry, disk, zone), 'cluster.yaml').spec;
        } catch (e) {
          if (!(e instanceof SpecError)) throw e;
          for (const i of e.issues) {
            expect(['spec.images.registry', 'spec.nodes[0].installDisk', 'spec.nodes[0].labels.zone']).toContain(i.path);
            expect(i.line).toBeGreaterThan(0);
          }
          // The renderer must still keep any value whole: give it the values the spec refused, as data.
          spec = parseSpec(specText('', '/dev/sda', 'a'), 'cluster.yaml').spec;
          spec.spec.images.registry = registry;
          spec.spec.nodes[0]!.installDisk = disk;
          spec.spec.nodes[0]!.labels = { zone };
        }
        const [step] = playbookSteps(PLAYBOOK, specVars(spec));
        const ctx = createTestContext({ env: bin.env });
        const outcome = await step!.run(ctx);
        expect(outcome.status).toBe('pass');
        const argv = readFileSync(out, 'utf8').split('\0');
        expect(argv.pop()).toBe('');
        expect(argv).toEqual(['--registry', registry, `--disk=${disk}`, `x${zone}y`, 'lab']);
      }),
      { numRuns: 50 },
    );
  });
});
