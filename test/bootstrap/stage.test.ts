/**
 * The bootstrap stage end to end through the real engine (runPlan), against strict fake talosctl, kubectl,
 * ssh and scp on a PATH built from scratch. The fakes' call log is the evidence.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, type ExpectStatic } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ClusterSpec } from '../../src/spec/schema.js';
import type { LoadedSpec } from '../../src/spec/load.js';
import { createFakeTools, clearHang, waitForHang, type FakeTools } from '../helpers/fake-tools.js';
import { SECRETS, kubeadmWorld, loadExampleOnLoopback, prepareRun, runBootstrap, talosWorld, tempDir, type BootstrapRun } from './worlds.js';
import { buildFixtureSpec } from './spec-fixtures.js';

function placeholders(stateDir: string, runDir: string): Record<string, string> {
  return { [runDir]: '<RUN>', [stateDir]: '<STATE>' };
}

const OPTS = '-i ~/.ssh/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=10 -o ServerAliveInterval=10 -o ServerAliveCountMax=3';
const SSH = `ssh ${OPTS} -p 22 --`;
const SCP = `scp ${OPTS} -P 22 --`;
const TC = 'talosctl --talosconfig <STATE>/secrets/talos/talosconfig';

const TALOS_HA_GOLDEN = [
  'talosctl gen secrets --output-file <STATE>/secrets/talos/secrets.yaml',
  'talosctl gen config talos-ha https://127.0.10.10:6443 --with-secrets <STATE>/secrets/talos/secrets.yaml --talos-version v1.14.1 --kubernetes-version 1.37.2 --install-image factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.1 --config-patch @<RUN>/bootstrap/talos/cluster-patch.yaml --output-dir <STATE>/secrets/talos --force',
  ...['11', '12', '13', '21', '22'].flatMap((h) => [`${TC} --nodes 127.0.10.${h} --endpoints 127.0.10.${h} version`, `talosctl version --insecure --nodes 127.0.10.${h}`]),
  ...[['11', 'cp-1', 'controlplane'], ['12', 'cp-2', 'controlplane'], ['13', 'cp-3', 'controlplane'], ['21', 'w-1', 'worker'], ['22', 'w-2', 'worker']].flatMap(([h, n, role]) => [
    `${TC} --nodes 127.0.10.${h} --endpoints 127.0.10.${h} version`,
    `talosctl apply-config --insecure --nodes 127.0.10.${h} --file <STATE>/secrets/talos/${role}.yaml --config-patch @<RUN>/bootstrap/talos/node-${n}.yaml`,
  ]),
  ...['11', '12', '13', '21', '22'].map((h) => `${TC} --nodes 127.0.10.${h} --endpoints 127.0.10.${h} version`),
  `${TC} config endpoints 127.0.10.11 127.0.10.12 127.0.10.13`,
  `${TC} config nodes 127.0.10.11`,
  `${TC} --nodes 127.0.10.11 --endpoints 127.0.10.11 etcd members`,
  `${TC} --nodes 127.0.10.11 --endpoints 127.0.10.11 bootstrap`,
  `${TC} --nodes 127.0.10.11 --endpoints 127.0.10.11 kubeconfig --force <STATE>/secrets/kubeconfig`,
  'kubectl --kubeconfig <STATE>/secrets/kubeconfig get --raw /readyz',
  `${TC} --nodes 127.0.10.11,127.0.10.12,127.0.10.13 etcd status`,
  'kubectl --kubeconfig <STATE>/secrets/kubeconfig get nodes -o name',
];

/** kube-apiserver's Pod Security, audit and encryption files on a control plane (src/bootstrap/security.ts), staged and installed 0600. */
function securityCopies(userAt: string, sudo = ''): string[] {
  const files: [string, string][] = [['<RUN>/bootstrap/kubeadm/admission.yaml', 'admission.yaml'], ['<RUN>/bootstrap/kubeadm/audit-policy.yaml', 'audit-policy.yaml'], ['<STATE>/secrets/kubeadm/encryption.yaml', 'encryption.yaml']];
  return [
    `${SSH} ${userAt} ${sudo}install -d -m 0700 /etc/kubernetes/groundwork`,
    ...files.flatMap(([local, name]) => {
      const staged = `.groundwork-staging-etc_kubernetes_groundwork_${name}`;
      return [`${SCP} ${local} ${userAt}:${staged}`, `${SSH} ${userAt} ${sudo}install -m 0600 -- ${staged} /etc/kubernetes/groundwork/${name} ; r=$?; rm -f -- ${staged} ; exit $r`];
    }),
  ];
}

