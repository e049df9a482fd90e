/**
 * One line editor for every text field: the keys of a shell line (readline/emacs), applied however the bytes
 * arrive. ink hands a burst of keys (a held Backspace, a paste, a loaded ssh session) to useInput as one raw
 * chunk, so a chunk is split into keys here and each key is applied in order. Pure: no React, no ink.
 */

export interface LineState {
  value: string;
  /** Index into value, 0..value.length (code units; fields hold ASCII-ish text). */
  cursor: number;
}

type LineKey =
  | { kind: 'insert'; text: string }
  | { kind: 'backspace' }
  | { kind: 'delete' }
  | { kind: 'left' }
  | { kind: 'right' }
  | { kind: 'home' }
  | { kind: 'end' }
  | { kind: 'kill-start' }
  | { kind: 'kill-end' }
  | { kind: 'word-back' };

/** The subset of ink's Key this editor reads. */
export interface InkKeyLike {
  leftArrow?: boolean;
  rightArrow?: boolean;
  home?: boolean;
  end?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
  meta?: boolean;
  upArrow?: boolean;
  downArrow?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
}

const CTRL: Record<string, LineKey['kind']> = {
  a: 'home',
  e: 'end',
  b: 'left',
  f: 'right',
  u: 'kill-start',
  k: 'kill-end',
  w: 'word-back',
  h: 'backspace',
  d: 'delete',
};

const ESCAPES: Record<string, LineKey['kind']> = {
  '\u001b[D': 'left',
  '\u001bOD': 'left',
  '\u001b[C': 'right',
  '\u001bOC': 'right',
  '\u001b[H': 'home',
  '\u001bOH': 'home',
  '\u001b[1~': 'home',
  '\u001b[7~': 'home',
  '\u001b[F': 'end',
  '\u001bOF': 'end',
  '\u001b[4~': 'end',
  '\u001b[8~': 'end',
  '\u001b[3~': 'delete',
};

/**
 * Splits a raw chunk into keys: DEL (0x7f) and BS (0x08) erase back, Ctrl-letters map as in a shell, known
 * escape sequences move the cursor, every other control character or escape sequence is dropped, and runs of
 * printable text are inserted (a paste). Keys this editor does not own (Enter, Tab, Esc) are dropped too: the
 * caller handles them before the field sees the input.
 */
function splitChunk(chunk: string): LineKey[] {
  const out: LineKey[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push({ kind: 'insert', text });
    text = '';
  };
  for (let i = 0; i < chunk.length; i++) {
    const c = chunk[i]!;
    const code = c.charCodeAt(0);
    if (c === '\u001b') {
      flush();
      // CSI: ESC [ params… final; SS3: ESC O final; otherwise ESC + one character (meta).
      let j = i + 1;
      if (chunk[j] === '[') {
        j++;
        while (j < chunk.length && /[0-9;?<=>]/.test(chunk[j]!)) j++;
        j++;
      } else if (chunk[j] === 'O') j += 2;
      else j++;
      const seq = chunk.slice(i, Math.min(j, chunk.length));
      const k = ESCAPES[seq];
      if (k) out.push({ kind: k } as LineKey);
      i = Math.min(j, chunk.length) - 1;
      continue;
    }
    if (code === 0x7f || code === 0x08) {
      flush();
      out.push({ kind: 'backspace' });
      continue;
    }
    if (code < 0x20 || (code >= 0x80 && code < 0xa0)) {
      flush();
      const letter = code >= 1 && code <= 26 ? String.fromCharCode(code + 96) : '';
      const k = CTRL[letter];
      if (k) out.push({ kind: k } as LineKey);
      continue;
    }
    text += c;
  }
  flush();
  return out;
}

/** The keys one ink useInput call carries: its parsed flags for a single key, else the raw chunk split. */
function keysOf(input: string, key: InkKeyLike): LineKey[] {
  if (key.upArrow || key.downArrow || key.return || key.tab) return [];
  if (key.leftArrow) return [{ kind: 'left' }];
  if (key.rightArrow) return [{ kind: 'right' }];
  if (key.home) return [{ kind: 'home' }];
  if (key.end) return [{ kind: 'end' }];
  // ink names 0x7f "delete" and 0x08 "backspace"; a terminal's Backspace sends 0x7f, so both erase back
  // (forward delete is Ctrl-D, as in a shell; ink cannot tell ESC[3~ from 0x7f).
  if (key.backspace || key.delete) return [{ kind: 'backspace' }];
  if (key.ctrl) {
    const k = CTRL[input.toLowerCase()];
    return k ? [{ kind: k } as LineKey] : [];
  }
  if (key.meta || key.escape) return [];
  return splitChunk(input);
}

function wordStart(value: string, cursor: number): number {
  let i = cursor;
  while (i > 0 && /\s/.test(value[i - 1]!)) i--;
  while (i > 0 && !/\s/.test(value[i - 1]!)) i--;
  return i;
}

/** Applies one key. The reference semantics: what a shell line does. */
function applyKey(s: LineState, k: LineKey, accept: (text: string) => string = (t) => t): LineState {
  const { value } = s;
  const cursor = Math.max(0, Math.min(s.cursor, value.length));
  switch (k.kind) {
    case 'insert': {
      const text = accept(k.text);
      return { value: value.slice(0, cursor) + text + value.slice(cursor), cursor: cursor + text.length };
    }
    case 'backspace':
      return cursor === 0 ? { value, cursor } : { value: value.slice(0, cursor - 1) + value.slice(cursor), cursor: cursor - 1 };
    case 'delete':
      return { value: value.slice(0, cursor) + value.slice(cursor + 1), cursor };
    case 'left':
      return { value, cursor: Math.max(0, cursor - 1) };
    case 'right':
      return { value, cursor: Math.min(value.length, cursor + 1) };
    case 'home':
      return { value, cursor: 0 };
    case 'end':
      return { value, cursor: value.length };
    case 'kill-start':
      return { value: value.slice(cursor), cursor: 0 };
    case 'kill-end':
      return { value: value.slice(0, cursor), cursor };
    case 'word-back': {
      const w = wordStart(value, cursor);
      return { value: value.slice(0, w) + value.slice(cursor), cursor: w };
    }
  }
}

/**
 * Applies one ink input (a single key or a raw chunk of many) to a field. `accept` filters inserted text
 * (a numeric field keeps digits). Returns undefined when the input holds no line-editing key.
 */
export function applyInput(s: LineState, input: string, key: InkKeyLike, accept?: (text: string) => string): LineState | undefined {
  const keys = keysOf(input, key);
  if (keys.length === 0) return undefined;
  return keys.reduce((st, k) => applyKey(st, k, accept), s);
}
