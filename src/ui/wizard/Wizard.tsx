/**
 * The interactive wizard: one screen at a time, from an empty terminal to a validated cluster.
 * Esc back, Enter next (refused while any ✖ shows), ↑/↓ between fields, ←/→ choose, ? help, q quit (asks first
 * while something runs). Text fields edit through the one line editor (../line-editor.ts).
 * Gets data and callbacks (WizardServices); never spawns processes or calls APIs itself.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp, useInput } from 'ink';
import type { SpecInput } from '../../spec/schema.js';
import type { LoadedSpec } from '../../spec/load.js';
import type { Result, RunSummary } from '../../run/types.js';
import type { RunStore } from '../../run/events.js';
import { TaskTree } from '../task-tree.js';
import { redactSecretShapes } from '../../run/secret-shapes.js';
import { FieldRow, editValue } from './fields.js';
import {
  ADDON_FIELDS,
  CLUSTER_FIELDS,
  NETWORK_FIELDS,
  NODE_FIELDS,
  dottedPath,
  getPath,
  issuesFor,
  networkFindings,
  nextSteps,
  shellLine,
  setPath,
  suggestNode,
  toYaml,
  validateDraft,
  type Field,
  type ScreenName,
} from './model.js';

export type RunMode = 'rehearse' | 'setup';

export interface WizardServices {
  /** Where the spec is saved. */
  specFile: string;
  /** The run records' directory (for the kubeconfig and talosconfig the next steps name); default .groundwork beside the spec. */
  stateDir?: string;
  /** An unfinished run that can be resumed. */
  resumable?: { runId: string; summary: string };
  save(yaml: string): Promise<string>;
  planText(loaded: LoadedSpec): Promise<string>;
  preflight(loaded: LoadedSpec, ignore: string[], mode: RunMode): Promise<Result[]>;
  run(loaded: LoadedSpec, opts: { mode: RunMode; ignore: string[]; resume: boolean; onStore: (s: RunStore) => void }): Promise<RunSummary>;
  cancel(): void;
}

export interface WizardProps {
  initial: SpecInput;
  services: WizardServices;
  color: boolean;
  rows?: number;
  onExit: (code: number) => void;
}

const HELP: Record<ScreenName, string> = {
  resume: 'An earlier run stopped before it finished. Resuming continues it; finished steps are not repeated.',
  cluster: 'How the cluster is bootstrapped and where its API will answer.',
  nodes: 'The machines. Ctrl-N adds a worker, Ctrl-P a control plane, Ctrl-X removes the node under the cursor.',
  network: 'Address ranges for pods and Services, and the CNI that connects them. Overlaps are shown as you type.',
  addons: 'Monitoring, log shipping and scheduled etcd snapshots.',
  review: 'The spec and every command that will run. s saves cluster.yaml; Enter goes on to the preflight checks.',
  preflight: 'Checks of this machine, the subnets and the nodes. i ignores the selected failing check (recorded in the report); r runs them again after a fix.',
  run: 'The plan runs step by step. Ctrl-C (or q) stops the running step cleanly.',
  results: 'What the run proved: connectivity, scheduling, storage and the restore drill.',
  next: 'Where to go from here.',
};

/** Errors the network's ranges cause elsewhere (a node address inside podCIDR): shown, and blocking, on the network screen. */
function networkSpillover(v: ReturnType<typeof validateDraft>) {
  return v.issues.filter((i) => i.severity === 'error' && !i.path.startsWith('spec.network') && /\b(podCIDR|serviceCIDR)\b/.test(i.message));
}

const FORM_SCREENS: ScreenName[] = ['cluster', 'nodes', 'network', 'addons'];

function nodeCount(d: SpecInput): number {
  return ((d.spec?.nodes ?? []) as unknown[]).length;
}

function fieldsFor(screen: ScreenName, d: SpecInput): Field[] {
  if (screen === 'cluster') return CLUSTER_FIELDS;
  if (screen === 'network') return NETWORK_FIELDS;
  if (screen === 'addons') return ADDON_FIELDS;
  if (screen === 'nodes') return Array.from({ length: nodeCount(d) }, (_, i) => NODE_FIELDS(i)).flat();
  return [];
}

