/**
 * Every process a drill runs, phase by phase: the one place each argv is written. A run calls these with real
 * values, `groundwork plan` with placeholders in <angle brackets>, so what the plan shows is what runs. Pure.
 */
import { buildScpDownloadArgv, buildSshArgv, needsSudo, rawShell } from '../net/ssh-argv.js';
import { buildMemberArgv, buildRestoreArgv, type MemberAddress } from './member.js';
import { kubeadmEtcdctl, memberEtcdctl, remoteSnapshotPath, sourceEtcdctl, type DrillTarget } from './targets.js';

export const SENTINEL_KEY = '/groundwork/drill-sentinel';

export interface DrillTools {
  etcd: string;
  etcdctl: string;
  etcdutl: string;
  talosctl: string;
}

/** etcdctl arguments to a full argv (locally, or over ssh on a kubeadm node). */
export type Etcdctl = (args: string[]) => string[];

/** A revision, or its placeholder in a plan. */
type Rev = number | string;

interface DrillArgv {
  /** How to reach the source's etcd; undefined for a snapshot file or a Talos node (no key listing). */
  source?: Etcdctl;
  /** The member the drill boots, by its client URL. */
  member(clientUrl: string): Etcdctl;
  inventory: {
    sentinelPut(value: string): string[];
    status(): string[];
  };
  snapshot: {
    /** The commands that leave the snapshot at `file`, in order (one, or ssh + chown + scp for kubeadm). */
    save(file: string, drillId: string): string[][];
    /** kubeadm: removes the copy left on the node, whatever happened. */
    removeRemote(drillId: string): string[] | undefined;
  };
  /**
   * Every key (at a revision, when given), streamed: one read, never pages. `seconds` replaces etcdctl's 5 s
   * command timeout, which a listing or a hash of a large database outlasts.
   */
  listKeys(etcdctl: Etcdctl, revision: Rev | undefined, seconds: Rev): string[];
  hashKv(etcdctl: Etcdctl, revision: Rev, seconds: Rev): string[];
  /** One probe per tool: etcdutl's restore help says it exists and whether it can bump the revision. */
  probe: { etcdutl: string[]; etcdctl: string[]; etcd: string[] };
  integrity: { status(bin: string, file: string): string[] };
  restore(a: { tool: 'etcdutl' | 'etcdctl'; bin: string; snapshot: string; dataDir: string; member: MemberAddress; skipHashCheck?: boolean; bumpRevision?: boolean }): string[];
  boot(dataDir: string, member: MemberAddress): string[];
  verify: { sentinelGet(m: Etcdctl): string[] };
  teardown: { sentinelDel(): string[] };
}

/** etcdctl snapshot save on the node (as root), chown to the ssh user when that is not root, scp back. */
export function kubeadmSnapshotArgvs(ep: import('../net/ssh-argv.js').SshEndpoint, remote: string, local: string): string[][] {
  return [
    buildSshArgv(ep, [...kubeadmEtcdctl(), 'snapshot', 'save', remote], { asRoot: true }),
    ...(needsSudo(ep) ? [buildSshArgv(ep, ['chown', '--', rawShell('"$(id -u)"'), remote], { asRoot: true })] : []),
    buildScpDownloadArgv(ep, remote, local),
  ];
}

export function drillArgv(target: DrillTarget, tools: DrillTools): DrillArgv {
  const source = sourceEtcdctl(target, tools.etcdctl);
  const need = (): Etcdctl => {
    if (!source) throw new Error(`${target.kind}: no live source to run etcdctl against`);
    return source;
  };
  return {
    ...(source ? { source } : {}),
    member: (clientUrl) => (args) => [...memberEtcdctl(clientUrl, tools.etcdctl), ...args],
    inventory: {
      sentinelPut: (value) => need()(['put', '--', SENTINEL_KEY, value]),
      status: () => need()(['endpoint', 'status', '-w', 'json']),
    },
    snapshot: {
      save(file, drillId) {
        switch (target.kind) {
          case 'endpoints':
          case 'lab':
            return [need()(['snapshot', 'save', file])];
          case 'talos':
            return [[tools.talosctl, ...(target.talosconfig ? [`--talosconfig=${target.talosconfig}`] : []), '-n', target.node, 'etcd', 'snapshot', file]];
          case 'kubeadm':
            return kubeadmSnapshotArgvs(target.ssh, remoteSnapshotPath(drillId), file);
          case 'snapshot':
            return [];
        }
      },
      removeRemote: (drillId) => (target.kind === 'kubeadm' ? buildSshArgv(target.ssh, ['rm', '-f', '--', remoteSnapshotPath(drillId)], { asRoot: true }) : undefined),
    },
    // --from-key "" is the whole keyspace; --rev pins it, so a source that moves on is still read as it was.
    listKeys: (etcdctl, revision, seconds) => etcdctl(['get', '--keys-only', '-w', 'json', '--from-key', ...(revision !== undefined ? [`--rev=${revision}`] : []), `--command-timeout=${seconds}s`, '--', '']),
    hashKv: (etcdctl, revision, seconds) => etcdctl(['endpoint', 'hashkv', '-w', 'json', `--rev=${revision}`, `--command-timeout=${seconds}s`]),
    probe: { etcdutl: [tools.etcdutl, 'snapshot', 'restore', '--help'], etcdctl: [tools.etcdctl, 'version'], etcd: [tools.etcd, '--version'] },
    integrity: { status: (bin, file) => [bin, 'snapshot', 'status', file, '-w', 'json'] },
    restore: (a) => buildRestoreArgv(a),
    boot: (dataDir, member) => buildMemberArgv(dataDir, member, tools.etcd),
    verify: {
      sentinelGet: (m) => m(['get', '--print-value-only', '--', SENTINEL_KEY]),
    },
    teardown: { sentinelDel: () => need()(['del', '--', SENTINEL_KEY]) },
  };
}
