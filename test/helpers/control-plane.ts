/**
 * A real Kubernetes control plane on loopback for tests: etcd 3.6, kube-apiserver, kube-controller-manager and
 * kube-scheduler, the programs `npm run real-tools` builds (through ./real-tools.ts, which records their use).
 *
 *   const cp = await startControlPlane({ podSecurity: 'talos' });   // in beforeAll; one per test file
 *   cp.kubeconfig                 // admin kubeconfig (client certificate in system:masters), 0600
 *   cp.kubectl(['get', 'ns'])     // the real kubectl against it
 *   cp.applyServerSide([obj])     // kubectl apply --server-side of groundwork's objects
 *   await cp.serviceAccountKubeconfig('ns', 'sa')   // a kubeconfig holding a bound token of that account
 *   await cp.stop()               // in afterAll: every process group stopped by pid, temp dirs removed
 *
 * What it is like:
 * - Every listener is on 127.0.0.1 on a free port; state lives in one temp dir (certificates, keys, etcd data,
 *   the logs of each program: `cp.logs()` returns their tails for a failure message).
 * - Throw-away PKI from src/lab/server/certs.ts (@peculiar/x509, ECDSA P-256): one CA, the API server's serving
 *   certificate for 127.0.0.1/localhost, client certificates for the admin (O=system:masters), the controller
 *   manager (system:kube-controller-manager, also in system:masters: its controllers run under its own identity)
 *   and the scheduler (system:kube-scheduler); an ECDSA key pair signs
 *   service-account tokens (TokenRequest works, `kubectl create token`).
 * - Authorization Node,RBAC like kubeadm and Talos; privileged containers allowed (--allow-privileged).
 * - Pod Security admission: `podSecurity: 'talos'` (the default) configures it as Talos does: enforce
 *   `baseline`, audit and warn `restricted`, kube-system exempt. `'kubeadm'` leaves kube-apiserver's own default,
 *   `privileged` everywhere, as a default kubeadm cluster has.
 * - No nodes and no kubelet: the controller manager still creates ReplicaSets and pods (and records FailedCreate
 *   events when admission refuses them); the scheduler records FailedScheduling for pods with nowhere to go.
 * - Start takes a few seconds (etcd first, then the API server; the controller manager and the scheduler start
 *   as soon as it answers /readyz). Share one per test file (beforeAll/afterAll); objects a test creates are
 *   its own to clean up, or it uses its own namespace.
 */
import { freePorts } from './ports.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import YAML from 'yaml';
import { createCa, createKeyPairPem, issueCertificate } from '../../src/lab/server/certs.js';
import { realTool } from './real-tools.js';

export type PodSecurityProfile = 'talos' | 'kubeadm';