const KUBEADM_SMALL_GOLDEN = [
  ...['11', '21', '22'].map((h) => `${SSH} root@127.0.20.${h} true`),
  ...['11', '21', '22'].map((h) => `${SSH} root@127.0.20.${h} install -d -m 0700 /etc/groundwork`),
  ...securityCopies('root@127.0.20.11'),
  `${SCP} <RUN>/bootstrap/kubeadm/kubeadm.yaml root@127.0.20.11:.groundwork-staging-etc_groundwork_kubeadm.yaml`,
  `${SSH} root@127.0.20.11 install -m 0600 -- .groundwork-staging-etc_groundwork_kubeadm.yaml /etc/groundwork/kubeadm.yaml ; r=$?; rm -f -- .groundwork-staging-etc_groundwork_kubeadm.yaml ; exit $r`,
  `${SSH} root@127.0.20.11 test -f /etc/kubernetes/admin.conf`,
  `${SSH} root@127.0.20.11 kubeadm init --config /etc/groundwork/kubeadm.yaml --upload-certs`,
  `${SCP} root@127.0.20.11:/etc/kubernetes/admin.conf <STATE>/secrets/kubeconfig`,
  'kubectl --kubeconfig <STATE>/secrets/kubeconfig get --raw /readyz',
  `${SSH} root@127.0.20.21 test -f /etc/kubernetes/kubelet.conf`,
  `${SSH} root@127.0.20.22 test -f /etc/kubernetes/kubelet.conf`,
  `${SSH} root@127.0.20.11 kubeadm token create --ttl 15m0s --print-join-command`,
  ...[['21', 'w-1'], ['22', 'w-2']].flatMap(([h, n]) => [
    `${SCP} <STATE>/secrets/kubeadm/join-${n}.yaml root@127.0.20.${h}:.groundwork-staging-etc_groundwork_join.yaml`,
    `${SSH} root@127.0.20.${h} install -m 0600 -- .groundwork-staging-etc_groundwork_join.yaml /etc/groundwork/join.yaml ; r=$?; rm -f -- .groundwork-staging-etc_groundwork_join.yaml ; exit $r`,
    `${SSH} root@127.0.20.${h} kubeadm join --config /etc/groundwork/join.yaml`,
    `${SSH} root@127.0.20.${h} rm -f /etc/groundwork/join.yaml`,
  ]),
  'kubectl --kubeconfig <STATE>/secrets/kubeconfig get nodes -o name',
];

interface World {
  loaded: LoadedSpec;
  stateDir: string;
  fakes: FakeTools;
  runDir: string;
}

function worldFor(loaded: LoadedSpec, opts: Parameters<typeof talosWorld>[2] & Parameters<typeof kubeadmWorld>[2] = {}): World & { run: ReturnType<typeof prepareRun>['run'] } {
  const stateDir = tempDir('gw-state-');
  const { run, layout } = prepareRun(stateDir);
  const rules = loaded.spec.spec.bootstrap.method === 'talos' ? talosWorld(loaded.spec, layout, opts) : kubeadmWorld(loaded.spec, layout, opts);
  return { loaded, stateDir, fakes: createFakeTools(tempDir('gw-fakes-'), rules), runDir: run.runDir, run };
}

function loadedFrom(spec: ReturnType<typeof buildFixtureSpec>): LoadedSpec {
  return { spec, file: 'cluster.yaml', warnings: [] };
}

/** Everything a run leaves for people and machines to read: terminal output and every run record. */
function allArtifacts(stateDir: string, outputs: string[]): string {
  const texts = [...outputs];
  for (const id of readdirSync(path.join(stateDir, 'runs'))) {
    for (const f of ['audit.jsonl', 'report.json', 'junit.xml', 'state.json']) {
      const p = path.join(stateDir, 'runs', id, f);
      if (existsSync(p)) texts.push(readFileSync(p, 'utf8'));
    }
  }
  const once = path.join(stateDir, 'once.json');
  if (existsSync(once)) texts.push(readFileSync(once, 'utf8'));
  return texts.join('\n');
}

function expectNoSecrets(text: string): void {
  for (const [name, value] of Object.entries(SECRETS)) expect(text.includes(value), `${name} leaked`).toBe(false);
}

