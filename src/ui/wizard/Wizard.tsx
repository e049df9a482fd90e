/**
 * The interactive wizard: one screen at a time, from an empty terminal to a validated cluster.
 * Esc back, Enter next (refused while any ✖ shows), ↑/↓ between fields, ←/→ choose, ? help, q quit (asks first
 * while something runs). Text fields edit through the one line editor (../line-editor.ts).
 * Gets data and callbacks (WizardServices); never spawns processes or calls APIs itself.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import type { SpecInput } from '../../spec/schema.js';
import type { SpecIssue } from '../../errors.js';
import type { LoadedSpec } from '../../spec/load.js';
import { exitCodeForSummary, type Result, type RunSummary } from '../../run/types.js';
import type { RunStore } from '../../run/events.js';
import { TaskTree } from '../task-tree.js';
import { redactSecretShapes } from '../../run/secret-shapes.js';
import { FieldRow, editValue, scrollStep } from './fields.js';
import { formatDuration } from '../../duration.js';
import { fit, moreAbove, moreBelow, scrollWindow, windowAround, wrapText } from './layout.js';
import {
  FORM_SCREENS,
  NODE_FIELDS,
  keysFor,
  labelWidth,
  progress,
  title,
  dottedPath,
  fieldValue,
  screenFields,
  writeField,
  issuesFor,
  nextSteps,
  shellLine,
  setPath,
  suggestNode,
  type Field,
  type ScreenName,
} from './screens.js';
import type { Validation } from './model.js';
import type { SubnetFinding } from '../../net/subnets.js';

/**
 * The spec stack (zod, the spec loader, the subnet analysis, yaml's writer): loaded after the first frame, in a
 * chunk of its own in the bundle. Keys that arrive before it are kept and handled, in order, once it is here.
 */
type Model = typeof import('./model.js');
let model: Model | undefined;
let modelLoading: Promise<Model> | undefined;
function loadModel(): Promise<Model> {
  modelLoading ??= import('./model.js').then((m) => (model = m));
  return modelLoading;
}

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
  /** The spec file's text when it parsed: saving writes the edits into it, keeping comments and key order. */
  initialText?: string;
  /** Why the spec file could not be read (YAML syntax, duplicate keys, not a mapping): shown first, with the choice to start fresh. */
  problems?: SpecIssue[];
  services: WizardServices;
  color: boolean;
  /** The terminal's size; the wizard follows the terminal's resize events after that. */
  rows?: number;
  columns?: number;
  onExit: (code: number) => void;
}

