/**
 * Strict fake command-line tools (STYLE 12; after cli/cli internal/run/stub.go).
 *
 * createFakeTools(dir, { talosctl: [rules], ssh: [rules], ... }) writes one small POSIX sh script per tool
 * into <dir>/bin, with its rules compiled in, and a PATH built from scratch: <dir>/bin plus <dir>/interp,
 * which holds symlinks to exactly the programs the scripts use (sh, cat, mkdir, sleep, grep). No system
 * directory is on it, so the machine's kubectl or docker can never answer in place of a fake. (sh, not node:
 * a fake call costs a few ms instead of a node start-up, which matters when a test makes hundreds.)
 *
 * Every call is logged (order, tool, argv, answering rule). The first rule whose `match` fits the argv (and
 * whose `when` holds, and that has uses left) answers: stdout, stderr, exit code, files written, markers set.
 * A call no rule fits fails loudly with exit 127 and is logged; verify() throws for those and for expected
 * rules that were never used.
 *
 * The fakes share a small "world" in <dir>/state: a rule can `mark` a fact when it runs (e.g. "bootstrapped")
 * and other rules answer differently `when` that fact exists or not, so probes see earlier side effects,
 * across runs, like real nodes would. Interruptions: `hang: true` on a rule, or hangAtCall(n) for the nth call
 * of the log: the fake does its effects (files, marks), writes <dir>/state/hanging and sleeps until killed,
 * so the test can abort the run right there (waitForHang).
 *
 * Limits: argv elements must not contain newlines or \x1f; a RegExp matcher is run by `grep -E` after
 * turning \d, \w and \s into POSIX classes, so keep them simple.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export type ArgMatcher = string | RegExp;

export interface FakeRule {
  /** The arguments after the tool name. Strings match exactly, RegExps must match the whole element. */
  match: ArgMatcher[];
  /** Match `match` as a prefix of the arguments instead of the whole list. */
  prefix?: boolean;
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /**
   * Files to write, path -> content. A path `{argAfter:--flag}` means the argument that follows --flag,
   * `{arg:N}` the Nth argument (0-based; -1 is the last).
   */
  writeFiles?: Record<string, string>;
  /** Answer only when these markers are set / unset in the fakes' world. */
  when?: { marked?: string[]; unmarked?: string[] };
  /** Markers to set when this rule answers (before hanging, so the side effect "happened"). */
  mark?: string[];
  /** How many calls this rule may answer; later calls fall through to the next rule. Default: unlimited. */
  times?: number;
  /** verify() does not require this rule to have been used. */
  optional?: boolean;
  /** Do the effects, write <dir>/state/hanging, then never exit: an interruption in the middle of this command. */
  hang?: boolean;
}

export type FakeToolSpec = Record<string, FakeRule[]>;

export interface FakeCall {
  seq: number;
  tool: string;
  argv: string[];
  /** Index of the answering rule, or -1 for an unexpected call. */
  rule: number;
}

export interface FakeTools {
  dir: string;
  binDir: string;
  /** PATH made only of the fakes and the links to the programs they use. */
  path: string;
  /** A whole environment for processes that must see only the fakes. */
  env: Record<string, string>;
  calls(): FakeCall[];
  /** `tool arg arg` lines in call order, with `replace` applied (e.g. temp dirs -> placeholders). */
  sequence(replace?: Record<string, string>): string[];
  unexpected(): FakeCall[];
  /** Throws listing unexpected calls and expected rules never used. */
  verify(): void;
  /** Swap the rules (e.g. between an interrupted run and its resume); the world's markers and the log stay. */
  setRules(tools: FakeToolSpec): void;
  marked(name: string): boolean;
  mark(name: string): void;
  /** Make the nth call in the log (1-based, counting earlier runs) hang after its effects; 0 turns it off. */
  hangAtCall(n: number): void;
  /** Files the fakes wrote, each with the mode it was born with (0666 minus the tool's creation mask). */
  written(): Array<{ file: string; bornMode: number }>;
}

/** The programs the generated scripts run; nothing else is on the fakes' PATH. */
const HELPERS = ['sh', 'cat', 'mkdir', 'sleep', 'grep'];

function findProgram(name: string): string {
  const found = ['/bin', '/usr/bin'].map((d) => path.join(d, name)).find((p) => existsSync(p));
  if (!found) throw new Error(`fake-tools: ${name} not found in /bin or /usr/bin`);
  return found;
}

