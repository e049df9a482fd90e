/**
 * Issue 15: the command line behaves like kubectl's and helm's: `help [command]`, suggestions for unknown
 * commands and subcommands, one numeric-flag parser with ranges, --help with the global flags, errors in words.
 * In-process through main(), with its own io (no TTY, CI set): nothing here depends on the machine's tools.
 */
import { captureIo } from '../helpers/io.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { parseWholeNumber } from '../../src/commands/flags.js';

async function run(args: string[], cwd = mkdtempSync(path.join(tmpdir(), 'gw-cli-'))): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(cwd, { NO_COLOR: '1', CI: 'true', PATH: '/nonexistent' }, new AbortController().signal);
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

describe('help and unknown commands', () => {
  it('`groundwork help` prints the program help, exit 0', async () => {
    const r = await run(['help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: groundwork [options] [command]');
    expect(r.out).toMatch(/help \[command\]\s+show help for a command/);
  });

  it('`groundwork help plan` prints the help of plan', async () => {
    const r = await run(['help', 'plan']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: groundwork plan [options]');
  });

  it.each([
    [['plna'], "unknown command 'plna'", 'Did you mean plan?'],
    [['rehears'], "unknown command 'rehears'", 'Did you mean rehearse?'],
    [['drill', 'histroy'], "unknown command 'histroy'", 'Did you mean history?'],
    [['lab', 'fautl'], "unknown command 'fautl'", 'Did you mean fault?'],
  ])('%j is an unknown command with a suggestion, exit 2', async (args, what, suggestion) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(what);
    expect(r.err).toContain(suggestion);
    expect(r.err).not.toContain('too many arguments');
  });

  it('--help of a command lists the global flags', async () => {
    const r = await run(['rehearse', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Global Options:[\s\S]*-f, --file <cluster\.yaml>[\s\S]*--json[\s\S]*--state-dir <dir>/);
  });
});

describe('numeric flags: one parser with ranges, usage errors naming the flag and the range', () => {
  it.each([
    [['rehearse', '--timeout', 'abc'], "option '--timeout <seconds>' argument 'abc' is invalid. It must be a whole number from 1 to 3600 (seconds)."],
    [['rehearse', '--timeout', '0'], "option '--timeout <seconds>' argument '0' is invalid. It must be a whole number from 1 to 3600 (seconds), not 0."],
    [['rehearse', '--timeout', '-5'], "option '--timeout <seconds>' argument '-5' is invalid. It must be a whole number from 1 to 3600 (seconds), not -5."],
    [['rehearse', '--nodes', 'abc'], "option '--nodes <n>' argument 'abc' is invalid. It must be a whole number from 1 to 1000 (nodes)."],
    [['drill', 'history', '--limit', 'abc'], "option '--limit <n>' argument 'abc' is invalid. It must be a whole number from 1 to 10000 (drills)."],
    [['validate', '--timeout', '1.5'], "option '--timeout <seconds>' argument '1.5' is invalid. It must be a whole number from 1 to 3600 (seconds)."],
    [['lab', 'up', '--port', '70000'], "option '--port <port>' argument '70000' is invalid. It must be a whole number from 0 to 65535 (a TCP port), not 70000."],
  ])('%j', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`error: ${message}`);
    expect(r.out).toBe('');
  });

  it('the parser: whole numbers in range only', () => {
    expect(parseWholeNumber(' 42 ', { min: 1, max: 100 })).toBe(42);
    for (const bad of ['', '4e2', '0x10', '1.0', 'NaN', 'Infinity', '101', '0']) expect(() => parseWholeNumber(bad, { min: 1, max: 100 })).toThrow(/whole number from 1 to 100/);
  });
});

describe('errors in words', () => {
  it('-f pointing at a directory says so, not EISDIR, exit 2', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    mkdirSync(path.join(cwd, 'specs'));
    const r = await run(['spec', 'check', '-f', path.join(cwd, 'specs')], cwd);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`cannot read the cluster spec ${path.join(cwd, 'specs')}: it is a directory, not a file`);
    expect(r.err).not.toContain('EISDIR');
  });

  it('spec errors are headed by the file, not "invalid input"', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    writeFileSync(path.join(cwd, 'mine.yaml'), 'apiVersion: groundwork.dev/v1alpha1\nkind: Cluster\nmetadata: { name: Demo }\n');
    const r = await run(['spec', 'check', '-f', path.join(cwd, 'mine.yaml')], cwd);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(`error: ${path.join(cwd, 'mine.yaml')} has 2 problems`);
    expect(r.err).not.toContain('invalid input');
  });
});

describe('the spec edge refuses before anything runs', () => {
  const SPEC = `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: demo }
spec:
  endpoint: https://127.0.100.11:6443
  bootstrap: { method: kubeadm }
  nodes:
    - { name: cp-1, address: 127.0.100.11, role: control-plane }
    - { name: w-1, address: 127.0.100.21, role: worker }
    - { name: w-2, address: 127.0.100.22, role: worker }
  network:
    podCIDR: 10.244.0.0/24
    serviceCIDR: 10.96.0.0/12
    nodeMaskSize: 25
`;

  it.each([
    [['spec', 'check']],
    [['setup', '--yes', '--dry-run']],
    [['plan']],
    [['lab', 'up', '--kubeconfig', 'lab.kubeconfig']],
  ])('%j with a podCIDR too small for the nodes: exit 2, file:line:col, no internal error', async (args) => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    writeFileSync(path.join(cwd, 'small.yaml'), SPEC);
    const r = await run([...args, '-f', path.join(cwd, 'small.yaml')], cwd);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/small\.yaml:12:14 spec\.network\.podCIDR: 10\.244\.0\.0\/24 with \/25 per node fits 2 nodes .* but the spec has 3/);
    expect(r.err).not.toContain('internal error');
  });

  it('lab up reshaped with --nodes beyond the podCIDR is a usage error, not an internal error', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'gw-cli-'));
    writeFileSync(path.join(cwd, 'fits.yaml'), SPEC.replace('nodeMaskSize: 25', 'nodeMaskSize: 26'));
    const r = await run(['lab', 'up', '--nodes', '9', '--kubeconfig', 'lab.kubeconfig', '-f', path.join(cwd, 'fits.yaml')], cwd);
    expect(r.code).toBe(2);
    expect(r.err).toContain('error: spec.network.podCIDR 10.244.0.0/24 has no room for 9 nodes with nodeMaskSize 26');
    expect(r.err).not.toContain('internal error');
  });
});
