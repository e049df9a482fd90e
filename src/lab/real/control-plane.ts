/**
 * A real Kubernetes control plane on loopback: etcd 3.6, kube-apiserver, kube-controller-manager and
 * kube-scheduler (the programs `npm run real-tools` builds, or the same names on PATH), started through the exec
 * door. `groundwork lab up --api real` and `rehearse --api real` put the lab's node side on it; the tests start it
 * through test/helpers/control-plane.ts.
 *
 * - Every listener is on 127.0.0.1 on a free port; state lives in one temp dir (certificates, keys, etcd data).
 * - Throw-away PKI (src/lab/server/certs.ts): one CA (kept in memory: the lab issues its kubelets' serving
 *   certificates and its admin listener's from it), the API server's serving certificate, client certificates for
 *   the admin (O=system:masters), the controller manager, the scheduler, and the API server's kubelet client
 *   (the lab's kubelet API verifies it against the CA); an ECDSA key pair signs service-account tokens.
 * - Authorization Node,RBAC like kubeadm and Talos; Pod Security as Talos configures it (`talos`) or as a default
 *   kubeadm cluster has it (`kubeadm`: privileged everywhere).
 * - The API server reaches kubelets on their InternalIP (127.0.100.N) and verifies their serving certificate
 *   against the CA: `kubectl logs` goes API server → the lab's kubelet API, as in a cluster.
 */
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { findFreePorts } from '../../exec/free-port.js';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { UserError } from '../../errors.js';
import type { SecuritySpec } from '../../spec/schema.js';
import { randomBytes } from 'node:crypto';
import { spawnService, type Service } from '../../exec/index.js';
import { createCa, createKeyPairPem, issueCertificate, type CertificateAuthority } from '../server/certs.js';
import { buildKubeconfig, type KubeconfigUser } from '../kubeconfig.js';

export type PodSecurityProfile = 'talos' | 'kubeadm';

/** The programs a control plane runs, by absolute path. */
export interface ControlPlanePrograms {
  etcd: string;
  apiserver: string;
  controllerManager: string;
  scheduler: string;
}

export interface RealControlPlaneOptions {
  /** How Pod Security admission is configured (default 'talos'). */
  podSecurity?: PodSecurityProfile;
  /** Start kube-controller-manager and kube-scheduler too (default true). */
  controllers?: boolean;
  /** How long to wait for each program to become ready (default 60 s). */
  readyTimeoutMs?: number;
  /** Default: findControlPlanePrograms(process.env). */
  programs?: ControlPlanePrograms;
  /** --service-cluster-ip-range (default 10.96.0.0/12). */
  serviceCIDR?: string;
  /** Files written into `<dir>/files/` before start; `{files}` in any extra argument is that directory. */
  files?: Record<string, string>;
  /**
   * The address kube-apiserver writes into the `kubernetes` Service's endpoints (--advertise-address; it still
   * binds 127.0.0.1 only). A real API server refuses loopback addresses there, so the default is no endpoints at
   * all (--endpoint-reconciler-type=none); the lab passes LAB_API_ADVERTISE_ADDRESS, an address nothing dials.
   */
  advertiseAddress?: string;
  /** Extra kube-apiserver arguments (after ours: a later flag wins). */
  apiServerArgs?: string[];
  /** An AdmissionConfiguration (e.g. groundwork's generated one): replaces the podSecurity profile's. */
  admissionConfiguration?: Record<string, unknown>;
  /** An audit policy (audit.k8s.io/v1 Policy): --audit-policy-file, the JSON log at `auditLog`. */
  auditPolicy?: Record<string, unknown>;
  /** --anonymous-auth (kube-apiserver's default: true). */
  anonymousAuth?: boolean;
  /**
   * Run every program inside this existing network namespace (a real-node fabric, test/helpers/real-node.ts): the
   * API server listens on all its addresses, advertises `address` (the `kubernetes` Service's endpoint) and reaches
   * real kubelets (self-signed serving certificates: not checked against the CA). Each port the host side uses is
   * forwarded to the same port on host loopback (socat over a unix socket), so `server` and `kubeconfig` work from
   * the host as before.
   */
  netns?: { name: string; address: string };
  /** Extra kube-controller-manager arguments. */
  controllerManagerArgs?: string[];
  /** Use this etcd (plain http on loopback) instead of starting one: e.g. a drill's restored member. */
  etcdUrl?: string;
  /** Write each process down while it runs (a state dir's leftovers), so a killed groundwork has it stopped next time. */
  record?: { sink: import('../../run/leftovers.js').LeftoverSink; what: string };
  /** Each program's output lines, e.g. for a failure message (the tail is kept either way: logs()). */
  onLine?: (program: string, line: string) => void;
}

