/**
 * The real binary in a real terminal (tmux): through the wizard on its defaults, rehearsing on the lab, to the
 * results screen. Then the saved cluster.yaml, run headless (`rehearse -f cluster.yaml --json`), produces the
 * same plan: the same steps in the same order.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
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
    // The same steps ran. Results are listed in the order steps ended, and validate's suites run side by side, so
    // two runs may list those in another order (CI saw dns and scheduling swap): compare the sets.
    const ids = (r: { results: { id: string }[] }) => r.results.map((x) => x.id).sort();
    expect(ids(headless)).toEqual(ids(fromWizard));
  }, 420_000);

  it('at 80x24 with a commented kubeadm spec: a resize keeps the header, a save keeps the comments, the prompt lands below the footer, and commander never loads', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-wizard-e2e-'));
    const spec = [
      '# the lab cluster, owned by the platform team',
      'apiVersion: groundwork.dev/v1alpha1',
      'kind: Cluster',
      'metadata:',
      '  name: from-file # the name in every certificate',
      'spec:',
      '  endpoint: https://127.0.100.1:6443 # the first control plane',
      '  bootstrap:',
      '    method: kubeadm',
      '    kubeadm:',
      '      ssh: { user: ops, port: 2222 } # our bastion user',
      '  nodes:',
      '    - name: cp-1',
      '      address: 127.0.100.1',
      '      role: control-plane',
      '    - name: w-1 # the only worker',
      '      address: 127.0.100.2',
      '      role: worker',
      '',
    ].join('\n');
    writeFileSync(path.join(dir, 'cluster.yaml'), spec);
    // Every module the process loads, in order: the bare wizard must not need commander at all.
    writeFileSync(
      path.join(dir, 'trace.mjs'),
      `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(`import { appendFileSync } from 'node:fs'; export async function resolve(s, c, n) { const r = await n(s, c); appendFileSync(${JSON.stringify(path.join(dir, 'loads.txt'))}, r.url + '\\n'); return r; }`)}));\n`,
    );
    const session = `gw-e2e-b-${process.pid}`;
    const env = `-u CI -u CONTINUOUS_INTEGRATION -u BUILD_NUMBER -u RUN_ID -u FORCE_COLOR NO_COLOR=1 GROUNDWORK_LOOPBACK_ONLY=1`;
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', session, '-x', '80', '-y', '24', '-c', dir, `env ${env} ${process.execPath} --import ./trace.mjs ${bin}; echo EXIT=$?; sleep 600`);
    const firstLine = (screen: string) => screen.split('\n')[0]!;
    try {
      const first = await screenWith(session, 'known_hosts file', 20_000);
      expect(firstLine(first)).toMatch(/^groundwork · cluster/);
      expect(first).toMatch(/SSH user +ops/);
      expect(first).toMatch(/SSH port +2222/);
      // Wider and taller, then back: redrawn at each size with the header on top.
      tmux('resize-window', '-t', session, '-x', '120', '-y', '40');
      const wide = await screenWith(session, /^.{81,}$/m, 10_000);
      expect(firstLine(wide)).toMatch(/^groundwork · cluster/);
      tmux('resize-window', '-t', session, '-x', '80', '-y', '24');
      await new Promise((r) => setTimeout(r, 500));
      const back = await screenWith(session, 'known_hosts file', 10_000);
      expect(firstLine(back)).toMatch(/^groundwork · cluster/);
      expect(back.split('\n').filter((l) => l.includes('groundwork · cluster'))).toHaveLength(1);
      tmux('send-keys', '-t', session, 'Down');
      await screenWith(session, '› Cluster name', 10_000);
      tmux('send-keys', '-t', session, 'C-u');
      tmux('send-keys', '-t', session, '-l', 'prod');
      await screenWith(session, /› Cluster name +prod *$/m, 10_000);
      for (const screen of ['nodes', 'network', 'add-ons', 'review']) {
        tmux('send-keys', '-t', session, 'Enter');
        await screenWith(session, `groundwork · ${screen}`, 10_000);
      }
      tmux('send-keys', '-t', session, 's');
      await screenWith(session, 'saved ', 10_000);
      const saved = readFileSync(path.join(dir, 'cluster.yaml'), 'utf8');
      for (const comment of ['# the lab cluster, owned by the platform team', '# the name in every certificate', '# the first control plane', '# our bastion user', '# the only worker']) expect(saved).toContain(comment);
      expect(saved).toContain('name: prod # the name in every certificate');
      expect(saved).toContain('ssh: { user: ops, port: 2222 }');
      expect(readFileSync(path.join(dir, 'cluster.yaml.bak'), 'utf8')).toBe(spec);
      // Nothing unsaved, nothing ran: q leaves at once (130, nothing finished), the prompt below the footer.
      tmux('send-keys', '-t', session, 'q');
      const end = (await screenWith(session, 'EXIT=130', 10_000)).split('\n');
      const footer = end.findIndex((l) => l.includes('Enter save and check'));
      const exit = end.findIndex((l) => l.startsWith('EXIT=130'));
      expect(footer).toBeGreaterThanOrEqual(0);
      expect(exit).toBeGreaterThan(footer);
    } finally {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        /* already gone */
      }
    }
    const loads = readFileSync(path.join(dir, 'loads.txt'), 'utf8').split('\n');
    expect(loads.some((u) => u.includes('/first-paint.js'))).toBe(true);
    expect(loads.filter((u) => /[\\/]commander[\\/]/.test(u))).toEqual([]);
    // The first frame's module loads before the wizard's bundle (ink, react, the spec loader).
    expect(loads.findIndex((u) => u.includes('/first-paint.js'))).toBeLessThan(loads.findIndex((u) => u.includes('/bundle.js')));
  }, 120_000);
});
