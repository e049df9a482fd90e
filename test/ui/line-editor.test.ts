import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyInput, type InkKeyLike, type LineState } from '../../src/ui/line-editor.js';

/** The keys an operator presses, with the bytes a terminal sends for each. */
const KEYS: Record<string, string> = {
  backspace: '\u007f',
  ctrlH: '\b',
  ctrlU: '\u0015',
  ctrlW: '\u0017',
  ctrlA: '\u0001',
  ctrlE: '\u0005',
  ctrlK: '\u000b',
  ctrlD: '\u0004',
  left: '\u001b[D',
  right: '\u001b[C',
  home: '\u001b[H',
  end: '\u001b[F',
  home1: '\u001b[1~',
  end4: '\u001b[4~',
  bell: '\u0007',
  nul: '\u0000',
};
type Key = { name: keyof typeof KEYS } | { text: string };

/** The reference: a shell line applied one key at a time, written without the editor's code. */
function reference(keys: Key[]): LineState {
  let v = '';
  let c = 0;
  for (const k of keys) {
    if ('text' in k) {
      v = v.slice(0, c) + k.text + v.slice(c);
      c += k.text.length;
      continue;
    }
    switch (k.name) {
      case 'backspace':
      case 'ctrlH':
        if (c > 0) (v = v.slice(0, c - 1) + v.slice(c)), c--;
        break;
      case 'ctrlD':
        v = v.slice(0, c) + v.slice(c + 1);
        break;
      case 'ctrlU':
        v = v.slice(c);
        c = 0;
        break;
      case 'ctrlK':
        v = v.slice(0, c);
        break;
      case 'ctrlW': {
        let i = c;
        while (i > 0 && v[i - 1] === ' ') i--;
        while (i > 0 && v[i - 1] !== ' ') i--;
        v = v.slice(0, i) + v.slice(c);
        c = i;
        break;
      }
      case 'ctrlA':
      case 'home':
      case 'home1':
        c = 0;
        break;
      case 'ctrlE':
      case 'end':
      case 'end4':
        c = v.length;
        break;
      case 'left':
        c = Math.max(0, c - 1);
        break;
      case 'right':
        c = Math.min(v.length, c + 1);
        break;
      default:
        break; // bell, NUL: never inserted
    }
  }
  return { value: v, cursor: c };
}

/**
 * How ink 6 hands bytes to useInput: escape sequences are cut out one by one; a run of other bytes is one call;
 * a call that is exactly one named key carries flags (and no text), as parse-keypress sets them.
 */
function inkCalls(bytes: string): [string, InkKeyLike][] {
  const parts = bytes.split(/(\u001b\[[0-9;]*[A-Za-z~]|\u001bO[A-Z])/).filter((p) => p !== '');
  return parts.map((p): [string, InkKeyLike] => {
    if (p === '\u001b[D') return ['', { leftArrow: true }];
    if (p === '\u001b[C') return ['', { rightArrow: true }];
    if (p === '\u001b[H' || p === '\u001b[1~') return ['', { home: true }];
    if (p === '\u001b[F' || p === '\u001b[4~') return ['', { end: true }];
    if (p === '\u007f') return ['', { delete: true }];
    if (p === '\b') return ['', { backspace: true }];
    if (p.length === 1 && p.charCodeAt(0) >= 1 && p.charCodeAt(0) <= 26) return [String.fromCharCode(p.charCodeAt(0) + 96), { ctrl: true }];
    return [p, {}];
  });
}

const key: fc.Arbitrary<Key> = fc.oneof(
  fc.constantFrom(...(Object.keys(KEYS) as (keyof typeof KEYS)[])).map((name) => ({ name })),
  fc.stringMatching(/^[a-z0-9.\/:-]{1,3}$/).map((text) => ({ text })),
  fc.constant({ text: ' ' }),
);

describe('line editor', () => {
  it('matches a reference shell line for random keys split into random chunks', () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 10 }), (keys, cuts) => {
        const bytes = keys.map((k) => ('text' in k ? k.text : KEYS[k.name]!)).join('');
        // Cut between keys' bytes, never inside an escape sequence (a terminal writes one key's bytes at once).
        const bounds: number[] = [];
        let at = 0;
        for (const k of keys) bounds.push((at += ('text' in k ? k.text : KEYS[k.name]!).length));
        const chosen = [...new Set(cuts.map((c) => bounds[c % Math.max(1, bounds.length)] ?? 0))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let prev = 0;
        for (const c of [...chosen, bytes.length]) {
          if (c > prev) chunks.push(bytes.slice(prev, c));
          prev = Math.max(prev, c);
        }
        let s: LineState = { value: '', cursor: 0 };
        for (const chunk of chunks) for (const [input, k] of inkCalls(chunk)) s = applyInput(s, input, k) ?? s;
        expect(s).toEqual(reference(keys));
        expect(s.value).not.toMatch(/[\u0000-\u001f\u007f]/);
      }),
      { numRuns: 500 },
    );
  });

  it('counts every DEL of a burst that arrives in one chunk', () => {
    expect(applyInput({ value: 'demo-x', cursor: 6 }, '\u007f\u007f\u007f\u007f', {})).toEqual({ value: 'de', cursor: 2 });
  });

  it('inserts a paste at the cursor and drops its control characters', () => {
    expect(applyInput({ value: 'ad', cursor: 1 }, 'b\u0007c\r', {})).toEqual({ value: 'abcd', cursor: 3 });
  });

  it('leaves keys it does not own to the screen', () => {
    expect(applyInput({ value: 'a', cursor: 1 }, '', { upArrow: true })).toBeUndefined();
    expect(applyInput({ value: 'a', cursor: 1 }, '', { return: true })).toBeUndefined();
  });
});
