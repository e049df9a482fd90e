import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { SpecError } from '../../src/errors.js';
import { parseSpec } from '../../src/spec/load.js';

/** parseSpec either returns or throws a SpecError whose issues all have a real position and a message. */
function assertOnlySpecError(text: string): void {
  let lines = 0;
  try {
    parseSpec(text, 'cluster.yaml');
    return;
  } catch (e) {
    if (!(e instanceof SpecError)) throw new Error(`parseSpec threw ${String(e)} for ${JSON.stringify(text)}`);
    lines = text.split('\n').length;
    expect(e.issues.length).toBeGreaterThan(0);
    for (const i of e.issues) {
      expect(i.line).toBeGreaterThanOrEqual(1);
      expect(i.line).toBeLessThanOrEqual(lines + 1);
      expect(i.column).toBeGreaterThanOrEqual(1);
      expect(i.message.trim()).not.toBe('');
      expect(i.message).not.toMatch(/^Invalid input/);
    }
  }
}

const yamlish = fc
  .array(
    fc.oneof(
      fc.constantFrom(':', ': ', '-', '- ', '[', ']', '{', '}', ',', '&a ', '*a', '!!str ', '!!map ', '\n', '\n  ', '  ', '\t', '"', "'", '#', '|', '>', '? ', '<<: ', '---\n', '...\n', '%YAML 1.2\n', '~', 'null', 'true', '1e9', '0x1F'),
      fc.constantFrom('apiVersion', 'kind', 'metadata', 'spec', 'nodes', 'network', 'podCIDR', 'name', 'address', 'role', '__proto__', 'constructor', 'toString'),
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

const VALID = readFileSync('examples/talos-ha.yaml', 'utf8');
const VALID_DATA = parse(VALID) as Record<string, unknown>;

type PathKey = string | number;
function allPaths(v: unknown, prefix: PathKey[] = []): PathKey[][] {
  const out: PathKey[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...allPaths(x, [...prefix, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...allPaths(x, [...prefix, k]));
  return out;
}
const PATHS = allPaths(VALID_DATA).filter((p) => p.length > 0);

function setAt(root: unknown, p: PathKey[], value: unknown, asNewKey: string | undefined): unknown {
  const copy = structuredClone(root) as Record<string, unknown>;
  let cur: Record<PropertyKey, unknown> = copy;
  for (const k of p.slice(0, -1)) cur = cur[k] as Record<PropertyKey, unknown>;
  const last = p[p.length - 1]!;
  if (asNewKey !== undefined && cur[last] && typeof cur[last] === 'object' && !Array.isArray(cur[last])) (cur[last] as Record<string, unknown>)[asNewKey] = value;
  else if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

const yamlValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.constantFrom('10.244.0.0/33', '::1', '127.0.100.11', 'cp-1', 'control-plane', 'worker', 'https://x', '', 'v1.10.5', '1.32.4', '0 * * * *'),
  fc.jsonValue({ maxDepth: 3 }),
);

describe('parseSpec never throws anything but SpecError', () => {
  it('for arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (t) => assertOnlySpecError(t)), { numRuns: 300 });
  });

  it('for YAML-shaped noise', () => {
    fc.assert(fc.property(yamlish, (t) => assertOnlySpecError(t)), { numRuns: 500 });
  });

  it('for a valid spec with random values at random paths', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...PATHS), yamlValue, fc.option(fc.constantFrom('extra', '__proto__', 'name', 'role'), { nil: undefined })), { minLength: 1, maxLength: 4 }),
        (mutations) => {
          let data: unknown = VALID_DATA;
          for (const [p, v, newKey] of mutations) {
            try {
              data = setAt(data, p, v, newKey);
            } catch {
              /* an earlier mutation removed the parent: nothing to set */
            }
          }
          assertOnlySpecError(stringify(data));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('for a valid spec cut at any point', () => {
    fc.assert(fc.property(fc.nat(VALID.length), (n) => assertOnlySpecError(VALID.slice(0, n))), { numRuns: 200 });
  });
});
