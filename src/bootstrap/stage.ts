/**
 * The bootstrap stage of `groundwork setup`: playbooks/talos.yaml or playbooks/kubeadm.yaml, with the
 * TypeScript steps of steps.ts put where they belong, the generated files written into the run dir, and
 * every step wrapped so secret files are locked down and their values redacted (also in a resumed run).
 */
import { mapLimit } from '../run/map-limit.js';
import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { Secret } from '../run/secret.js';
import type { Stage, Step, StepContext } from '../run/types.js';
import type { LoadedSpec } from '../spec/load.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import { bootstrapLayout, buildBootstrapFiles, secretFiles, writeBootstrapFiles, type BootstrapLayout } from './files.js';
import { REMOTE, buildKubeadmImageList, findKubeadmSecrets, firstControlPlane } from './kubeadm.js';
import { endpointForNode, needsSudo } from '../net/ssh-argv.js';
import { KUBEADM_AUDIT_LOG, TALOS_AUDIT_LOG } from './security.js';
import { disablesKubeProxy, selectTalosConfigFormat, talosInstallerImage, talosRole, usesTalosFlannel } from './talos.js';
import {
  addSecretFileValues,
  adviseOnFailure,
  buildControlPlaneJoinStep,
  buildCopyConfigStep,
  buildCopySecurityFilesStep,
  buildFetchKubeconfigStep,
  buildKubeadmInitStep,
  buildPrepareNodeStep,
  buildNodesRegisteredStep,
  buildSshCheckNodesStep,
  buildTalosCheckNodesStep,
  buildTalosconfigStep,
  buildTalosWaitConfiguredStep,
  buildWorkerJoinStep,
  pollStep,
  removeJoinCredentials,
  type PollOptions,
} from './steps.js';

export interface BootstrapStageOptions {
  runDir: string;
  stateDir: string;
  /** Default <stateDir>/secrets. */
  secretsDir?: string;
  /**
   * Write the generated files now (a real run or --dry-run). `groundwork plan` passes false: it lists them.
   * Default: true, except for a placeholder run dir (…/runs/<run-id>) that only exists in a plan.
   */
  writeFiles?: boolean;
  /** How many nodes are checked or joined at once. Default 4. */
  parallel?: number;
  /** First retry backoff of playbook steps (tests pass 1). */
  backoffMs?: number;
  /** Where playbooks/*.yaml live (tests may pass their own). */
  playbookDir?: string;
  /** How long to wait for things that come up on their own (nodes rebooting, the API, etcd). Default 15 min, polled every 5 s. */
  waitMs?: number;
  pollIntervalMs?: number;
}

function secretAware(step: Step, files: readonly string[]): Step {
  const lockDown = async (ctx: StepContext, register: boolean) => {
    for (const f of files) {
      if (!existsSync(f)) continue;
      chmodSync(f, 0o600);
      addSecretFileValues(ctx, f);
      // Recorded in state.json so a resumed run redacts them before its first step.
      if (register) await ctx.registerSecretFile(f);
    }
  };
  // Tools here write key material (talosctl gen secrets/config, kubeconfig, scp of admin.conf): with a 077
  // creation mask every file they write is born 0600 (dirs 0700), never readable by others for a moment.
  const privately = (ctx: StepContext): StepContext => ({ ...ctx, exec: (argv, o) => ctx.exec(argv, { umask: 0o077, ...o }) });
  const wrapped: Step = {
    ...step,
    async run(outer) {
      const ctx = privately(outer);
      await lockDown(ctx, false);
      try {
        return await step.run(ctx);
      } finally {
        await lockDown(ctx, true);
        // kubeadm init's captured output holds its token and certificate key: redact each, keep none.
        const init = ctx.values.kubeadmInitOutput;
        if (init instanceof Secret) {
          for (const s of findKubeadmSecrets(init.reveal())) ctx.redactor.add(s);
          delete ctx.values.kubeadmInitOutput;
        }
      }
    },
  };
  if (step.done) {
    const done = step.done;
    wrapped.done = async (outer) => {
      const ctx = privately(outer);
      await lockDown(ctx, false);
      return done(ctx);
    };
  }
  return wrapped;
}

/**
 * The exactly-once probe runs inside run(), so that finding the effect already there is a skip with a clear
 * summary in the report ("bootstrapped before; not repeated"), not the engine's generic "already done".
 */
function probeInRun(step: Step, message: string): Step {
  if (!step.done) return step;
  const done = step.done;
  const { done: _omit, ...rest } = step;
  return {
    ...rest,
    async run(ctx) {
      if (await done(ctx)) {
        ctx.log(message);
        return { status: 'skip', summary: message };
      }
      return step.run(ctx);
    },
  };
}