const HELP: Record<ScreenName, string> = {
  broken: 'The spec file is not valid YAML (or not a mapping). Fix it in an editor and start the wizard again, or start fresh: saving then keeps the broken file as .bak.',
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
function networkSpillover(v: Validation) {
  return v.issues.filter((i) => i.severity === 'error' && !i.path.startsWith('spec.network') && /\b(podCIDR|serviceCIDR)\b/.test(i.message));
}


function nodeCount(d: SpecInput): number {
  return ((d.spec?.nodes ?? []) as unknown[]).length;
}

function fieldsFor(screen: ScreenName, d: SpecInput): Field[] {
  if (screen === 'cluster' || screen === 'network' || screen === 'addons') return screenFields(screen, d);
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

/** Validation before the first paint has happened: nothing known yet, nothing blocks (every key handler validates itself). */
const NOT_YET: Validation = { byPath: new Map(), issues: [] };

/** The terminal's size, following its resize events (ink redraws on them; the layout follows the new size). */
function useTerminalSize(rows?: number, columns?: number): { rows: number; columns: number } {
  const { stdout } = useStdout();
  const read = () => ({ rows: (stdout as { rows?: number }).rows ?? rows ?? 24, columns: (stdout as { columns?: number }).columns ?? columns ?? 80 });
  const [size, setSize] = useState(() => ({ rows: rows ?? read().rows, columns: columns ?? read().columns }));
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}

export function Wizard({ initial, initialText, problems, services, color, rows: rowsProp, columns: columnsProp, onExit }: WizardProps) {
  const { exit } = useApp();
  const size = useTerminalSize(rowsProp, columnsProp);
  const rows = Math.max(10, size.rows);
  const cols = Math.max(40, size.columns);
  // Several keys can arrive before the next render (fast typing, paste, tests): the key handler reads the
  // latest screen, draft and focus from refs that are updated synchronously, not from the last render.
  const [screen, setScreen, screenRef] = useLatestState<ScreenName>(problems?.length ? 'broken' : services.resumable ? 'resume' : 'cluster');
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
  // The furthest a scrolled screen can go (set by the screen as it draws), so ↓ past the end is not counted.
  const maxScroll = useRef(0);
  const scrollBy = (d: number) => setScroll((s) => Math.max(0, Math.min(maxScroll.current, s + d)));
  const [matrixPage, setMatrixPage] = useState(0);
  const [checks, setChecks, checksRef] = useLatestState<Result[] | undefined>(undefined);
  const [ignore, setIgnore, ignoreRef] = useLatestState<string[]>([]);
  const [selected, setSelected, selectedRef] = useLatestState(0);
  const [store, setStore] = useState<RunStore | undefined>();
  const [summary, setSummary, summaryRef] = useLatestState<RunSummary | undefined>(undefined);
  const [running, setRunning, runningRef] = useLatestState(false);
  const [mode, setMode, modeRef] = useLatestState<RunMode>('rehearse');
  const [resume, setResume] = useState(false);
  // What was last saved (or loaded): a draft that differs from it would be lost by quitting.
  const savedYaml = useRef(JSON.stringify(initial));
  // The file's text as last saved or loaded: the next save edits it in place (comments and key order stay).
  const savedText = useRef<string | undefined>(problems?.length ? undefined : initialText);

  // Validation runs after the first frame: the spec stack loads once the screen is up.
  const [ready, setReady] = useState(model !== undefined);
  const pending = useRef<[string, Parameters<Parameters<typeof useInput>[0]>[1]][]>([]);
  const onKeyRef = useRef<(input: string, key: Parameters<Parameters<typeof useInput>[0]>[1]) => void>(() => {});
  useEffect(() => {
    void loadModel().then(() => {
      setReady(true);
      for (const [input, key] of pending.current.splice(0)) onKeyRef.current(input, key);
    });
  }, []);
  const validateDraft = (d: SpecInput, file: string): Validation => model!.validateDraft(d, file);
  const validation = useMemo(() => (ready && model ? model.validateDraft(draft, services.specFile) : NOT_YET), [draft, services.specFile, ready]);
  const findings: SubnetFinding[] = useMemo(() => (model && validation.loaded ? model.networkFindings(validation) : []), [validation]);
  const networkFindings = (v: Validation) => model!.networkFindings(v);
  const fields = fieldsFor(screen, draft);

  const leave = (code: number) => {
    onExit(code);
    exit();
  };

  const go = (to: ScreenName) => {
    setScreen(to);
    setFocus(0);
    setScroll(0);
    setMatrixPage(0);
    setMessage('');
    setSelected(0);
  };

  /** Saves the draft: written into the operator's own file when there is one (comments kept), else a new file. */
  const save = (onSaved: (file: string) => void) => {
    const d = draftRef.current;
    let text: string;
    try {
      text = model!.specText(d, savedText.current);
    } catch (e) {
      setMessage(`could not save: ${(e as Error).message}`);
      return;
    }
    services.save(text).then(
      (f) => {
        savedYaml.current = JSON.stringify(d);
        savedText.current = text;
        onSaved(f);
      },
      (e: Error) => setMessage(`could not save: ${e.message}`),
    );
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
  }, [screen]);

  useInput((input, key) => {
    if (model) onKeyRef.current(input, key);
    else pending.current.push([input, key]);
  });
  onKeyRef.current = (input, key) => {
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
      const unsaved = JSON.stringify(draftRef.current) !== savedYaml.current;
      if (running || unsaved) setConfirmQuit(true);
      else leave(summary ? exitCodeForSummary(summary) : 130);
      return;
    }
    if (input === '?') {
      setHelp((h) => !h);
      return;
    }
    const field = fields[focus];

    if (screen === 'broken') {
      if (input === 'n') {
        // Start fresh: the defaults, saved as a new file (the broken one is kept as .bak by the save).
        savedText.current = undefined;
        go(services.resumable ? 'resume' : 'cluster');
      }
      return;
    }

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
        const value = fieldValue(field, draftRef.current);
        const next = editValue(field, { value, cursor: cursorRef.current ?? value.length }, input, key);
        if (next === undefined) return;
        if (next.value !== value) setDraft((d) => writeField(d, field, next.value));
        setCursor(next.cursor === next.value.length ? undefined : next.cursor);
        setMessage('');
      }
      return;
    }

    if (screen === 'review') {
      if (key.escape) return go('addons');
      const step = scrollStep(input, key, Math.max(1, rows - 8));
      if (step !== undefined) return scrollBy(step);
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
      if (input === 's') return save((f) => setMessage(`saved ${f}`));
      if (key.return && validation.loaded) return save(() => go('preflight'));
      return;
    }

    if (screen === 'preflight') {
      if (running) return;
      const failing = (checks ?? []).filter((c) => c.status === 'fail');
      const ordered = orderChecks(checks ?? []);
      if (key.escape) return go('review');
      if (key.upArrow) return setSelected((s) => Math.max(0, s - 1));
      if (key.downArrow) return setSelected((s) => Math.min(Math.max(0, ordered.length - 1), s + 1));
      if (key.pageUp) return setSelected((s) => Math.max(0, s - Math.max(1, rows - 10)));
      if (key.pageDown) return setSelected((s) => Math.min(Math.max(0, ordered.length - 1), s + Math.max(1, rows - 10)));
      if (input === 'r') return void runPreflight(ignore);
      if (input === 'i' && ordered[selected]) {
        if (ordered[selected]!.status !== 'fail') return setMessage(`${ordered[selected]!.id} did not fail: only a failing check can be ignored`);
        const next = [...ignore, ordered[selected]!.id];
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
      const step = scrollStep(input, key, Math.max(1, rows - 8));
      if (step !== undefined) return scrollBy(step);
      // The connectivity matrix pages its columns: every node is reachable, none cut silently.
      if (key.rightArrow) return setMatrixPage((p) => p + 1);
      if (key.leftArrow) return setMatrixPage((p) => Math.max(0, p - 1));
      return;
    }
    if (screen === 'next' && (key.return || key.escape)) leave(summary ? exitCodeForSummary(summary) : 130);
  };

  // The frame is one line shorter than the terminal: it never scrolls, so the header stays on top and the shell
  // prompt lands below the footer on exit. Everything below is wrapped to the width and counted.
  const footer = wrapText(keysFor(screen), cols);
  const helpLines = help ? wrapText(`? ${HELP[screen]}`, cols, '  ') : [];
  const messageLines = message ? wrapText(message, cols, '  ') : [];
  const confirmText = confirmQuit ? (running ? 'Stop the running step and quit? y/n' : 'Quit and lose the unsaved edits? y/n') : '';
  const body = Math.max(3, rows - 2 - footer.length - helpLines.length - messageLines.length - (confirmQuit ? 1 : 0));
  const onScroll = (max: number) => {
    maxScroll.current = max;
  };
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {fit(`groundwork · ${title(screen)}`, cols)}
        <Text dimColor={color}>{fit(`  ${progress(screen)}`, Math.max(0, cols - `groundwork · ${title(screen)}`.length))}</Text>
      </Text>
      {helpLines.map((l, i) => (
        <Text key={`h${i}`} color={color ? 'yellow' : undefined}>
          {l}
        </Text>
      ))}
      {screen === 'broken' ? <Broken problems={problems ?? []} file={services.specFile} cols={cols} rows={body} color={color} /> : null}
      {screen === 'resume' ? (
        <Box flexDirection="column">
          {wrapText(`An unfinished run exists: ${services.resumable?.runId} (${services.resumable?.summary}).`, cols, '  ').map((l, i) => (
            <Text key={`r${i}`}>{l}</Text>
          ))}
          {wrapText('Resume it? Enter/y resumes (finished steps are not repeated), n starts over.', cols, '  ').map((l, i) => (
            <Text key={`q${i}`}>{l}</Text>
          ))}
        </Box>
      ) : null}
      {FORM_SCREENS.includes(screen) ? (
        <FormBody screen={screen} fields={fields} draft={draft} focus={focus} cursor={cursor} color={color} validation={validation} findings={findings} rows={body} cols={cols} />
      ) : null}
      {screen === 'review' ? <Review yaml={model ? model.toYaml(draft) : ''} plan={planText} scroll={scroll} rows={body} cols={cols} mode={mode} file={services.specFile} onScroll={onScroll} /> : null}
      {screen === 'preflight' ? <Checks checks={checks} selected={selected} ignore={ignore} color={color} rows={body} cols={cols} /> : null}
      {screen === 'run' ? store ? <TaskTree store={store} color={color} rows={body} /> : <Text>starting…</Text> : null}
      {screen === 'results' && summary ? <Results summary={summary} color={color} scroll={scroll} rows={body} cols={cols} matrixPage={matrixPage} onScroll={onScroll} /> : null}
      {screen === 'next' ? <Next summary={summary} draft={draft} file={services.specFile} stateDir={services.stateDir} mode={mode} cols={cols} rows={body} /> : null}
      {messageLines.map((l, i) => (
        <Text key={`m${i}`} color={color ? 'yellow' : undefined}>
          {l}
        </Text>
      ))}
      {confirmQuit ? <Text color={color ? 'red' : undefined}>{fit(confirmText, cols)}</Text> : null}
      {footer.map((l, i) => (
        <Text key={`f${i}`} dimColor={color}>
          {l}
        </Text>
      ))}
    </Box>
  );
}

