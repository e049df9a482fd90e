/**
 * Issue 15, through the real binary (node bin/groundwork, built by tsc) with a PATH each test builds:
 * - without etcd the drill, rehearse's headline, is a visible skip in the summary and report.json (never "passed");
 * - without kubectl, preflight and the drill say the same thing (both failures, in the same words).
 * (A failing validation suite not keeping the drill from running: independence.test.ts, on both lab APIs.)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemPathWithout } from '../helpers/path.js';
import { runRehearse } from '../helpers/dist.js';
import { realTool } from '../helpers/real-tools.js';

const rehearse = runRehearse;

interface Report {
  status: string;
  results: { id: string; stage: string; status: string; summary: string }[];
  skippedHeadlines?: { stage: string; reason: string }[];
  runDir: string;
}

describe('rehearse on a PATH without etcd', () => {
  const PATH = systemPathWithout(['etcd']);

  it('shows the skipped drill in the summary, never a tick, and exits 1 (incomplete)', () => {
    const r = rehearse(['--stages', 'drill'], PATH);
    expect(r.code).toBe(1);
    expect(r.out).toContain('[SKIP drill] cannot run here: etcd is not installed on this machine');
    expect(r.out).toContain('SKIPPED drill: Rehearse an etcd restore did not run: etcd is not installed on this machine');
    expect(r.out).toMatch(/^INCOMPLETE: 1 passed, 0 warnings, 0 failed, 1 skipped/m);
    expect(r.out).not.toMatch(/^passed:/m);
    // Piped progress (listr2's simple renderer): the drill is shown skipped, not ticked.
    expect(r.err).toMatch(/↓ Rehearse an etcd restore \[SKIPPED: cannot run here: etcd is not installed on this machine\]/);
    expect(r.err).not.toMatch(/✔ Rehearse an etcd restore/);
  });

  it('and in the JSON report (stdout and report.json alike)', () => {
    const r = rehearse(['--stages', 'drill', '--json'], PATH);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as Report;
    expect(doc.status).toBe('incomplete');
    expect(doc.skippedHeadlines).toEqual([expect.objectContaining({ stage: 'drill', reason: 'cannot run here: etcd is not installed on this machine' })]);
    expect(doc.results.find((x) => x.stage === 'drill')).toMatchObject({ status: 'skip' });
    const saved = JSON.parse(readFileSync(path.join(doc.runDir, 'report.json'), 'utf8')) as Report;
    expect(saved.status).toBe('incomplete');
    expect(saved.skippedHeadlines).toEqual(doc.skippedHeadlines);
  });
});

describe('rehearse on a PATH without kubectl', () => {
  it("preflight's finding and the drill's failure agree, in the same words", () => {
    const r = rehearse(['--stages', 'preflight,drill', '--json'], systemPathWithout(['kubectl']));
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out) as Report;
    const tool = doc.results.find((x) => x.id === 'tool-kubectl')!;
    const lab = doc.results.find((x) => x.id === 'drill-lab-api')!;
    expect(tool.status).toBe('fail');
    expect(lab.status).toBe('fail');
    expect(tool.summary).toContain('this rehearsal needs it (the drill lists the restored data through a lab API server with the real kubectl)');
    expect(lab.summary).toContain('this rehearsal needs it (the drill lists the restored data through a lab API server with the real kubectl)');
  });
});

describe('rehearse with a kubectl older than the spec wants', () => {
  it('is a warning for the real run, not a rehearsal failure: the rehearsal only needs kubectl to talk to the lab', () => {
    // The real kubectl saying it is 1.32.4 (the default spec is Kubernetes 1.37, which wants kubectl 1.36+).
    const PATH = systemPathWithout(['kubectl']);
    writeFileSync(
      path.join(PATH, 'kubectl'),
      `#!/bin/sh\nif [ "$1" = version ]; then echo '{"clientVersion":{"gitVersion":"v1.32.4"}}'; exit 0; fi\nexec ${realTool('kubectl')} "$@"\n`,
      { mode: 0o755 },
    );
    const r = rehearse(['--stages', 'preflight,drill', '--json'], PATH);
    const doc = JSON.parse(r.out) as Report;
    expect(doc.results.find((x) => x.id === 'tool-kubectl')).toMatchObject({ status: 'warn', summary: 'kubectl 1.32.4 is older than 1.36 (would fail a real run)' });
    expect(doc.results.find((x) => x.id === 'drill-lab-api')).toMatchObject({ status: 'pass' });
    expect(r.code, r.err).toBe(0);
  });
});
