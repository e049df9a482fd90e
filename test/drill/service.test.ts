/** spawnService (src/exec): the background-process door the drill's throw-away member goes through. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { spawnService, type AuditEntry } from '../../src/exec/index.js';
import { Redactor } from '../../src/run/secret.js';

/** Running, not a zombie waiting to be reaped (a container's init may be slow to reap orphans). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

describe('spawnService', () => {
  it('stop() ends the whole process group, lines arrive redacted, the exit is audited', async () => {
    const audit: AuditEntry[] = [];
    const redactor = new Redactor();
    redactor.add('hunter2-secret');
    const lines: string[] = [];
    const svc = await spawnService(['/bin/sh', '-c', 'echo token=hunter2-secret; sleep 60 & echo child=$!; wait'], {
      audit: { record: (e) => audit.push(e) },
      redactor,
      step: 'drill-boot',
      onLine: (l) => lines.push(l),
    });
    await new Promise((r) => setTimeout(r, 300));
    const child = Number(lines.find((l) => l.startsWith('child='))?.slice(6));
    expect(alive(child)).toBe(true);
    expect(svc.running).toBe(true);
    await svc.stop();
    expect(svc.running).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(child)).toBe(false);
    expect(lines).toContain('token=[redacted]');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ argv: ['/bin/sh', '-c', expect.stringContaining('[redacted]')], step: 'drill-boot' });
  });

  it('an abort signal stops it', async () => {
    const abort = new AbortController();
    const svc = await spawnService(['/bin/sleep', '60'], { signal: abort.signal });
    abort.abort();
    const exit = await svc.exited;
    expect(exit.signal).toBe('SIGTERM');
  });

  it('a missing binary is a UserError naming it, not a crash', async () => {
    await expect(spawnService(['groundwork-no-such-tool-xyz'])).rejects.toThrow(UserError);
    await expect(spawnService(['groundwork-no-such-tool-xyz'])).rejects.toThrow(/groundwork-no-such-tool-xyz is not installed/);
  });

  it('refuses to start when already aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(spawnService(['/bin/sleep', '1'], { signal: abort.signal })).rejects.toThrow(/not started/);
  });
});
