import { describe, expect, it } from 'vitest';
import { sameJson } from '../../src/lab/store/mutate.js';

// The read-modify-write loop skips a write when the mutated copy is the same JSON: sameJson must agree with
// comparing the two JSON.stringify strings, case by case.
const cases: [unknown, unknown][] = [
  [{ a: 1, b: [1, 2] }, { a: 1, b: [1, 2] }],
  [{ a: 1, b: 2 }, { b: 2, a: 1 }],
  [{ a: 1, u: undefined }, { a: 1 }],
  [{ a: 1, f: () => 1 }, { a: 1 }],
  [[1, undefined], [1, null]],
  [[1, () => 2], [1, null]],
  [{ n: NaN }, { n: null }],
  [{ n: Infinity }, { n: null }],
  [{ s: '1' }, { s: 1 }],
  [{ a: { b: { c: [1, { d: 'x' }] } } }, { a: { b: { c: [1, { d: 'y' }] } } }],
  [{ a: [] }, { a: {} }],
  [{ a: null }, { a: {} }],
  [{ d: new Date(0) }, { d: '1970-01-01T00:00:00.000Z' }],
  [{ a: 1 }, { a: 1, b: 2 }],
  [[1, 2], [1, 2, 3]],
  [{ a: true }, { a: 'true' }],
  [{}, {}],
  [{ a: { x: undefined } }, { a: {} }],
];

describe('sameJson', () => {
  it.each(cases.map((c, i) => [i, ...c]))('case %i agrees with JSON.stringify', (_i, a, b) => {
    expect(sameJson(a, b)).toBe(JSON.stringify(a) === JSON.stringify(b));
    expect(sameJson(b, a)).toBe(JSON.stringify(b) === JSON.stringify(a));
  });
});
