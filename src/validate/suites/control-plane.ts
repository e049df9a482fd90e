/**
 * Control plane: the API answers (and how fast), /readyz, every node Ready, kube-system workloads available,
 * and — when groundwork installed backups — the last backup is recent. DNS workloads are the DNS suite's.
 */
import type { StepContext, StepOutcome } from '../../run/types.js';
import type { KubeObject } from '../../kube/index.js';
import type { ValidateSession } from '../session.js';
import { checkWorkloads, backupFreshness, checkSchedulable, checkSpecNodes, summarizeChecks, type Check } from '../checks.js';

export async function runControlPlane(s: ValidateSession, ctx: StepContext, now: () => Date = () => new Date()): Promise<StepOutcome> {
  const kube = await s.kube();
  const checks: Check[] = [];

  // Latency: the median of a few small requests, so one slow TLS handshake does not decide.
  // A request that met 429/503 and waited out Retry-After measures the server's back-pressure, not its latency:
  // such samples are replaced (up to 6 tries), and kept only when no clean one came.
  const samples: number[] = [];
  const retried: number[] = [];
  let version = '';
  for (let i = 0; i < 6 && samples.length < 3; i++) {
    let attempts = 1;
    const t = performance.now();
    const v = JSON.parse(await kube.raw('/version', ctx.signal, (n) => (attempts = n))) as { gitVersion?: string };
    (attempts === 1 ? samples : retried).push(performance.now() - t);
    version = v.gitVersion ?? '';
  }
  const pool = (samples.length ? samples : retried).sort((a, b) => a - b);
  const latencyMs = Math.round(pool[Math.floor((pool.length - 1) / 2)]! * 10) / 10;
  checks.push({
    name: 'api',
    status: latencyMs > 1000 ? 'warn' : 'pass',
    summary: `API ${kube.server} answers (${version}) in ${latencyMs} ms`,
    ...(latencyMs > 1000 ? { why: 'a slow API server makes every controller slow', fix: 'check the control-plane nodes\' load and etcd disk latency' } : {}),
  });

  let readyz: string;
  try {
    readyz = await kube.raw('/readyz', ctx.signal);
    checks.push({ name: 'readyz', status: readyz.trim() === 'ok' ? 'pass' : 'warn', summary: `/readyz: ${readyz.trim().slice(0, 80)}` });
  } catch (err) {
    const body = ((err as { status?: { message?: string } }).status?.message ?? (err as Error).message).slice(0, 400);
    const verbose = await kube.raw('/readyz?verbose', ctx.signal).catch(() => body);
    const failing = verbose.split('\n').filter((l) => /failed/i.test(l));
    checks.push({ name: 'readyz', status: 'fail', summary: `/readyz is not ok: ${failing.join('; ') || body}`, why: 'the API server says it is not ready to serve', fix: 'check kube-apiserver and etcd logs on the control-plane nodes' });
  }

  // The session's view: read once Ready nodes have lost the node lifecycle controller's taints (nodes just joined).
  const nodes = await s.nodes(ctx);
  const notReady = nodes.filter((n) => !n.ready);
  checks.push(
    notReady.length === 0
      ? { name: 'nodes', status: nodes.length === 0 ? 'fail' : 'pass', summary: nodes.length === 0 ? 'no nodes registered' : `${nodes.length}/${nodes.length} nodes Ready` }
      : {
          name: 'nodes',
          status: 'fail',
          summary: `${notReady.length} of ${nodes.length} nodes not Ready: ${notReady.map((n) => `${n.name} (${n.readyReason})`).join(', ')}`,
          why: 'pods on a NotReady node are not started and, after the eviction timeout, are evicted',
          fix: `check the kubelet and container runtime on ${notReady.map((n) => n.name).join(', ')} (systemctl status kubelet; journalctl -u kubelet), and its network to the API server`,
        },
  );

  checks.push(checkSchedulable(nodes));
  const spec = checkSpecNodes(s.opts.specNodes, nodes);
  if (spec) checks.push(spec);

  const [deps, dss, sts] = await Promise.all(
    ['Deployment', 'DaemonSet', 'StatefulSet'].map((kind) => kube.list('apps/v1', kind, { namespace: 'kube-system', signal: ctx.signal }).then((l) => l.items).catch(() => [] as KubeObject[])),
  );
  checks.push(checkWorkloads([...deps!, ...dss!, ...sts!]));

  const cronjobs = await kube.list('batch/v1', 'CronJob', { labelSelector: 'app.kubernetes.io/managed-by=groundwork', signal: ctx.signal }).then((l) => l.items).catch(() => [] as KubeObject[]);
  checks.push(backupFreshness(cronjobs, now()));

  return summarizeChecks('control plane', checks, { apiLatencyMs: latencyMs, version, nodes: nodes.map((n) => ({ name: n.name, ready: n.ready, reason: n.readyReason })) });
}
