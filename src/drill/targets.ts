/**
 * Drill targets and how to reach their etcd: the argv of every etcdctl call, locally or through ssh on a kubeadm
 * control plane. Pure: argv arrays, never shell strings. Certificate and key paths go into argv; file contents never do.
 */
import path from 'node:path';
import { buildSshArgv, endpointForNode, sshDestination, type SshEndpoint } from '../net/ssh-argv.js';

export type DrillTarget =
  | { kind: 'endpoints'; endpoints: string[]; cacert?: string; cert?: string; key?: string }
  /** A kubeadm control plane over ssh: etcdctl runs there (as root) with the node's etcd client certs. */
  | { kind: 'kubeadm'; ssh: SshEndpoint }
  /** A Talos node: the snapshot comes from `talosctl etcd snapshot`; there is no key listing. */
  | { kind: 'talos'; node: string; talosconfig?: string }
  /** An existing backup file: restore-test it (no source to compare with). */
  | { kind: 'snapshot'; file: string }
  /** The lab's etcd (plain http on loopback). */
  | { kind: 'lab'; endpoints: string[] };

/** kubeadm's stacked etcd: where its client certificates live on every control-plane node. */
export const KUBEADM_ETCD = {
  endpoint: 'https://127.0.0.1:2379',
  cacert: '/etc/kubernetes/pki/etcd/ca.crt',
  cert: '/etc/kubernetes/pki/etcd/healthcheck-client.crt',
  key: '/etc/kubernetes/pki/etcd/healthcheck-client.key',
} as const;

export function describeTarget(t: DrillTarget): string {
  switch (t.kind) {
    case 'endpoints':
      return `etcd ${t.endpoints[0]}`;
    case 'lab':
      return `lab etcd ${t.endpoints[0]}`;
    case 'kubeadm':
      return `kubeadm node ${sshDestination(t.ssh)}`;
    case 'talos':
      return `talos node ${t.node}`;
    case 'snapshot':
      return `snapshot file ${path.basename(t.file)}`;
  }
}

export { shellQuote } from '../net/ssh-argv.js';

/**
 * How to run etcdctl against the source: a function from etcdctl arguments to the full argv. etcdctl takes
 * exactly one endpoint for snapshot save, and counts and hashes must come from the member the snapshot came
 * from, so every call uses the first endpoint.
 */
/**
 * etcdctl waits this long for a connection: an endpoint that does not answer fails in seconds, not after grpc's
 * retries (etcdctl's own default is 2s; a loaded member over an ssh tunnel deserves a little more).
 */
export const ETCD_DIAL_TIMEOUT = '--dial-timeout=5s';

export function sourceEtcdctl(t: DrillTarget, etcdctl = 'etcdctl'): ((args: string[]) => string[]) | undefined {
  switch (t.kind) {
    case 'endpoints': {
      const tls = [
        ...(t.cacert ? [`--cacert=${t.cacert}`] : []),
        ...(t.cert ? [`--cert=${t.cert}`] : []),
        ...(t.key ? [`--key=${t.key}`] : []),
      ];
      return (args) => [etcdctl, `--endpoints=${t.endpoints[0]}`, ETCD_DIAL_TIMEOUT, ...tls, ...args];
    }
    case 'lab':
      return (args) => [etcdctl, `--endpoints=${t.endpoints[0]}`, ETCD_DIAL_TIMEOUT, ...args];
    case 'kubeadm':
      return (args) => buildSshArgv(t.ssh, [...kubeadmEtcdctl(), ...args], { asRoot: true });
    default:
      return undefined;
  }
}

/**
 * The remote words that run etcdctl on a kubeadm control plane with the node's etcd client certificates (the
 * ssh builder puts `sudo -n --` in front for a non-root user; `env` because sudo refuses VAR=value by default).
 */
export function kubeadmEtcdctl(): string[] {
  return [
    'env',
    'ETCDCTL_API=3',
    'etcdctl',
    `--endpoints=${KUBEADM_ETCD.endpoint}`,
    `--cacert=${KUBEADM_ETCD.cacert}`,
    `--cert=${KUBEADM_ETCD.cert}`,
    `--key=${KUBEADM_ETCD.key}`,
  ];
}

/** etcdctl argv for the throw-away member (plain http on loopback). */
export function memberEtcdctl(clientUrl: string, etcdctl = 'etcdctl'): string[] {
  return [etcdctl, `--endpoints=${clientUrl}`];
}

/** Where a kubeadm snapshot is written on the node before it is copied back (and removed). */
export function remoteSnapshotPath(drillId: string): string {
  return `/var/lib/etcd-drill-${drillId}.db`;
}

/**
 * Environment overrides for every etcd and etcdctl we run: an operator's ETCD_* / ETCDCTL_* variables would
 * otherwise silently redirect a call or make the throw-away member listen somewhere else.
 */
export function scrubEtcdEnv(env: Record<string, string | undefined>): Record<string, undefined> {
  const out: Record<string, undefined> = {};
  for (const k of Object.keys(env)) if (/^ETCD(CTL)?_/.test(k)) out[k] = undefined;
  return out;
}

/**
 * The drill target a cluster spec implies (for the `drill` stage of `setup`): the first control plane, over ssh
 * with the spec's user, key and port for kubeadm, or through talosctl for Talos. Pure.
 */
export function drillTargetFromSpec(spec: import('../spec/schema.js').Spec, opts: { talosconfig?: string } = {}): DrillTarget {
  const cp = spec.spec.nodes.find((n) => n.role === 'control-plane');
  if (!cp) throw new Error('a spec without a control-plane node has no etcd to drill');
  if (spec.spec.bootstrap.method === 'talos') return { kind: 'talos', node: cp.address, ...(opts.talosconfig ? { talosconfig: opts.talosconfig } : {}) };
  return { kind: 'kubeadm', ssh: endpointForNode(spec, cp) };
}
