/**
 * The bootstrap steps a playbook can't express: checks that parse output and name nodes, list arguments,
 * and kubeadm joins whose token and certificate key must travel in 0600 files rather than argv.
 * All processes go through ctx.exec (audited, redacted).
 */
import { mapLimit } from '../run/map-limit.js';
import { clearLeftover, recordLeftover } from '../run/leftovers.js';
import { sleep } from '../run/sleep.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ToolError, UserError } from '../errors.js';
import type { ExecResult } from '../exec/index.js';
import type { Step, StepContext, StepOutcome } from '../run/types.js';
import type { NodeSpec, Spec } from '../spec/schema.js';
import type { BootstrapLayout } from './files.js';
import { renderYamlDocs } from './files.js';
import { Secret } from '../run/secret.js';
import { endpointForNode, needsSudo, sshDestination } from '../net/ssh-argv.js';
import {
  REMOTE,
  buildKubeadmInitRemote,
  buildKubeadmJoinConfig,
  buildKubeadmJoinRemote,
  buildNodeDownloadArgvs,
  buildNodeSshArgv,
  buildNodeUploadArgvs,
  buildPrepareNodeRemote,
  buildTokenCreateRemote,
  buildUploadCertsRemote,
  firstControlPlane,
  parseCertificateKey,
  parseJoinCommand,
  type JoinCredentials,
} from './kubeadm.js';
import { KUBEADM_ENCRYPTION_FILE, KUBEADM_SECURITY_DIR, buildEncryptionConfiguration, buildKubeadmSecurityFiles } from './security.js';
import { randomBytes } from 'node:crypto';
import {
  buildConfigEndpointsArgv,
  buildConfigNodesArgv,
  buildConfiguredProbeArgv,
  buildInsecureVersionArgv,
  parseServerTalosVersion,
  sameTalosMinor,
} from './talos.js';

const RESUME = 'then run `groundwork setup --yes --resume` (finished steps are not repeated)';

function lastLine(r: ExecResult): string {
  return (r.stderr || r.stdout).split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
}

function nodeLabel(n: NodeSpec): string {
  return `${n.name} (${n.address})`;
}

