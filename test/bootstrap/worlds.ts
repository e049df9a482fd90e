/**
 * Fake worlds for the bootstrap stage: strict talosctl/kubectl/ssh/scp rules that behave like nodes do
 * (a configured node leaves maintenance mode, a bootstrapped one has etcd members, a joined one has
 * kubelet.conf) and emit known secret values, so tests can prove they are never shown.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { bootstrapLayout, type BootstrapLayout } from '../../src/bootstrap/files.js';
import { buildBootstrapStage } from '../../src/bootstrap/stage.js';
import type { Io } from '../../src/io.js';
import { resolveRun, runPlan, type ResolvedRun } from '../../src/run/engine.js';
import type { RunSummary } from '../../src/run/types.js';
import { parseSpec, type LoadedSpec } from '../../src/spec/load.js';
import type { Spec } from '../../src/spec/schema.js';
import type { FakeRule, FakeToolSpec, FakeTools } from '../helpers/fake-tools.js';

/** Values the fakes emit that must never appear in any output or record. */
export const SECRETS = {
  talosBootstrapToken: 'gwtok1.talosbootstrap99',
  talosSecretbox: 'GWSECRET-secretbox-9f8e7d6c5b4a3210',
  talosCaKey: 'GWSECRET-osCAkey-LS0tLS1CRUdJTiBFQyBQUklWQVRF',
  talosconfigKey: 'GWSECRET-talosconfig-client-key-7a6b5c',
  kubeconfigKey: 'GWSECRET-kubeconfig-client-key-1d2e3f',
  initToken: 'gwinit.0123456789abcdef',
  initCertKey: 'c0ffee00'.repeat(8),
  joinToken: 'gwjoin.fedcba9876543210',
  joinCertKey: 'deadbeef'.repeat(8),
} as const;
const CA_HASH = `sha256:${'ab'.repeat(32)}`;

