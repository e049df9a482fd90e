/**
 * Runs the machine's real kubectl (/usr/bin/kubectl, by absolute path) against a lab, with a private HOME
 * (discovery cache) and an environment built from scratch, so nothing of the developer's setup leaks in.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const KUBECTL = process.env.GW_TEST_KUBECTL ?? '/usr/bin/kubectl';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectlEnv(kubeconfig: string): Record<string, string> {
  const home = mkdtempSync(path.join(tmpdir(), 'gw-kubectl-home-'));
  // kubectl diff runs diff(1): name it by absolute path, since PATH holds nothing.
  return { HOME: home, KUBECONFIG: kubeconfig, PATH: '/nonexistent', NO_COLOR: '1', LANG: 'C', KUBECTL_EXTERNAL_DIFF: '/usr/bin/diff -u -N' };
}

export function createKubectl(kubeconfig: string) {
  const env = kubectlEnv(kubeconfig);
  const run = (args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> =>
    new Promise((resolve) => {
      const child = execFile(KUBECTL, args, { env, timeout: opts.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  /** Starts a long-running kubectl (get -w, logs -f, wait); collects stdout lines. */
  const start = (args: string[]) => {
    const child: ChildProcess = spawn(KUBECTL, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const waiters: { pred: (s: string) => boolean; resolve: () => void }[] = [];
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      for (const w of [...waiters]) if (w.pred(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number>((r) => child.once('exit', (code) => r(code ?? -1)));
    return {
      child,
      output: () => out,
      errors: () => err,
      exited,
      /** Resolves when stdout satisfies pred; rejects if kubectl exits first. */
      until(pred: (s: string) => boolean): Promise<void> {
        if (pred(out)) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          waiters.push({ pred, resolve });
          void exited.then((c) => reject(new Error(`kubectl exited (${c}) before the expected output:\n${out}\n${err}`)));
        });
      },
      kill() {
        child.kill('SIGTERM');
        return exited;
      },
    };
  };
  return { run, start, env };
}