function count(fakes: FakeTools, pred: (line: string) => boolean): number {
  return fakes.sequence().filter(pred).length;
}

describe('golden argv sequences', () => {
  it.each([
    ['talos-ha', 'talosctl/kubectl', TALOS_HA_GOLDEN],
    ['kubeadm-small', 'ssh/scp/kubectl', KUBEADM_SMALL_GOLDEN],
  ] as const)('examples/%s.yaml (on loopback): every %s call, in order', async (example, _tools, golden) => {
    const w = worldFor(loadExampleOnLoopback(example));
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status, r.output).toBe('pass');
    expect(w.fakes.sequence(placeholders(w.stateDir, w.runDir))).toEqual(golden);
    w.fakes.verify();
  });

  it('kubeadm as a non-root ssh user: every remote command through sudo -n, scp through a staged copy in its home', async () => {
    const base = loadExampleOnLoopback('kubeadm-small');
    const spec = structuredClone(base.spec);
    spec.spec.bootstrap.kubeadm.ssh.user = 'ops';
    const w = worldFor({ ...base, spec });
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status, r.output).toBe('pass');
    const SUDO = 'sudo -n --';
    const conf = '.groundwork-staging-etc_groundwork_kubeadm.yaml';
    const admin = '.groundwork-staging-etc_kubernetes_admin.conf';
    const join = '.groundwork-staging-etc_groundwork_join.yaml';
    expect(w.fakes.sequence(placeholders(w.stateDir, w.runDir))).toEqual([
      ...['11', '21', '22'].map((h) => `${SSH} ops@127.0.20.${h} ${SUDO} true`),
      ...['11', '21', '22'].map((h) => `${SSH} ops@127.0.20.${h} ${SUDO} install -d -m 0700 /etc/groundwork`),
      ...securityCopies('ops@127.0.20.11', `${SUDO} `),
      `${SCP} <RUN>/bootstrap/kubeadm/kubeadm.yaml ops@127.0.20.11:${conf}`,
      `${SSH} ops@127.0.20.11 ${SUDO} install -m 0600 -- ${conf} /etc/groundwork/kubeadm.yaml ; r=$?; rm -f -- ${conf} ; exit $r`,
      `${SSH} ops@127.0.20.11 ${SUDO} test -f /etc/kubernetes/admin.conf`,
      `${SSH} ops@127.0.20.11 ${SUDO} kubeadm init --config /etc/groundwork/kubeadm.yaml --upload-certs`,
      `${SSH} ops@127.0.20.11 ${SUDO} install -m 0600 -o ops -- /etc/kubernetes/admin.conf ${admin}`,
      `${SCP} ops@127.0.20.11:${admin} <STATE>/secrets/kubeconfig`,
      `${SSH} ops@127.0.20.11 rm -f -- ${admin}`,
      'kubectl --kubeconfig <STATE>/secrets/kubeconfig get --raw /readyz',
      `${SSH} ops@127.0.20.21 ${SUDO} test -f /etc/kubernetes/kubelet.conf`,
      `${SSH} ops@127.0.20.22 ${SUDO} test -f /etc/kubernetes/kubelet.conf`,
      `${SSH} ops@127.0.20.11 ${SUDO} kubeadm token create --ttl 15m0s --print-join-command`,
      ...[['21', 'w-1'], ['22', 'w-2']].flatMap(([h, n]) => [
        `${SCP} <STATE>/secrets/kubeadm/join-${n}.yaml ops@127.0.20.${h}:${join}`,
        `${SSH} ops@127.0.20.${h} ${SUDO} install -m 0600 -- ${join} /etc/groundwork/join.yaml ; r=$?; rm -f -- ${join} ; exit $r`,
        `${SSH} ops@127.0.20.${h} ${SUDO} kubeadm join --config /etc/groundwork/join.yaml`,
        `${SSH} ops@127.0.20.${h} ${SUDO} rm -f /etc/groundwork/join.yaml`,
      ]),
      'kubectl --kubeconfig <STATE>/secrets/kubeconfig get nodes -o name',
    ]);
    w.fakes.verify();
  });

  it('Talos with 3 nodes at a time: the same calls; apply-config of all nodes in one block', async () => {
    const w = worldFor(loadExampleOnLoopback('talos-ha'));
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run, parallel: 3 });
    expect(r.summary.status, r.output).toBe('pass');
    const seq = w.fakes.sequence(placeholders(w.stateDir, w.runDir));
    expect([...seq].sort()).toEqual([...TALOS_HA_GOLDEN].sort());
    // Node order within the parallel blocks (checks, applies, waits) varies; everything around them does not.
    expect(seq.slice(0, 2)).toEqual(TALOS_HA_GOLDEN.slice(0, 2));
    expect(seq.slice(12, 27).filter((l) => l.includes('apply-config'))).toHaveLength(5);
    expect(seq.slice(27)).toEqual(TALOS_HA_GOLDEN.slice(27));
    w.fakes.verify();
  });

  it('kubeadm with 3 control planes: one control plane at a time, then the workers in parallel', async () => {
    const w = worldFor(loadedFrom(buildFixtureSpec({ method: 'kubeadm', controlPlanes: 3, workers: 3 })));
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run, parallel: 3 });
    expect(r.summary.status, r.output).toBe('pass');
    const seq = w.fakes.sequence(placeholders(w.stateDir, w.runDir));
    // The certificate key is fetched once and reused by both control-plane joins (fresh for 10 minutes).
    expect(seq.filter((l) => l.endsWith('upload-certs --upload-certs') && l.includes('phase'))).toHaveLength(1);
    const joins = seq.filter((l) => l.includes('kubeadm join')).map((l) => /root@(\S+)/.exec(l)![1]);
    expect(joins.slice(0, 2)).toEqual(['127.0.10.12', '127.0.10.13']);
    expect(new Set(joins.slice(2))).toEqual(new Set(['127.0.10.21', '127.0.10.22', '127.0.10.23']));
    // The join configs and the credentials file held the token: none is left behind, nor a record to sweep. The
    // Secret encryption key stays (0600): the cluster's Secrets are unreadable without it.
    expect(readdirSync(path.join(w.stateDir, 'secrets', 'kubeadm'))).toEqual(['encryption.yaml']);
    expect(statSync(path.join(w.stateDir, 'secrets', 'kubeadm', 'encryption.yaml')).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(w.stateDir, 'leftovers.json'))).toBe(false);
    w.fakes.verify();
  });
});

