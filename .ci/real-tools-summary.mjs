// After the tests: one line per real program with its version and how many tests used it.
// Fails when a program was used by no test (a real-program test that silently stopped running).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const versions = JSON.parse(readFileSync(path.join(dir, 'versions.json'), 'utf8'));
const usage = new Map();
const usageDir = '.real-tools-usage';
for (const f of existsSync(usageDir) ? readdirSync(usageDir) : []) {
  for (const line of readFileSync(path.join(usageDir, f), 'utf8').split('\n')) {
    const [program, test] = line.split('\t');
    if (!program) continue;
    if (!usage.has(program)) usage.set(program, new Set());
    usage.get(program).add(test);
  }
}
const programs = [
  ['talosctl', versions.talosctl],
  ['kubeadm', versions.kubernetes],
  ['kube-apiserver', versions.kubernetes],
  ['kube-controller-manager', versions.kubernetes],
  ['kube-scheduler', versions.kubernetes],
  ['kubectl', versions.kubernetes],
  ['helm', versions.helm],
  ['etcd-3.5/etcd', versions['etcd-3.5']],
  ['etcd-3.5/etcdctl', versions['etcd-3.5']],
  ['etcd-3.5/etcdutl', versions['etcd-3.5']],
  ['etcd-3.6/etcd', versions['etcd-3.6']],
  ['etcd-3.6/etcdctl', versions['etcd-3.6']],
  ['etcd-3.6/etcdutl', versions['etcd-3.6']],
];
let unused = [];
for (const [p, v] of programs) {
  const n = usage.get(p)?.size ?? 0;
  console.log(`real program ${p} ${v}: used by ${n} test${n === 1 ? '' : 's'}`);
  if (n === 0) unused.push(p);
}
if (unused.length) {
  console.error(`no test used: ${unused.join(', ')}`);
  process.exit(1);
}