export interface RealControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Where nodes and pods reach the API server: https://<netns address>:<port> with `netns`, else `server`. */
  clusterServer: string;
  /** The audit log file, when started with an auditPolicy. */
  auditLog?: string;
  /** The admin kubeconfig (client certificate in system:masters), mode 0600. */
  kubeconfig: string;
  /** The CA that signed every certificate, PEM; `ca` can sign more (in memory only). */
  caPem: string;
  ca: CertificateAuthority;
  /** etcd's client URL (plain http on loopback): the drill's source. */
  etcdUrl: string;
  /** The temp dir holding everything (removed by stop). */
  dir: string;
  podSecurity: PodSecurityProfile;
  serviceCIDR: string;
  /** etcd is absent when `etcdUrl` was given. */
  pids: { etcd?: number; apiserver: number; controllerManager?: number; scheduler?: number };
  /** Writes a file into the PKI dir (0600) and returns its path. */
  file(name: string, text: string): string;
  /** The tail of each program's output, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const PROGRAMS = { etcd: 'etcd', apiserver: 'kube-apiserver', controllerManager: 'kube-controller-manager', scheduler: 'kube-scheduler' } as const;
/**
 * Where the lab's pods find the API: a TEST-NET-1 address (RFC 5737, never routed). Only the lab's network model
 * "connects" to it (pods are simulated); every real client uses the kubeconfig's https://127.0.0.1:PORT.
 */
export const LAB_API_ADVERTISE_ADDRESS = '192.0.2.10';

export const REAL_TOOLS_FIX = 'run `npm run real-tools` (it builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler into ~/.cache/groundwork/real-tools), or use --api embedded';

/** The directory `npm run real-tools` filled: $GROUNDWORK_REAL_TOOLS, else the cache's `current` link. */
export function realToolsCacheDir(env: Record<string, string | undefined> = process.env): string {
  const cache = env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? homedir(), '.cache'), 'groundwork', 'real-tools');
  return env.GROUNDWORK_REAL_TOOLS ?? path.join(cache, 'current');
}