describe('generated files', () => {
  it('Talos: patches in the run dir; secrets, configs, talosconfig and kubeconfig 0600 in a 0700 dir', async () => {
    const w = worldFor(loadExampleOnLoopback('talos-ha'));
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status).toBe('pass');
    // Talos v1.14: typed documents (flannel deleted, kube-proxy off, the VIP on a link).
    const docs = (file: string) => parseAllDocuments(readFileSync(path.join(w.runDir, 'bootstrap', 'talos', file), 'utf8')).map((d) => d.toJS());
    const cluster = docs('cluster-patch.yaml');
    expect(cluster.find((d) => d.kind === 'KubeFlannelCNIConfig')).toEqual({ apiVersion: 'v1alpha1', kind: 'KubeFlannelCNIConfig', $patch: 'delete' });
    // kube-proxy off and the VIP: control-plane documents, in their node patches.
    expect(docs('node-cp-1.yaml').find((d) => d.kind === 'KubeProxyConfig')).toMatchObject({ enabled: false });
    expect(docs('node-w-1.yaml').find((d) => d.kind === 'KubeProxyConfig')).toBeUndefined();
    expect(docs('node-cp-1.yaml').find((d) => d.kind === 'Layer2VIPConfig')).toMatchObject({ name: '127.0.10.10' });
    expect(statSync(path.join(w.stateDir, 'secrets')).mode & 0o777).toBe(0o700);
    for (const f of ['talos/secrets.yaml', 'talos/controlplane.yaml', 'talos/worker.yaml', 'talos/talosconfig', 'kubeconfig']) {
      expect(statSync(path.join(w.stateDir, 'secrets', f)).mode & 0o777, f).toBe(0o600);
    }
  });

  it('kubeadm: the config is v1beta4 for 1.37 with the spec subnets', async () => {
    const w = worldFor(loadExampleOnLoopback('kubeadm-small'));
    await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    const docs = readFileSync(path.join(w.runDir, 'bootstrap', 'kubeadm', 'kubeadm.yaml'), 'utf8').split(/^---$/m).map((d) => parseYaml(d));
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual(['kubeadm.k8s.io/v1beta4 InitConfiguration', 'kubeadm.k8s.io/v1beta4 ClusterConfiguration']);
    expect(docs[1].networking).toMatchObject({ podSubnet: '192.168.0.0/16', serviceSubnet: '10.96.0.0/12' });
    expect(statSync(path.join(w.stateDir, 'secrets', 'kubeconfig')).mode & 0o777).toBe(0o600);
    // Deleted when the stage ends: the token must not outlive the run.
    expect(existsSync(path.join(w.stateDir, 'secrets', 'kubeadm', 'join-credentials'))).toBe(false);
  });
});

