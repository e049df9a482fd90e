/** Controlled form fields for the wizard: text and select, drawn on one line each. */
import React from 'react';
import { Box, Text } from 'ink';
import type { Field } from './model.js';

export function FieldRow({ field, value, focused, error, color, width = 19 }: { field: Field; value: string; focused: boolean; error?: string; color: boolean; width?: number }) {
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
          <Text>
            {value}
            {focused ? <Text inverse> </Text> : null}
          </Text>
        )}
      </Text>
      {error ? <Text color={color ? 'red' : undefined} wrap="truncate-end">{`    ✖ ${error}`}</Text> : null}
    </Box>
  );
}

/** Applies one key to a field's value: typing and backspace for text, ←/→ cycling for selects. */
export function editValue(field: Field, value: string, input: string, key: { leftArrow?: boolean; rightArrow?: boolean; backspace?: boolean; delete?: boolean; ctrl?: boolean; meta?: boolean }): string | undefined {
  if (field.kind === 'select') {
    const opts = field.options ?? [];
    const i = Math.max(0, opts.findIndex((o) => o.value === value));
    if (key.rightArrow || input === ' ') return opts[(i + 1) % opts.length]!.value;
    if (key.leftArrow) return opts[(i - 1 + opts.length) % opts.length]!.value;
    return undefined;
  }
  if (key.backspace || key.delete) return value.slice(0, -1);
  if (key.ctrl || key.meta) return undefined;
  if (input && !/[\u0000-\u001f]/.test(input)) {
    if (field.numeric && !/^\d+$/.test(input)) return undefined;
    return value + input;
  }
  return undefined;
}
