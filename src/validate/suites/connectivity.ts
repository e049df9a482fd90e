/**
 * Connectivity with O(nodes) pods: a server per schedulable node behind one ClusterIP Service, and a client per
 * node whose containers each probe one target (every server's pod IP, the Service IP, the Service by name).
 * Results come from the containers' exit codes (one watch, no per-probe log reads); logs only for failures.
 */
import { formatDuration } from '../../duration.js';
import type { StepContext, StepOutcome } from '../../run/types.js';
import type { KubeObject } from '../../kube/index.js';
import { buildProbePod, buildService, ROLE_LABEL, SUITE_LABEL } from '../objects.js';
import { buildMatrix, diagnoseMatrix, DNS_CONTAINER, formatMatrix, pickTargets, SERVICE_CONTAINER, serverContainer } from '../matrix.js';
import { containerResults } from '../pod-state.js';
import { createAll, explainStuck, failedLogs, formatEvents, podIP, waitPods } from '../pods.js';
import type { ValidateSession } from '../session.js';
import { apiServiceAddresses, checkApiService } from '../checks.js';
import { podNodes } from '../nodes.js';

export const SERVER_PORT = 8080;
/**
 * Cross-node peers per client before sampling. Each probe is a container (the probe vocabulary has one probe per
 * command), and a real node runs every container of a client pod at once: 8 peers + 3 keeps a client pod near
 * 100 MB, gives a full matrix up to 9 nodes and, beyond, every node still sends to 8 and hears from 8 others.
 */
export const DEFAULT_MAX_PEERS = 8;
export const SERVICE_NAME = 'gw-servers';
/** Tries of a probe through a Service (a second apart): kube-proxy may not have its rules in place on the first. */
const SERVICE_ATTEMPTS = 3;
/** The client container that connects to the kubernetes Service (the API as pods reach it). */
export const API_CONTAINER = 'to-kubernetes-api';