describe('secrets never appear in output, audit, report, junit or state', () => {
  it('Talos: secrets file, machine configs, talosconfig and kubeconfig values', async () => {
    const w = worldFor(loadExampleOnLoopback('talos-ha'));
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status).toBe('pass');
    // The fakes did write them: the grep below could find them if they leaked.
    expect(readFileSync(path.join(w.stateDir, 'secrets', 'talos', 'talosconfig'), 'utf8')).toContain(SECRETS.talosconfigKey);
    expectNoSecrets(allArtifacts(w.stateDir, [r.output]));
  });

  it('kubeadm: init token and certificate key, join token and certificate key, even when kubeadm echoes them in an error', async () => {
    const w = worldFor(loadedFrom(buildFixtureSpec({ method: 'kubeadm', controlPlanes: 3, workers: 1 })), { joinFailsOnceOn: '127.0.10.13' });
    const first = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(first.summary.status).toBe('fail');
    const failed = first.summary.results.find((x) => x.status === 'fail')!;
    expect(failed.id).toBe('join:cp-3');
    expect(failed.why).toContain('[redacted]');
    const second = await runBootstrap(w.loaded, w.fakes, w.stateDir, { resume: true });
    expect(second.summary.status, second.output).toBe('pass');
    expect(readdirSync(path.join(w.stateDir, 'secrets', 'kubeadm'))).toEqual(['encryption.yaml']);
    expectNoSecrets(allArtifacts(w.stateDir, [first.output, second.output]));
    w.fakes.verify();
  });
});

describe('exactly once', () => {
  it('a second setup (new run, same state dir) never bootstraps or applies again', async () => {
    const w = worldFor(loadExampleOnLoopback('talos-ha'));
    expect((await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run })).summary.status).toBe('pass');
    const again = await runBootstrap(w.loaded, w.fakes, w.stateDir);
    expect(again.summary.status, again.output).toBe('pass');
    expect(again.summary.results.find((x) => x.id === 'bootstrap')).toMatchObject({ status: 'skip', summary: expect.stringMatching(/never repeated/) });
    expect(count(w.fakes, (l) => l.endsWith(' bootstrap'))).toBe(1);
    expect(count(w.fakes, (l) => l.includes(' apply-config '))).toBe(5);
    expect(count(w.fakes, (l) => l.includes(' gen secrets '))).toBe(1);
    expect(w.fakes.unexpected()).toEqual([]);
  });

  it('Talos: a cluster bootstrapped before (etcd has members) is not bootstrapped again, and says so', async () => {
    const w = worldFor(loadExampleOnLoopback('talos-ha'));
    w.fakes.mark('bootstrapped');
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status, r.output).toBe('pass');
    expect(count(w.fakes, (l) => l.endsWith(' bootstrap'))).toBe(0);
    expect(r.summary.results.find((x) => x.id === 'bootstrap')?.status).toBe('skip');
    expect(r.output).toMatch(/etcd already has members on cp-1 \(127\.0\.10\.11\): the cluster was bootstrapped before/);
  });

  it('kubeadm: a first control plane with admin.conf is not initialised again, and says so', async () => {
    const w = worldFor(loadExampleOnLoopback('kubeadm-small'));
    w.fakes.mark('init');
    w.fakes.mark('joined-127.0.20.11');
    const r = await runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status, r.output).toBe('pass');
    expect(count(w.fakes, (l) => l.includes('kubeadm init --config'))).toBe(0);
    expect(r.output).toMatch(/cp-1 \(127\.0\.20\.11\) already has \/etc\/kubernetes\/admin\.conf: kubeadm init ran before/);
  });
});