function playbookVars(spec: Spec, layout: BootstrapLayout): Record<string, unknown> {
  const cps = spec.spec.nodes.filter((n) => n.role === 'control-plane');
  return {
    runDir: layout.runDir,
    secretsDir: layout.secretsDir,
    files: {
      kubeconfig: layout.kubeconfig,
      talosSecrets: layout.talos.secrets,
      talosConfigDir: layout.talos.configDir,
      controlPlaneConfig: layout.talos.controlPlaneConfig,
      workerConfig: layout.talos.workerConfig,
      talosconfig: layout.talos.talosconfig,
      clusterPatch: layout.talos.clusterPatch,
      kubeadmConfig: layout.kubeadm.config,
    },
    talos: {
      installImage: talosInstallerImage(spec.spec.bootstrap.talos.version),
      controlPlaneAddresses: cps.map((n) => n.address).join(','),
      nodes: spec.spec.nodes.map((n) => ({
        ...n,
        configFile: talosRole(n) === 'controlplane' ? layout.talos.controlPlaneConfig : layout.talos.workerConfig,
        patchFile: layout.talos.nodePatch(n.name),
      })),
    },
    kubeadm: { nodes: spec.spec.nodes, first: firstControlPlane(spec) },
  };
}

function defaultPlaybookDir(): string {
  // src/bootstrap/stage.ts and dist/bootstrap/stage.js both sit two levels below the package root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'playbooks');
}

const nodesByName = new WeakMap<Spec, Map<string, NodeSpec>>();
/** The node a per-node step id (`apply-config:cp-1`) is for; one index per spec, so plans stay linear in nodes. */
function byNode(spec: Spec, id: string): NodeSpec | undefined {
  const name = id.split(':')[1];
  if (!name) return undefined;
  let index = nodesByName.get(spec);
  if (!index) nodesByName.set(spec, (index = new Map(spec.spec.nodes.map((n) => [n.name, n]))));
  return index.get(name);
}

/**
 * Per-node steps of a playbook run as one step, at most `parallel` nodes at a time. Each node keeps its own
 * idempotency probe, so a resumed run skips the nodes that were done and repeats none.
 */
function runNodesBounded(id: string, title: string, nodeSteps: Step[], parallel: number, note: string): Step {
  return {
    id,
    title,
    stage: 'bootstrap',
    preview: { argv: nodeSteps.flatMap((s) => s.preview?.argv ?? []), note: `at most ${parallel} nodes at a time; ${note}` },
    async run(ctx) {
      let skipped = 0;
      const failures: UserError[] = [];
      await mapLimit(nodeSteps, parallel, async (s) => {
        try {
          if (s.done && (await s.done(ctx))) {
            skipped++;
            return;
          }
          const r = await s.run(ctx);
          if (r.status === 'fail') failures.push(new UserError(r.summary, { why: r.why, fix: r.fix }));
        } catch (e) {
          if (e instanceof UserError) failures.push(e);
          else throw e;
        }
      });
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) throw new UserError(`${failures.length} of ${nodeSteps.length} nodes failed:\n  ${failures.map((f) => `${f.message}: ${f.why ?? ''}`).join('\n  ')}`, { fix: failures[0]!.fix });
      const done = nodeSteps.length - skipped;
      return { status: 'pass', summary: `${done} node${done === 1 ? '' : 's'} done${skipped ? `, ${skipped} had it already` : ''}` };
    },
  };
}

