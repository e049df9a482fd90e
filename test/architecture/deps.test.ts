/**
 * The house rules from the README's architecture table, checked on the import graph of src/: no import circles
 * (beyond the allowlist below, which may only shrink), and each outside library behind its one door.
 */
import { describe, expect, it } from 'vitest';
import { circles, oneCircle, parseTree, type Edge } from './graph.js';

const mods = parseTree('src');

/**
 * Circles on main today, each a strongly connected component of src/ modules (static, type-only and lazy `import()`
 * edges all count). A current circle must fit inside one of these; a new one fails. Remove an entry when it is gone.
 */
const KNOWN_CIRCLES: { modules: string[]; reason: string }[] = [];

const all = (): boolean => true;

describe('import circles', () => {
  it('src/ has no import circle outside the allowlist', () => {
    const fresh = circles(mods, all)
      .filter((comp) => !KNOWN_CIRCLES.some((k) => comp.every((f) => k.modules.includes(f))))
      .map((comp) => `${oneCircle(mods, comp, all).join(' → ')}  (component: ${comp.join(', ')})`);
    expect(fresh).toEqual([]);
  });

  it('the allowlist names modules that exist', () => {
    const files = new Set(mods.map((m) => m.file));
    expect(KNOWN_CIRCLES.flatMap((k) => k.modules).filter((f) => !files.has(f))).toEqual([]);
  });
});

/** Which src/ files import a module matching `bad`. */
function importers(bad: (e: Edge) => boolean, allowed: (file: string) => boolean): string[] {
  return mods.filter((m) => !allowed(m.file)).flatMap((m) => m.edges.filter(bad).map((e) => `${m.file} imports ${e.spec}`));
}
const pkg = (name: string) => (e: Edge): boolean => e.spec === name || e.spec.startsWith(`${name}/`);
const under = (dir: string) => (file: string): boolean => file.startsWith(`${dir}/`);

describe('rooms', () => {
  it('only src/exec/ imports execa', () => {
    expect(importers(pkg('execa'), under('src/exec'))).toEqual([]);
  });

  it('only src/exec/ imports node:child_process', () => {
    expect(importers((e) => e.spec === 'node:child_process' || e.spec === 'child_process', under('src/exec'))).toEqual([]);
  });

  it('only src/kube/ imports @kubernetes/client-node', () => {
    expect(importers(pkg('@kubernetes/client-node'), under('src/kube'))).toEqual([]);
  });

  it('only src/ui/ imports ink and react', () => {
    const bad = (e: Edge): boolean => pkg('ink')(e) || e.spec.startsWith('ink-') || pkg('react')(e);
    expect(importers(bad, under('src/ui'))).toEqual([]);
  });

  it('src/validate/ and src/lab/ never import each other (both may use src/probe/)', () => {
    const cross = mods.flatMap((m) =>
      m.edges
        .filter((e) => e.target && ((under('src/validate')(m.file) && under('src/lab')(e.target)) || (under('src/lab')(m.file) && under('src/validate')(e.target))))
        .map((e) => `${m.file} imports ${e.spec}`),
    );
    expect(cross).toEqual([]);
  });

  it('pure rooms (src/net/, the src/bootstrap/ builders) reach no I/O module, directly or through src/', () => {
    const pure = (f: string): boolean => under('src/net')(f) || f === 'src/bootstrap/kubeadm.ts' || f === 'src/bootstrap/talos.ts';
    const IO = /^(node:)?(fs|fs\/promises|child_process|net|http|https|http2|dgram|dns|tls|os|worker_threads|cluster|readline)$|^execa$|^@kubernetes\/client-node$|^ink$|^react$/;
    const IO_ROOMS = ['src/exec/', 'src/kube/', 'src/ui/', 'src/lab/', 'src/run/', 'src/io.ts'];
    const byFile = new Map(mods.map((m) => [m.file, m]));
    const found: string[] = [];
    for (const start of mods.filter((m) => pure(m.file))) {
      const seen = new Set<string>([start.file]);
      const queue: { file: string; via: string[] }[] = [{ file: start.file, via: [start.file] }];
      while (queue.length) {
        const { file, via } = queue.shift()!;
        for (const e of byFile.get(file)?.edges ?? []) {
          if (e.typeOnly) continue;
          if (IO.test(e.spec)) found.push(`${[...via, e.spec].join(' → ')}`);
          else if (e.target && IO_ROOMS.some((r) => e.target!.startsWith(r))) found.push(`${[...via, e.target].join(' → ')}`);
          else if (e.target && !seen.has(e.target)) { seen.add(e.target); queue.push({ file: e.target, via: [...via, e.target] }); }
        }
      }
    }
    expect(found).toEqual([]);
  });
});
