/**
 * The wizard's layout arithmetic: every screen is drawn as lines that fit the terminal (wrapped, never cut
 * silently), and a list longer than its room is a window with "↑ N more" / "↓ N more" markers. The frame stays
 * below the terminal's height, so the header never scrolls off and the shell prompt lands below the footer.
 * Pure: no React.
 */

/** Wraps text to width columns at spaces (a word longer than a line is split); continuation lines get indent. */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const w = Math.max(10, width);
  const ind = indent.slice(0, Math.floor(w / 2));
  const out: string[] = [];
  for (const para of text.split('\n')) {
    const lead = /^ */.exec(para)![0].slice(0, Math.floor(w / 2));
    // Each word with the spaces before it: runs of spaces inside a line (aligned columns) are kept.
    const parts = para.slice(lead.length).split(/( +)/);
    const words: { gap: string; word: string }[] = [];
    for (let i = 0; i < parts.length; i += 2) if (parts[i] !== '') words.push({ gap: i > 0 ? parts[i - 1]! : '', word: parts[i]! });
    const startLen = out.length;
    let line = lead;
    for (let { gap, word } of words) {
      const sep = line.trim() === '' ? '' : gap;
      if (line.length + sep.length + word.length <= w) {
        line += sep + word;
        continue;
      }
      if (line.trim() !== '') {
        out.push(line);
        line = ind;
      }
      while (line.length + word.length > w) {
        const take = w - line.length;
        out.push(line + word.slice(0, take));
        word = word.slice(take);
        line = ind;
      }
      line += word;
    }
    if (line.trim() !== '' || out.length === startLen) out.push(line);
  }
  return out;
}

/** Cuts one line to width, with "…" when something was cut. */
export function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

interface Span {
  /** First and last item shown (end < start when there are none). */
  start: number;
  end: number;
  /** Items hidden above and below: each gets a marker line when > 0. */
  above: number;
  below: number;
}

/**
 * The items to show around `focus` when item i takes heights[i] lines and `budget` lines are free, the
 * markers included. Grows from the focused item down and up in turn, so it stays in view with context.
 */
export function windowAround(heights: number[], focus: number, budget: number): Span {
  const n = heights.length;
  if (n === 0) return { start: 0, end: -1, above: 0, below: 0 };
  const f = Math.max(0, Math.min(n - 1, focus));
  let s = f;
  let e = f;
  let used = heights[f]!;
  const markers = (a: number, b: number) => (a > 0 ? 1 : 0) + (b < n - 1 ? 1 : 0);
  for (let grew = true; grew; ) {
    grew = false;
    if (e + 1 < n && used + heights[e + 1]! + markers(s, e + 1) <= budget) {
      used += heights[++e]!;
      grew = true;
    }
    if (s > 0 && used + heights[s - 1]! + markers(s - 1, e) <= budget) {
      used += heights[--s]!;
      grew = true;
    }
  }
  return { start: s, end: e, above: s, below: n - 1 - e };
}

/** A scrolled window over `total` one-line rows starting near `scroll`, markers included in `budget`. */
export function scrollWindow(total: number, scroll: number, budget: number): Span & { maxScroll: number } {
  const b = Math.max(1, budget);
  if (total <= b) return { start: 0, end: total - 1, above: 0, below: 0, maxScroll: 0 };
  // The last start that still shows the final row: one marker line above it.
  const maxScroll = total - (b - 1);
  const start = Math.max(0, Math.min(scroll, maxScroll));
  let visible = b - (start > 0 ? 1 : 0);
  if (start + visible < total) visible -= 1;
  visible = Math.max(1, visible);
  const end = Math.min(total - 1, start + visible - 1);
  return { start, end, above: start, below: total - 1 - end, maxScroll };
}

export function moreAbove(n: number): string {
  return `  ↑ ${n} more`;
}
export function moreBelow(n: number): string {
  return `  ↓ ${n} more`;
}
