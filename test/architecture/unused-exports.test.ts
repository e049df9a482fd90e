/**
 * Every export of src/ is imported by something in src/ or test/ (bin/groundwork imports dist/cli.js's main, which
 * src/ code and tests import too). What is unused today is listed, with its reason, in unused-exports.allow.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseModule, parseTree, unusedExports } from './graph.js';
import { MODULE_LOCAL_VALUES, SIGNATURE_TYPES } from './unused-exports.allow.js';

const src = parseTree('src');
const users = [...src, ...parseTree('test')];

describe('unused exports', () => {
  it('no export of src/ goes unimported, beyond the allowlist', () => {
    const allowed = new Set([...SIGNATURE_TYPES, ...MODULE_LOCAL_VALUES]);
    const fresh = unusedExports(src, users)
      .filter((x) => !allowed.has(x.key))
      .map((x) => `${x.key.replace('#', `:${x.line} `)}  (import it, drop the export, or delete it)`);
    expect(fresh).toEqual([]);
  });

  it('finds an export nothing imports', () => {
    // The check itself: the allowlist module exports names only this test imports, so it is "used"; a module
    // parsed on its own, with no users, has every export unused.
    const allow = parseModule('test/architecture/unused-exports.allow.ts');
    expect(unusedExports([allow], []).map((x) => x.key)).toEqual([
      'test/architecture/unused-exports.allow.ts#SIGNATURE_TYPES',
      'test/architecture/unused-exports.allow.ts#MODULE_LOCAL_VALUES',
    ]);
    expect(unusedExports([allow], users)).toEqual([]);
  });
});