export async function runConnectivity(s: ValidateSession, ctx: StepContext): Promise<StepOutcome> {
  const started = Date.now();
  const kube = await s.kube();
  const allNodes = await s.nodes(ctx);
  // Control planes are in the matrix when pods can run there (their own NoSchedule taint, tolerated as CNI agents
  // do); NotReady, cordoned or otherwise tainted nodes are named as not tested, and why.
  const { nodes, tolerations, excluded } = podNodes(allNodes);
  const skipped = excluded;
  if (nodes.length === 0) return s.noTestNode('connectivity', allNodes, 'pod networking');
  const ns = await s.namespace(ctx);
  const b = s.buildContext(ctx, ns);
  const sel = `${SUITE_LABEL}=connectivity`;

  const servers = nodes.map((n, i) =>
    buildProbePod(b, `server-${i}`, 'connectivity', [{ name: 'serve', probe: { kind: 'serve', port: SERVER_PORT } }], {
      nodeName: n.name,
      labels: { [ROLE_LABEL]: 'server' },
      restartPolicy: 'Always',
      ...(tolerations.length ? { tolerations } : {}),
    }),
  );
  const svc = await kube.create(buildService(b, SERVICE_NAME, 'connectivity', { [SUITE_LABEL]: 'connectivity', [ROLE_LABEL]: 'server' }, SERVER_PORT), ctx.signal);
  const clusterIP = (svc.spec as { clusterIP?: string }).clusterIP;
  await createAll(kube, servers, ctx.signal);
  ctx.log(`connectivity: ${servers.length} server pods created, waiting for them to run`);
  const up = await waitPods(kube, ns, servers.map((p) => p.metadata.name!), 'running', { labelSelector: `${sel},${ROLE_LABEL}=server`, timeoutMs: s.timeoutMs, signal: ctx.signal });
  if (up.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, up.stuck, ctx.signal);
    return {
      status: 'fail',
      summary: `${up.stuck.length} of ${servers.length} server pods did not start: ${ev.diagnosis.cause}`,
      detail: [...ev.pods, ...formatEvents(ev.events)].join('\n'),
      fix: ev.diagnosis.fix,
      evidence: { stuck: ev.pods, events: ev.events },
    };
  }
  const serversUpMs = Date.now() - started;
  const ips = servers.map((p) => podIP(up.pods.get(p.metadata.name!)!)!);

  // The API as pods see it: the kubernetes Service and its endpoints (kube-apiserver keeps them), probed from every client.
  const [apiSvc, apiEp, apiSlices] = await Promise.all([
    kube.get('v1', 'Service', 'kubernetes', 'default', ctx.signal),
    kube.get('v1', 'Endpoints', 'kubernetes', 'default', ctx.signal).catch(() => null),
    kube.list('discovery.k8s.io/v1', 'EndpointSlice', { namespace: 'default', labelSelector: 'kubernetes.io/service-name=kubernetes', signal: ctx.signal }).then((l) => l.items).catch(() => null),
  ]);
  // Neither readable (a role without them): the probes alone judge, rather than "no endpoints" on no evidence.
  const apiAddresses = apiEp === null && apiSlices === null ? undefined : apiServiceAddresses(apiEp ?? undefined, apiSlices ?? []);
  const apiIP = (apiSvc?.spec as { clusterIP?: string } | undefined)?.clusterIP;
  const apiPort = ((apiSvc?.spec as { ports?: { port: number }[] } | undefined)?.ports ?? [])[0]?.port ?? 443;

  const maxPeers = s.opts.maxPeers ?? DEFAULT_MAX_PEERS;
  const sampled = nodes.length - 1 > maxPeers;
  const targets = nodes.map((_, i) => pickTargets(i, nodes.length, maxPeers));
  const clients: KubeObject[] = nodes.map((n, i) =>
    buildProbePod(
      b,
      `client-${i}`,
      'connectivity',
      [
        ...targets[i]!.map((j) => ({ name: serverContainer(j), probe: { kind: 'connect' as const, host: ips[j]!, port: SERVER_PORT, timeoutS: 2 } })),
        // Through a Service: kube-proxy programs its rules a moment after the endpoints are ready, so these try again.
        ...(clusterIP && clusterIP !== 'None' ? [{ name: SERVICE_CONTAINER, probe: { kind: 'connect' as const, host: clusterIP, port: SERVER_PORT, timeoutS: 2, attempts: SERVICE_ATTEMPTS } }] : []),
        { name: DNS_CONTAINER, probe: { kind: 'connect' as const, host: SERVICE_NAME, port: SERVER_PORT, timeoutS: 2, attempts: SERVICE_ATTEMPTS } },
        ...(apiIP && apiIP !== 'None' ? [{ name: API_CONTAINER, probe: { kind: 'connect' as const, host: apiIP, port: apiPort, timeoutS: 2, attempts: SERVICE_ATTEMPTS } }] : []),
      ],
      { nodeName: n.name, labels: { [ROLE_LABEL]: 'client' }, ...(tolerations.length ? { tolerations } : {}) },
    ),
  );
  await createAll(kube, clients, ctx.signal);
  ctx.log(`connectivity: ${clients.length} client pods probing`);
  const done = await waitPods(kube, ns, clients.map((p) => p.metadata.name!), 'finished', { labelSelector: `${sel},${ROLE_LABEL}=client`, timeoutMs: s.timeoutMs, signal: ctx.signal });

  const results = new Map<number, Map<string, boolean>>();
  const failures: { pod: string; container: string }[] = [];
  clients.forEach((c, i) => {
    const pod = done.pods.get(c.metadata.name!);
    const r = pod ? containerResults(pod) : new Map<string, boolean>();
    results.set(i, r);
    for (const [name, ok] of r) if (!ok) failures.push({ pod: c.metadata.name!, container: name });
  });
  const matrix = buildMatrix(nodes.map((n) => n.name), results, sampled, { maxPeers, excluded });
  const matrixDiag = diagnoseMatrix(matrix);
  const api = checkApiService(apiSvc, apiAddresses, nodes.map((n, i) => ({ node: n.name, ok: results.get(i)?.get(API_CONTAINER) })));
  // Pod-to-pod trouble explains API trouble too: it leads; the kubernetes Service leads only on its own.
  const diag = matrixDiag.status === 'pass' && api.status === 'fail' ? { status: 'fail' as const, summary: api.summary, why: api.why, fix: api.fix } : matrixDiag;
  const pods = servers.length + clients.length;
  const evidence: Record<string, unknown> = {
    matrix,
    podsCreated: pods,
    probes: [...results.values()].reduce((a, r) => a + r.size, 0),
    serviceIP: clusterIP,
    kubernetesService: api,
    skippedNodes: skipped,
    serversUpMs,
    totalMs: Date.now() - started,
  };
  if (done.stuck.length > 0) {
    const ev = await explainStuck(kube, ns, done.stuck, ctx.signal);
    evidence.stuck = ev.pods;
    evidence.events = ev.events;
    return {
      status: 'fail',
      summary: `${done.stuck.length} of ${clients.length} client pods did not finish: ${ev.diagnosis.cause}`,
      detail: [formatMatrix(matrix), ...ev.pods, ...formatEvents(ev.events)].join('\n'),
      fix: ev.diagnosis.fix,
      evidence,
    };
  }
  if (failures.length > 0) evidence.logs = await failedLogs(kube, ns, failures, ctx.signal);
  const detail = [formatMatrix(matrix), ...((evidence.logs as string[] | undefined) ?? []).map((l) => `log ${l}`)].join('\n');
  return {
    status: diag.status,
    summary: `${diag.summary} (${pods} pods, ${formatDuration(Date.now() - started, { fixed: true })})${skipped.length ? `; not tested: ${skipped.join(', ')}` : ''}`,
    detail,
    why: diag.why,
    fix: diag.fix,
    evidence,
  };
}