/** An example spec with its 10.x addresses moved to 127.x: same shape, nothing dialled off this machine. */
export function loadExampleOnLoopback(name: string): LoadedSpec {
  const text = readFileSync(path.join(import.meta.dirname, '..', '..', 'examples', `${name}.yaml`), 'utf8').replace(/\b10\.0\.(\d+)\.(\d+)\b/g, '127.0.$1.$2');
  return parseSpec(text, `examples/${name}.yaml`);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

const TALOS_VERSION_OUT = (v: string) => `Client:\n\tTag:         ${v}\nServer:\n\tNODE:        x\n\tTag:         ${v}\n`;

export interface TalosWorldOptions {
  /** Talos the nodes run (default: the spec's). */
  nodeVersion?: string;
  /** Node addresses that never answer. */
  unreachable?: string[];
  /** Node addresses that take their config but never come back with it (e.g. a wrong install disk). */
  neverComesBack?: string[];
}

export function talosWorld(spec: Spec, layout: BootstrapLayout, o: TalosWorldOptions = {}): FakeToolSpec {
  const t = layout.talos;
  const cps = spec.spec.nodes.filter((n) => n.role === 'control-plane');
  const first = cps[0]!.address;
  const onFirst = ['--talosconfig', t.talosconfig, '--nodes', first, '--endpoints', first];
  const version = o.nodeVersion ?? spec.spec.bootstrap.talos.version;
  const talosctl: FakeRule[] = [
    {
      match: ['gen', 'secrets', '--output-file', t.secrets],
      times: 1,
      writeFiles: {
        '{argAfter:--output-file}': `cluster:\n    id: gwclusterid0001\n    secret: ${SECRETS.talosSecretbox}\nsecrets:\n    bootstraptoken: ${SECRETS.talosBootstrapToken}\ncerts:\n    os:\n        crt: LS0tCRT\n        key: ${SECRETS.talosCaKey}\n`,
      },
    },
    {
      match: ['gen', 'config'],
      prefix: true,
      times: 1,
      writeFiles: {
        [t.controlPlaneConfig]: `version: v1alpha1\nmachine:\n    type: controlplane\n    token: ${SECRETS.talosBootstrapToken}\n    ca:\n        key: ${SECRETS.talosCaKey}\ncluster:\n    secretboxEncryptionSecret: ${SECRETS.talosSecretbox}\n`,
        [t.workerConfig]: `version: v1alpha1\nmachine:\n    type: worker\n    token: ${SECRETS.talosBootstrapToken}\n`,
        [t.talosconfig]: `context: ${spec.metadata.name}\ncontexts:\n    ${spec.metadata.name}:\n        endpoints: [127.0.0.1]\n        key: ${SECRETS.talosconfigKey}\n`,
      },
    },
    { match: ['--talosconfig', t.talosconfig, 'config', 'endpoints', ...cps.map((n) => n.address)] },
    { match: ['--talosconfig', t.talosconfig, 'config', 'nodes', first] },
    { match: [...onFirst, 'etcd', 'members'], when: { marked: ['bootstrapped'] }, stdout: `NODE ID HOSTNAME\n${first} 1a cp-1\n`, optional: true },
    { match: [...onFirst, 'etcd', 'members'], when: { unmarked: ['bootstrapped'] }, exitCode: 1, stderr: 'rpc error: etcd is not running\n', optional: true },
    { match: [...onFirst, 'bootstrap'], when: { unmarked: ['bootstrapped'] }, mark: ['bootstrapped'], times: 1 },
    { match: [...onFirst, 'kubeconfig', '--force', layout.kubeconfig], writeFiles: { '{arg:-1}': `apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: ${SECRETS.kubeconfigKey}\n` } },
    { match: ['--talosconfig', t.talosconfig, '--nodes', cps.map((n) => n.address).join(','), 'etcd', 'status'], stdout: 'NODE MEMBER DB SIZE\n' },
  ];
  for (const n of spec.spec.nodes) {
    const a = n.address;
    const down = o.unreachable?.includes(a);
    talosctl.push(
      down
        ? { match: ['version', '--insecure', '--nodes', a], exitCode: 1, stderr: `error: rpc error: code = Unavailable desc = connection error: dial tcp ${a}:50000: connect: connection refused\n`, optional: true }
        : { match: ['version', '--insecure', '--nodes', a], when: { unmarked: [`configured-${a}`] }, stdout: TALOS_VERSION_OUT(version), optional: true },
      { match: ['version', '--insecure', '--nodes', a], when: { marked: [`configured-${a}`] }, exitCode: 1, stderr: 'tls: certificate required\n', optional: true },
      { match: ['--talosconfig', t.talosconfig, '--nodes', a, '--endpoints', a, 'version'], when: { marked: [`configured-${a}`] }, stdout: TALOS_VERSION_OUT(version), optional: true },
      { match: ['--talosconfig', t.talosconfig, '--nodes', a, '--endpoints', a, 'version'], when: { unmarked: [`configured-${a}`] }, exitCode: 1, stderr: 'connection refused\n', optional: true },
      {
        match: ['apply-config', '--insecure', '--nodes', a, '--file', n.role === 'control-plane' ? t.controlPlaneConfig : t.workerConfig, '--config-patch', `@${t.nodePatch(n.name)}`],
        when: { unmarked: [`configured-${a}`, `applied-${a}`] },
        mark: [o.neverComesBack?.includes(a) ? `applied-${a}` : `configured-${a}`],
        times: 1,
        optional: down,
      },
    );
  }
  return { talosctl, kubectl: kubectlRules(spec, layout) };
}

function kubectlRules(spec: Spec, layout: BootstrapLayout): FakeRule[] {
  return [
    { match: ['--kubeconfig', layout.kubeconfig, 'get', '--raw', '/readyz'], stdout: 'ok' },
    { match: ['--kubeconfig', layout.kubeconfig, 'get', 'nodes', '-o', 'name'], stdout: spec.spec.nodes.map((n) => `node/${n.name}\n`).join('') },
  ];
}

const SSH_OPTS = (id: string) => ['-i', id, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3'];

export interface KubeadmWorldOptions {
  unreachable?: string[];
  /** kubeadm init fails (preflight error) on the first control plane. */
  initFails?: boolean;
  /** The first `kubeadm join` on this address fails, echoing the secrets it was given on stderr (a leak test). */
  joinFailsOnceOn?: string;
  /** kubeadm init prints its token and certificate key, then fails naming the token (nothing parsed them yet). */
  initFailsPrintingSecrets?: boolean;
  /** `kubeadm token create` fails once, printing the join command and the token on stderr. */
  tokenCreateFailsPrintingToken?: boolean;
  /** The first `kubeadm join` on this address hangs (for a SIGKILL in the middle of it). */
  joinHangsOn?: string;
}

export function kubeadmWorld(spec: Spec, layout: BootstrapLayout, o: KubeadmWorldOptions = {}): FakeToolSpec {
  const ssh = spec.spec.bootstrap.kubeadm.ssh;
  const first = spec.spec.nodes.find((n) => n.role === 'control-plane')!;
  // A user other than root runs every remote command through sudo, and scp goes through a staged copy in its home.
  const root = ssh.user === 'root';
  const sudo = root ? [] : ['sudo', '-n', '--'];
  const on = (a: string, remote: string[], asRoot = true) => [...SSH_OPTS(ssh.identityFile), '-p', String(ssh.port), '--', `${ssh.user}@${a}`, ...(asRoot ? sudo : []), ...remote];
  const scpOpts = [...SSH_OPTS(ssh.identityFile), '-P', String(ssh.port), '--'];
  const staged = (remote: string) => `.groundwork-staging-${remote.slice(1).replace(/\//g, '_')}`;
  // Every upload is staged in the ssh user's home and put in place by install -m 0600 (sudo for non-root).
  const upload = (a: string, local: string, remote: string): { ssh: FakeRule[]; scp: FakeRule[] } => ({
    scp: [{ match: [...scpOpts, local, `${ssh.user}@${a}:${staged(remote)}`] }],
    ssh: [{ match: on(a, ['install', '-m', '0600', '--', staged(remote), remote, '; r=$?;', 'rm', '-f', '--', staged(remote), '; exit $r']) }],
  });
  const kubeconfigBody = `apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: ${SECRETS.kubeconfigKey}\n`;
  const fa = first.address;
  const sshRules: FakeRule[] = [
    { match: on(fa, ['test', '-f', '/etc/kubernetes/admin.conf']), when: { marked: ['init'] }, optional: true },
    { match: on(fa, ['test', '-f', '/etc/kubernetes/admin.conf']), when: { unmarked: ['init'] }, exitCode: 1, optional: true },
    o.initFailsPrintingSecrets
      ? {
          match: on(fa, ['kubeadm', 'init', '--config', '/etc/groundwork/kubeadm.yaml', '--upload-certs']),
          exitCode: 1,
          times: 1,
          stdout: `[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[upload-certs] Using certificate key:\n${SECRETS.initCertKey}\n[bootstrap-token] Using token: ${SECRETS.initToken}\n`,
          stderr: `error execution phase bootstrap-token: kubeadm join ${fa}:6443 --token ${SECRETS.initToken} --discovery-token-ca-cert-hash ${CA_HASH} --control-plane --certificate-key ${SECRETS.initCertKey}: timed out waiting for the condition\n`,
        }
      : o.initFails
      ? { match: on(fa, ['kubeadm', 'init', '--config', '/etc/groundwork/kubeadm.yaml', '--upload-certs']), exitCode: 1, times: 1, stderr: '[preflight] Some fatal errors occurred:\n\t[ERROR NumCPU]: the number of available CPUs 1 is less than the required 2\n' }
      : {
          match: on(fa, ['kubeadm', 'init', '--config', '/etc/groundwork/kubeadm.yaml', '--upload-certs']),
          when: { unmarked: ['init'] },
          mark: ['init', `joined-${fa}`],
          times: 1,
          stdout: `Your Kubernetes control-plane has initialized successfully!\n  kubeadm join ${fa}:6443 --token ${SECRETS.initToken} \\\n\t--discovery-token-ca-cert-hash ${CA_HASH} \\\n\t--control-plane --certificate-key ${SECRETS.initCertKey}\n`,
        },
    ...(o.tokenCreateFailsPrintingToken
      ? [{ match: on(fa, ['kubeadm', 'token', 'create', '--ttl', '15m0s', '--print-join-command']), times: 1, exitCode: 1, stderr: `kubeadm join ${fa}:6443 --token ${SECRETS.joinToken} --discovery-token-ca-cert-hash ${CA_HASH}\nfailed to create or update bootstrap token with name bootstrap-token-gwjoin: token ${SECRETS.joinToken} could not be stored: the server was unable to return a response\n` } satisfies FakeRule]
      : []),
    { match: on(fa, ['kubeadm', 'token', 'create', '--ttl', '15m0s', '--print-join-command']), stdout: `kubeadm join ${fa}:6443 --token ${SECRETS.joinToken} --discovery-token-ca-cert-hash ${CA_HASH} \n`, optional: true },
    { match: on(fa, ['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs']), stdout: `[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[upload-certs] Using certificate key:\n${SECRETS.joinCertKey}\n`, optional: true },
  ];
  const copyConfig = upload(fa, layout.kubeadm.config, '/etc/groundwork/kubeadm.yaml');
  sshRules.push(...copyConfig.ssh);
  const scpRules: FakeRule[] = [...copyConfig.scp];
  if (root) scpRules.push({ match: [...scpOpts, `${ssh.user}@${fa}:/etc/kubernetes/admin.conf`, layout.kubeconfig], writeFiles: { '{arg:-1}': kubeconfigBody } });
  else {
    const s = staged('/etc/kubernetes/admin.conf');
    sshRules.push({ match: on(fa, ['install', '-m', '0600', '-o', ssh.user, '--', '/etc/kubernetes/admin.conf', s]) }, { match: on(fa, ['rm', '-f', '--', s], false) });
    scpRules.push({ match: [...scpOpts, `${ssh.user}@${fa}:${s}`, layout.kubeconfig], writeFiles: { '{arg:-1}': kubeconfigBody } });
  }
  for (const n of spec.spec.nodes) {
    const a = n.address;
    if (o.unreachable?.includes(a)) {
      sshRules.unshift({ match: [...SSH_OPTS(ssh.identityFile), '-p', String(ssh.port), '--', `${ssh.user}@${a}`], prefix: true, exitCode: 255, stderr: `ssh: connect to host ${a} port 22: Connection refused\n` });
      continue;
    }
    sshRules.push(
      { match: on(a, ['true']) },
      { match: on(a, ['install', '-d', '-m', '0700', '/etc/groundwork']) },
    );
    if (n.role === 'control-plane') {
      // kube-apiserver's Pod Security, audit and encryption files (src/bootstrap/security.ts), before init or join.
      sshRules.push({ match: on(a, ['install', '-d', '-m', '0700', '/etc/kubernetes/groundwork']) });
      for (const [local, remote] of [
        [layout.kubeadm.apiServerFile('/etc/kubernetes/groundwork/admission.yaml'), '/etc/kubernetes/groundwork/admission.yaml'],
        [layout.kubeadm.apiServerFile('/etc/kubernetes/groundwork/audit-policy.yaml'), '/etc/kubernetes/groundwork/audit-policy.yaml'],
        [layout.kubeadm.encryptionConfig, '/etc/kubernetes/groundwork/encryption.yaml'],
      ] as const) {
        const u = upload(a, local, remote);
        sshRules.push(...u.ssh);
        scpRules.push(...u.scp);
      }
    }
    if (n === first) continue;
    sshRules.push(
      { match: on(a, ['test', '-f', '/etc/kubernetes/kubelet.conf']), when: { marked: [`joined-${a}`] }, optional: true },
      { match: on(a, ['test', '-f', '/etc/kubernetes/kubelet.conf']), when: { unmarked: [`joined-${a}`] }, exitCode: 1 },
      ...(o.joinHangsOn === a ? [{ match: on(a, ['kubeadm', 'join', '--config', '/etc/groundwork/join.yaml']), times: 1, hang: true } satisfies FakeRule] : []),
      ...(o.joinFailsOnceOn === a
        ? [{ match: on(a, ['kubeadm', 'join', '--config', '/etc/groundwork/join.yaml']), times: 1, exitCode: 1, stderr: `error execution phase preflight: couldn't validate the identity of the API Server: token ${SECRETS.joinToken}${n.role === 'control-plane' ? ` certificate key ${SECRETS.joinCertKey}` : ''} rejected\n` } satisfies FakeRule]
        : []),
      { match: on(a, ['kubeadm', 'join', '--config', '/etc/groundwork/join.yaml']), when: { unmarked: [`joined-${a}`] }, mark: [`joined-${a}`], times: 1 },
      { match: on(a, ['rm', '-f', '/etc/groundwork/join.yaml']) },
    );
    const join = upload(a, layout.kubeadm.joinConfig(n.name), '/etc/groundwork/join.yaml');
    sshRules.push(...join.ssh);
    scpRules.push(...join.scp);
  }
  return { ssh: sshRules, scp: scpRules, kubectl: kubectlRules(spec, layout) };
}

export interface Captured {
  io: Io;
  text(): string;
}

export function captureIo(): Captured {
  const chunks: string[] = [];
  const mk = () => {
    const s = new PassThrough();
    s.on('data', (c: Buffer) => chunks.push(c.toString()));
    return s;
  };
  return { io: { stdout: mk(), stderr: mk(), stdin: new PassThrough(), env: { NO_COLOR: '1', CI: 'true' }, cwd: process.cwd() }, text: () => chunks.join('') };
}

export interface BootstrapRun {
  summary: RunSummary;
  output: string;
  layout: BootstrapLayout;
}

/** Builds the bootstrap stage and runs it through the real engine against the fakes. */
/** The run a test is about to start (or resume): its layout lets the world match exact file paths. */
export function prepareRun(stateDir: string, resume = false): { run: ResolvedRun; layout: BootstrapLayout } {
  const run = resolveRun(stateDir, 'setup', resume);
  return { run, layout: bootstrapLayout(run.runDir, stateDir) };
}

export async function runBootstrap(
  loaded: LoadedSpec,
  fakes: FakeTools,
  stateDir: string,
  o: { resume?: boolean; signal?: AbortSignal; parallel?: number; run?: ResolvedRun; renderer?: 'simple' | 'ink' } = {},
): Promise<BootstrapRun> {
  const run = o.run ?? resolveRun(stateDir, 'setup', o.resume ?? false);
  const stage = await buildBootstrapStage(loaded, { runDir: run.runDir, stateDir, parallel: o.parallel ?? 1, backoffMs: 1, pollIntervalMs: 1, waitMs: 2000 });
  const cap = captureIo();
  const summary = await runPlan({ title: 'bootstrap test', stages: [stage] }, { command: 'setup', stateDir, io: cap.io, resume: o.resume, signal: o.signal, env: fakes.env, run, renderer: o.renderer ?? 'simple', color: false });
  return { summary, output: cap.text(), layout: bootstrapLayout(run.runDir, stateDir) };
}