describe('failures say node, command and next step; --resume finishes after the fix', () => {
  it('Talos: an unreachable node', async () => {
    const loaded = loadExampleOnLoopback('talos-ha');
    const w = worldFor(loaded, { unreachable: ['127.0.10.22'] });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    expect(r.summary.status).toBe('fail');
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.id).toBe('check-nodes');
    expect(f.summary).toContain('w-2 (127.0.10.22) does not answer: `talosctl version --insecure --nodes 127.0.10.22` exited 1');
    expect(f.fix).toMatch(/groundwork setup --yes --resume/);
    expect(count(w.fakes, (l) => l.includes(' apply-config '))).toBe(0);
    // The node comes up; resume finishes without repeating what was done.
    const { layout } = prepareRun(w.stateDir, true);
    w.fakes.setRules(talosWorld(loaded.spec, layout));
    const again = await runBootstrap(loaded, w.fakes, w.stateDir, { resume: true });
    expect(again.summary.status, again.output).toBe('pass');
    expect(count(w.fakes, (l) => l.includes(' gen secrets ') || l.includes(' gen config '))).toBe(2);
    expect(w.fakes.unexpected()).toEqual([]);
  });

  it('Talos: a node running the wrong Talos version', async () => {
    const loaded = loadExampleOnLoopback('talos-ha');
    const w = worldFor(loaded, { nodeVersion: 'v1.13.4' });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.summary).toContain('cp-1 (127.0.10.11) runs Talos v1.13.4, the spec wants v1.14.1: `talosctl version --insecure --nodes 127.0.10.11`');
    expect(f.fix).toMatch(/boot those nodes from the Talos v1\.14\.1 image.*--resume/);
    const { layout } = prepareRun(w.stateDir, true);
    w.fakes.setRules(talosWorld(loaded.spec, layout));
    const again = await runBootstrap(loaded, w.fakes, w.stateDir, { resume: true });
    expect(again.summary.status, again.output).toBe('pass');
  });

  it('Talos: a node that takes its config but never comes back', async () => {
    const loaded = loadExampleOnLoopback('talos-ha');
    const w = worldFor(loaded, { neverComesBack: ['127.0.10.22'] });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.id).toBe('wait-configured');
    expect(f.summary).toMatch(/^1 of 5 nodes are not back with their config:\n {2}w-2 \(127\.0\.10\.22\): `talosctl --talosconfig \S+ --nodes 127\.0\.10\.22 --endpoints 127\.0\.10\.22 version` exited 1/);
    expect(f.fix).toMatch(/install disk.*--resume/);
    // It was polled, not given up on at once.
    expect(count(w.fakes, (l) => l.includes('--nodes 127.0.10.22 --endpoints 127.0.10.22 version'))).toBeGreaterThanOrEqual(3);
    expect(r.output).toMatch(/nodes rebooting into their config: not yet \(attempt 1\)/);
    w.fakes.mark('configured-127.0.10.22');
    const again = await runBootstrap(loaded, w.fakes, w.stateDir, { resume: true });
    expect(again.summary.status, again.output).toBe('pass');
    expect(count(w.fakes, (l) => l.includes(' apply-config '))).toBe(5);
  });

  it('kubeadm: an unreachable node', async () => {
    const loaded = loadExampleOnLoopback('kubeadm-small');
    const w = worldFor(loaded, { unreachable: ['127.0.20.21'] });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.id).toBe('check-nodes');
    expect(f.summary).toContain(`w-1 (127.0.20.21) does not answer: \`${SSH} root@127.0.20.21 true\` exited 255: ssh: connect to host 127.0.20.21 port 22: Connection refused`);
    expect(f.fix).toMatch(/--resume/);
    const { layout } = prepareRun(w.stateDir, true);
    w.fakes.setRules(kubeadmWorld(loaded.spec, layout));
    expect((await runBootstrap(loaded, w.fakes, w.stateDir, { resume: true })).summary.status).toBe('pass');
  });

  it('kubeadm: kubeadm init fails', async () => {
    const loaded = loadExampleOnLoopback('kubeadm-small');
    const w = worldFor(loaded, { initFails: true });
    const r = await runBootstrap(loaded, w.fakes, w.stateDir, { run: w.run });
    const f = r.summary.results.find((x) => x.status === 'fail')!;
    expect(f.id).toBe('init');
    expect(f.summary).toBe('kubeadm init on cp-1 (127.0.20.11) failed');
    expect(f.why).toContain(`${SSH} root@127.0.20.11 kubeadm init --config /etc/groundwork/kubeadm.yaml --upload-certs\` exited 1: [ERROR NumCPU]: the number of available CPUs 1 is less than the required 2`);
    expect(f.fix).toMatch(/kubeadm reset -f.*groundwork setup --yes --resume/);
    // The failed check by name, and the spec field for one this node cannot pass.
    expect(f.fix).toContain('a check this node cannot pass for a reason you know (NumCPU): name it in spec.bootstrap.kubeadm.ignorePreflightErrors');
    const { layout } = prepareRun(w.stateDir, true);
    w.fakes.setRules(kubeadmWorld(loaded.spec, layout));
    const again = await runBootstrap(loaded, w.fakes, w.stateDir, { resume: true });
    expect(again.summary.status, again.output).toBe('pass');
    // Steps that finished before the failure are not repeated by the resume.
    expect(count(w.fakes, (l) => / root@\S+ true$/.test(l))).toBe(3);
    expect(count(w.fakes, (l) => l.includes('kubeadm/kubeadm.yaml root@'))).toBe(1);
  });
});

