/**
 * What the validate suites of one run share: the API connection, the run id, the test namespaces (created once,
 * on first use), the node list, and cleanup. Suites run concurrently; everything here is memoised promises.
 */
import { quoteForDisplay } from '../run/plan-text.js';
import { clusterKubeconfig } from '../run/cluster-kubeconfig.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { StepContext } from '../run/types.js';
import type { KubeClient, KubeObject } from '../kube/index.js';
import { buildNamespace, RUN_LABEL, type BuildContext } from './objects.js';
import { explainNoNode, listSettledNodes, SETTLE_WAIT_MS, type NodeInfo } from './nodes.js';
import { fixForNoNode } from './pod-state.js';
import type { StepOutcome } from '../run/types.js';
import type { SecurityOptions } from './security/expectations.js';

export const SUITES = ['control-plane', 'connectivity', 'dns', 'netpol', 'scheduling', 'storage', 'security'] as const;
export type SuiteName = (typeof SUITES)[number];

export interface ValidateOptions {
  kubeconfig?: string;
  context?: string;
  /** Only these suites (default all). */
  only?: SuiteName[];
  /** Leave the test namespaces behind for inspection. */
  keep?: boolean;
  /**
   * The cluster lives only as long as this run (the lab of a rehearsal): its namespaces go with it, so they are
   * not written down for the next run to sweep.
   */
  throwAwayCluster?: boolean;
  /** Image registry mirror for the probe image ('' = registry.k8s.io). */
  imageRegistry?: string;
  /** How long a suite waits for the cluster (pods running, claims bound), seconds. Default 120. */
  timeoutS?: number;
  /** Cross-node peers each client probes before sampling (full matrix up to maxPeers + 1 nodes). Default 8. */
  maxPeers?: number;
  clusterDomain?: string;
  /** Node names the spec lists (when validating against a spec): each must be in the cluster. */
  specNodes?: string[];
  env?: Record<string, string | undefined>;
  /** What the security suite expects (from the spec: method, privileged namespaces, waivers) and where the audit log is. */
  security?: SecurityOptions;
  /** A connection to use instead of loading the kubeconfig (tests). */
  kube?: KubeClient;
}

export class ValidateSession {
  readonly opts: ValidateOptions;
  private kubeP?: Promise<KubeClient>;
  private readonly namespaces = new Map<string, Promise<string>>();
  private nodesP?: Promise<NodeInfo[]>;
  private runIdValue?: string;
  private runKubeconfig?: string;
  /** leftovers.json ids of the namespaces, forgotten once each is gone. */
  private readonly recorded = new Map<string, string>();
  /** Namespaces created in this run (for cleanup and the report). */
  readonly created: string[] = [];
  /** Objects made outside the namespaces (none today; PVs are the provisioner's and go with their claims). */
  keptNote?: string;

  constructor(opts: ValidateOptions) {
    this.opts = opts;
  }

  get timeoutMs(): number {
    return (this.opts.timeoutS ?? 120) * 1000;
  }

  /**
   * Inside setup/rehearse the kubeconfig is only known at run time: the run's (values.kubeconfig, rehearse's lab),
   * else the one bootstrap writes (run/cluster-kubeconfig.ts) if it exists, else $KUBECONFIG / ~/.kube/config.
   */
  bindContext(ctx: StepContext): void {
    if (this.opts.kube || this.opts.kubeconfig || this.runKubeconfig) return;
    const k = clusterKubeconfig(ctx);
    this.runKubeconfig = k.stored || existsSync(k.path) ? k.path : undefined;
  }

  kube(): Promise<KubeClient> {
    if (!this.kubeP) {
      this.kubeP = this.opts.kube
        ? Promise.resolve(this.opts.kube)
        : import('../kube/index.js').then((k) => k.loadKubeConfig(this.opts.kubeconfig ?? this.runKubeconfig, this.opts.context, { env: this.opts.env }));
      // A failed load is reported by every suite that needs it; let a later call retry rather than cache the error.
      this.kubeP.catch(() => (this.kubeP = undefined));
    }
    return this.kubeP;
  }

  /** Closes a connection this session opened itself (never loads one just to close it). */
  async close(): Promise<void> {
    if (this.opts.kube || !this.kubeP) return;
    (await this.kubeP.catch(() => undefined))?.close();
    this.kubeP = undefined;
  }

  /** Writes the namespace down before it exists, so a run that cannot finish its cleanup leaves it to the next run. */
  private record(ctx: StepContext, name: string): void {
    if (this.opts.keep || this.opts.throwAwayCluster || !ctx.leftovers || this.recorded.has(name)) return;
    const kubeconfig = this.opts.kubeconfig ?? this.runKubeconfig ?? this.opts.env?.KUBECONFIG;
    this.recorded.set(
      name,
      ctx.leftovers.add(`the validate test namespace ${name}`, { namespace: { name, ...(kubeconfig ? { kubeconfig: path.resolve(kubeconfig) } : {}), ...(this.opts.context ? { context: this.opts.context } : {}) } }),
    );
  }