/** The spec file that is no spec: its problems where they are (file:line:column, field), and the way on. */
function Broken({ problems, file, cols, rows, color }: { problems: SpecIssue[]; file: string; cols: number; rows: number; color: boolean }) {
  const head = wrapText(`${file} cannot be read as a cluster spec, so nothing from it is shown:`, cols, '  ');
  const tail = wrapText(`n starts fresh with the defaults (saving keeps the broken file as ${file}.bak) · q quits, to fix it in an editor`, cols, '  ');
  const lines = problems.flatMap((p) => wrapText(`✖ ${p.file}:${p.line}:${p.column}${p.path ? ` ${p.path}` : ''}: ${p.message}`, cols, '    '));
  const room = Math.max(1, rows - head.length - tail.length - 1);
  const shown = lines.length > room ? [...lines.slice(0, room - 1), moreBelow(lines.length - room + 1)] : lines;
  return (
    <Box flexDirection="column">
      {head.map((l, i) => (
        <Text key={`a${i}`}>{l}</Text>
      ))}
      {shown.map((l, i) => (
        <Text key={`p${i}`} color={color && l.startsWith('✖') ? 'red' : undefined}>
          {l}
        </Text>
      ))}
      <Text> </Text>
      {tail.map((l, i) => (
        <Text key={`t${i}`}>{l}</Text>
      ))}
    </Box>
  );
}

