import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createExec, startService, type AuditEntry } from '../../src/exec/index.js';
import { Redactor } from '../../src/run/secret.js';
import { Cancelled, ToolError, UserError } from '../../src/errors.js';

function binDir(scripts: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-exec-'));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(dir, name), 0o755);
  }
  return dir;
}

describe('exec', () => {
  it('passes argv elements through untouched, with no shell in between', async () => {
    const dir = binDir({ args: 'for a in "$@"; do printf "<%s>" "$a"; done' });
    const exec = createExec({ env: { PATH: `${dir}:/bin:/usr/bin` } });
    const r = await exec(['args', 'a b', '$(id)', "it's", '; rm -rf /', '']);
    expect(r.stdout).toBe("<a b><$(id)><it's><; rm -rf /><>");
  });

  it('turns a missing tool into a UserError naming it and how to install it', async () => {
    const exec = createExec({ env: { PATH: binDir({}) } });
    const err = await exec(['talosctl', 'version']).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe('talosctl is not installed or not on PATH');
    expect(err.fix).toContain('talosctl');
  });

  it('turns a failure into a ToolError with the command, exit code and the tail of stderr, redacted', async () => {
    const dir = binDir({ fail: 'echo "line 1" >&2; echo "token s3cr3t-value rejected" >&2; exit 4' });
    const redactor = new Redactor();
    redactor.add('s3cr3t-value');
    const audit: AuditEntry[] = [];
    const exec = createExec({ env: { PATH: `${dir}:/bin:/usr/bin` }, redactor, audit: { record: (e) => audit.push(e) } });
    const err = (await exec(['fail', '--token', 's3cr3t-value'], { step: 'join' }).catch((e) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.exitCode).toBe(4);
    expect(err.argv).toEqual(['fail', '--token', '[redacted]']);
    expect(err.stderrTail).toBe('line 1\ntoken [redacted] rejected');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ argv: ['fail', '--token', '[redacted]'], exitCode: 4, step: 'join' });
    expect(JSON.stringify(audit)).not.toContain('s3cr3t-value');
  });

  it('returns non-zero exits with allowFailure', async () => {
    const exec = createExec({ env: { PATH: `${binDir({ no: 'exit 1' })}:/bin:/usr/bin` } });
    expect((await exec(['no'], { allowFailure: true })).exitCode).toBe(1);
  });

  it('kills the whole process tree on abort and reports a cancellation', async () => {
    const dir = binDir({ tree: 'sleep 30 & sleep 30 & wait' });
    const ac = new AbortController();
    const exec = createExec({ env: { PATH: `${dir}:/bin:/usr/bin` }, signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    const t = Date.now();
    const err = await exec(['tree']).catch((e) => e);
    expect(err).toBeInstanceOf(Cancelled);
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it('stops a command at its timeout with a ToolError saying so', async () => {
    const exec = createExec({ env: { PATH: `${binDir({ slow: 'exec sleep 30' })}:/bin:/usr/bin` } });
    const err = (await exec(['slow'], { timeoutMs: 300 }).catch((e) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.message).toBe('slow did not finish within 300ms and was stopped');
  });

  it('streams redacted lines to onLine', async () => {
    const redactor = new Redactor();
    redactor.add('hunter22');
    const exec = createExec({ env: { PATH: `${binDir({ talk: 'echo one; echo "pw hunter22"; echo three' })}:/bin:/usr/bin` }, redactor });
    const lines: string[] = [];
    await exec(['talk'], { onLine: (l) => lines.push(l) });
    expect(lines).toEqual(['one', 'pw [redacted]', 'three']);
  });

  it('streams stdout to onStdout without keeping it; stderr is still kept for the failure tail', async () => {
    const dir = binDir({ big: 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done; echo "oops" >&2; exit 3' });
    const exec = createExec({ env: { PATH: `${dir}:/bin:/usr/bin` } });
    let bytes = 0;
    let text = '';
    const r = await exec(['big'], { allowFailure: true, onStdout: (c) => ((bytes += c.length), (text += c.toString())) });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('oops\n');
    expect(r.exitCode).toBe(3);
    expect(text.split('\n').filter(Boolean)).toHaveLength(2000);
    expect(bytes).toBe(text.length);
  });

  it('starts a service through the same door: audited with its step, its lines redacted, stopped on stop()', async () => {
    const audit: AuditEntry[] = [];
    const redactor = new Redactor();
    redactor.add('pa55-word');
    const exec = createExec({ env: { PATH: '/bin:/usr/bin' }, redactor, audit: { record: (e) => audit.push(e) } });
    const lines: string[] = [];
    const svc = await startService(exec, ['/bin/sh', '-c', 'echo up pa55-word; exec sleep 60'], { step: 'drill-boot', what: 'a test service', onLine: (l) => lines.push(l) });
    expect(svc.running).toBe(true);
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(lines).toEqual(['up [redacted]']);
    const exit = await svc.stop();
    expect(exit.signal).toBe('SIGTERM');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ argv: ['/bin/sh', '-c', 'echo up [redacted]; exec sleep 60'], step: 'drill-boot', signal: 'SIGTERM' });
  });

  it('a service that cannot start is the same UserError as any missing tool', async () => {
    const exec = createExec({ env: { PATH: binDir({}) } });
    await expect(startService(exec, ['groundwork-no-such-tool-xyz'], { what: 'x' })).rejects.toThrow(/groundwork-no-such-tool-xyz is not installed/);
  });
});
