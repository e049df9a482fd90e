import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type { BenchLine } from './types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(argv: string[], runs = 15): number {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', cwd: root });
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(out);
}

/** A kubeconfig for a loopback server nobody needs to answer: loading it reads, merges and applies TLS options only. */
function kubeconfig(): string {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'gw-bench-kc-')), 'kubeconfig');
  writeFileSync(
    f,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  return f;
}

export default async function bench(): Promise<BenchLine[]> {
  const base = time([process.execPath, '-e', '0']);
  const version = time([process.execPath, path.join(root, 'bin/groundwork'), '--version']);
  const help = time([process.execPath, path.join(root, 'bin/groundwork'), '--help']);
  // The kube door as validate, rehearse and setup load it (dist/, with the KubeConfig bundle), up to KubeConfig.
  const door = `const k = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/kube/client.js')).href)}); await k.loadKubeConfig(${JSON.stringify(kubeconfig())});`;
  const kube = time([process.execPath, '--input-type=module', '-e', door]);
  const baseline = { name: 'node -e 0', value: base };
  return [
    { name: 'groundwork --version (median of 15)', value: version, unit: 'ms', baseline, goal: '<= 1.5x', met: version / base <= 1.5 },
    { name: 'groundwork --help (median of 15)', value: help, unit: 'ms', baseline, goal: '<= 1.2x', met: help / base <= 1.2 },
    {
      name: 'import the kube door and load a kubeconfig (median of 15)',
      value: kube,
      unit: 'ms',
      baseline,
      goal: '<= 150 ms over node -e 0',
      met: kube - base <= 150,
      note: `${(kube - base).toFixed(0)} ms over`,
    },
  ];
}
