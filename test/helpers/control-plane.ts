/**
 * A real Kubernetes control plane on loopback for tests (a thin wrapper over src/lab/real/control-plane.ts): etcd 3.6, kube-apiserver, kube-controller-manager and
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
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import {
  kubeconfigYaml,
  startRealControlPlane,
  tlsGet,
  type PodSecurityProfile,
  type RealControlPlane,
  type RealControlPlaneOptions,
} from '../../src/lab/real/control-plane.js';
import { issueCertificate } from '../../src/lab/server/certs.js';
import { realTool } from './real-tools.js';

export type { PodSecurityProfile };

/** The launcher's options (src/lab/real/control-plane.ts) minus the programs, which come from real-tools.ts. */
export interface ControlPlaneOptions extends Omit<RealControlPlaneOptions, 'programs'> {
  /** How Pod Security admission is configured (default 'talos'). */
  podSecurity?: PodSecurityProfile;
  /** Start kube-controller-manager and kube-scheduler too (default true). */
  controllers?: boolean;
  /** How long to wait for each program to become ready (default 60 s). */
  readyTimeoutMs?: number;
  /** More kube-apiserver flags, appended last; `{dir}` is the directory `files` are written into. */
  extraApiServerArgs?: string[];
}

export interface ControlPlane extends RealControlPlane {
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
}

export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const programs = {
    etcd: realTool('etcd-3.6/etcd'),
    apiserver: realTool('kube-apiserver'),
    controllerManager: realTool('kube-controller-manager'),
    scheduler: realTool('kube-scheduler'),
  };
  const kubectlBin = realTool('kubectl');
  const { extraApiServerArgs, ...rest } = o;
  const apiServerArgs = [...(o.apiServerArgs ?? []), ...(extraApiServerArgs ?? []).map((a) => a.replaceAll('{dir}', '{files}'))];
  const cp = await startRealControlPlane({ ...rest, apiServerArgs, programs });
  const readyTimeoutMs = o.readyTimeoutMs ?? 60_000;
  const admin = adminTls(cp.kubeconfig);
  const kubectl: ControlPlane['kubectl'] = (args, opts = {}) =>
    new Promise((resolve) => {
      const child = spawn(kubectlBin, ['--kubeconfig', opts.kubeconfig ?? cp.kubeconfig, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { PATH: '/usr/bin:/bin', HOME: cp.dir },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(opts.input ?? '');
    });
  const waitForDefaultServiceAccount = async (namespace: string) => {
    const url = `${cp.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/default`;
    const deadline = Date.now() + readyTimeoutMs;
    while (Date.now() < deadline) {
      if ((await tlsGet(url, admin)) === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not serving ${namespace}/default ServiceAccount within ${readyTimeoutMs} ms:\n${cp.logs()}`);
  };
  return {
    ...cp,
    kubectl,
    waitForDefaultServiceAccount,
    applyServerSide: (objects, extraArgs = []) =>
      kubectl(['apply', '--server-side', '--field-manager=groundwork', ...extraArgs, '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) }),
    async serviceAccountKubeconfig(namespace, name) {
      const r = await kubectl(['-n', namespace, 'create', 'token', name, '--duration=1h']);
      if (r.code !== 0) throw new Error(`kubectl create token ${namespace}/${name}: ${r.stderr}`);
      return cp.file(`sa-${namespace}-${name}.kubeconfig`, kubeconfigYaml(cp.server, cp.caPem, { token: r.stdout.trim() }, `${namespace}-${name}`));
    },
    async clientKubeconfig(commonName, organizations = [], at = cp.server) {
      const c = await issueCertificate(cp.ca, { commonName, organizations, usage: 'client' });
      const name = `client-${commonName.replace(/[^A-Za-z0-9.-]/g, '_')}`;
      return cp.file(`${name}.kubeconfig`, kubeconfigYaml(at, cp.caPem, { certPem: c.certPem, keyPem: c.keyPem }, name));
    },
  };
}

/** The admin kubeconfig's TLS material (for the readiness GETs above). */
function adminTls(kubeconfig: string): { ca: string; cert: string; key: string } {
  const doc = YAML.parse(readFileSync(kubeconfig, 'utf8')) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
  const b = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
  return { ca: b(doc.clusters[0]!.cluster['certificate-authority-data']), cert: b(doc.users[0]!.user['client-certificate-data']), key: b(doc.users[0]!.user['client-key-data']) };
}
