/**
 * The TTY renderer: a task tree drawn by ink on stderr. Finished steps go into <Static> (printed once, never
 * redrawn), so the live area stays shorter than the screen and nothing flickers. Gets data, never acts.
 */
import React, { useSyncExternalStore } from 'react';
import { Box, Static, Text, render } from 'ink';
import type { RunStore, StepView } from '../run/events.js';

const MARK: Record<StepView['state'], string> = { pending: '·', running: '›', pass: '✔', warn: '!', fail: '✖', skip: '↓' };
const COLOR: Record<StepView['state'], string | undefined> = { pending: 'gray', running: 'cyan', pass: 'green', warn: 'yellow', fail: 'red', skip: 'gray' };

function StepLine({ step, color }: { step: StepView; color: boolean }) {
  const c = color ? COLOR[step.state] : undefined;
  const secs = step.durationMs !== undefined && step.durationMs >= 1000 ? ` (${(step.durationMs / 1000).toFixed(1)}s)` : '';
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text color={c}>{`  ${MARK[step.state]} `}</Text>
        {step.title}
        {step.summary ? <Text dimColor={color}>{`: ${step.summary}`}</Text> : null}
        {secs}
      </Text>
      {step.state === 'running' && step.output ? (
        <Text wrap="truncate-end" dimColor={color}>{`      ${step.output}`}</Text>
      ) : null}
    </Box>
  );
}

/**
 * rows: draw inside that many lines, finished steps included (the newest ones), with nothing printed above the
 * live area: for a full-screen UI (the wizard), whose next screen must not find the run log above its header.
 * Without rows, finished steps are printed once above the live area (ink's Static), as a CLI log.
 */
export function TaskTree({ store, color, rows }: { store: RunStore; color: boolean; rows?: number }) {
  const view = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const all = view.stages.flatMap((s) => s.steps.map((st) => ({ ...st, stageTitle: s.title })));
  // Finished steps, in order, up to the first unfinished one: printed once above the live area.
  const firstOpen = all.findIndex((s) => s.state === 'pending' || s.state === 'running');
  const done = firstOpen === -1 ? all : all.slice(0, firstOpen);
  const live = firstOpen === -1 ? [] : all.slice(firstOpen).filter((s) => s.state !== 'pending').slice(0, 6);
  const next = firstOpen === -1 ? undefined : all.slice(firstOpen).find((s) => s.state === 'pending');
  const items = done.map((s, i) => ({ ...s, key: `${s.id}`, header: i === 0 || done[i - 1]!.stage !== s.stage }));
  if (rows !== undefined) {
    const lines: React.ReactNode[] = [];
    for (const s of items) {
      if (s.header) lines.push(<Text key={`h-${s.key}`} bold>{s.stageTitle}</Text>);
      lines.push(<StepLine key={s.key} step={s} color={color} />);
    }
    const room = Math.max(1, rows - live.length - 1);
    const over = lines.length > room;
    const keep = over ? room - 1 : lines.length;
    return (
      <Box flexDirection="column">
        {over ? <Text dimColor={color}>{`  … ${lines.length - keep} earlier line(s)`}</Text> : null}
        {keep > 0 ? lines.slice(lines.length - keep) : null}
        {live.map((s) => (
          <StepLine key={s.id} step={s} color={color} />
        ))}
        {!view.finished && next && live.length === 0 ? <Text dimColor={color}>{`  · next: ${next.title}`}</Text> : null}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Static items={items}>
        {(s) => (
          <Box key={s.key} flexDirection="column">
            {s.header ? <Text bold>{s.stageTitle}</Text> : null}
            <StepLine step={s} color={color} />
          </Box>
        )}
      </Static>
      {live.map((s) => (
        <StepLine key={s.id} step={s} color={color} />
      ))}
      {!view.finished && next && live.length === 0 ? <Text dimColor={color}>{`  · next: ${next.title}`}</Text> : null}
    </Box>
  );
}

/** Mounts the tree on a stream (stderr); returns a function that draws the last frame (the engine's 'finished' event) and unmounts. */
export function mountTaskTree(store: RunStore, stream: NodeJS.WriteStream, color: boolean): () => Promise<void> {
  const app = render(<TaskTree store={store} color={color} />, { stdout: stream, exitOnCtrlC: false, patchConsole: false });
  return async () => {
    await new Promise((r) => setTimeout(r, 20));
    app.unmount();
    await app.waitUntilExit().catch(() => undefined);
  };
}