function issueText(i: { severity: string; message: string }, prefix = ''): string {
  return `${i.severity === 'error' ? '✖' : '!'} ${prefix}${i.message}`;
}

function FormBody({ screen, fields, draft, focus, cursor, color, validation, findings, rows, cols }: { screen: ScreenName; fields: Field[]; draft: SpecInput; focus: number; cursor?: number; color: boolean; validation: Validation; findings: SubnetFinding[]; rows: number; cols: number }) {
  const errorFor = (f: Field) => validation.byPath.get(dottedPath(f.path))?.find((i) => i.severity === 'error')?.message;
  const red = color ? 'red' : undefined;
  const tone = (sev: string) => (color ? (sev === 'error' || sev === 'fail' ? 'red' : 'yellow') : undefined);
  const row = (f: Field, i: number, width: number) => (
    <FieldRow key={f.key} field={f} value={fieldValue(f, draft)} focused={focus === i} cursor={focus === i ? cursor : undefined} error={errorFor(f)} color={color} width={width} cols={cols} />
  );
  const rowHeight = (f: Field) => {
    const e = errorFor(f);
    return 1 + (e ? wrapText(`    ✖ ${e}`, cols, '      ').length : 0);
  };
  // Below the fields: the focused field's help, then what is wrong beyond single fields. Wrapped, never cut.
  const tail: { text: string; color?: string }[] = [];
  let blocks: { key: string; height: number; node: React.ReactNode }[];
  let focusBlock: number;
  if (screen === 'nodes') {
    const n = fields.length / 3;
    const width = labelWidth(fields, cols);
    blocks = Array.from({ length: n }, (_, i) => {
      const three = fields.slice(i * 3, i * 3 + 3);
      return {
        key: `node-${i}`,
        height: 1 + three.reduce((h, f) => h + rowHeight(f), 0),
        node: (
          <Box key={`node-${i}`} flexDirection="column">
            <Text dimColor={color}>{`node ${i + 1}`}</Text>
            {three.map((f, j) => row(f, i * 3 + j, width))}
          </Box>
        ),
      };
    });
    focusBlock = Math.floor(focus / 3);
    for (const i of validation.byPath.get('spec.nodes') ?? []) for (const text of wrapText(issueText(i), cols, '  ')) tail.push({ text, color: tone(i.severity) });
  } else {
    const width = labelWidth(fields, cols, 19);
    blocks = fields.map((f, i) => ({ key: f.key, height: rowHeight(f), node: row(f, i, width) }));
    focusBlock = focus;
    const focused = fields[focus];
    if (focused) for (const text of wrapText(`  ${focused.help}`, cols, '  ')) tail.push({ text, color: 'dim' });
    if (screen === 'network') {
      for (const i of networkSpillover(validation)) for (const text of wrapText(issueText(i, `${i.path}: `), cols, '  ')) tail.push({ text, color: red });
      for (const f of findings) for (const text of wrapText(`${f.status === 'fail' ? '✖' : '!'} ${f.id}: ${f.summary}`, cols, '  ')) tail.push({ text, color: tone(f.status) });
    }
  }
  // The fields get the room first (at least the focused one); the tail shows what fits below, with a marker.
  const need = blocks.reduce((h, b) => h + b.height, 0);
  const tailRoom = Math.max(0, rows - Math.min(need, Math.max(blocks[focusBlock]?.height ?? 1, rows - tail.length)));
  const shownTail = tail.length > tailRoom ? [...tail.slice(0, Math.max(0, tailRoom - 1)), { text: moreBelow(tail.length - Math.max(0, tailRoom - 1)) }] : tail;
  const span = windowAround(
    blocks.map((b) => b.height),
    focusBlock,
    Math.max(1, rows - shownTail.length),
  );
  return (
    <Box flexDirection="column">
      {span.above > 0 ? <Text dimColor={color}>{moreAbove(span.above)}</Text> : null}
      {blocks.slice(span.start, span.end + 1).map((b) => b.node)}
      {span.below > 0 ? <Text dimColor={color}>{moreBelow(span.below)}</Text> : null}
      {shownTail.map((t, i) => (
        <Text key={`t${i}`} color={t.color === 'dim' ? undefined : t.color} dimColor={t.color === 'dim' && color}>
          {t.text}
        </Text>
      ))}
    </Box>
  );
}