function useLatestState<T>(initial: T): [T, (v: T | ((prev: T) => T)) => void, React.MutableRefObject<T>] {
  const [value, setValue] = useState<T>(initial);
  const ref = useRef<T>(initial);
  const set = (v: T | ((prev: T) => T)) => {
    ref.current = typeof v === 'function' ? (v as (prev: T) => T)(ref.current) : v;
    setValue(ref.current);
  };
  return [value, set, ref];
}

const STATUS_MARK = { pass: '✔', warn: '!', fail: '✖', skip: '↓' } as const;

export function Wizard({ initial, services, color, rows = 24, onExit }: WizardProps) {
  const { exit } = useApp();
  // Several keys can arrive before the next render (fast typing, paste, tests): the key handler reads the
  // latest screen, draft and focus from refs that are updated synchronously, not from the last render.
  const [screen, setScreen, screenRef] = useLatestState<ScreenName>(services.resumable ? 'resume' : 'cluster');
  const [draft, setDraft, draftRef] = useLatestState<SpecInput>(initial);
  const [focus, setFocusRaw, focusRef] = useLatestState(0);
  // The text cursor of the focused field; undefined = at the end (where a newly focused field starts).
  const [cursor, setCursor, cursorRef] = useLatestState<number | undefined>(undefined);
  const setFocus = (v: number | ((prev: number) => number)) => {
    setFocusRaw(v);
    setCursor(undefined);
  };
  const [help, setHelp] = useState(false);
  const [confirmQuit, setConfirmQuit, confirmRef] = useLatestState(false);
  const [message, setMessage] = useState<string>('');
  const [planText, setPlanText] = useState<string>('');
  const [scroll, setScroll] = useState(0);
  const [checks, setChecks, checksRef] = useLatestState<Result[] | undefined>(undefined);
  const [ignore, setIgnore, ignoreRef] = useLatestState<string[]>([]);
  const [selected, setSelected, selectedRef] = useLatestState(0);
  const [store, setStore] = useState<RunStore | undefined>();
  const [summary, setSummary, summaryRef] = useLatestState<RunSummary | undefined>(undefined);
  const [running, setRunning, runningRef] = useLatestState(false);
  const [mode, setMode, modeRef] = useLatestState<RunMode>('rehearse');
  const [resume, setResume] = useState(false);
  // What was last saved (or loaded): a draft that differs from it would be lost by quitting.
  const savedYaml = useRef(toYaml(initial));

  const validation = useMemo(() => validateDraft(draft, services.specFile), [draft, services.specFile]);
  const fields = fieldsFor(screen, draft);

  const leave = (code: number) => {
    onExit(code);
    exit();
  };

  const go = (to: ScreenName) => {
    setScreen(to);
    setFocus(0);
    setScroll(0);
    setMessage('');
    setSelected(0);
  };

  const screenIssues = (s: ScreenName, v = validation) => {
    const prefixes = s === 'cluster' ? ['metadata', 'spec.endpoint', 'spec.kubernetesVersion', 'spec.bootstrap'] : s === 'nodes' ? ['spec.nodes'] : s === 'network' ? ['spec.network'] : s === 'addons' ? ['spec.addons'] : [];
    return issuesFor(v, prefixes);
  };

  /**
   * Everything marked ✖ on a form screen (spec errors and failing network findings), each with the field to
   * focus. Warnings (!) are not here: they never block.
   */
  const screenErrors = (s: ScreenName, d: SpecInput): { field: number }[] => {
    const v = validateDraft(d, services.specFile);
    const fs = fieldsFor(s, d);
    const indexOf = (path: string) => {
      const exact = fs.findIndex((f) => dottedPath(f.path) === path);
      if (exact >= 0) return exact;
      const under = fs.findIndex((f) => path.startsWith(`${dottedPath(f.path)}.`) || path.startsWith(`${dottedPath(f.path)}[`) || dottedPath(f.path).startsWith(`${path}.`) || dottedPath(f.path).startsWith(`${path}[`));
      return under;
    };
    const out = screenIssues(s, v)
      .filter((i) => i.severity === 'error')
      .map((i) => ({ field: indexOf(i.path) }));
    if (s === 'network') {
      for (const _ of networkSpillover(v)) out.push({ field: fs.findIndex((x) => x.key === 'podCIDR') });
      const byFinding: Record<string, string> = { 'service-cidr-capacity': 'serviceCIDR', 'pod-cidr-capacity': 'podCIDR' };
      for (const f of networkFindings(v).filter((x) => x.status === 'fail')) out.push({ field: Math.max(0, fs.findIndex((x) => x.key === (byFinding[f.id] ?? 'podCIDR'))) });
    }
    return out;
  };
  /** ✖ anywhere in the draft: the screens' errors plus any spec error no screen owns. */
  const draftErrors = (d: SpecInput): number => {
    const v = validateDraft(d, services.specFile);
    const network = networkFindings(v).filter((x) => x.status === 'fail').length;
    return v.issues.filter((i) => i.severity === 'error').length + network + (v.loaded || v.issues.some((i) => i.severity === 'error') ? 0 : 1);
  };

  // Preflight results belong to the draft and the mode they were run for: an edit or a switch clears them.
  const firstDraft = useRef(true);
  useEffect(() => {
    if (firstDraft.current) {
      firstDraft.current = false;
      return;
    }
    setChecks(undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draft]);

  const runPreflight = async (ign: string[]) => {
    if (!validateDraft(draftRef.current, services.specFile).loaded) return;
    setChecks(undefined);
    setRunning(true);
    try {
      setChecks(await services.preflight(validateDraft(draftRef.current, services.specFile).loaded!, ign, modeRef.current));
    } catch (e) {
      setMessage(redactSecretShapes(`preflight could not run: ${(e as Error).message}`));
      setChecks([]);
    } finally {
      setRunning(false);
    }
  };

  const startRun = async () => {
    const loaded = validateDraft(draftRef.current, services.specFile).loaded;
    if (!loaded) return;
    go('run');
    setRunning(true);
    try {
      const s = await services.run(loaded, { mode: modeRef.current, ignore: ignoreRef.current, resume, onStore: setStore });
      setSummary(s);
      go('results');
    } catch (e) {
      setMessage(redactSecretShapes(`the run could not start: ${(e as Error).message}`));
    } finally {
      setRunning(false);
    }
  };

  useEffect(() => {
    if (screen === 'review' && validation.loaded) {
      services.planText(validation.loaded).then(setPlanText, (e: Error) => setPlanText(`(plan unavailable: ${e.message})`));
    }
    if (screen === 'preflight' && checks === undefined && !running) void runPreflight(ignore);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [screen]);

  useInput((input, key) => {
    const screen = screenRef.current;
    const draft = draftRef.current;
    const focus = focusRef.current;
    const fields = fieldsFor(screen, draft);
    const checks = checksRef.current;
    const ignore = ignoreRef.current;
    const selected = selectedRef.current;
    const summary = summaryRef.current;
    const running = runningRef.current;
    if (confirmRef.current) {
      if (input === 'y' || input === 'Y') {
        if (runningRef.current) services.cancel();
        leave(130);
      } else setConfirmQuit(false);
      return;
    }
    const field0 = fields[focus];
    // q (outside a text field) and Ctrl-C mean the same on every screen: ask while something runs or an edit
    // would be lost; else quit at once, with 130 before a run finished (interrupted), the run's code after it.
    if ((key.ctrl && input === 'c') || (input === 'q' && field0?.kind !== 'text')) {
      const unsaved = toYaml(draftRef.current) !== savedYaml.current;
      if (running || unsaved) setConfirmQuit(true);
      else leave(summary ? exitCodeOf(summary) : 130);
      return;
    }
    if (input === '?') {
      setHelp((h) => !h);
      return;
    }
    const field = fields[focus];

    if (screen === 'resume') {
      if (key.return || input === 'y') {
        setResume(true);
        go('review');
      } else if (input === 'n') go('cluster');
      return;
    }

    if (FORM_SCREENS.includes(screen)) {
      if (key.escape) {
        const i = FORM_SCREENS.indexOf(screen);
        if (i > 0) go(FORM_SCREENS[i - 1]!);
        else if (services.resumable) go('resume');
        return;
      }
      if (key.upArrow || (key.tab && key.shift)) return setFocus((f) => Math.max(0, f - 1));
      if (key.downArrow || key.tab) return setFocus((f) => Math.min(fields.length - 1, f + 1));
      if (screen === 'nodes' && key.ctrl && (input === 'n' || input === 'p')) {
        const role = input === 'p' ? 'control-plane' : 'worker';
        const nodes = [...((draft.spec?.nodes ?? []) as object[]), suggestNode(draft, role)];
        setDraft((d) => setPath(d, ['spec', 'nodes'], [...((d.spec?.nodes ?? []) as object[]), suggestNode(d, role)]));
        setFocus(nodes.length * 3 - 3);
        return;
      }
      if (screen === 'nodes' && key.ctrl && input === 'x') {
        const i = Math.floor(focus / 3);
        const nodes = ((draft.spec?.nodes ?? []) as object[]).filter((_, j) => j !== i);
        setDraft((d) => setPath(d, ['spec', 'nodes'], ((d.spec?.nodes ?? []) as object[]).filter((_, j) => j !== i)));
        setFocus(Math.max(0, Math.min(focus, nodes.length * 3 - 1)));
        return;
      }
      if (key.return) {
        const errors = screenErrors(screen, draft);
        if (errors.length > 0) {
          const at = errors.find((e) => e.field >= 0)?.field;
          if (at !== undefined) setFocus(at);
          setMessage(`fix the fields marked ✖ first (${errors.length} error${errors.length === 1 ? '' : 's'})`);
          return;
        }
        const i = FORM_SCREENS.indexOf(screen);
        go(i < FORM_SCREENS.length - 1 ? FORM_SCREENS[i + 1]! : 'review');
        return;
      }
      if (field) {
        // Refs, not the last render: several keys can arrive before the next render (typing fast, pasting).
        const value = String(getPath(draftRef.current, field.path) ?? '');
        const next = editValue(field, { value, cursor: cursorRef.current ?? value.length }, input, key);
        if (next === undefined) return;
        if (next.value !== value) setDraft((d) => setPath(d, field.path, field.numeric ? (next.value === '' ? '' : Number(next.value)) : next.value));
        setCursor(next.cursor === next.value.length ? undefined : next.cursor);
        setMessage('');
      }
      return;
    }

    if (screen === 'review') {
      if (key.escape) return go('addons');
      if (key.upArrow) return setScroll((s) => Math.max(0, s - 1));
      if (key.downArrow) return setScroll((s) => s + 1);
      if (input === 'm') {
        const next = modeRef.current === 'rehearse' ? 'setup' : 'rehearse';
        setMode(next);
        // The checks (and the ones ignored after reading them) were for the other mode.
        const had = checksRef.current !== undefined || ignoreRef.current.length > 0;
        setChecks(undefined);
        setIgnore([]);
        setMessage(had ? `now ${next === 'setup' ? 'for real' : 'a rehearsal'}: the earlier preflight results and ignores are cleared; the checks run again next` : '');
        return;
      }
      const errors = draftErrors(draft);
      if ((input === 's' || key.return) && errors > 0) {
        setMessage(`not saved: ${errors} error${errors === 1 ? '' : 's'} marked ✖ — Esc back to fix ${errors === 1 ? 'it' : 'them'} first`);
        return;
      }
      if (input === 's') {
        const yaml = toYaml(draft);
        services.save(yaml).then(
          (f) => {
            savedYaml.current = yaml;
            setMessage(`saved ${f}`);
          },
          (e: Error) => setMessage(`could not save: ${e.message}`),
        );
        return;
      }
      if (key.return && validation.loaded) {
        const yaml = toYaml(draft);
        services.save(yaml).then(
          () => {
            savedYaml.current = yaml;
            go('preflight');
          },
          (e: Error) => setMessage(`could not save: ${e.message}`),
        );
      }
      return;
    }

    if (screen === 'preflight') {
      if (running) return;
      const failing = (checks ?? []).filter((c) => c.status === 'fail');
      if (key.escape) return go('review');
      if (key.upArrow) return setSelected((s) => Math.max(0, s - 1));
      if (key.downArrow) return setSelected((s) => Math.min(Math.max(0, failing.length - 1), s + 1));
      if (input === 'r') return void runPreflight(ignore);
      if (input === 'i' && failing[selected]) {
        const next = [...ignore, failing[selected]!.id];
        setIgnore(next);
        void runPreflight(next);
        return;
      }
      if (key.return) {
        if (failing.length > 0) setMessage(`${failing.length} check(s) failed: fix them (r to re-check) or ignore one by name (i)`);
        else void startRun();
      }
      return;
    }

    if (screen === 'results') {
      if (key.return) return go('next');
      if (key.upArrow) return setScroll((s) => Math.max(0, s - 1));
      if (key.downArrow) return setScroll((s) => s + 1);
      return;
    }
    if (screen === 'next' && (key.return || key.escape)) leave(summary ? exitCodeOf(summary) : 130);
  });

  const body = rows - 4;
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {`groundwork · ${title(screen)}`}
        <Text dimColor={color}>{`  ${progress(screen)}`}</Text>
      </Text>
      {help ? <Text color={color ? 'yellow' : undefined}>{`? ${HELP[screen]}`}</Text> : null}
      {screen === 'resume' ? (
        <Box flexDirection="column">
          <Text>{`An unfinished run exists: ${services.resumable?.runId} (${services.resumable?.summary}).`}</Text>
          <Text>Resume it? Enter/y resumes (finished steps are not repeated), n starts over.</Text>
        </Box>
      ) : null}
      {FORM_SCREENS.includes(screen) ? (
        <FormBody screen={screen} fields={fields} draft={draft} focus={focus} cursor={cursor} color={color} validation={validation} rows={body} />
      ) : null}
      {screen === 'review' ? <Review yaml={toYaml(draft)} plan={planText} scroll={scroll} rows={body - 2} mode={mode} file={services.specFile} /> : null}
      {screen === 'preflight' ? <Checks checks={checks} selected={selected} ignore={ignore} color={color} rows={body} /> : null}
      {screen === 'run' ? store ? <TaskTree store={store} color={color} rows={body} /> : <Text>starting…</Text> : null}
      {screen === 'results' && summary ? <Results summary={summary} color={color} scroll={scroll} rows={body} /> : null}
      {screen === 'next' ? <Next summary={summary} draft={draft} file={services.specFile} stateDir={services.stateDir} mode={mode} /> : null}
      {message ? <Text color={color ? 'yellow' : undefined}>{message}</Text> : null}
      {confirmQuit ? <Text color={color ? 'red' : undefined}>{running ? 'Stop the running step and quit? y/n' : 'Quit and lose the unsaved edits? y/n'}</Text> : null}
      <Text dimColor={color} wrap="truncate-end">
        {keysFor(screen)}
      </Text>
    </Box>
  );
}

function title(s: ScreenName): string {
  return {
    resume: 'resume',
    cluster: 'cluster',
    nodes: 'nodes',
    network: 'network',
    addons: 'add-ons',
    review: 'review',
    preflight: 'preflight',
    run: 'run',
    results: 'results',
    next: 'next steps',
  }[s];
}

function progress(s: ScreenName): string {
  const order: ScreenName[] = ['cluster', 'nodes', 'network', 'addons', 'review', 'preflight', 'run', 'results'];
  const i = order.indexOf(s);
  return i < 0 ? '' : `step ${i + 1} of ${order.length}`;
}

function keysFor(s: ScreenName): string {
  if (s === 'nodes') return 'Enter next · Esc back · ↑↓ field · ←→ role · ^N worker · ^P control plane · ^X remove · ? help';
  if (FORM_SCREENS.includes(s)) return 'Enter next · Esc back · ↑↓ field · ←→ choose · ? help · q quit (on a choice)';
  if (s === 'review') return 'Enter save and check · s save · m rehearse/for real · ↑↓ scroll · Esc back · ? help · q quit';
  if (s === 'preflight') return 'Enter run · r re-check · i ignore selected · ↑↓ select · Esc back · ? help · q quit';
  if (s === 'run') return 'Ctrl-C stop the running step · q quit · ? help';
  if (s === 'results') return 'Enter next steps · ↑↓ scroll · q quit';
  if (s === 'resume') return 'Enter/y resume · n new · q quit';
  return 'Enter/Esc finish · q quit';
}

function FormBody({ screen, fields, draft, focus, cursor, color, validation, rows }: { screen: ScreenName; fields: Field[]; draft: SpecInput; focus: number; cursor?: number; color: boolean; validation: ReturnType<typeof validateDraft>; rows: number }) {
  const errorFor = (f: Field) => validation.byPath.get(dottedPath(f.path))?.find((i) => i.severity === 'error')?.message;
  const lines: React.ReactNode[] = [];
  if (screen === 'nodes') {
    const n = fields.length / 3;
    const first = Math.max(0, Math.min(Math.floor(focus / 3) - 2, n - Math.floor((rows - 4) / 3)));
    for (let i = first; i < n && lines.length < rows - 3; i++) {
      const row = fields.slice(i * 3, i * 3 + 3);
      lines.push(
        <Box key={i} flexDirection="column">
          <Text dimColor={color}>{`node ${i + 1}`}</Text>
          {row.map((f, j) => (
            <FieldRow key={f.key} field={f} value={String(getPath(draft, f.path) ?? '')} focused={focus === i * 3 + j} cursor={focus === i * 3 + j ? cursor : undefined} error={errorFor(f)} color={color} width={8} />
          ))}
        </Box>,
      );
    }
    const nodeIssues = validation.byPath.get('spec.nodes') ?? [];
    for (const i of nodeIssues) lines.push(<Text key={`n-${i.message}`} color={color ? (i.severity === 'error' ? 'red' : 'yellow') : undefined}>{`${i.severity === 'error' ? '✖' : '!'} ${i.message}`}</Text>);
  } else {
    fields.forEach((f, i) => lines.push(<FieldRow key={f.key} field={f} value={String(getPath(draft, f.path) ?? '')} focused={focus === i} cursor={focus === i ? cursor : undefined} error={errorFor(f)} color={color} />));
    const focused = fields[focus];
    if (focused) lines.push(<Text key="hint" dimColor={color} wrap="truncate-end">{`  ${focused.help}`}</Text>);
    if (screen === 'network') {
      for (const i of networkSpillover(validation).slice(0, 3))
        lines.push(<Text key={`s-${i.path}`} color={color ? 'red' : undefined} wrap="truncate-end">{`✖ ${i.path}: ${i.message}`}</Text>);
      for (const f of networkFindings(validation).slice(0, 3))
        lines.push(<Text key={f.id} color={color ? (f.status === 'fail' ? 'red' : 'yellow') : undefined} wrap="truncate-end">{`${f.status === 'fail' ? '✖' : '!'} ${f.id}: ${f.summary}`}</Text>);
    }
  }
  return <Box flexDirection="column">{lines}</Box>;
}

function Review({ yaml, plan, scroll, rows, mode, file }: { yaml: string; plan: string; scroll: number; rows: number; mode: RunMode; file: string }) {
  const all = [...yaml.trimEnd().split('\n'), '', ...(plan ? plan.trimEnd().split('\n') : ['(building the plan…)'])];
  const start = Math.min(scroll, Math.max(0, all.length - rows));
  return (
    <Box flexDirection="column">
      <Text>{`Saves to ${file}. Then: ${mode === 'rehearse' ? 'rehearse on the lab (nothing outside this machine is touched)' : 'run for real against the nodes'} (m to switch).`}</Text>
      {all.slice(start, start + rows).map((l, i) => (
        <Text key={i} wrap="truncate-end">
          {l}
        </Text>
      ))}
    </Box>
  );
}

function Checks({ checks, selected, ignore, color, rows }: { checks?: Result[]; selected: number; ignore: string[]; color: boolean; rows: number }) {
  if (!checks) return <Text>running the checks…</Text>;
  const failing = checks.filter((c) => c.status === 'fail');
  const ordered = [...failing, ...checks.filter((c) => c.status === 'warn'), ...checks.filter((c) => c.status === 'pass' || c.status === 'skip')];
  const counts = `${checks.filter((c) => c.status === 'pass').length} passed, ${checks.filter((c) => c.status === 'warn').length} warnings, ${failing.length} failed`;
  return (
    <Box flexDirection="column">
      <Text>{counts + (ignore.length ? ` · ignored: ${ignore.join(', ')}` : '')}</Text>
      {ordered.slice(0, rows - 3).map((c, i) => (
        <Text key={c.id} wrap="truncate-end" inverse={c.status === 'fail' && i === selected}>
          <Text color={color ? { pass: 'green', warn: 'yellow', fail: 'red', skip: 'gray' }[c.status] : undefined}>{`${STATUS_MARK[c.status]} ${c.id.padEnd(24)}`}</Text>
          {` ${c.summary}`}
        </Text>
      ))}
      {failing[selected]?.fix ? <Text wrap="truncate-end">{`fix: ${failing[selected]!.fix}`}</Text> : null}
    </Box>
  );
}

/** The connectivity matrix as validate reports it: cells[client][server] of ok | fail | -. */
interface Matrix {
  nodes: string[];
  cells: string[][];
}

function isMatrix(e: unknown): e is { matrix: Matrix } {
  const m = (e as { matrix?: Matrix } | undefined)?.matrix;
  return !!m && Array.isArray(m.nodes) && Array.isArray(m.cells);
}

function matrixLines(m: Matrix): string[] {
  const w = Math.min(8, Math.max(4, ...m.nodes.map((n) => n.length)));
  const cut = (s: string) => s.slice(0, w).padEnd(w);
  const shown = m.nodes.slice(0, 8);
  return [
    `      ${cut('from\\to')} ${shown.map(cut).join(' ')}`,
    ...shown.map((from, i) => `      ${cut(from)} ${shown.map((_, j) => cut(m.cells[i]?.[j] ?? '-')).join(' ')}`),
    `      row → column: ok reached · fail not reached · - not tested${m.nodes.length > shown.length ? ` · first ${shown.length} of ${m.nodes.length} nodes` : ''}`,
  ];
}

function ms(v: number): string {
  return v < 1000 ? `${Math.round(v)}ms` : `${(v / 1000).toFixed(1)}s`;
}

/** A drill result's evidence: when the phase started (from the drill's start), and RPO/RTO once known. */
function drillEvidence(r: Result): { atMs?: number; rpoMs?: number; rtoMs?: number } {
  const e = r.evidence as { atMs?: unknown; rpoMs?: unknown; rtoMs?: unknown } | undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return { atMs: num(e?.atMs), rpoMs: num(e?.rpoMs), rtoMs: num(e?.rtoMs) };
}

/**
 * The drill's phases as a timeline: per phase its start offset from the drill's start (+0ms, +1.2s, …), a bar
 * placed at that offset and as long as its share of the whole, and its duration. A result without a recorded
 * start follows the one before it.
 */
export function timelineLines(rs: Result[], width = 30): string[] {
  let next = 0;
  const placed = rs.map((r) => {
    const at = drillEvidence(r).atMs ?? next;
    next = at + r.durationMs;
    return { r, at };
  });
  const total = Math.max(1, ...placed.map((p) => p.at + p.r.durationMs));
  return placed.map(({ r, at }) => {
    const from = Math.min(width - 1, Math.floor((at / total) * width));
    const n = Math.min(width - from, Math.max(1, Math.round((r.durationMs / total) * width)));
    const bar = `${' '.repeat(from)}${'█'.repeat(n)}`.padEnd(width);
    return `      ${r.id.replace(/^drill-/, '').padEnd(10).slice(0, 10)} ${`+${ms(at)}`.padStart(7)} ${bar} ${ms(r.durationMs)}`;
  });
}

/** RPO and RTO from the last drill result that knows them. */
function rpoRtoLine(rs: Result[]): string {
  const last = <K extends 'rpoMs' | 'rtoMs'>(k: K) => rs.map((r) => drillEvidence(r)[k]).filter((v): v is number => v !== undefined).at(-1);
  const rpo = last('rpoMs');
  const rto = last('rtoMs');
  return `    RPO ${rpo === undefined ? 'not measured' : ms(rpo)} (age of the snapshot when restored) · RTO ${rto === undefined ? 'not measured' : ms(rto)} (restore + boot + verify)`;
}

function Results({ summary, color, scroll, rows }: { summary: RunSummary; color: boolean; scroll: number; rows: number }) {
  const lines: { text: string; status?: Result['status'] }[] = [];
  const verdict = { pass: 'All passed', interrupted: 'Interrupted', incomplete: 'Incomplete', fail: 'Something failed' }[summary.status];
  lines.push({ text: `${verdict} in ${(summary.durationMs / 1000).toFixed(1)}s · records: ${summary.runDir}` });
  for (const h of summary.skippedHeadlines ?? []) lines.push({ text: `↓ ${h.title} did not run: ${h.reason.replace(/^cannot run here: /, '')}`, status: 'skip' });
  // Failures first: they are what the operator needs to see without scrolling.
  const failed = summary.results.filter((r) => r.status === 'fail');
  for (const r of failed) lines.push({ text: `✖ ${r.id}: ${r.summary}${r.fix ? ` — fix: ${r.fix}` : ''}`, status: 'fail' });
  let stage = '';
  for (const r of summary.results) {
    if (r.stage !== stage) {
      stage = r.stage;
      lines.push({ text: `${stage}` });
      if (stage === 'drill') {
        const drill = summary.results.filter((x) => x.stage === 'drill');
        lines.push({ text: rpoRtoLine(drill) }, { text: '    timeline:       start  phase' }, ...timelineLines(drill).map((text) => ({ text })));
      }
    }
    lines.push({ text: `  ${STATUS_MARK[r.status]} ${r.id}: ${r.summary}`, status: r.status });
    if (isMatrix(r.evidence)) lines.push(...matrixLines(r.evidence.matrix).map((text) => ({ text })));
  }
  const start = Math.min(scroll, Math.max(0, lines.length - rows));
  return (
    <Box flexDirection="column">
      {lines.slice(start, start + rows).map((l, i) => (
        <Text key={i} wrap="truncate-end" color={color && l.status ? { pass: 'green', warn: 'yellow', fail: 'red', skip: 'gray' }[l.status] : undefined}>
          {l.text}
        </Text>
      ))}
    </Box>
  );
}

/** The exit code a finished run leaves with: 0 passed, 130 interrupted, 1 otherwise. */
function exitCodeOf(s: RunSummary): number {
  return s.status === 'pass' ? 0 : s.status === 'interrupted' ? 130 : 1;
}

function Next({ summary, draft, file, stateDir, mode }: { summary?: RunSummary; draft: SpecInput; file: string; stateDir?: string; mode: RunMode }) {
  const ok = summary?.status === 'pass';
  const dir = stateDir ?? (file.includes('/') ? `${file.slice(0, file.lastIndexOf('/'))}/.groundwork` : '.groundwork');
  const steps = nextSteps(draft, { file, stateDir: dir, mode, status: summary?.status });
  return (
    <Box flexDirection="column">
      <Text>{ok ? (mode === 'rehearse' ? 'The rehearsal passed.' : 'Done.') : 'Not done yet.'}</Text>
      <Text>{`  spec:          ${file}`}</Text>
      {summary ? <Text>{`  run records:   ${summary.runDir}`}</Text> : null}
      {steps.map((s) => (
        <Text key={s.label}>{`  ${`${s.label}:`.padEnd(15)}${shellLine(s.argv)}`}</Text>
      ))}
      {steps.some((s) => s.argv[0] === 'drill') ? <Text dimColor>{'  (schedule the drill: a backup that was never restored is a backup that was never tested)'}</Text> : null}
    </Box>
  );
}
