/** Controlled form fields for the wizard: text and select, drawn on one line each. */
import React from 'react';
import { Box, Text } from 'ink';
import type { Field } from './model.js';
import { applyInput, type InkKeyLike, type LineState } from '../line-editor.js';
import { fit, wrapText } from './layout.js';

/**
 * One field on one line (cut at the terminal's width: the value edited is the focused one, its cursor in view),
 * its ✖ wrapped below it. An empty field with a default shows the default, dim.
 */
export function FieldRow({ field, value, focused, error, color, width = 19, cursor, cols = 80 }: { field: Field; value: string; focused: boolean; error?: string; color: boolean; width?: number; cursor?: number; cols?: number }) {
  const at = Math.max(0, Math.min(cursor ?? value.length, value.length));
  const label = field.label.padEnd(width).slice(0, width);
  // A long value scrolls sideways so the cursor stays visible.
  const room = Math.max(8, cols - width - 4);
  const offset = focused && at >= room ? at - room + 1 : 0;
  const shownValue = value.slice(offset);
  const shownAt = at - offset;
  const fullHint = field.kind === 'select' ? field.options?.find((o) => o.value === value)?.hint : undefined;
  // The hint gets what the line has left (its full text is the field's help, below the form).
  const hint = fullHint ? fit(fullHint, Math.max(0, cols - width - value.length - 9)) : undefined;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text color={focused && color ? 'cyan' : undefined}>{focused ? '› ' : '  '}</Text>
        <Text bold={focused}>{label} </Text>
        {field.kind === 'select' ? (
          <Text>
            {focused ? '‹ ' : ''}
            <Text color={color ? 'green' : undefined}>{value}</Text>
            {focused ? ' ›' : ''}
            {hint && hint.length > 1 ? <Text dimColor={color}>{`  ${hint}`}</Text> : null}
          </Text>
        ) : (
          focused ? (
            <Text>
              {shownValue.slice(0, shownAt)}
              <Text inverse>{shownValue[shownAt] ?? ' '}</Text>
              {shownValue.slice(shownAt + 1)}
              {value === '' && field.defaultValue ? <Text dimColor={color}>{`default ${field.defaultValue}`}</Text> : null}
            </Text>
          ) : value === '' && field.defaultValue ? (
            <Text dimColor={color}>{`default ${field.defaultValue}`}</Text>
          ) : (
            <Text>{value}</Text>
          )
        )}
      </Text>
      {error
        ? wrapText(`    ✖ ${error}`, cols, '      ').map((l, i) => (
            <Text key={i} color={color ? 'red' : undefined}>
              {l}
            </Text>
          ))
        : null}
    </Box>
  );
}

/** Applies one input (a key or a raw chunk of keys) to a field: the line editor for text, ←/→ cycling for selects. */
export function editValue(field: Field, state: LineState, input: string, key: InkKeyLike): LineState | undefined {
  if (field.kind === 'select') {
    const opts = field.options ?? [];
    const i = Math.max(0, opts.findIndex((o) => o.value === state.value));
    if (key.rightArrow || input === ' ') return { value: opts[(i + 1) % opts.length]!.value, cursor: 0 };
    if (key.leftArrow) return { value: opts[(i - 1 + opts.length) % opts.length]!.value, cursor: 0 };
    return undefined;
  }
  return applyInput(state, input, key, field.numeric ? (t) => t.replace(/\D/g, '') : undefined);
}

/** How far a scrolling key moves a long screen: ↑↓ one line, PgUp/PgDn/space one page; undefined for any other key. */
export function scrollStep(input: string, key: InkKeyLike & { pageUp?: boolean; pageDown?: boolean }, page: number): number | undefined {
  if (key.upArrow) return -1;
  if (key.downArrow) return 1;
  if (key.pageUp) return -page;
  if (key.pageDown || input === ' ') return page;
  return undefined;
}
