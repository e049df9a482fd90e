/**
 * Issue 15, through the real binary (node bin/groundwork) on the lab API of this pass (test/helpers/lab-api.ts):
 * stages that do not depend on each other run and report independently: a failing validation suite does not keep
 * the drill from running.
 */
import { describe, expect, it } from 'vitest';
import { systemPathWithout } from '../helpers/path.js';
import { runRehearse } from '../helpers/dist.js';
import { labApiArgs, TEST_LAB_API } from '../helpers/lab-api.js';

const rehearse = runRehearse;

interface Report {
  status: string;
  results: { id: string; stage: string; status: string; summary: string }[];
  lab?: { api: string };
}

describe(`rehearse: stages that do not depend on each other run and report independently (${TEST_LAB_API} API)`, () => {
  it('a failing validation suite does not skip the drill', () => {
    const api = labApiArgs();
    const r = rehearse([...api.args, '--stages', 'validate,drill', '--fault', 'netpol-not-enforced', '--timeout', '20', '--json'], `${api.pathPrefix}${systemPathWithout([])}`);
    const doc = JSON.parse(r.out) as Report;
    expect(r.code).toBe(1);
    expect(doc.results.some((x) => x.stage === 'validate' && x.status === 'fail')).toBe(true);
    const drill = doc.results.filter((x) => x.stage === 'drill');
    expect(drill.length).toBeGreaterThan(0);
    expect(drill.filter((x) => x.summary.startsWith('not run'))).toEqual([]);
    expect(drill.find((x) => x.id === 'drill-verify')).toMatchObject({ status: 'pass' });
    expect(doc.lab?.api).toBe(TEST_LAB_API);
  }, 240_000);
});