/** Lines of a scrolled screen, wrapped to the width, with "N more" markers where some are out of view. */
function Scrolled({ lines, scroll, rows, color, onScroll }: { lines: { text: string; color?: string }[]; scroll: number; rows: number; color: boolean; onScroll: (max: number) => void }) {
  const span = scrollWindow(lines.length, scroll, rows);
  onScroll(span.maxScroll);
  return (
    <Box flexDirection="column">
      {span.above > 0 ? <Text dimColor={color}>{`${moreAbove(span.above)} (↑ to scroll)`}</Text> : null}
      {lines.slice(span.start, span.end + 1).map((l, i) => (
        <Text key={i} color={color ? l.color : undefined}>
          {l.text}
        </Text>
      ))}
      {span.below > 0 ? <Text dimColor={color}>{`${moreBelow(span.below)} (↓ or space to scroll)`}</Text> : null}
    </Box>
  );
}

function Review({ yaml, plan, scroll, rows, cols, mode, file, onScroll }: { yaml: string; plan: string; scroll: number; rows: number; cols: number; mode: RunMode; file: string; onScroll: (max: number) => void }) {
  const head = wrapText(`Saves to ${file}. Then: ${mode === 'rehearse' ? 'rehearse on the lab (nothing outside this machine is touched)' : 'run for real against the nodes'} (m to switch).`, cols, '  ');
  // Every line wrapped, not cut: a command's host and its last argument stay visible (continuations indented).
  const all = [...yaml.trimEnd().split('\n'), '', ...(plan ? plan.trimEnd().split('\n') : ['(building the plan…)'])].flatMap((l) => {
    const lead = /^ */.exec(l)![0];
    return wrapText(l, cols, `${lead}    `).map((text) => ({ text }));
  });
  return (
    <Box flexDirection="column">
      {head.map((l, i) => (
        <Text key={`h${i}`}>{l}</Text>
      ))}
      <Scrolled lines={all} scroll={scroll} rows={Math.max(1, rows - head.length)} color={false} onScroll={onScroll} />
    </Box>
  );
}