function executable(f: string): boolean {
  try {
    accessSync(f, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The control plane's programs: each found on PATH, else in the real-tools cache (etcd from its `etcd-3.6/`).
 * Undefined when one is missing (`missing` says which).
 */
export function locateControlPlanePrograms(env: Record<string, string | undefined> = process.env): { programs?: ControlPlanePrograms; missing: string[] } {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const cache = realToolsCacheDir(env);
  const found: Partial<ControlPlanePrograms> = {};
  const missing: string[] = [];
  for (const [key, name] of Object.entries(PROGRAMS) as [keyof ControlPlanePrograms, string][]) {
    const candidates = [...dirs.map((d) => path.join(d, name)), path.join(cache, name === 'etcd' ? 'etcd-3.6/etcd' : name)];
    const hit = candidates.find((c) => existsSync(c) && executable(c));
    if (hit) found[key] = realpathSync(hit);
    else missing.push(name);
  }
  return missing.length === 0 ? { programs: found as ControlPlanePrograms, missing } : { missing };
}

/**
 * Which API a lab runs on, with the programs found once: `requested`, or real when its programs are there (and
 * `embeddedOnly` does not hold). `real` asked for without its programs is a UserError naming the command.
 */
export function chooseLabApi(requested: 'real' | 'embedded' | undefined, env: Record<string, string | undefined>, embeddedOnly = false): { api: 'real' | 'embedded'; programs?: ControlPlanePrograms } {
  if (requested === 'embedded' || (requested === undefined && embeddedOnly)) return { api: 'embedded' };
  const found = locateControlPlanePrograms(env).programs;
  if (found) return { api: 'real', programs: found };
  if (requested === 'real') return { api: 'real', programs: findControlPlanePrograms(env) };
  return { api: 'embedded' };
}

/** Like locateControlPlanePrograms, but a missing program is the operator's to fix: a UserError naming the command. */
export function findControlPlanePrograms(env: Record<string, string | undefined> = process.env): ControlPlanePrograms {
  const r = locateControlPlanePrograms(env);
  if (r.programs) return r.programs;
  throw new UserError(`the real control plane's programs are missing: ${r.missing.join(', ')} (not on PATH, not in ${realToolsCacheDir(env)})`, {
    why: '--api real runs the real kube-apiserver, kube-controller-manager, kube-scheduler and etcd on loopback',
    fix: REAL_TOOLS_FIX,
    exitCode: 2,
  });
}

/**
 * The real control plane configured as groundwork configures a cluster's (src/bootstrap/security.ts): Pod Security
 * from the spec's levels, the audit policy with its retention, Secrets encrypted at rest (a fresh secretbox key in
 * the control plane's 0600 files), so a rehearsal's security suite meets what setup would build.
 */
export async function hardenedAsGroundworkConfigures(security?: SecuritySpec): Promise<Partial<RealControlPlaneOptions>> {
  const { buildAdmissionConfiguration, buildAuditPolicy, auditRetentionArgs, buildEncryptionConfiguration } = await import('../../bootstrap/security.js');
  const sec = security ?? (await import('../../spec/schema.js')).SecuritySpec.parse({});
  const retention = Object.entries(auditRetentionArgs(sec)).map(([k, v]) => `--${k}=${v}`);
  return {
    admissionConfiguration: buildAdmissionConfiguration(sec),
    ...(sec.audit === false ? {} : { auditPolicy: buildAuditPolicy() }),
    files: { 'encryption.yaml': YAML.stringify(buildEncryptionConfiguration(randomBytes(32).toString('base64'))) },
    apiServerArgs: ['--encryption-provider-config={files}/encryption.yaml', ...retention],
  };
}

/** Pod Security as Talos configures it (its default machine config's admissionControl). */
export function talosPodSecurityAdmission(): Record<string, unknown> {
  return {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [
      {
        name: 'PodSecurity',
        configuration: {
          apiVersion: 'pod-security.admission.config.k8s.io/v1',
          kind: 'PodSecurityConfiguration',
          defaults: { enforce: 'baseline', 'enforce-version': 'latest', audit: 'restricted', 'audit-version': 'latest', warn: 'restricted', 'warn-version': 'latest' },
          exemptions: { usernames: [], runtimeClasses: [], namespaces: ['kube-system'] },
        },
      },
    ],
  };
}

/** A kubeconfig for the real control plane: cluster `real`, context `<name>@real`. */
export function kubeconfigYaml(server: string, caPem: string, user: KubeconfigUser, name: string): string {
  return buildKubeconfig({ server, caPem, user, cluster: 'real', userName: name, context: `${name}@real` });
}

interface Proc {
  name: string;
  service: Service;
  log: string;
}

/** GET over TLS; resolves the status code (0 on a connection error). */
export function tlsGet(url: string, opts: https.RequestOptions): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ...opts, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function waitUntil(what: string, p: Proc, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!p.service.running) throw new Error(`${p.name} exited before ${what}:\n${p.log}`);
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${p.name}: not ${what} within ${timeoutMs} ms:\n${p.log}`);
}

export async function startRealControlPlane(o: RealControlPlaneOptions = {}): Promise<RealControlPlane> {
  const programs = o.programs ?? findControlPlanePrograms();
  const podSecurity = o.podSecurity ?? 'talos';
  const serviceCIDR = o.serviceCIDR ?? '10.96.0.0/12';
  const readyTimeoutMs = o.readyTimeoutMs ?? 60_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-control-plane-'));
  // The dir holds the cluster's CA key and admin credentials: recorded before anything is written in it, so a
  // killed caller's next run removes it (its processes are recorded as they start).
  const dirRecord = o.record?.sink.add(`${o.record.what}: its PKI and data ${dir}`, { dirs: [dir] });
  const pki = path.join(dir, 'pki');
  mkdirSync(pki, { mode: 0o700 });
  const filesDir = path.join(dir, 'files');
  mkdirSync(filesDir, { mode: 0o700 });
  for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(path.join(filesDir, name), text, { mode: 0o600 });
  const expand = (args: readonly string[] = []) => args.map((a) => a.replaceAll('{files}', filesDir));
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = (await findFreePorts(5)) as [number, number, number, number, number];
  const server = `https://127.0.0.1:${apiPort}`;
  const netns = o.netns;
  const clusterServer = netns ? `https://${netns.address}:${apiPort}` : server;
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.service.stop();
    rmSync(dir, { recursive: true, force: true });
    if (dirRecord !== undefined) o.record!.sink.clear(dirRecord);
  };
  const start = async (name: string, argv: string[], inNetns = netns !== undefined): Promise<Proc> => {
    // nsenter --net (not ip netns exec, which remounts /sys) execs the program: the pid and its group stay the program's.
    if (inNetns && netns) argv = ['/usr/bin/nsenter', `--net=/run/netns/${netns.name}`, ...argv];
    const p: Proc = { name, service: undefined as unknown as Service, log: '' };
    // Only what the programs need: no KUBECONFIG, ETCD_* or proxy settings from the caller's environment.
    p.service = await spawnService(argv, {
      env: { PATH: '/usr/bin:/bin', HOME: dir },
      replaceEnv: true,
      ...(o.record ? { record: { sink: o.record.sink, what: `${o.record.what}: ${name}` } } : {}),
      onLine: (line) => {
        p.log = `${p.log}${line}\n`.slice(-6000);
        o.onLine?.(name, line);
      },
    });
    procs.push(p);
    return p;
  };

  try {
    if (netns) {
      // host 127.0.0.1:P -> unix socket -> 127.0.0.1:P inside the netns, for every port the host side uses.
      for (const port of [etcdClient, apiPort, kcmPort, schedPort]) {
        const sock = path.join(dir, `fwd-${port}.sock`);
        await start(`forward-${port}-netns`, ['/usr/bin/socat', `UNIX-LISTEN:${sock},fork,mode=600`, `TCP:127.0.0.1:${port}`], true);
        await start(`forward-${port}-host`, ['/usr/bin/socat', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`], false);
      }
    }
    // etcd first: the slowest to be ready; plain http on loopback.
    const etcdUrl = o.etcdUrl ?? `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = o.etcdUrl
      ? undefined
      : await start('etcd', [
          programs.etcd, '--name=cp', `--data-dir=${path.join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=cp=${peerUrl}`,
          '--log-level=warn', '--unsafe-no-fsync',
        ]);

    const ca = await createCa('groundwork-control-plane-ca');
    const [serving, admin, kcm, sched, kubeletClient, sa] = await Promise.all([
      issueCertificate(ca, { commonName: 'kube-apiserver', hosts: ['127.0.0.1', 'localhost', 'kubernetes.default.svc', ...(netns ? [netns.address, '10.96.0.1'] : [])], usage: 'server' }),
      issueCertificate(ca, { commonName: 'groundwork-admin', organizations: ['system:masters'], usage: 'client' }),
      // Its controllers run under its own identity (no --use-service-account-credentials: a token per controller
      // first costs seconds at start), so it needs more than the system:kube-controller-manager role grants.
      issueCertificate(ca, { commonName: 'system:kube-controller-manager', organizations: ['system:masters'], usage: 'client' }),
      issueCertificate(ca, { commonName: 'system:kube-scheduler', usage: 'client' }),
      issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' }),
      createKeyPairPem(),
    ]);
    const file = (name: string, text: string) => {
      const f = path.join(pki, name);
      writeFileSync(f, text, { mode: 0o600 });
      return f;
    };
    const caFile = file('ca.crt', ca.certPem);
    const kubeconfigFor = (name: string, c: { certPem: string; keyPem: string }) =>
      file(`${name}.kubeconfig`, kubeconfigYaml(server, ca.certPem, { certPem: c.certPem, keyPem: c.keyPem }, name));
    const adminKubeconfig = kubeconfigFor('admin', admin);
    const kcmKubeconfig = kubeconfigFor('controller-manager', kcm);
    const schedKubeconfig = kubeconfigFor('scheduler', sched);
    const saKey = file('sa.key', sa.privateKeyPem);
    const saPub = file('sa.pub', sa.publicKeyPem);
    const admissionArgs: string[] = [];
    if (o.admissionConfiguration) admissionArgs.push(`--admission-control-config-file=${file('admission.yaml', YAML.stringify(o.admissionConfiguration))}`);
    else if (podSecurity === 'talos') admissionArgs.push(`--admission-control-config-file=${file('admission.yaml', YAML.stringify(talosPodSecurityAdmission()))}`);
    const auditLog = o.auditPolicy ? path.join(dir, 'logs', 'audit.log') : undefined;
    if (auditLog) {
      mkdirSync(path.dirname(auditLog), { mode: 0o700 });
      admissionArgs.push(`--audit-policy-file=${file('audit-policy.yaml', YAML.stringify(o.auditPolicy))}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json');
    }
    if (o.anonymousAuth !== undefined) admissionArgs.push(`--anonymous-auth=${o.anonymousAuth}`);

    if (etcd) await waitUntil('healthy', etcd, async () => {
      try {
        const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(1000) });
        return ((await res.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    }, readyTimeoutMs);

    const apiserver = await start('kube-apiserver', [
      programs.apiserver,
      `--etcd-servers=${etcdUrl}`,
      ...(netns
        ? ['--bind-address=0.0.0.0', `--advertise-address=${netns.address}`]
        : ['--bind-address=127.0.0.1', `--advertise-address=${o.advertiseAddress ?? '127.0.0.1'}`]),
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${file('apiserver.crt', serving.certPem)}`, `--tls-private-key-file=${file('apiserver.key', serving.keyPem)}`,
      `--client-ca-file=${caFile}`,
      `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${serviceCIDR}`,
      '--authorization-mode=Node,RBAC', '--allow-privileged=true',
      // Kubelets (the lab's) on their InternalIP, their serving certificates checked against our CA.
      `--kubelet-client-certificate=${file('kubelet-client.crt', kubeletClient.certPem)}`,
      `--kubelet-client-key=${file('kubelet-client.key', kubeletClient.keyPem)}`,
      // The lab's kubelet API has a serving certificate from our CA; a real kubelet's is self-signed.
      ...(netns ? [] : [`--kubelet-certificate-authority=${caFile}`]),
      '--kubelet-preferred-address-types=InternalIP',
      // A loopback advertise address is refused by the endpoint reconciler: then no endpoints at all.
      ...(o.advertiseAddress || netns ? [] : ['--endpoint-reconciler-type=none']),
      ...admissionArgs,
      '--profiling=false', '--v=0',
      ...expand(o.apiServerArgs),
    ]);
    const adminTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    await waitUntil('ready (/readyz)', apiserver, async () => (await tlsGet(`${server}/readyz`, adminTls)) === 200, readyTimeoutMs);

    const pids: RealControlPlane['pids'] = { ...(etcd ? { etcd: etcd.service.pid } : {}), apiserver: apiserver.service.pid };
    if (o.controllers !== false) {
      const controllerManager = await start('kube-controller-manager', [
        programs.controllerManager,
        `--kubeconfig=${kcmKubeconfig}`, `--authentication-kubeconfig=${kcmKubeconfig}`, `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--cert-dir=${path.join(dir, 'kcm-certs')}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${saKey}`, `--root-ca-file=${caFile}`,
        '--profiling=false', '--v=0',
        ...expand(o.controllerManagerArgs),
      ]);
      const scheduler = await start('kube-scheduler', [
        programs.scheduler,
        `--kubeconfig=${schedKubeconfig}`, `--authentication-kubeconfig=${schedKubeconfig}`, `--authorization-kubeconfig=${schedKubeconfig}`,
        '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
        '--leader-elect=false', '--profiling=false', '--v=0',
      ]);
      pids.controllerManager = controllerManager.service.pid;
      pids.scheduler = scheduler.service.pid;
      // Serving /healthz means each has connected and started its loops (its own serving certificate is self-signed).
      const healthy = (port: number) => async () => (await tlsGet(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false })) === 200;
      await Promise.all([
        waitUntil('healthy', controllerManager, healthy(kcmPort), readyTimeoutMs),
        waitUntil('healthy', scheduler, healthy(schedPort), readyTimeoutMs),
      ]);
      // Until the `default` ServiceAccount exists the API server refuses pods in that namespace.
      const url = `${server}/api/v1/namespaces/default/serviceaccounts/default`;
      await waitUntil('serving the default ServiceAccount', controllerManager, async () => (await tlsGet(url, adminTls)) === 200, readyTimeoutMs);
    }
    return {
      server,
      clusterServer,
      ...(auditLog ? { auditLog } : {}),
      kubeconfig: adminKubeconfig,
      caPem: ca.certPem,
      ca,
      etcdUrl,
      dir,
      podSecurity,
      serviceCIDR,
      pids,
      file,
      logs: () => procs.map((p) => `--- ${p.name}\n${p.log.slice(-2000)}`).join('\n'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