function talosSteps(spec: Spec, layout: BootstrapLayout, pb: Step[], parallel: number, poll: PollOptions): Step[] {
  const first = firstControlPlane(spec);
  const version = spec.spec.bootstrap.talos.version;
  const out: Step[] = [];
  const applies: Step[] = [];
  const applyPlaceholder = { id: 'apply-config' } as Step;
  for (const s of pb) {
    if (s.id.startsWith('apply-config:') && !out.some((x) => x.id === 'check-nodes')) out.push(buildTalosCheckNodesStep(spec, layout, parallel));
    if (s.id === 'bootstrap') out.push(pollStep(buildTalosWaitConfiguredStep(spec, layout, parallel), poll, 'nodes rebooting into their config'), buildTalosconfigStep(spec, layout));
    if (s.id.startsWith('apply-config:')) {
      const n = byNode(spec, s.id);
      applies.push(adviseOnFailure(s, 'apply-config', n, `check that ${n?.name ?? 'the node'} is still in maintenance mode (booted from the Talos ${version} image, not yet configured) and reachable on port 50000`));
      if (applies.length === 1) out.push(applyPlaceholder);
    } else if (s.id === 'bootstrap') {
      const said = probeInRun(s, `etcd already has members on ${first.name} (${first.address}): the cluster was bootstrapped before; \`talosctl bootstrap\` is not run again`);
      out.push(adviseOnFailure(said, 'talosctl bootstrap', first, `check \`talosctl -n ${first.address} dmesg\` and \`talosctl -n ${first.address} service etcd\`; never bootstrap a second node`));
    } else if (s.id === 'gen-config') {
      out.push(adviseOnFailure(s, 'talosctl gen config', undefined, `check that talosctl understands Talos ${version} (\`talosctl version --client\`) and the patches in ${path.dirname(layout.talos.clusterPatch)}`));
    } else if (s.id === 'etcd-healthy') {
      out.push(pollStep(adviseOnFailure(s, 'the etcd health check', undefined, 'see `talosctl etcd members` and `talosctl -n ADDRESS service etcd` on each control plane'), poll, 'etcd members'));
    } else if (s.id === 'api-reachable') {
      out.push(pollStep(adviseOnFailure(s, 'waiting for the Kubernetes API', first, `check \`talosctl -n ${first.address} service kubelet\` and \`talosctl -n ${first.address} containers -k\``), poll, 'the Kubernetes API'));
    } else out.push(s);
  }
  out.push(pollStep(buildNodesRegisteredStep(spec, layout), poll, 'nodes registering'));
  const at = out.indexOf(applyPlaceholder);
  // One node at a time keeps per-node steps (and their lines in the report); more runs them as one bounded step.
  if (at >= 0) out.splice(at, 1, ...(parallel > 1 ? [runNodesBounded('apply-config', `Apply the machine configs (${applies.length} nodes)`, applies, parallel, `a node is skipped when \`talosctl --talosconfig ${layout.talos.talosconfig} --nodes ADDRESS --endpoints ADDRESS version\` succeeds (it runs our config already); timeout 2m, 2 retries per node`)] : applies));
  return out;
}

function kubeadmSteps(spec: Spec, layout: BootstrapLayout, pb: Step[], parallel: number, poll: PollOptions): Step[] {
  const first = firstControlPlane(spec);
  // The ssh/scp steps are TypeScript (steps.ts): their argv come from the one builder (src/net/ssh-argv.ts),
  // with sudo and a staged copy when the ssh user is not root, which a playbook can't say.
  const sudo = (n: NodeSpec) => (needsSudo(endpointForNode(spec, n)) ? ' with passwordless sudo' : '');
  const out: Step[] = [buildSshCheckNodesStep(spec, parallel)];
  for (const n of spec.spec.nodes) out.push(adviseOnFailure(buildPrepareNodeStep(spec, n), 'preparing the node', n, `check that ${endpointForNode(spec, n).user} may create ${REMOTE.dir} on ${n.name}${sudo(n)}`));
  for (const cp of spec.spec.nodes.filter((n) => n.role === 'control-plane')) out.push(adviseOnFailure(buildCopySecurityFilesStep(spec, layout, cp), 'copying the API server security files', cp, `check ssh/scp access to ${cp.name}${sudo(cp)}`));
  out.push(adviseOnFailure(buildCopyConfigStep(spec, layout), 'copying the kubeadm config', first, `check ssh/scp access to ${first.name}${sudo(first)}`));
  const init = probeInRun(buildKubeadmInitStep(spec), `${first.name} (${first.address}) already has /etc/kubernetes/admin.conf: kubeadm init ran before; it is not run again`);
  out.push(adviseOnFailure(init, 'kubeadm init', first, `read the kubeadm output on ${first.name} (\`journalctl -u kubelet\`), fix the cause, and run \`kubeadm reset -f\` on ${first.name} if init got part-way`));
  out.push(adviseOnFailure(buildFetchKubeconfigStep(spec, layout), 'fetching the admin kubeconfig', first, `check ssh/scp access to ${first.name}${sudo(first)}`));
  for (const s of pb) {
    if (s.id === 'api-reachable') {
      out.push(pollStep(adviseOnFailure(s, 'waiting for the Kubernetes API', first, `check \`crictl ps\` and \`journalctl -u kubelet\` on ${first.name}`), poll, 'the Kubernetes API'));
    } else out.push(s);
  }
  const others = spec.spec.nodes.filter((n) => n !== first);
  for (const cp of others.filter((n) => n.role === 'control-plane')) out.push(buildControlPlaneJoinStep(spec, layout, cp));
  const workers = others.filter((n) => n.role === 'worker');
  if (workers.length > 0) out.push(buildWorkerJoinStep(spec, layout, workers, parallel));
  out.push(pollStep(buildNodesRegisteredStep(spec, layout), poll, 'nodes registering'));
  return out;
}