/** Failures first (what the operator must act on), then warnings, then the rest. */
function orderChecks(checks: Result[]): Result[] {
  return [...checks.filter((c) => c.status === 'fail'), ...checks.filter((c) => c.status === 'warn'), ...checks.filter((c) => c.status === 'pass' || c.status === 'skip')];
}

const STATUS_COLOR = { pass: 'green', warn: 'yellow', fail: 'red', skip: 'gray' } as const;

function Checks({ checks, selected, ignore, color, rows, cols }: { checks?: Result[]; selected: number; ignore: string[]; color: boolean; rows: number; cols: number }) {
  if (!checks) return <Text>running the checks…</Text>;
  const failing = checks.filter((c) => c.status === 'fail');
  const ordered = orderChecks(checks);
  const counts = wrapText(`${checks.filter((c) => c.status === 'pass').length} passed, ${checks.filter((c) => c.status === 'warn').length} warnings, ${failing.length} failed` + (ignore.length ? ` · ignored: ${ignore.join(', ')}` : ''), cols, '  ');
  const sel = ordered[Math.min(selected, ordered.length - 1)];
  // The selected check in full below the list (the list's one line per check may be cut at the width).
  const detail = sel ? [...wrapText(`${STATUS_MARK[sel.status]} ${sel.id}: ${sel.summary}`, cols, '    '), ...(sel.fix && sel.status !== 'pass' ? wrapText(`fix: ${sel.fix}`, cols, '     ') : [])] : [];
  const room = Math.max(2, rows - counts.length);
  const detailShown = detail.slice(0, Math.max(0, Math.min(detail.length, room - 3)));
  const span = windowAround(
    ordered.map(() => 1),
    selected,
    Math.max(1, room - detailShown.length),
  );
  const idWidth = Math.min(24, Math.max(8, ...ordered.map((c) => c.id.length)));
  return (
    <Box flexDirection="column">
      {counts.map((l, i) => (
        <Text key={`c${i}`}>{l}</Text>
      ))}
      {span.above > 0 ? <Text dimColor={color}>{moreAbove(span.above)}</Text> : null}
      {ordered.slice(span.start, span.end + 1).map((c, k) => (
        <Text key={c.id} inverse={span.start + k === selected}>
          <Text color={color ? STATUS_COLOR[c.status] : undefined}>{`${STATUS_MARK[c.status]} ${c.id.padEnd(idWidth)}`}</Text>
          {fit(` ${c.summary}`, Math.max(1, cols - idWidth - 2))}
        </Text>
      ))}
      {span.below > 0 ? <Text dimColor={color}>{moreBelow(span.below)}</Text> : null}
      {detailShown.map((l, i) => (
        <Text key={`d${i}`} dimColor={color && i > 0}>
          {l}
        </Text>
      ))}
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

/**
 * The matrix as lines: every row (node) listed, the columns in pages that fit the width (←/→ turn them), the
 * page named when there is more than one, and the legend below it. No node is left out.
 */
function matrixLines(m: Matrix, page = 0, cols = 80): string[] {
  const w = Math.min(8, Math.max(4, ...m.nodes.map((n) => n.length)));
  const cut = (s: string) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
  const per = Math.max(1, Math.floor((cols - 6 - w - 1) / (w + 1)));
  const pages = Math.max(1, Math.ceil(m.nodes.length / per));
  const p = Math.min(page, pages - 1);
  const from = p * per;
  const shown = m.nodes.slice(from, from + per);
  const idx = shown.map((_, j) => from + j);
  const out = [
    ...(pages > 1 ? [`      columns ${from + 1}-${from + shown.length} of ${m.nodes.length} (page ${p + 1} of ${pages}, ←→ to page)`] : []),
    `      ${cut('from\\to')} ${shown.map(cut).join(' ')}`,
    ...m.nodes.map((from, i) => `      ${cut(from)} ${idx.map((j) => cut(m.cells[i]?.[j] ?? '-')).join(' ')}`),
  ];
  return [...out, ...wrapText('      row → column: ok reached · fail not reached · - not tested', cols, '        ')];
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
    return `      ${r.id.replace(/^drill-/, '').padEnd(10).slice(0, 10)} ${`+${formatDuration(at)}`.padStart(7)} ${bar} ${formatDuration(r.durationMs)}`;
  });
}

