/**
 * The real binary in a real terminal (tmux): through the wizard on its defaults, rehearsing on the lab, to the
 * results screen. Then the saved cluster.yaml, run headless (`rehearse -f cluster.yaml --json`), produces the
 * same plan: the same steps in the same order.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const bin = path.resolve(import.meta.dirname, '../../bin/groundwork');

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

async function screenWith(session: string, text: string | RegExp, timeoutMs: number): Promise<string> {
  const start = Date.now();
  let last = '';
  while (Date.now() - start < timeoutMs) {
    last = tmux('capture-pane', '-p', '-t', session);
    if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`"${text}" did not appear within ${timeoutMs} ms; the screen:\n${last}`);
}

describe('the wizard in a real terminal', () => {
  it('goes from the first question to the results on the lab, and its cluster.yaml reproduces the plan headless', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-wizard-e2e-'));
    const session = `gw-e2e-${process.pid}`;
    const env = `-u CI -u CONTINUOUS_INTEGRATION -u BUILD_NUMBER -u RUN_ID NO_COLOR=1 GROUNDWORK_LOOPBACK_ONLY=1`;
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', session, '-x', '80', '-y', '24', '-c', dir, `env ${env} ${process.execPath} ${bin}; echo EXIT=$?; sleep 600`);
    try {
      await screenWith(session, 'groundwork · cluster', 20_000);
      // A burst of Backspace (tmux writes the four DEL bytes at once, as a held key does): every one counts.
      tmux('send-keys', '-t', session, 'Down');
      await screenWith(session, '› Cluster name', 10_000);
      tmux('send-keys', '-t', session, 'BSpace', 'BSpace', 'BSpace', 'BSpace');
      tmux('send-keys', '-t', session, '-l', 'zqx');
      const named = await screenWith(session, 'zqx', 10_000);
      expect(named).toMatch(/› Cluster name +zqx *$/m);
      expect(named).not.toContain('✖');
      tmux('send-keys', '-t', session, 'BSpace', 'BSpace', 'BSpace');
      tmux('send-keys', '-t', session, '-l', 'demo');
      await screenWith(session, /› Cluster name +demo *$/m, 10_000);
      tmux('send-keys', '-t', session, 'Up');
      await screenWith(session, '› Bootstrap with', 10_000);
      for (const screen of ['nodes', 'network', 'add-ons', 'review']) {
        tmux('send-keys', '-t', session, 'Enter');
        await screenWith(session, `groundwork · ${screen}`, 10_000);
      }
      tmux('send-keys', '-t', session, 'Enter'); // save, then preflight
      // The key line shows at once; the counts line only when the checks have finished.
      const pre = await screenWith(session, ' warnings, ', 60_000);
      expect(pre).toContain('groundwork · preflight');
      expect(existsSync(path.join(dir, 'cluster.yaml'))).toBe(true);
      tmux('send-keys', '-t', session, 'Enter'); // run the rehearsal
      const results = await screenWith(session, 'groundwork · results', 240_000);
      expect(results).toContain('All passed');
      tmux('send-keys', '-t', session, 'Enter');
      // After a rehearsal the next step is the real setup of the saved file (a rehearsal leaves nothing to resume).
      expect(await screenWith(session, 'for real:', 10_000)).toMatch(/for real: +groundwork setup --yes -f \S*cluster\.yaml/);
      tmux('send-keys', '-t', session, 'Enter');
      await screenWith(session, 'EXIT=0', 10_000);
    } finally {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        /* already gone */
      }
    }
    const runs = path.join(dir, '.groundwork', 'runs');
    const rehearsals = readdirSync(runs).filter((r) => JSON.parse(readFileSync(path.join(runs, r, 'state.json'), 'utf8')).command === 'rehearse');
    expect(rehearsals).toHaveLength(1);
    const fromWizard = JSON.parse(readFileSync(path.join(runs, rehearsals[0]!, 'report.json'), 'utf8')) as { results: { id: string }[] };
    const headless = JSON.parse(
      execFileSync(process.execPath, [bin, 'rehearse', '-f', 'cluster.yaml', '--json', '--yes'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as { status: string; results: { id: string }[] };
    expect(headless.status).toBe('pass');
    expect(headless.results.map((r) => r.id)).toEqual(fromWizard.results.map((r) => r.id));
  }, 420_000);
});