/** Side-effecting commands: each must run exactly once over an interrupted run and its resume. */
const TALOS_EFFECTS = [' gen secrets ', ' gen config ', ...['11', '12', '13', '21', '22'].map((h) => ` apply-config --insecure --nodes 127.0.10.${h} `)];
const KUBEADM_EFFECTS = ['kubeadm init --config', ...['21', '22'].map((h) => `root@127.0.20.${h} kubeadm join`)];

/** A test name that shows what the call does: the remote command, not the ssh options. */
function shorten(line: string): string {
  return line.replace(/^(ssh|scp) -i \S+ (-o \S+ )+-[pP] \d+ -- /, '$1 ').slice(0, 100);
}

async function interruptAndResume(example: string, callNo: number, expect: ExpectStatic): Promise<{ w: World; resumed: BootstrapRun }> {
  const w = worldFor(loadExampleOnLoopback(example));
  w.fakes.hangAtCall(callNo);
  const abort = new AbortController();
  const running = runBootstrap(w.loaded, w.fakes, w.stateDir, { run: (w as ReturnType<typeof worldFor>).run, signal: abort.signal });
  await waitForHang(w.fakes);
  abort.abort();
  const interrupted = await running;
  expect(interrupted.summary.status).toBe('interrupted');
  w.fakes.hangAtCall(0);
  clearHang(w.fakes);
  const resumed = await runBootstrap(w.loaded, w.fakes, w.stateDir, { resume: true });
  expect(resumed.summary.status, resumed.output).toBe('pass');
  return { w, resumed };
}

describe('an interruption at any call, then --resume, repeats no side effect', () => {
  // Each case has its own state dir and fake world, so they may run side by side.
  it.concurrent.for(TALOS_HA_GOLDEN.map((line, i) => [i + 1, shorten(line)] as const))('Talos: interrupted at call %i (%s)', async ([n], { expect }) => {
    const { w } = await interruptAndResume('talos-ha', n, expect);
    for (const e of TALOS_EFFECTS) expect(count(w.fakes, (l) => l.includes(e)), e).toBe(1);
    expect(count(w.fakes, (l) => l.endsWith(' bootstrap'))).toBe(1);
    expect(w.fakes.unexpected()).toEqual([]);
  });

  it.concurrent.for(KUBEADM_SMALL_GOLDEN.map((line, i) => [i + 1, shorten(line)] as const))('kubeadm: interrupted at call %i (%s)', async ([n], { expect }) => {
    const { w } = await interruptAndResume('kubeadm-small', n, expect);
    for (const e of KUBEADM_EFFECTS) expect(count(w.fakes, (l) => l.includes(e)), e).toBe(1);
    expect(w.fakes.unexpected()).toEqual([]);
  });
});