/** RPO and RTO from the last drill result that knows them. */
function rpoRtoLine(rs: Result[]): string {
  const last = <K extends 'rpoMs' | 'rtoMs'>(k: K) => rs.map((r) => drillEvidence(r)[k]).filter((v): v is number => v !== undefined).at(-1);
  const rpo = last('rpoMs');
  const rto = last('rtoMs');
  return `    RPO ${rpo === undefined ? 'not measured' : formatDuration(rpo)} (age of the snapshot when restored) · RTO ${rto === undefined ? 'not measured' : formatDuration(rto)} (restore + boot + verify)`;
}

function Results({ summary, color, scroll, rows, cols, matrixPage, onScroll }: { summary: RunSummary; color: boolean; scroll: number; rows: number; cols: number; matrixPage: number; onScroll: (max: number) => void }) {
  const lines: { text: string; status?: Result['status'] }[] = [];
  const verdict = { pass: 'All passed', interrupted: 'Interrupted', incomplete: 'Incomplete', fail: 'Something failed' }[summary.status];
  lines.push({ text: `${verdict} in ${formatDuration(summary.durationMs, { fixed: true })} · records: ${summary.runDir}` });
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
    if (isMatrix(r.evidence)) lines.push(...matrixLines(r.evidence.matrix, matrixPage, cols).map((text) => ({ text })));
  }
  // Wrapped to the width: a long failure or fix is read in full, by scrolling if need be.
  const wrapped = lines.flatMap((l) => {
    const lead = /^ */.exec(l.text)![0];
    return wrapText(l.text, cols, `${lead}    `).map((text) => ({ text, color: l.status ? STATUS_COLOR[l.status] : undefined }));
  });
  return <Scrolled lines={wrapped} scroll={scroll} rows={rows} color={color} onScroll={onScroll} />;
}

/** The exit code a finished run leaves with: 0 passed, 130 interrupted, 1 otherwise. */

function Next({ summary, draft, file, stateDir, mode, cols, rows }: { summary?: RunSummary; draft: SpecInput; file: string; stateDir?: string; mode: RunMode; cols: number; rows: number }) {
  const ok = summary?.status === 'pass';
  const dir = stateDir ?? (file.includes('/') ? `${file.slice(0, file.lastIndexOf('/'))}/.groundwork` : '.groundwork');
  const steps = nextSteps(draft, { file, stateDir: dir, mode, status: summary?.status });
  // Commands wrap with a trailing " \\" so each one can be copied as it is shown.
  const lines = [
    ok ? (mode === 'rehearse' ? 'The rehearsal passed.' : 'Done.') : 'Not done yet.',
    `  spec:          ${file}`,
    ...(summary ? [`  run records:   ${summary.runDir}`] : []),
    ...steps.flatMap((s) => {
      // Broken only between words: a quoted word with spaces stays on one line (NBSP while wrapping).
      const words = s.argv.map((w) => shellLine([w]).slice('groundwork '.length).replace(/ /g, '\u00a0'));
      return wrapText(`  ${`${s.label}:`.padEnd(15)}groundwork ${words.join(' ')}`, cols - 2, ' '.repeat(17)).map((l, i, all) => `${l.replace(/\u00a0/g, ' ')}${i < all.length - 1 ? ' \\' : ''}`);
    }),
    ...(steps.some((s) => s.argv[0] === 'drill') ? wrapText('  (schedule the drill: a backup that was never restored is a backup that was never tested)', cols, '   ') : []),
  ];
  return (
    <Box flexDirection="column">
      {lines.slice(0, rows).map((l, i) => (
        <Text key={i}>{l}</Text>
      ))}
    </Box>
  );
}