export interface ControlPlaneOptions {
  /** How Pod Security admission is configured (default 'talos'). */
  podSecurity?: PodSecurityProfile;
  /** Start kube-controller-manager and kube-scheduler too (default true). */
  controllers?: boolean;
  /** How long to wait for each program to become ready (default 60 s). */
  readyTimeoutMs?: number;
  /**
   * Run every program inside this existing network namespace (a real-node fabric, test/helpers/real-node.ts), the
   * API server also listening on `address` (in its serving certificate, advertised: the `kubernetes` Service gets
   * that endpoint) and reaching kubelets with its own client certificate. Each port is forwarded to the same port on
   * host loopback (socat over a unix socket), so `server`, `kubeconfig` and `kubectl` work from the host as before.
   */
  netns?: { name: string; address: string };
  /** An AdmissionConfiguration of the caller's (e.g. groundwork's generated one): replaces the podSecurity profile's file. */
  admissionConfiguration?: Record<string, unknown>;
  /** An audit policy (audit.k8s.io/v1 Policy): written to a file and passed as --audit-policy-file, the log at `auditLog`. */
  auditPolicy?: Record<string, unknown>;
  /** --anonymous-auth (kube-apiserver's default: true). */
  anonymousAuth?: boolean;
  /** Files written into the control plane's dir before kube-apiserver starts ({name: text}); `{dir}` in extraApiServerArgs is that dir. */
  files?: Record<string, string>;
  /** More kube-apiserver flags, appended last (`{dir}` is replaced by the control plane's dir). */
  extraApiServerArgs?: string[];
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Where nodes and pods reach the API server: https://<netns address>:<port> with `netns`, else `server`. */
  clusterServer: string;
  /** The admin kubeconfig (client certificate in system:masters), mode 0600. */
  kubeconfig: string;
  /** The CA that signed the serving certificate, PEM. */
  caPem: string;
  /** The temp dir holding everything (removed by stop). */
  dir: string;
  podSecurity: PodSecurityProfile;
  /** The audit log file, when started with an auditPolicy. */
  auditLog?: string;
  pids: { etcd: number; apiserver: number; controllerManager?: number; scheduler?: number };
  /** Runs the real kubectl against the control plane (admin unless `kubeconfig` is given); never throws. */
  kubectl(args: string[], opts?: { kubeconfig?: string; input?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `kubectl apply --server-side --field-manager=groundwork` of the objects as one List (admin); never throws. */
  applyServerSide(objects: readonly object[], extraArgs?: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /**
   * Waits until the namespace's `default` ServiceAccount exists: the controller manager creates it a moment after
   * the namespace, and until then the API server refuses pods there ("error looking up service account").
   */
  waitForDefaultServiceAccount(namespace: string): Promise<void>;
  /** A kubeconfig whose user is the ServiceAccount `namespace/name` (a bound token, 1 h), mode 0600. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /**
   * A kubeconfig holding a client certificate for `commonName` in `organizations`, signed by the cluster CA, mode
   * 0600: a kubelet is `system:node:<name>` in `system:nodes` (what the Node authorizer and NodeRestriction expect),
   * kube-proxy is `system:kube-proxy` (bound to system:node-proxier by the API server's bootstrap RBAC).
   */
  clientKubeconfig(commonName: string, organizations?: string[], server?: string): Promise<string>;
  /** The tail of each program's log, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
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

function kubeconfigYaml(server: string, caPem: string, user: Record<string, string>, name: string): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'real', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name, user }],
    contexts: [{ name: `${name}@real`, context: { cluster: 'real', user: name } }],
    'current-context': `${name}@real`,
  });
}

interface Proc {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

function startProc(name: string, bin: string, args: string[], logFile: string, netns?: string): Proc {
  // Only what the programs need: no KUBECONFIG, ETCD_* or proxy settings from the caller's environment.
  const env = { PATH: '/usr/bin:/bin', HOME: path.dirname(logFile) };
  // nsenter --net (not ip netns exec, which remounts /sys) execs the program: the pid and its group stay the program's.
  if (netns) [bin, args] = ['/usr/bin/nsenter', [`--net=/run/netns/${netns}`, bin, ...args]];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env, detached: true });
  const p: Proc = { name, child, log: '', exited: new Promise((r) => child.once('exit', () => r())) };
  const keep = (c: Buffer) => {
    p.log = (p.log + c.toString()).slice(-6000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  void p.exited.then(() => writeFileSync(logFile, p.log));
  return p;
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  try {
    process.kill(-p.child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 5000);
  await p.exited;
  clearTimeout(t);
}

/** GET over TLS with a client certificate; resolves the status code (0 on a connection error). */
function tlsGet(url: string, ca: string, cert: string, key: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, cert, key, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ code: 0, body: '' }));
    req.on('timeout', () => req.destroy());
  });
}

async function waitUntil(what: string, p: Proc, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode} before ${what}:\n${p.log}`);
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${p.name}: not ${what} within ${timeoutMs} ms:\n${p.log}`);
}

