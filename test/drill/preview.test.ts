/**
 * What `groundwork plan` shows for a drill is what the drill runs: every process a real drill started (its audit
 * log, Debian's etcd 3.4 without etcdutl, a sentinel, so every phase's argv is used) matches an argv of that
 * step's preview, where the preview's <placeholders> stand for the values only a run knows; and every previewed
 * argv ran.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDrill, runDrill } from '../../src/drill/index.js';
import { captureIo } from '../helpers/io.js';
import { ETCDCTL_BIN, ETCD_BIN, kubernetesKeys, putMany, startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let work: string;
let bin: string;

beforeAll(async () => {
  etcd = await startEtcd();
  await putMany(etcd.url, kubernetesKeys(300));
  work = mkdtempSync(path.join(tmpdir(), 'gw-drill-preview-'));
  bin = path.join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(ETCD_BIN, path.join(bin, 'etcd'));
  symlinkSync(ETCDCTL_BIN, path.join(bin, 'etcdctl'));
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * A preview word matches a run word when equal, or with each <placeholder> (and `a|b` of tools) standing for any
 * text.
 */
function wordMatches(shown: string, ran: string): boolean {
  if (shown === ran) return true;
  // The audit log hides what looks like a secret (the member's cluster token): the words agree up to it.
  const hidden = ran.indexOf('[redacted]');
  if (hidden >= 0) return shown.startsWith(ran.slice(0, hidden)) && shown.slice(hidden).includes('<');
  if (/^[\w-]+\|[\w-]+$/.test(shown)) return shown.split('|').includes(ran);
  if (!shown.includes('<')) return false;
  const re = shown
    .split(/<[^>]+>/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${re}$`).test(ran);
}

const argvMatches = (shown: string[], ran: string[]) => shown.length === ran.length && shown.every((w, i) => wordMatches(w, ran[i]!));

describe('the drill preview', () => {
  // With a sentinel the snapshot waits for it; without, it is saved beside the inventory's status (and still
  // counts as the snapshot step's).
  it.each([true, false])('is the argv each step runs, word for word (sentinel %s)', async (sentinel) => {
    const scratch = path.join(work, `scratch-${sentinel}`);
    const options = { target: { kind: 'endpoints' as const, endpoints: [etcd.url] }, scratch, sentinel };
    const preview = new Map(createDrill(options).stage.steps.map((s) => [s.id, s.preview?.argv ?? []]));
    const { exitCode, report, summary } = await runDrill({ drill: options, stateDir: path.join(work, `state-${sentinel}`), io: captureIo(work), env: { PATH: bin, HOME: work }, json: true, renderer: 'silent' });
    expect(report.reasons).toEqual([]);
    expect(exitCode).toBe(0);
    const ran = readFileSync(path.join(summary.runDir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { argv: string[]; step?: string });
    expect(ran.length).toBeGreaterThan(10);
    const unexplained = ran.filter((r) => !(preview.get(r.step ?? '') ?? []).some((shown) => argvMatches(shown, r.argv)));
    expect(unexplained).toEqual([]);
    const neverRan = [...preview.entries()].flatMap(([step, argvs]) => argvs.filter((shown) => !ran.some((r) => r.step === step && argvMatches(shown, r.argv))).map((a) => `${step}: ${a.join(' ')}`));
    expect(neverRan).toEqual([]);
  });
});