  /** Namespace-safe run id derived from the run directory (…/runs/<id>). */
  runId(ctx: StepContext): string {
    if (!this.runIdValue) {
      const base = path.basename(ctx.runDir).toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
      this.runIdValue = (base || Math.random().toString(16).slice(2, 10)).slice(0, 36);
    }
    return this.runIdValue;
  }

  namespaceName(ctx: StepContext, suffix = ''): string {
    return `groundwork-validate-${this.runId(ctx)}${suffix ? `-${suffix}` : ''}`;
  }

  buildContext(ctx: StepContext, namespace: string): BuildContext {
    return { namespace, runId: this.runId(ctx), registry: this.opts.imageRegistry ?? '' };
  }

  /** The test namespace (created on first use). `suffix` gives a suite its own, e.g. for a default-deny policy. */
  namespace(ctx: StepContext, suffix = ''): Promise<string> {
    const name = this.namespaceName(ctx, suffix);
    let p = this.namespaces.get(name);
    if (!p) {
      p = (async () => {
        const kube = await this.kube();
        const { createNamespace } = await import('../kube/index.js');
        // Record before the call: if the create reaches the server but the answer is lost, cleanup still tries.
        this.created.push(name);
        this.record(ctx, name);
        const ns = buildNamespace(name, this.runId(ctx));
        await createNamespace(kube, name, ns.metadata.labels ?? {}, { signal: ctx.signal, reuse: true });
        ctx.log(`created namespace ${name}`);
        return name;
      })();
      p.catch(() => this.namespaces.delete(name));
      this.namespaces.set(name, p);
    }
    return p;
  }

  /**
   * When no node takes a test pod, the finding belongs to one suite: control-plane when nodes are NotReady (it
   * fails naming them), scheduling otherwise (cordons and taints). The other suites could not test anything: they
   * say "not tested" with the same cause (skip), so only the suite that owns the cause fails. Undefined when some
   * node takes pods, or when the owner is not part of this run (--only): then the suite fails itself, so a broken
   * cluster never passes.
   */
  blocked(suite: SuiteName, nodes: NodeInfo[], what: string, extra: { detail?: string; fix?: string; evidence?: Record<string, unknown> } = {}): StepOutcome | undefined {
    const cause = explainNoNode(nodes);
    if (!cause) return undefined;
    const owner: SuiteName = nodes.some((n) => !n.ready) ? 'control-plane' : 'scheduling';
    if (owner === suite || !(this.opts.only ?? SUITES).includes(owner)) return undefined;
    return {
      status: 'skip',
      summary: `not tested: ${cause}`,
      why: `no test pod can run, so ${what} cannot be tested; the ${owner} result is the finding`,
      ...(extra.detail ? { detail: extra.detail } : {}),
      ...(extra.fix ? { fix: extra.fix } : {}),
      evidence: { finding: 'scheduling', owner, ...extra.evidence },
    };
  }

  /**
   * The outcome of a suite no node takes a test pod for: "not tested" when another suite owns the cause
   * (`blocked`), else this suite's failure naming the cause and its fix.
   */
  noTestNode(suite: SuiteName, nodes: NodeInfo[], what: string, why = `no test pod can run, so ${what} cannot be tested`): StepOutcome {
    const fix = fixForNoNode(nodes);
    return this.blocked(suite, nodes, what, { fix }) ?? { status: 'fail', summary: explainNoNode(nodes)!, why, fix, evidence: { finding: 'scheduling' } };
  }

  /**
   * The nodes every suite judges, read once: after Ready nodes have lost the taints the node lifecycle controller
   * takes off them (nodes that just joined), 30 s at most, so no suite plans on a view the controller is rewriting.
   */
  nodes(ctx: StepContext): Promise<NodeInfo[]> {
    if (!this.nodesP) {
      this.nodesP = this.kube().then((k) => listSettledNodes(k, { timeoutMs: Math.min(SETTLE_WAIT_MS, this.timeoutMs), signal: ctx.signal, log: (l) => ctx.log(l) }));
      this.nodesP.catch(() => (this.nodesP = undefined));
    }
    return this.nodesP;
  }