/** Single-quoted for sh: the value can hold anything but is never interpreted. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function toEre(re: RegExp): string {
  return re.source.replace(/\\d/g, '[0-9]').replace(/\\w/g, '[[:alnum:]_]').replace(/\\s/g, '[[:space:]]');
}

function compileTool(dir: string, tool: string, rules: FakeRule[], generation: number): string {
  const state = path.join(dir, 'state');
  const content = path.join(dir, 'content');
  const lines: string[] = [
    '#!/bin/sh',
    `# fake ${tool}, generated by test/helpers/fake-tools.ts`,
    `S=${q(state)}`,
    // A call claims its rule, logs itself and does its effects as one unit: a SIGTERM in between would leave a
    // claimed-but-undone rule that no real tool has. Signals are honoured again before output or a hang.
    "trap '' TERM INT HUP",
    // A sequence number claimed atomically (mkdir fails if it exists): call order even for parallel calls.
    // The hint makes it one mkdir in the usual case; a stale hint only costs a few more tries.
    '{ read n < "$S/seq-hint"; } 2>/dev/null || n=0; n=$((n+1)); while ! mkdir "$S/seq-$n" 2>/dev/null; do n=$((n+1)); done; echo $n > "$S/seq-hint"',
    'rule=-1',
  ];
  rules.forEach((r, i) => {
    const conds: string[] = [r.prefix ? `[ "$#" -ge ${r.match.length} ]` : `[ "$#" -eq ${r.match.length} ]`];
    r.match.forEach((m, j) => {
      const arg = `"\${${j + 1}}"`;
      conds.push(typeof m === 'string' ? `[ ${arg} = ${q(m)} ]` : `printf '%s\\n' ${arg} | grep -Eq -- ${q(`^(${toEre(m)})$`)}`);
    });
    for (const m of r.when?.marked ?? []) conds.push(`[ -e "$S/mark-"${q(m)} ]`);
    for (const m of r.when?.unmarked ?? []) conds.push(`[ ! -e "$S/mark-"${q(m)} ]`);
    const used = `"$S/used-${generation}-${tool}-${i}"`;
    // Claim a use atomically so parallel calls can't both take the last one.
    const claim = r.times === undefined ? `{ mkdir -p ${used}; mkdir ${used}/$n; }` : `{ mkdir -p ${used}; k=0; ok=1; while [ $k -lt ${r.times} ]; do if mkdir ${used}/$k 2>/dev/null; then ok=0; break; fi; k=$((k+1)); done; [ $ok -eq 0 ]; }`;
    lines.push(`if [ $rule -lt 0 ] && ${conds.join(' && ')} && ${claim}; then rule=${i}; fi`);
  });
  lines.push(
    // One printf = one write: lines of parallel calls don't interleave.
    `line="$n\x1f$rule\x1f${tool}"; for a in "$@"; do line="$line\x1f$a"; done`,
    `printf '%s\\n' "$line" >> ${q(path.join(dir, 'calls.log'))}`,
    'if [ $rule -lt 0 ]; then',
    `  printf 'FAKE ${tool}: UNEXPECTED CALL (no rule matches): ${tool}' >&2; for a in "$@"; do printf ' %s' "$a" >&2; done; printf '\\n' >&2`,
    '  exit 127',
    'fi',
    'last=; for a in "$@"; do last=$a; done',
    'case $rule in',
  );
  rules.forEach((r, i) => {
    const body: string[] = [];
    Object.entries(r.writeFiles ?? {}).forEach(([p, text], j) => {
      const src = path.join(content, `${generation}-${tool}-${i}-file-${j}`);
      writeFileSync(src, text);
      const after = /^\{argAfter:(.+)\}$/.exec(p);
      const at = /^\{arg:(-?\d+)\}$/.exec(p);
      if (after) body.push(`f=; prev=; for a in "$@"; do [ "$prev" = ${q(after[1]!)} ] && f=$a; prev=$a; done`);
      else if (at) body.push(Number(at[1]) < 0 ? (at[1] === '-1' ? 'f=$last' : 'f=') : `f="\${${Number(at[1]) + 1}}"`);
      else body.push(`f=${q(p)}`);
      body.push(`mkdir -p "\${f%/*}"; cat ${q(src)} > "$f"`);
      // The creation mask the tool ran with says the mode the file was born with (before anyone chmods it).
      body.push(`printf '%s\\037%s\\n' "$(umask)" "$f" >> "$S/written"`);
    });
    for (const m of r.mark ?? []) body.push(`: > "$S/mark-"${q(m)}`);
    // The pid stays the sleep's (exec): a test that SIGKILLs groundwork kills the parked fake by it.
    const hang = `echo $$ > "$S/hanging-pid"; printf '%s' ${q(tool)} > "$S/hanging"; for a in "$@"; do printf ' %s' "$a" >> "$S/hanging"; done; trap - TERM INT HUP; exec sleep 100000`;
    if (r.hang) body.push(hang);
    else body.push(`if [ -e "$S/hang-at" ] && read h < "$S/hang-at" && [ "$h" = "$n" ]; then ${hang}; fi`);
    body.push('trap - TERM INT HUP');
    for (const [stream, text] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
      if (!text) continue;
      const src = path.join(content, `${generation}-${tool}-${i}-${stream}`);
      writeFileSync(src, text);
      body.push(stream === 'stdout' ? `cat ${q(src)}` : `cat ${q(src)} >&2`);
    }
    body.push(`exit ${r.exitCode ?? 0}`);
    lines.push(`  ${i}) ${body.join('\n    ')} ;;`);
  });
  lines.push('esac', '');
  return lines.join('\n');
}

export function createFakeTools(dir: string, tools: FakeToolSpec): FakeTools {
  const binDir = path.join(dir, 'bin');
  const interpDir = path.join(dir, 'interp');
  const state = path.join(dir, 'state');
  for (const d of [binDir, interpDir, state, path.join(dir, 'content')]) mkdirSync(d, { recursive: true });
  for (const name of HELPERS) {
    const link = path.join(interpDir, name);
    if (!existsSync(link)) symlinkSync(findProgram(name), link);
  }
  const callsFile = path.join(dir, 'calls.log');
  if (!existsSync(callsFile)) writeFileSync(callsFile, '');

  let current: FakeToolSpec = {};
  let generation = 0;
  const install = (next: FakeToolSpec) => {
    current = next;
    generation++;
    // Tools of an earlier rule set that the new one lacks become strict "unexpected" fakes, not leftovers.
    for (const old of readdirSync(binDir)) if (!(old in next)) rmSync(path.join(binDir, old));
    for (const [tool, rules] of Object.entries(next)) {
      const file = path.join(binDir, tool);
      writeFileSync(file, compileTool(dir, tool, rules, generation));
      chmodSync(file, 0o755);
    }
  };
  install(tools);

  const pathVar = `${binDir}:${interpDir}`;
  const calls = (): FakeCall[] =>
    readFileSync(callsFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [seq, rule, tool, ...argv] = l.split('\x1f');
        return { seq: Number(seq), rule: Number(rule), tool: tool!, argv };
      })
      .sort((a, b) => a.seq - b.seq);

  const usedCount = (tool: string, i: number): number => {
    const d = path.join(state, `used-${generation}-${tool}-${i}`);
    return existsSync(d) ? readdirSync(d).length : 0;
  };

  return {
    dir,
    binDir,
    path: pathVar,
    env: { PATH: pathVar, HOME: dir, LANG: 'C', NO_COLOR: '1' },
    calls,
    sequence(replace = {}) {
      return calls().map((c) => {
        let line = [c.tool, ...c.argv].join(' ');
        for (const [from, to] of Object.entries(replace)) line = line.split(from).join(to);
        return line;
      });
    },
    unexpected: () => calls().filter((c) => c.rule < 0),
    verify() {
      const problems: string[] = [];
      for (const c of calls().filter((x) => x.rule < 0)) problems.push(`unexpected call: ${c.tool} ${JSON.stringify(c.argv)}`);
      for (const [tool, rules] of Object.entries(current)) {
        rules.forEach((r, i) => {
          if (!r.optional && usedCount(tool, i) === 0) problems.push(`expected call never came: ${tool} ${r.match.map(String).join(' ')}`);
        });
      }
      if (problems.length > 0) throw new Error(`fake tools in ${dir}:\n  ${problems.join('\n  ')}`);
    },
    setRules: install,
    marked: (m) => existsSync(path.join(state, `mark-${m}`)),
    mark: (m) => writeFileSync(path.join(state, `mark-${m}`), ''),
    hangAtCall: (n) => writeFileSync(path.join(state, 'hang-at'), `${n}\n`),
    written() {
      const f = path.join(state, 'written');
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [mask, file] = l.split('\x1f');
          return { file: file!, bornMode: 0o666 & ~parseInt(mask!, 8) };
        });
    },
  };
}

/** Waits until a hanging rule or call has been reached (the fake is then parked mid-command). */
export async function waitForHang(fakes: FakeTools, timeoutMs = 20_000): Promise<string> {
  const file = path.join(fakes.dir, 'state', 'hanging');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (existsSync(file)) {
      await delay(5);
      return readFileSync(file, 'utf8');
    }
    await delay(10);
  }
  throw new Error(`fake tools: no hang reached within ${timeoutMs} ms`);
}

/** The pid of the fake parked in a hang (its own process group: the exec door starts tools detached). */
export function hangingPid(fakes: FakeTools): number {
  return Number(readFileSync(path.join(fakes.dir, 'state', 'hanging-pid'), 'utf8').trim());
}

/** Clears the hang marker so the next interruption can be detected. */
export function clearHang(fakes: FakeTools): void {
  const file = path.join(fakes.dir, 'state', 'hanging');
  if (existsSync(file)) renameSync(file, `${file}-${Date.now()}`);
}