function stageNotes(spec: Spec): string[] {
  const notes: string[] = [];
  const cni = spec.spec.network.cni;
  if (spec.spec.bootstrap.method === 'talos') {
    const format = selectTalosConfigFormat(spec.spec.bootstrap.talos.version);
    notes.push(`Talos ${spec.spec.bootstrap.talos.version}: ${format === 'multidoc' ? 'typed config documents (v1.14+)' : 'classic v1alpha1 machine config'}`);
    if (!usesTalosFlannel(spec)) notes.push(`Talos CNI set to none: ${cni === 'none' ? 'bring your own CNI' : `the cni stage installs ${cni}`}; nodes stay NotReady until then`);
    if (spec.spec.bootstrap.talos.vip) notes.push(`the VIP ${spec.spec.bootstrap.talos.vip} is announced from the control planes' ${format === 'multidoc' ? 'link eth0' : 'physical NIC (DHCP)'}: edit the node patches if yours differs`);
  } else {
    notes.push('bootstrap tokens live 15 minutes and travel only in 0600 files; nodes stay NotReady until the cni stage');
    // The list an air-gapped mirror must hold (`kubeadm config images list --config kubeadm.yaml` on a node says the same).
    const images = buildKubeadmImageList(spec);
    if (spec.spec.images.registry.trim() === '') notes.push(`kubeadm pulls ${images.length} images: ${images.map((i) => i.image).join(', ')}`);
    else notes.push(`kubeadm pulls ${images.length} images from the mirror, which must hold them: ${images.map((i) => `${i.image} (copy of ${i.upstream})`).join(', ')}`);
  }
  if (disablesKubeProxy(spec)) notes.push('kube-proxy is not deployed: Cilium replaces it');
  const ps = spec.spec.security.podSecurity;
  notes.push(`Pod Security: enforce ${ps.enforce}, audit ${ps.audit}, warn ${ps.warn} by default; exempt: ${ps.exemptNamespaces.join(', ') || 'none'}`);
  const audit = spec.spec.security.audit;
  if (audit === false) notes.push(spec.spec.bootstrap.method === 'talos' ? 'API audit log: spec.security.audit is false; Talos keeps its own default policy' : 'API audit log: OFF (spec.security.audit: false)');
  else if (spec.spec.bootstrap.method === 'talos') notes.push(`API audit log: ${TALOS_AUDIT_LOG} on each control plane (Talos's ephemeral partition: lost with the node; kept ${audit.maxAge} days, ${audit.maxBackups} files of ${audit.maxSize} MiB)`);
  else notes.push(`API audit log: ${KUBEADM_AUDIT_LOG} on each control plane (kept ${audit.maxAge} days, ${audit.maxBackups} files of ${audit.maxSize} MiB)`);
  return notes;
}

/** Builds the bootstrap stage for the spec's method and (unless planning) writes its generated files. */
export async function buildBootstrapStage(loaded: LoadedSpec, opts: BootstrapStageOptions): Promise<Stage> {
  const { spec } = loaded;
  const layout = bootstrapLayout(opts.runDir, opts.stateDir, opts.secretsDir);
  const files = buildBootstrapFiles(spec, layout);
  const write = opts.writeFiles ?? !opts.runDir.split(path.sep).includes('<run-id>');
  if (write) await writeBootstrapFiles(files, layout);

  const method = spec.spec.bootstrap.method;
  const { loadPlaybook, playbookSteps, specVars } = await import('../playbook/index.js');
  const pb = await loadPlaybook(path.join(opts.playbookDir ?? defaultPlaybookDir(), `${method}.yaml`));
  const steps = playbookSteps(pb, specVars(spec, playbookVars(spec, layout)), { backoffMs: opts.backoffMs });
  const parallel = Math.max(1, opts.parallel ?? 4);
  const poll: PollOptions = { intervalMs: opts.pollIntervalMs ?? 5000, deadlineMs: opts.waitMs ?? 15 * 60_000 };
  const all = method === 'talos' ? talosSteps(spec, layout, steps, parallel, poll) : kubeadmSteps(spec, layout, steps, parallel, poll);

  // The generated files show in the preview of the first step, so `plan` lists them.
  const first = all[0]!;
  all[0] = { ...first, preview: { ...first.preview, files: [...(first.preview?.files ?? []), ...files.map((f) => f.path)] } };

  const secrets = secretFiles(spec, layout);
  return {
    name: 'bootstrap',
    title: method === 'talos' ? `Bootstrap Talos ${spec.spec.bootstrap.talos.version}` : `Bootstrap Kubernetes ${spec.spec.kubernetesVersion} with kubeadm`,
    steps: all.map((s) => secretAware(s, secrets)),
    notes: stageNotes(spec),
    ...(method === 'kubeadm' ? { cleanup: (ctx: StepContext) => removeJoinCredentials(spec, layout, ctx) } : {}),
  };
}