export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const podSecurity = o.podSecurity ?? 'talos';
  const readyTimeoutMs = o.readyTimeoutMs ?? 60_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-control-plane-'));
  const pki = path.join(dir, 'pki');
  mkdirSync(pki, { mode: 0o700 });
  mkdirSync(path.join(dir, 'logs'));
  const bins = {
    etcd: realTool('etcd-3.6/etcd'),
    apiserver: realTool('kube-apiserver'),
    controllerManager: realTool('kube-controller-manager'),
    scheduler: realTool('kube-scheduler'),
    kubectl: realTool('kubectl'),
  };
  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort] = await freePorts(5);
  const server = `https://127.0.0.1:${apiPort}`;
  const netns = o.netns?.name;
  const clusterServer = o.netns ? `https://${o.netns.address}:${apiPort}` : server;
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await stopProc(p);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    if (o.netns) {
      // host 127.0.0.1:P -> unix socket -> 127.0.0.1:P inside the netns, for every port the host side uses.
      for (const port of [etcdClient, apiPort, kcmPort, schedPort]) {
        const sock = path.join(dir, `fwd-${port}.sock`);
        procs.push(startProc(`forward-${port}-netns`, '/usr/bin/socat', [`UNIX-LISTEN:${sock},fork,mode=600`, `TCP:127.0.0.1:${port}`], path.join(dir, 'logs', `forward-${port}-netns.log`), netns));
        procs.push(startProc(`forward-${port}-host`, '/usr/bin/socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`], path.join(dir, 'logs', `forward-${port}-host.log`)));
      }
    }
    // etcd first: it is the slowest dependency to be ready and needs no certificates (plain http on loopback).
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    const etcd = startProc('etcd', bins.etcd, [
      '--name=cp', `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=cp=${peerUrl}`,
      '--log-level=warn', '--unsafe-no-fsync',
    ], path.join(dir, 'logs', 'etcd.log'), netns);
    procs.push(etcd);

    const ca = await createCa('groundwork-test-ca');
    const [serving, admin, kcm, sched, sa, kubeletClient] = await Promise.all([
      issueCertificate(ca, { commonName: 'kube-apiserver', hosts: ['127.0.0.1', 'localhost', 'kubernetes.default.svc', ...(o.netns ? [o.netns.address, '10.96.0.1'] : [])], usage: 'server' }),
      issueCertificate(ca, { commonName: 'groundwork-admin', organizations: ['system:masters'], usage: 'client' }),
      // Its controllers run under its own identity (no --use-service-account-credentials: a token per controller
      // first costs seconds at start), so it needs more than the system:kube-controller-manager role grants.
      issueCertificate(ca, { commonName: 'system:kube-controller-manager', organizations: ['system:masters'], usage: 'client' }),
      issueCertificate(ca, { commonName: 'system:kube-scheduler', usage: 'client' }),
      createKeyPairPem(),
      issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' }),
    ]);
    const file = (name: string, text: string) => {
      const f = path.join(pki, name);
      writeFileSync(f, text, { mode: 0o600 });
      return f;
    };
    const caFile = file('ca.crt', ca.certPem);
    const kubeconfigFor = (name: string, c: { certPem: string; keyPem: string }) =>
      file(`${name}.kubeconfig`, kubeconfigYaml(server, ca.certPem, { 'client-certificate-data': Buffer.from(c.certPem).toString('base64'), 'client-key-data': Buffer.from(c.keyPem).toString('base64') }, name));
    const adminKubeconfig = kubeconfigFor('admin', admin);
    const kcmKubeconfig = kubeconfigFor('controller-manager', kcm);
    const schedKubeconfig = kubeconfigFor('scheduler', sched);
    const saKey = file('sa.key', sa.privateKeyPem);
    const saPub = file('sa.pub', sa.publicKeyPem);
    const admissionArgs: string[] = [];
    if (o.admissionConfiguration) admissionArgs.push(`--admission-control-config-file=${file('admission.yaml', YAML.stringify(o.admissionConfiguration))}`);
    else if (podSecurity === 'talos') admissionArgs.push(`--admission-control-config-file=${file('admission.yaml', YAML.stringify(talosPodSecurityAdmission()))}`);
    const auditLog = o.auditPolicy ? path.join(dir, 'logs', 'audit.log') : undefined;
    if (o.auditPolicy) admissionArgs.push(`--audit-policy-file=${file('audit-policy.yaml', YAML.stringify(o.auditPolicy))}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json');
    if (o.anonymousAuth !== undefined) admissionArgs.push(`--anonymous-auth=${o.anonymousAuth}`);
    for (const [name, text] of Object.entries(o.files ?? {})) writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    admissionArgs.push(...(o.extraApiServerArgs ?? []).map((a) => a.replaceAll('{dir}', dir)));

    await waitUntil('healthy', etcd, async () => {
      try {
        const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(1000) });
        return ((await res.json()) as { health?: string }).health === 'true';
      } catch {
        return false;
      }
    }, readyTimeoutMs);

    // In a netns: on all its addresses (lo and the fabric), advertising the fabric one, and a client certificate
    // for kubelets (logs, exec). On host loopback: loopback only, and it must never dial a node address.
    const placement = o.netns
      ? ['--bind-address=0.0.0.0', `--advertise-address=${o.netns.address}`,
          `--kubelet-client-certificate=${file('apiserver-kubelet-client.crt', kubeletClient.certPem)}`,
          `--kubelet-client-key=${file('apiserver-kubelet-client.key', kubeletClient.keyPem)}`,
          // The node's InternalIP on the fabric, never its hostname (which nothing resolves).
          '--kubelet-preferred-address-types=InternalIP']
      // A loopback advertise address is refused by the endpoint reconciler; nothing in-cluster needs the endpoints.
      : ['--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', '--endpoint-reconciler-type=none'];
    const apiserver = startProc('kube-apiserver', bins.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      ...placement, `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${file('apiserver.crt', serving.certPem)}`, `--tls-private-key-file=${file('apiserver.key', serving.keyPem)}`,
      `--client-ca-file=${caFile}`,
      `--service-account-key-file=${saPub}`, `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.96.0.0/12',
      '--authorization-mode=Node,RBAC', '--allow-privileged=true',
      ...admissionArgs,
      '--profiling=false', '--v=0',
    ], path.join(dir, 'logs', 'kube-apiserver.log'), netns);
    procs.push(apiserver);
    await waitUntil('ready (/readyz)', apiserver, async () => (await tlsGet(`${server}/readyz`, ca.certPem, admin.certPem, admin.keyPem)).code === 200, readyTimeoutMs);

    const pids: ControlPlane['pids'] = { etcd: etcd.child.pid!, apiserver: apiserver.child.pid! };
    if (o.controllers !== false) {
      const controllerManager = startProc('kube-controller-manager', bins.controllerManager, [
        `--kubeconfig=${kcmKubeconfig}`, `--authentication-kubeconfig=${kcmKubeconfig}`, `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, `--cert-dir=${path.join(dir, 'kcm-certs')}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${saKey}`, `--root-ca-file=${caFile}`,
        '--profiling=false', '--v=0',
      ], path.join(dir, 'logs', 'kube-controller-manager.log'), netns);
      procs.push(controllerManager);
      const scheduler = startProc('kube-scheduler', bins.scheduler, [
        `--kubeconfig=${schedKubeconfig}`, `--authentication-kubeconfig=${schedKubeconfig}`, `--authorization-kubeconfig=${schedKubeconfig}`,
        '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, `--cert-dir=${path.join(dir, 'scheduler-certs')}`,
        '--leader-elect=false', '--profiling=false', '--v=0',
      ], path.join(dir, 'logs', 'kube-scheduler.log'), netns);
      procs.push(scheduler);
      pids.controllerManager = controllerManager.child.pid!;
      pids.scheduler = scheduler.child.pid!;
      // Serving /healthz means each has connected and started its loops (its own serving certificate is self-signed).
      const healthy = (port: number) => async () => {
        const r = await new Promise<number>((resolve) => {
          const req = https.get(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', () => resolve(0));
          req.on('timeout', () => req.destroy());
        });
        return r === 200;
      };
      await Promise.all([
        waitUntil('healthy', controllerManager, healthy(kcmPort), readyTimeoutMs),
        waitUntil('healthy', scheduler, healthy(schedPort), readyTimeoutMs),
      ]);
    }
    const waitForDefaultServiceAccount = async (namespace: string) => {
      const url = `${server}/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/default`;
      await waitUntil(`serving ${namespace}/default ServiceAccount`, procs[procs.length - 1]!, async () => (await tlsGet(url, ca.certPem, admin.certPem, admin.keyPem)).code === 200, readyTimeoutMs);
    };
    if (o.controllers !== false) await waitForDefaultServiceAccount('default');

    const kubectl: ControlPlane['kubectl'] = (args, opts = {}) =>
      new Promise((resolve) => {
        const child = spawn(bins.kubectl, ['--kubeconfig', opts.kubeconfig ?? adminKubeconfig, ...args], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: { PATH: '/usr/bin:/bin', HOME: dir },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.end(opts.input ?? '');
      });

    return {
      server,
      clusterServer,
      kubeconfig: adminKubeconfig,
      caPem: ca.certPem,
      dir,
      podSecurity,
      ...(auditLog ? { auditLog } : {}),
      pids,
      kubectl,
      waitForDefaultServiceAccount,
      applyServerSide: (objects, extraArgs = []) =>
        kubectl(['apply', '--server-side', '--field-manager=groundwork', ...extraArgs, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) }),
      async serviceAccountKubeconfig(namespace, name) {
        const r = await kubectl(['-n', namespace, 'create', 'token', name, '--duration=1h']);
        if (r.code !== 0) throw new Error(`kubectl create token ${namespace}/${name}: ${r.stderr}`);
        return file(`sa-${namespace}-${name}.kubeconfig`, kubeconfigYaml(server, ca.certPem, { token: r.stdout.trim() }, `${namespace}-${name}`));
      },
      async clientKubeconfig(commonName, organizations = [], at = server) {
        const c = await issueCertificate(ca, { commonName, organizations, usage: 'client' });
        const name = `client-${commonName.replace(/[^A-Za-z0-9.-]/g, '_')}`;
        return file(`${name}.kubeconfig`, kubeconfigYaml(at, ca.certPem, { 'client-certificate-data': Buffer.from(c.certPem).toString('base64'), 'client-key-data': Buffer.from(c.keyPem).toString('base64') }, name));
      },
      logs: () => procs.map((p) => `--- ${p.name}\n${p.log.slice(-2000)}`).join('\n'),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