describe('--dry-run', () => {
  it('writes the generated files into the run directory and runs nothing', async () => {
    const loaded = loadExampleOnLoopback('talos-ha');
    const w = worldFor(loaded);
    const { buildBootstrapStage } = await import('../../src/bootstrap/stage.js');
    const { runPlan } = await import('../../src/run/engine.js');
    const { captureIo } = await import('./worlds.js');
    const stage = await buildBootstrapStage(loaded, { runDir: w.runDir, stateDir: w.stateDir });
    const cap = captureIo();
    const summary = await runPlan({ title: 'dry', stages: [stage] }, { command: 'setup', stateDir: w.stateDir, io: cap.io, dryRun: true, env: w.fakes.env, run: w.run, renderer: 'simple' });
    expect(summary.results.every((r) => r.status === 'skip')).toBe(true);
    expect(w.fakes.calls()).toEqual([]);
    expect(readdirSync(path.join(w.runDir, 'bootstrap', 'talos')).sort()).toEqual(['cluster-patch.yaml', 'node-cp-1.yaml', 'node-cp-2.yaml', 'node-cp-3.yaml', 'node-w-1.yaml', 'node-w-2.yaml']);
    expect(cap.text()).toContain('would run talosctl gen config talos-ha https://127.0.10.10:6443');
  });
});

describe('an interruption while nodes are configured in parallel', () => {
  it.concurrent.for([14, 16, 18, 20])('Talos, 3 at a time, interrupted at call %i: resume applies each node exactly once', async (n, { expect }) => {
    const w = worldFor(loadExampleOnLoopback('talos-ha'));
    w.fakes.hangAtCall(n);
    const abort = new AbortController();
    const running = runBootstrap(w.loaded, w.fakes, w.stateDir, { run: w.run, signal: abort.signal, parallel: 3 });
    await waitForHang(w.fakes);
    abort.abort();
    expect((await running).summary.status).toBe('interrupted');
    w.fakes.hangAtCall(0);
    const resumed = await runBootstrap(w.loaded, w.fakes, w.stateDir, { resume: true, parallel: 3 });
    expect(resumed.summary.status, resumed.output).toBe('pass');
    for (const e of TALOS_EFFECTS) expect(count(w.fakes, (l) => l.includes(e)), e).toBe(1);
    expect(w.fakes.unexpected()).toEqual([]);
  });
});

describe('buildBootstrapStage for `plan`', () => {
  it('lists generated files and argv without writing anything for a placeholder run dir', async () => {
    const { buildBootstrapStage } = await import('../../src/bootstrap/stage.js');
    const stateDir = tempDir('gw-plan-');
    const runDir = path.join(stateDir, 'runs', '<run-id>');
    const stage = await buildBootstrapStage(loadExampleOnLoopback('talos-ha'), { runDir, stateDir });
    expect(existsSync(runDir)).toBe(false);
    expect(existsSync(path.join(stateDir, 'secrets'))).toBe(false);
    expect(stage.steps[0]!.preview?.files).toContain(path.join(runDir, 'bootstrap', 'talos', 'cluster-patch.yaml'));
    // Nodes are configured 4 at a time by default: one step for all of them.
    expect(stage.steps.map((s) => s.id)).toEqual([
      'gen-secrets', 'gen-config', 'check-nodes', 'apply-config',
      'wait-configured', 'talosconfig', 'bootstrap', 'kubeconfig', 'api-reachable', 'etcd-healthy', 'nodes-registered',
    ]);
    expect(stage.steps.find((s) => s.id === 'apply-config')!.preview!.argv).toHaveLength(5);
    const oneByOne = await buildBootstrapStage(loadExampleOnLoopback('talos-ha'), { runDir, stateDir, parallel: 1 });
    expect(oneByOne.steps.map((s) => s.id).filter((id) => id.startsWith('apply-config'))).toEqual(['apply-config:cp-1', 'apply-config:cp-2', 'apply-config:cp-3', 'apply-config:w-1', 'apply-config:w-2']);
    expect(stage.steps.find((s) => s.id === 'bootstrap')).toMatchObject({ once: true });
    expect(stage.notes?.join('\n')).toMatch(/CNI set to none: the cni stage installs cilium/);
  });

  it('a spec parsed from YAML and one built in code give the same stage (no hidden defaults)', async () => {
    const { buildBootstrapStage } = await import('../../src/bootstrap/stage.js');
    const stateDir = tempDir('gw-plan-');
    const runDir = path.join(stateDir, 'runs', '<run-id>');
    const a = await buildBootstrapStage(loadExampleOnLoopback('kubeadm-small'), { runDir, stateDir });
    const spec = ClusterSpec.parse(loadExampleOnLoopback('kubeadm-small').spec);
    const b = await buildBootstrapStage({ spec, file: 'x', warnings: [] }, { runDir, stateDir });
    expect(b.steps.map((s) => s.preview)).toEqual(a.steps.map((s) => s.preview));
  });
});
