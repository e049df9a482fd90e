/**
 * The wizard's first frame without ink (issue 16 item 6). Loading ink, react and yoga costs ~100 ms over
 * `node -e 0` however they are packed (one esbuild bundle is the floor; a V8 startup snapshot cannot hold
 * react's scheduler or yoga's wasm on Node 20, see README "first frame"). So the bare `groundwork` draws the
 * first screen from plain strings here, the same lines the Wizard component draws for it (a test holds the two
 * equal), puts the terminal in raw mode so keys typed meanwhile are neither echoed nor lost, and ink then
 * mounts over the painted lines and takes the keys.
 *
 * Only the common first screen is painted: the cluster form, for a new spec or one that parses. A run that
 * could be resumed or a file that does not parse opens on another screen; then nothing is painted and ink
 * draws that screen itself. Validation waits for ink (a draft's ✖ show a moment later).
 * Bundled into dist/ui/wizard/first-paint.js, the yaml parser in a chunk of its own loaded only for an existing
 * file (src/ui/build-bundle.mjs): no zod, no spec loader, no commander before this frame.
 */
import { resolveStateDir } from '../../run/state-dir.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SpecInput } from '../../spec/schema.js';
import { fit, windowAround, wrapText } from './layout.js';
import { defaultDraft, fieldValue, keysFor, labelWidth, progress, screenFields, title, type Field } from './screens.js';

const ESC = '\u001b[';
const style = (on: boolean, open: string, close: string) => (s: string) => (on && s !== '' ? `${ESC}${open}m${s}${ESC}${close}m` : s);

/** One field's line as the Wizard's FieldRow draws it, with nothing typed into it yet. */
function fieldLine(f: Field, value: string, focused: boolean, width: number, cols: number, color: boolean): string {
  const bold = style(color, '1', '22');
  const dim = style(color, '2', '22');
  const green = style(color, '32', '39');
  const cyan = style(color, '36', '39');
  const label = f.label.padEnd(width).slice(0, width);
  let rest: string;
  if (f.kind === 'select') {
    const full = f.options?.find((o) => o.value === value)?.hint;
    const hint = full ? fit(full, Math.max(0, cols - width - value.length - 9)) : undefined;
    rest = `${focused ? '‹ ' : ''}${green(value)}${focused ? ' ›' : ''}${hint && hint.length > 1 ? dim(`  ${hint}`) : ''}`;
  } else if (value === '' && f.defaultValue) {
    rest = `${focused ? `${ESC}7m ${ESC}27m` : ''}${dim(`default ${f.defaultValue}`)}`;
  } else {
    rest = focused ? `${value}${color ? `${ESC}7m ${ESC}27m` : ' '}` : value;
  }
  return `${focused ? cyan('› ') : '  '}${focused ? bold(`${label} `) : `${label} `}${rest}`;
}

/**
 * The cluster screen's first frame for this draft and terminal, as the Wizard lays it out (focus on the first
 * field, no message, no help): the lines, each ending in a newline.
 */
export function firstFrameText(draft: SpecInput, o: { rows: number; columns: number; color: boolean }): string {
  const rows = Math.max(10, o.rows);
  const cols = Math.max(40, o.columns);
  const dim = style(o.color, '2', '22');
  const head = `groundwork · ${title('cluster')}`;
  const header = `${style(o.color, '1', '22')(fit(head, cols))}${dim(fit(`  ${progress('cluster')}`, Math.max(0, cols - head.length)))}`;
  const footer = wrapText(keysFor('cluster'), cols);
  const body = Math.max(3, rows - 2 - footer.length);
  const fields = screenFields('cluster', draft);
  const width = labelWidth(fields, cols, 19);
  const tail = wrapText(`  ${fields[0]!.help}`, cols, '  ');
  // The same room arithmetic as the Wizard's FormBody (one line per field: nothing is validated yet).
  const need = fields.length;
  const tailRoom = Math.max(0, body - Math.min(need, Math.max(1, body - tail.length)));
  const shownTail = tail.length > tailRoom ? [...tail.slice(0, Math.max(0, tailRoom - 1)), `  ↓ ${tail.length - Math.max(0, tailRoom - 1)} more`] : tail;
  const span = windowAround(
    fields.map(() => 1),
    0,
    Math.max(1, body - shownTail.length),
  );
  const lines = [
    header,
    ...fields.slice(span.start, span.end + 1).map((f, i) => fieldLine(f, fieldValue(f, draft), span.start + i === 0, width, cols, o.color)),
    ...(span.below > 0 ? [dim(`  ↓ ${span.below} more`)] : []),
    ...shownTail.map((l) => (l.startsWith('  ↓') ? l : dim(l))),
    ...footer.map(dim),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Paints the first frame when the wizard will open on the cluster form, and returns how many lines it drew
 * (mountWizard draws over them), or undefined when it drew nothing.
 */
export async function paintFirstFrame(o: { file: string; stateDir?: string; color: boolean; stdout: NodeJS.WriteStream; stdin: NodeJS.ReadStream }): Promise<number | undefined> {
  const stateDir = resolveStateDir(o.stateDir, o.file, process.cwd());
  // A recorded run may be resumable: the wizard then asks about it first.
  if (existsSync(path.join(stateDir, 'runs'))) return undefined;
  let draft: SpecInput = defaultDraft();
  if (existsSync(o.file)) {
    try {
      // yaml only for a file to read (its own chunk in the bundle): a new spec paints without it.
      const { parse } = await import('yaml');
      const data = parse(readFileSync(o.file, 'utf8'), { uniqueKeys: true, maxAliasCount: 100 }) as unknown;
      if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
      draft = data as SpecInput;
    } catch {
      return undefined; // the wizard shows what is wrong with the file
    }
  }
  const text = firstFrameText(draft, { rows: o.stdout.rows ?? 24, columns: o.stdout.columns ?? 80, color: o.color });
  // Keys typed before ink mounts: not echoed by the terminal, kept for ink to read.
  if (o.stdin.isTTY) o.stdin.setRawMode(true);
  o.stdout.write(`${ESC}?25l${text}`);
  return text.split('\n').length - 1;
}