/** Registers the secret values of a secret file with the redactor (src/run/secret-values.ts says which). */
export function addSecretFileValues(ctx: StepContext, file: string): void {
  if (existsSync(file)) ctx.redactor.addSecretText(readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------- Talos

/** Every node answers, in maintenance mode or already configured by us, with the spec's Talos minor version. */
export function buildTalosCheckNodesStep(spec: Spec, layout: BootstrapLayout, parallel: number): Step {
  const want = spec.spec.bootstrap.talos.version;
  return {
    id: 'check-nodes',
    title: `Check that every node answers with Talos ${want}`,
    stage: 'bootstrap',
    preview: { argv: spec.spec.nodes.map(buildInsecureVersionArgv), note: `nodes that already run our config are asked with the talosconfig instead; at most ${parallel} at a time` },
    async run(ctx) {
      const problems: string[] = [];
      let maintenance = 0;
      let configured = 0;
      await mapLimit(spec.spec.nodes, parallel, async (n) => {
        const probe = buildConfiguredProbeArgv(layout.talos, n);
        const byConfig = existsSync(layout.talos.talosconfig) ? await ctx.exec(probe, { allowFailure: true, timeoutMs: 15_000 }) : undefined;
        const argv = buildInsecureVersionArgv(n);
        const r = byConfig?.exitCode === 0 ? byConfig : await ctx.exec(argv, { allowFailure: true, timeoutMs: 15_000 });
        const shown = (r === byConfig ? probe : argv).join(' ');
        if (r.exitCode !== 0) {
          problems.push(`${nodeLabel(n)} does not answer: \`${shown}\` exited ${r.exitCode}: ${lastLine(r)}`);
          return;
        }
        const got = parseServerTalosVersion(r.stdout);
        if (!got || !sameTalosMinor(got, want)) {
          problems.push(`${nodeLabel(n)} runs Talos ${got ?? '(unknown version)'}, the spec wants ${want}: \`${shown}\``);
          return;
        }
        if (r === byConfig) configured++;
        else maintenance++;
      });
      if (problems.length > 0) {
        throw new UserError(`${problems.length} of ${spec.spec.nodes.length} nodes are not ready for Talos ${want}:\n  ${problems.join('\n  ')}`, {
          why: 'machine configs can only be applied to nodes booted from the matching Talos image and reachable on port 50000 from this machine',
          fix: `boot those nodes from the Talos ${want} image (or set spec.bootstrap.talos.version to what they run) and check the address and firewall; ${RESUME}`,
        });
      }
      return { status: 'pass', summary: `${maintenance} in maintenance mode, ${configured} already configured, all on Talos ${want.replace(/\.\d+$/, '.x')}` };
    },
  };
}

/** endpoints take a list (every control plane): one argv element per address, which a placeholder can't make. */
export function buildTalosconfigStep(spec: Spec, layout: BootstrapLayout): Step {
  const argv = [buildConfigEndpointsArgv(spec, layout.talos), buildConfigNodesArgv(spec, layout.talos)];
  return {
    id: 'talosconfig',
    title: 'Point talosctl at the control planes',
    stage: 'bootstrap',
    preview: { argv },
    async run(ctx) {
      for (const a of argv) await ctx.exec(a);
      return { status: 'pass', summary: `endpoints ${argv[0]!.slice(5).join(' ')}` };
    },
  };
}

// ---------------------------------------------------------------- kubeadm

export function buildSshCheckNodesStep(spec: Spec, parallel: number): Step {
  const argvOf = (n: NodeSpec) => buildNodeSshArgv(spec, n, ['true']);
  return {
    id: 'check-nodes',
    title: 'Check that every node answers over SSH',
    stage: 'bootstrap',
    preview: { argv: spec.spec.nodes.map(argvOf), note: `at most ${parallel} at a time` },
    async run(ctx) {
      const problems: string[] = [];
      const failed: NodeSpec[] = [];
      await mapLimit(spec.spec.nodes, parallel, async (n) => {
        const r = await ctx.exec(argvOf(n), { allowFailure: true, timeoutMs: 30_000 });
        if (r.exitCode !== 0) {
          problems.push(`${nodeLabel(n)} does not answer: \`${argvOf(n).join(' ')}\` exited ${r.exitCode}: ${lastLine(r)}`);
          failed.push(n);
        }
      });
      if (problems.length > 0) {
        // Each failed node with its own user and port (a node's ssh settings override the spec's).
        const where = failed.map((n) => {
          const ep = endpointForNode(spec, n);
          return `${n.name}: ${sshDestination(ep)} port ${ep.port ?? 22}${needsSudo(ep) ? ', passwordless sudo' : ''}`;
        });
        throw new UserError(`${problems.length} of ${spec.spec.nodes.length} nodes cannot be reached over SSH:\n  ${problems.join('\n  ')}`, {
          why: 'kubeadm runs on each node through ssh with the key in spec.bootstrap.kubeadm.ssh, without prompting',
          fix: `check the address, that sshd listens on the port and that the key ${spec.spec.bootstrap.kubeadm.ssh.identityFile} is authorised for the user (${where.join('; ')}); ${RESUME}`,
        });
      }
      return { status: 'pass', summary: `${spec.spec.nodes.length} nodes answer over SSH` };
    },
  };
}

/** Runs each argv in turn; the first failure is a ToolError (adviseOnFailure says it in the operator's words). */
async function execEach(ctx: StepContext, argvs: string[][], timeoutMs: number): Promise<void> {
  for (const a of argvs) await ctx.exec(a, { timeoutMs, signal: ctx.signal });
}

/** /etc/groundwork (0700, root's) on every node: the kubeadm configs with their tokens go there. */
export function buildPrepareNodeStep(spec: Spec, n: NodeSpec): Step {
  const argv = buildNodeSshArgv(spec, n, buildPrepareNodeRemote());
  return {
    id: `prepare-node:${n.name}`,
    title: `Make ${REMOTE.dir} on ${nodeLabel(n)}`,
    stage: 'bootstrap',
    timeoutMs: 30_000,
    retries: 2,
    preview: { argv: [argv] },
    async run(ctx) {
      await execEach(ctx, [argv], 30_000);
      return { status: 'pass', summary: `${REMOTE.dir} ready on ${n.name}` };
    },
  };
}

/**
 * The files kube-apiserver reads (Pod Security admission, the audit policy) on one control plane, before kubeadm
 * init or its join starts the API server there: the ClusterConfiguration names them for every control plane.
 */
export function buildCopySecurityFilesStep(spec: Spec, layout: BootstrapLayout, n: NodeSpec): Step {
  const files = [...buildKubeadmSecurityFiles(spec).map((f) => ({ local: layout.kubeadm.apiServerFile(f.remote), remote: f.remote })), { local: layout.kubeadm.encryptionConfig, remote: KUBEADM_ENCRYPTION_FILE }];
  const argvs = [
    buildNodeSshArgv(spec, n, ['install', '-d', '-m', '0700', KUBEADM_SECURITY_DIR]),
    ...files.flatMap((f) => buildNodeUploadArgvs(spec, n, f.local, f.remote)),
  ];
  return {
    id: `copy-security:${n.name}`,
    title: `Copy the Pod Security and audit configuration to ${nodeLabel(n)}`,
    stage: 'bootstrap',
    timeoutMs: 60_000,
    retries: 2,
    preview: { argv: argvs, note: `kube-apiserver reads ${files.map((f) => f.remote).join(', ')} (mounted read-only); the Secret encryption key is generated once into ${layout.kubeadm.encryptionConfig} (0600)` },
    async run(ctx) {
      await ensureEncryptionConfig(layout, ctx);
      await execEach(ctx, argvs, 60_000);
      return { status: 'pass', summary: `${files.map((f) => f.remote).join(', ')} on ${n.name}` };
    },
  };
}

/**
 * The cluster's Secret encryption key, made once (32 random bytes) and kept: replacing it would make every Secret
 * written under it unreadable. 0600 from birth, and its value is redacted from everything.
 */
export async function ensureEncryptionConfig(layout: BootstrapLayout, ctx: StepContext): Promise<void> {
  const file = layout.kubeadm.encryptionConfig;
  if (!existsSync(file)) {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const key = randomBytes(32).toString('base64');
    ctx.redactor.add(key);
    try {
      await writeFile(file, renderYamlDocs([buildEncryptionConfiguration(key)]), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  addSecretFileValues(ctx, file);
  await ctx.registerSecretFile(file);
}

export function buildCopyConfigStep(spec: Spec, layout: BootstrapLayout): Step {
  const first = firstControlPlane(spec);
  const argvs = buildNodeUploadArgvs(spec, first, layout.kubeadm.config, REMOTE.initConfig);
  return {
    id: 'copy-config',
    title: `Copy the kubeadm config to ${first.name}`,
    stage: 'bootstrap',
    timeoutMs: 60_000,
    retries: 2,
    preview: { argv: argvs },
    async run(ctx) {
      await execEach(ctx, argvs, 60_000);
      return { status: 'pass', summary: `${REMOTE.initConfig} on ${first.name}` };
    },
  };
}

/**
 * kubeadm init, exactly once: admin.conf on the node means it ran. Its output holds the init token and the
 * certificate key: kept as a secret value (the stage redacts each and drops it).
 */
export function buildKubeadmInitStep(spec: Spec): Step {
  const first = firstControlPlane(spec);
  const argv = buildNodeSshArgv(spec, first, buildKubeadmInitRemote());
  const probe = buildNodeSshArgv(spec, first, ['test', '-f', REMOTE.adminConf]);
  return {
    id: 'init',
    title: `kubeadm init on ${first.name} (exactly once)`,
    stage: 'bootstrap',
    once: true,
    timeoutMs: 15 * 60_000,
    preview: { argv: [argv], note: `skipped when this succeeds: ${probe.join(' ')}; keeps its output as values.kubeadmInitOutput (secret)` },
    async done(ctx) {
      return (await ctx.exec(probe, { allowFailure: true, timeoutMs: 30_000, signal: ctx.signal })).exitCode === 0;
    },
    async run(ctx) {
      const r = await ctx.exec(argv, { timeoutMs: 15 * 60_000, signal: ctx.signal });
      const out = r.stdout.trim();
      ctx.redactor.add(out);
      ctx.values.kubeadmInitOutput = new Secret(out, 'kubeadmInitOutput');
      return { status: 'pass', summary: `ran ${argv.join(' ')}` };
    },
  };
}

export function buildFetchKubeconfigStep(spec: Spec, layout: BootstrapLayout): Step {
  const first = firstControlPlane(spec);
  const argvs = buildNodeDownloadArgvs(spec, first, REMOTE.adminConf, layout.kubeconfig);
  return {
    id: 'fetch-kubeconfig',
    title: 'Fetch the admin kubeconfig',
    stage: 'bootstrap',
    timeoutMs: 60_000,
    retries: 2,
    preview: { argv: argvs, files: [layout.kubeconfig], note: `skipped when ${layout.kubeconfig} exists` },
    async done() {
      return existsSync(layout.kubeconfig);
    },
    async run(ctx) {
      await mkdir(path.dirname(layout.kubeconfig), { recursive: true, mode: 0o700 });
      await execEach(ctx, argvs, 60_000);
      if (!existsSync(layout.kubeconfig)) throw new UserError(`the copy of ${REMOTE.adminConf} from ${first.name} wrote no ${layout.kubeconfig}`);
      return { status: 'pass', summary: `admin kubeconfig in ${layout.kubeconfig}` };
    },
  };
}

/** How long join credentials are reused: the token lives 15 min, the certificate key 2 h; leave a margin. */
const CREDENTIALS_FRESH_MS = 10 * 60_000;

function readCredentials(file: string, needKey: boolean, now: number): JoinCredentials | undefined {
  if (!existsSync(file) || now - statSync(file).mtimeMs > CREDENTIALS_FRESH_MS) return undefined;
  const [token, caCertHash, certificateKey] = readFileSync(file, 'utf8').split('\n');
  if (!token || !caCertHash || (needKey && !certificateKey)) return undefined;
  return { token, caCertHash, ...(certificateKey ? { certificateKey } : {}) };
}

/**
 * A fresh short-lived token (and certificate key for control planes), created on the first control plane.
 * Values are registered with the redactor before anything could print them, then kept one per line in a
 * 0600 file so a resumed run redacts them too and joins within the next minutes reuse them.
 */
export async function ensureJoinCredentials(spec: Spec, layout: BootstrapLayout, ctx: StepContext, needKey: boolean): Promise<JoinCredentials> {
  const file = layout.kubeadm.credentials;
  const cached = readCredentials(file, needKey, Date.now());
  if (cached) {
    Object.values(cached).forEach((v) => ctx.redactor.add(v));
    return cached;
  }
  const first = firstControlPlane(spec);
  const tokenOut = await ctx.exec(buildNodeSshArgv(spec, first, buildTokenCreateRemote()), { allowFailure: true, timeoutMs: 60_000 });
  const join = parseJoinCommand(tokenOut.stdout);
  if (join) [join.token, join.caCertHash].forEach((v) => ctx.redactor.add(v));
  if (tokenOut.exitCode !== 0 || !join) {
    throw new UserError(`could not create a join token on ${nodeLabel(first)}`, {
      why: `\`${buildNodeSshArgv(spec, first, buildTokenCreateRemote()).join(' ')}\` exited ${tokenOut.exitCode}: ${ctx.redactor.redact(lastLine(tokenOut))}`,
      fix: `check that kubeadm init finished on ${first.name} (\`kubectl --kubeconfig ${layout.kubeconfig} get nodes\`); ${RESUME}`,
    });
  }
  let certificateKey: string | undefined;
  if (needKey) {
    const up = await ctx.exec(buildNodeSshArgv(spec, first, buildUploadCertsRemote()), { allowFailure: true, timeoutMs: 120_000 });
    certificateKey = parseCertificateKey(up.stdout);
    if (certificateKey) ctx.redactor.add(certificateKey);
    if (up.exitCode !== 0 || !certificateKey) {
      throw new UserError(`could not upload the control-plane certificates on ${nodeLabel(first)}`, {
        why: `\`${buildNodeSshArgv(spec, first, buildUploadCertsRemote()).join(' ')}\` exited ${up.exitCode}: ${ctx.redactor.redact(lastLine(up))}`,
        fix: `check the API server on ${first.name} (\`kubectl --kubeconfig ${layout.kubeconfig} get --raw /readyz\`); ${RESUME}`,
      });
    }
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Deleted when the bootstrap stage ends (stage cleanup), or by the next run if this one is killed first.
  recordLeftover(ctx.stateDir, { id: 'join-credentials', runId: path.basename(ctx.runDir), what: `the join credentials file ${file}`, files: [file] });
  await rm(file, { force: true });
  await writeFile(file, [join.token, join.caCertHash, certificateKey ?? ''].join('\n'), { mode: 0o600, flag: 'wx' });
  await ctx.registerSecretFile(file);
  return { ...join, ...(certificateKey ? { certificateKey } : {}) };
}

/**
 * The end of the bootstrap stage, whatever happened in it: the join credentials file goes, and so does any local
 * join config (a join removes its own; this catches one an exception left).
 */
export async function removeJoinCredentials(spec: Spec, layout: BootstrapLayout, ctx: StepContext): Promise<void> {
  await rm(layout.kubeadm.credentials, { force: true });
  clearLeftover(ctx.stateDir, 'join-credentials');
  for (const n of spec.spec.nodes) await rm(layout.kubeadm.joinConfig(n.name), { force: true });
}

/** Is the node part of the cluster already? kubelet.conf appears when kubeadm init/join finished there. */
async function isJoined(spec: Spec, n: NodeSpec, ctx: StepContext): Promise<boolean> {
  const r = await ctx.exec(buildNodeSshArgv(spec, n, ['test', '-f', REMOTE.kubeletConf]), { allowFailure: true, timeoutMs: 30_000 });
  return r.exitCode === 0;
}

/** The join config holds the token (and certificate key): on the node and here, it lives only during the join. */
function joinConfigLeftover(spec: Spec, layout: BootstrapLayout, ctx: StepContext, n: NodeSpec) {
  const local = layout.kubeadm.joinConfig(n.name);
  return {
    id: `join-config:${n.name}`,
    runId: path.basename(ctx.runDir),
    what: `the join config (bootstrap token) ${REMOTE.joinConfig} on ${nodeLabel(n)} and ${local}`,
    files: [local],
    argv: buildNodeSshArgv(spec, n, ['rm', '-f', REMOTE.joinConfig]),
  };
}

async function joinNode(spec: Spec, layout: BootstrapLayout, ctx: StepContext, n: NodeSpec, creds: JoinCredentials): Promise<void> {
  const local = layout.kubeadm.joinConfig(n.name);
  const leftover = joinConfigLeftover(spec, layout, ctx, n);
  // Recorded before the file exists: a run killed from here on leaves it for the next run to sweep.
  recordLeftover(ctx.stateDir, leftover);
  await rm(local, { force: true });
  await writeFile(local, renderYamlDocs([buildKubeadmJoinConfig(spec, n, creds)]), { mode: 0o600, flag: 'wx' });
  await ctx.registerSecretFile(local);
  const steps: Array<[string, string[]]> = [
    ...buildNodeUploadArgvs(spec, n, local, REMOTE.joinConfig).map((a): [string, string[]] => ['copy the join config to', a]),
    ['kubeadm join on', buildNodeSshArgv(spec, n, buildKubeadmJoinRemote())],
  ];
  try {
    for (const [what, argv] of steps) {
      const r = await ctx.exec(argv, { allowFailure: true, timeoutMs: 15 * 60_000 });
      if (r.exitCode !== 0) {
        throw new UserError(`${what} ${nodeLabel(n)} failed`, {
          why: `\`${argv.join(' ')}\` exited ${r.exitCode}: ${ctx.redactor.redact(lastLine(r))}`,
          fix: `read the kubeadm output on ${n.name} (\`journalctl -u kubelet\`), fix the cause, run \`kubeadm reset -f\` on ${n.name} if the join got part-way; ${RESUME}`,
        });
      }
    }
  } finally {
    // The join config holds the token (and certificate key): it never stays on the node or here.
    await rm(local, { force: true });
    const r = await ctx.exec(leftover.argv, { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined);
    if (r?.exitCode === 0) clearLeftover(ctx.stateDir, leftover.id);
    else ctx.log(`could not delete ${REMOTE.joinConfig} on ${nodeLabel(n)}; the next run tries again (or: ssh ${n.address} rm -f ${REMOTE.joinConfig})`);
  }
}

function joinPreview(spec: Spec, layout: BootstrapLayout, nodes: NodeSpec[]): Step['preview'] {
  const first = firstControlPlane(spec);
  const needKey = nodes.some((n) => n.role === 'control-plane');
  return {
    argv: [
      buildNodeSshArgv(spec, first, buildTokenCreateRemote()),
      ...(needKey ? [buildNodeSshArgv(spec, first, buildUploadCertsRemote())] : []),
      ...nodes.flatMap((n) => [...buildNodeUploadArgvs(spec, n, layout.kubeadm.joinConfig(n.name), REMOTE.joinConfig), buildNodeSshArgv(spec, n, buildKubeadmJoinRemote()), buildNodeSshArgv(spec, n, ['rm', '-f', REMOTE.joinConfig])]),
    ],
    files: [layout.kubeadm.credentials, ...nodes.map((n) => layout.kubeadm.joinConfig(n.name))],
    note: 'token (15 min) and certificate key are written only to 0600 files, copied to the node, used and deleted; skipped for nodes that already have /etc/kubernetes/kubelet.conf',
  };
}

/** One control plane joins at a time: etcd grows by one member per join. */
export function buildControlPlaneJoinStep(spec: Spec, layout: BootstrapLayout, n: NodeSpec): Step {
  return {
    id: `join:${n.name}`,
    title: `Join control plane ${nodeLabel(n)}`,
    stage: 'bootstrap',
    once: true,
    preview: joinPreview(spec, layout, [n]),
    async run(ctx) {
      if (await isJoined(spec, n, ctx)) {
        const said = `${n.name} already has ${REMOTE.kubeletConf}: it joined before; not joining again`;
        ctx.log(said);
        return { status: 'skip', summary: said };
      }
      const creds = await ensureJoinCredentials(spec, layout, ctx, true);
      await joinNode(spec, layout, ctx, n, creds);
      return { status: 'pass', summary: `${n.name} joined as a control plane` };
    },
  };
}

/** Workers join in parallel (bounded); each is skipped when it already joined, so a resume repeats none. */
export function buildWorkerJoinStep(spec: Spec, layout: BootstrapLayout, workers: NodeSpec[], parallel: number): Step {
  const preview = joinPreview(spec, layout, workers)!;
  return {
    id: 'join-workers',
    title: `Join ${workers.length} worker${workers.length === 1 ? '' : 's'}`,
    stage: 'bootstrap',
    preview: { ...preview, note: `at most ${parallel} at a time; ${preview.note}` },
    async run(ctx): Promise<StepOutcome> {
      const pending: NodeSpec[] = [];
      for (const w of workers) {
        if (await isJoined(spec, w, ctx)) ctx.log(`${w.name} joined before; not joining again`);
        else pending.push(w);
      }
      if (pending.length === 0) return { status: 'skip', summary: 'every worker joined before' };
      const creds = await ensureJoinCredentials(spec, layout, ctx, false);
      const failures: UserError[] = [];
      await mapLimit(pending, parallel, async (w) => {
        try {
          await joinNode(spec, layout, ctx, w, { token: creds.token, caCertHash: creds.caCertHash });
        } catch (e) {
          if (e instanceof UserError) failures.push(e);
          else throw e;
        }
      });
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) {
        throw new UserError(`${failures.length} workers failed to join:\n  ${failures.map((f) => `${f.message}: ${f.why}`).join('\n  ')}`, { fix: failures[0]!.fix });
      }
      return { status: 'pass', summary: `${pending.length} joined${pending.length < workers.length ? `, ${workers.length - pending.length} had joined before` : ''}` };
    },
  };
}

// ---------------------------------------------------------------- both

/**
 * Staged health, last gate of bootstrap: every node registered. Not "Ready": with no CNI yet, nodes stay
 * NotReady until the CNI stage, and waiting for Ready here would hang (siderolabs/talos#7967).
 */
export function buildNodesRegisteredStep(spec: Spec, layout: BootstrapLayout): Step {
  const argv = ['kubectl', '--kubeconfig', layout.kubeconfig, 'get', 'nodes', '-o', 'name'];
  return {
    id: 'nodes-registered',
    title: `Check that all ${spec.spec.nodes.length} nodes registered (Ready comes after the CNI)`,
    stage: 'bootstrap',
    preview: { argv: [argv] },
    async run(ctx) {
      const r = await ctx.exec(argv, { timeoutMs: 30_000 });
      const names = new Set(r.stdout.split('\n').map((l) => l.trim().replace(/^node\//, '')).filter(Boolean));
      const missing = spec.spec.nodes.filter((n) => !names.has(n.name));
      if (missing.length > 0) {
        return {
          status: 'fail',
          summary: `${missing.length} of ${spec.spec.nodes.length} nodes have not registered: ${missing.map(nodeLabel).join(', ')}`,
          why: 'a node registers when its kubelet reaches the API server; until then nothing can be scheduled on it',
          fix: `look at the kubelet on those nodes (${spec.spec.bootstrap.method === 'talos' ? '`talosctl -n ADDRESS service kubelet`' : '`journalctl -u kubelet`'}); ${RESUME}`,
          evidence: { registered: [...names].sort(), missing: missing.map((n) => n.name) },
        };
      }
      return { status: 'pass', summary: `${names.size} nodes registered; they become Ready once the CNI runs` };
    },
  };
}

/** The checks kubeadm's preflight failed, from its output: `\t[ERROR Port-2379]: Port 2379 is in use`. */
export function kubeadmPreflightErrors(out: string): { name: string; line: string }[] {
  return [...out.matchAll(/^\s*(\[ERROR ([^\]\s]+)\]:.*?)\s*$/gm)].map((m) => ({ name: m[2]!, line: m[1]! }));
}

/** A ToolError from a playbook step, said in the operator's words: which node, which command, what next. */
export function adviseOnFailure(step: Step, what: string, node: NodeSpec | undefined, fix: string): Step {
  return {
    ...step,
    async run(ctx) {
      try {
        return await step.run(ctx);
      } catch (e) {
        if (!(e instanceof ToolError)) throw e;
        // kubeadm's preflight names each failed check (`[ERROR SystemVerification]: …`) above its last words.
        const checks = kubeadmPreflightErrors(e.stderrTail);
        const said = checks.length ? checks.map((c) => c.line).join('; ') : (e.stderrTail.split('\n').pop()?.trim() ?? '');
        const ignore = checks.length
          ? `; a check this node cannot pass for a reason you know (${checks.map((c) => c.name).join(', ')}): name it in spec.bootstrap.kubeadm.ignorePreflightErrors`
          : '';
        throw new UserError(`${what}${node ? ` on ${nodeLabel(node)}` : ''} failed`, {
          why: `\`${e.argv.join(' ')}\` exited ${e.exitCode ?? 'without a code'}${e.stderrTail ? `: ${ctx.redactor.redact(said)}` : ''}`,
          fix: `${fix}${ignore}; ${RESUME}`,
          cause: e,
        });
      }
    },
  };
}

/**
 * The gate bootstrap leaves out on purpose: every node Ready. It belongs after the CNI stage (a node with no
 * CNI never becomes Ready); exported for that stage to put at its end.
 */
export function buildNodesReadyStep(spec: Spec, kubeconfig: string, stage = 'cni', timeoutSeconds = 300): Step {
  const argv = ['kubectl', '--kubeconfig', kubeconfig, 'wait', '--for=condition=Ready', 'node', '--all', `--timeout=${timeoutSeconds}s`];
  return {
    id: 'nodes-ready',
    title: `Wait until all ${spec.spec.nodes.length} nodes are Ready`,
    stage,
    preview: { argv: [argv] },
    async run(ctx) {
      const r = await ctx.exec(argv, { allowFailure: true, timeoutMs: (timeoutSeconds + 30) * 1000 });
      if (r.exitCode !== 0) {
        return {
          status: 'fail',
          summary: `not every node became Ready within ${timeoutSeconds}s`,
          detail: ctx.redactor.redact(lastLine(r)),
          why: 'a node is Ready when its kubelet and the CNI on it work; pods cannot run on the others',
          fix: `see \`kubectl --kubeconfig ${kubeconfig} describe nodes\` (conditions and events) and the CNI pods in kube-system; then run \`groundwork setup --yes --resume\``,
        };
      }
      return { status: 'pass', summary: `${spec.spec.nodes.length} nodes Ready` };
    },
  };
}

export interface PollOptions {
  /** Pause between attempts. */
  intervalMs: number;
  /** Give up after this long (the last attempt's failure is the step's). */
  deadlineMs: number;
}

/**
 * Re-runs a read-only step until it passes or the deadline: things that come up on their own schedule (a node
 * rebooting into its config, the API server after bootstrap, etcd members joining) need minutes, not retries.
 */
export function pollStep(step: Step, o: PollOptions, what: string): Step {
  return {
    ...step,
    preview: { ...step.preview, note: [step.preview?.note, `repeated every ${Math.round(o.intervalMs / 1000)}s for up to ${Math.round(o.deadlineMs / 60_000)} min until it succeeds`].filter(Boolean).join('; ') },
    async run(ctx) {
      const until = Date.now() + o.deadlineMs;
      for (let attempt = 1; ; attempt++) {
        let outcome: StepOutcome | undefined;
        let error: unknown;
        try {
          outcome = await step.run(ctx);
          if (outcome.status !== 'fail') return outcome;
        } catch (e) {
          if (ctx.signal.aborted || !(e instanceof UserError || e instanceof ToolError)) throw e;
          error = e;
        }
        if (Date.now() + o.intervalMs > until) {
          if (error) throw error;
          return outcome!;
        }
        ctx.log(`${what}: not yet (attempt ${attempt}); trying again in ${Math.round(o.intervalMs / 1000)}s`);
        await sleep(o.intervalMs, ctx.signal);
        if (ctx.signal.aborted) throw error ?? new UserError(`${what}: interrupted`);
      }
    },
  };
}

/** After apply-config each node installs Talos and reboots into its config; bootstrap needs them back. */
export function buildTalosWaitConfiguredStep(spec: Spec, layout: BootstrapLayout, parallel: number): Step {
  return {
    id: 'wait-configured',
    title: 'Wait for every node to come back with its config',
    stage: 'bootstrap',
    preview: { argv: spec.spec.nodes.map((n) => buildConfiguredProbeArgv(layout.talos, n)) },
    async run(ctx) {
      const down: string[] = [];
      await mapLimit(spec.spec.nodes, parallel, async (n) => {
        const argv = buildConfiguredProbeArgv(layout.talos, n);
        const r = await ctx.exec(argv, { allowFailure: true, timeoutMs: 15_000 });
        if (r.exitCode !== 0) down.push(`${nodeLabel(n)}: \`${argv.join(' ')}\` exited ${r.exitCode}: ${lastLine(r)}`);
      });
      if (down.length > 0) {
        return {
          status: 'fail',
          summary: `${down.length} of ${spec.spec.nodes.length} nodes are not back with their config:\n  ${down.join('\n  ')}`,
          why: 'after apply-config a node installs Talos to its disk and reboots; bootstrap and joins need it running',
          fix: `watch the node's console (or \`talosctl -n ADDRESS --talosconfig ${layout.talos.talosconfig} dmesg\`): a wrong install disk is the usual cause; ${RESUME}`,
        };
      }
      return { status: 'pass', summary: `${spec.spec.nodes.length} nodes run their config` };
    },
  };
}
