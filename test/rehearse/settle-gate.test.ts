/**
 * Rehearse never hides validation behind its settle gate: with a fault that keeps the lab from settling, the gate
 * warns and validate still runs, naming the fault's effect in the right suite.
 */
import { expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runRehearse } from '../../src/rehearse.js';
import { captureIo } from '../helpers/io.js';
import { describeLabs, labApiArgs, ON_REAL_API, TEST_LAB_API } from '../helpers/lab-api.js';

describeLabs(`rehearse with a fault that keeps the lab from settling (${TEST_LAB_API} API)`, () => {
  it.each([
    ['dns-down', 'dns', /CoreDNS is down/],
    ['node-not-ready:w-1', 'control-plane', /nodes not Ready: w-1/],
    ['cni-not-ready', 'control-plane', /nodes not Ready/],
  ])('%s: the gate warns, validate runs and %s names the cause', async (fault, suite, cause) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-rehearse-'));
    const io = captureIo(dir);
    const summary = await runRehearse({ file: path.join(dir, 'none.yaml'), stateDir: path.join(dir, '.groundwork'), faults: [fault], stages: ['validate'], json: true, color: false, io: ON_REAL_API ? { ...io, env: { ...io.env, PATH: `${labApiArgs().pathPrefix}/usr/bin:/bin` } } : io, timeoutS: 20, settleTimeoutMs: 3000, api: TEST_LAB_API });
    const byId = Object.fromEntries(summary.results.map((r) => [r.id, r]));
    expect(byId['lab-settled']?.status).toBe('warn');
    expect(byId['lab-settled']?.summary).toMatch(/did not settle within 3s: .*; validating anyway/);
    expect(byId[suite]?.status).toBe('fail');
    expect(byId[suite]?.summary).toMatch(cause);
    expect(summary.results.filter((r) => ['control-plane', 'connectivity', 'dns', 'netpol', 'scheduling', 'storage'].includes(r.id))).toHaveLength(6);
  }, 240_000);
});
