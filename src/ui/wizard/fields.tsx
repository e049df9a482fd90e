/** Controlled form fields for the wizard: text and select, drawn on one line each. */
import React from 'react';
import { Box, Text } from 'ink';
import type { Field } from './model.js';
import { applyInput, type InkKeyLike, type LineState } from '../line-editor.js';

export function FieldRow({ field, value, focused, error, color, width = 19, cursor }: { field: Field; value: string; focused: boolean; error?: string; color: boolean; width?: number; cursor?: number }) {
  const at = Math.max(0, Math.min(cursor ?? value.length, value.length));
  const label = field.label.padEnd(width).slice(0, width);
  const hint = field.kind === 'select' ? field.options?.find((o) => o.value === value)?.hint : undefined;
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
            {hint ? <Text dimColor={color}>{`  ${hint}`}</Text> : null}
          </Text>
        ) : (
          focused ? (
            <Text>
              {value.slice(0, at)}
              <Text inverse>{value[at] ?? ' '}</Text>
              {value.slice(at + 1)}
            </Text>
          ) : (
            <Text>{value}</Text>
          )
        )}
      </Text>
      {error ? <Text color={color ? 'red' : undefined} wrap="truncate-end">{`    ✖ ${error}`}</Text> : null}
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