  /**
   * Deletes every namespace of this run (found by label, so a namespace whose create answer was lost goes too)
   * and waits until they and the volumes provisioned for their claims are gone. With --keep, says what stays.
   */
  async cleanup(ctx: StepContext): Promise<CleanupResult> {
    if (!this.runIdValue && this.created.length === 0) return { deleted: [], kept: [], leftovers: [] };
    let kube: KubeClient;
    try {
      kube = await this.kube();
    } catch {
      return { deleted: [], kept: [], leftovers: [] };
    }
    const k = await import('../kube/index.js');
    const runId = this.runId(ctx);
    // The client already retried 429/503 within its budget; what still fails becomes a command for the operator.
    let listed = true;
    const found = await kube
      .list('v1', 'Namespace', { labelSelector: `${RUN_LABEL}=${runId}` })
      .then((l) => l.items.map((n) => n.metadata.name!))
      .catch((err: Error) => {
        listed = false;
        ctx.log(`cleanup could not list the test namespaces: ${err.message}`);
        return [] as string[];
      });
    const all = [...new Set([...found, ...this.created])];
    if (this.opts.keep) {
      ctx.log(`--keep: leaving ${all.join(', ') || 'nothing'} in place; delete with: ${this.kubectl()} delete namespace -l ${RUN_LABEL}=${runId}`);
      return { deleted: [], kept: all, leftovers: [] };
    }
    // A refused delete (a role without `delete namespaces`, an API that kept answering 503) is a leftover with the
    // reason and a command that finishes it, not a crash of cleanup.
    const failed = new Map<string, string>();
    await Promise.all(
      all.map((ns) =>
        k.deleteNamespace(kube, ns, { wait: false }).catch((err: Error) => {
          failed.set(ns, err.message);
          ctx.log(`cleanup could not delete namespace ${ns}: ${err.message}`);
        }),
      ),
    );
    const stuck: string[] = [];
    for (const ns of all) {
      if (failed.has(ns)) continue;
      try {
        await k.waitGone(kube, 'v1', 'Namespace', ns, undefined, { timeoutMs: Math.max(60_000, this.timeoutMs) });
        const id = this.recorded.get(ns);
        if (id) ctx.leftovers?.clear(id);
        this.recorded.delete(ns);
      } catch {
        stuck.push(ns);
      }
    }
    const leftovers = [...all.filter((ns) => failed.has(ns)).map((ns) => `namespace ${ns} (${failed.get(ns)})`), ...stuck.map((ns) => `namespace ${ns}`)];
    // Volumes bound to our claims: with reclaimPolicy Delete they go once the claims are gone.
    // Only for namespaces that are gone: a namespace still there keeps its claims, and its volumes with it.
    const gone = all.filter((ns) => !failed.has(ns) && !stuck.includes(ns));
    const ours = (pv: KubeObject) => gone.includes(((pv.spec as { claimRef?: { namespace?: string } }).claimRef?.namespace) ?? '');
    const pvLeft: string[] = [];
    if (gone.length) {
      try {
        await k.waitFor(kube, 'v1', 'PersistentVolume', { timeoutMs: 60_000, what: 'volumes of the test claims to be released', resyncMs: 1000 }, (pvs) =>
          [...pvs.values()].some((pv) => ours(pv) && (pv.spec as { persistentVolumeReclaimPolicy?: string }).persistentVolumeReclaimPolicy !== 'Retain') ? undefined : true,
        );
      } catch (err) {
        if (err instanceof k.WaitTimeout) for (const pv of err.last.values()) if (ours(pv)) pvLeft.push(pv.metadata.name!);
      }
    }
    leftovers.push(...pvLeft.map((pv) => `persistentvolume ${pv}`));
    const commands: string[] = [];
    const nsLeft = [...all.filter((ns) => failed.has(ns)), ...stuck];
    if (nsLeft.length) commands.push(`${this.kubectl()} delete namespace ${nsLeft.join(' ')}`);
    // A namespace whose create answer was lost and that the list could not find: only the label finds it.
    if (!listed) commands.push(`${this.kubectl()} delete namespace -l ${RUN_LABEL}=${runId}`);
    if (pvLeft.length) commands.push(`${this.kubectl()} delete persistentvolume ${pvLeft.join(' ')}`);
    ctx.log(leftovers.length || !listed ? `cleanup left: ${leftovers.join(', ') || 'namespaces it could not list'}; finish with: ${commands.join(' && ')}` : `deleted ${all.join(', ') || 'nothing'}`);
    return { deleted: gone, kept: [], leftovers, ...(commands.length ? { commands } : {}) };
  }

  /** kubectl with the connection this run used, so a printed command acts on the same cluster. */
  private kubectl(): string {
    const file = this.opts.kubeconfig ?? this.runKubeconfig;
    return ['kubectl', ...(file ? ['--kubeconfig', quoteForDisplay(file)] : []), ...(this.opts.context ? ['--context', quoteForDisplay(this.opts.context)] : [])].join(' ');
  }
}

interface CleanupResult {
  deleted: string[];
  kept: string[];
  leftovers: string[];
  /** The exact commands that finish a cleanup that could not complete. */
  commands?: string[];
}
