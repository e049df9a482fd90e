/**
 * DNS: CoreDNS pods healthy, and Service names resolve (short in-namespace name, fully qualified name, and a
 * name in another namespace) to the Service's ClusterIP. The probe pod runs beside a Ready CoreDNS pod so that
 * a broken network between nodes (the connectivity suite's business) does not pass for broken DNS.
 */
import type { StepContext, StepOutcome } from '../../run/types.js';
import { parseProbeLogs } from '../../probe/index.js';
import { buildProbePod, buildService } from '../objects.js';
import { containerResults, isRunning, nodeOf, statusOf } from '../pod-state.js';
import { explainStuck, formatEvents, waitPods } from '../pods.js';
import { checkCoreDns, summarizeChecks, type Check } from '../checks.js';
import type { ValidateSession } from '../session.js';
import { listSchedulableNodes } from '../nodes.js';

export async function runDns(s: ValidateSession, ctx: StepContext): Promise<StepOutcome> {
  const kube = await s.kube();
  const checks: Check[] = [];
  const corePods = (await kube.list('v1', 'Pod', { namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns', signal: ctx.signal })).items;
  const ready = corePods.filter((p) => statusOf(p).conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  const coreOk = corePods.length > 0 && ready.length === corePods.length;
  const deployments = await kube.list('apps/v1', 'Deployment', { namespace: 'kube-system', signal: ctx.signal }).then((l) => l.items).catch(() => []);
  const nodes = await s.nodes(ctx);
  // When nodes are NotReady and control-plane runs too, it names them; CoreDNS pods down on those nodes are its consequence.
  const controlPlaneRuns = (s.opts.only ?? ['control-plane']).includes('control-plane');
  checks.push(checkCoreDns(corePods, ready.length, deployments, controlPlaneRuns ? nodes.filter((n) => !n.ready).map((n) => n.name) : []));
  const dnsSvc = await kube.get('v1', 'Service', 'kube-dns', 'kube-system', ctx.signal);
  const dnsIP = (dnsSvc?.spec as { clusterIP?: string } | undefined)?.clusterIP;
  checks.push(dnsSvc ? { name: 'kube-dns service', status: 'pass', summary: `kube-dns Service at ${dnsIP}` } : { name: 'kube-dns service', status: 'fail', summary: 'no kube-dns Service in kube-system', fix: 'pods\' resolv.conf points at the kube-dns Service IP; recreate it' });

  const ns = await s.namespace(ctx);
  const b = s.buildContext(ctx, ns);
  const svc = await kube.create(buildService(b, 'gw-dns', 'dns', { 'groundwork.dev/none': 'none' }, 8080), ctx.signal);
  const svcIP = (svc.spec as { clusterIP?: string }).clusterIP;
  const domain = s.opts.clusterDomain ?? 'cluster.local';
  const names: { container: string; name: string; expect?: string }[] = [
    { container: 'short-name', name: 'gw-dns', expect: svcIP },
    { container: 'fqdn', name: `gw-dns.${ns}.svc.${domain}`, expect: svcIP },
    { container: 'other-namespace', name: 'kubernetes.default' },
  ];
  const beside = ready.map(nodeOf).find((n) => n && nodes.some((x) => x.name === n && x.ready)) ?? nodes.find((n) => n.schedulable)?.name;
  const pod = buildProbePod(b, 'dns-client', 'dns', names.map((n) => ({ name: n.container, probe: { kind: 'resolve' as const, name: n.name, timeoutS: 2 } })), beside ? { nodeName: beside } : {});
  await kube.create(pod, ctx.signal);
  const done = await waitPods(kube, ns, ['dns-client'], 'finished', { timeoutMs: s.timeoutMs, signal: ctx.signal });
  if (done.stuck.length > 0) {
    const skip = done.unschedulable.length ? s.blocked('dns', await listSchedulableNodes(kube, ctx.signal), 'name resolution') : undefined;
    if (skip) {
      checks.push({ name: 'lookups', status: 'skip', summary: skip.summary, why: skip.why });
      const out = summarizeChecks('dns', checks, (skip.evidence ?? {}) as Record<string, unknown>);
      // Nothing was tested and nothing else failed: the whole suite is "not tested".
      return out.status === 'pass' ? { ...out, status: 'skip', summary: skip.summary } : out;
    }
    const ev = await explainStuck(kube, ns, done.stuck, ctx.signal);
    checks.push({ name: 'lookups', status: 'fail', summary: `the DNS probe pod did not finish: ${ev.diagnosis.cause}`, fix: ev.diagnosis.fix });
    return summarizeChecks('dns', checks, { stuck: ev.pods, events: formatEvents(ev.events) });
  }
  const p = done.pods.get('dns-client')!;
  const results = containerResults(p);
  const lookups: { name: string; ok: boolean; ip?: string; expected?: string }[] = [];
  for (const n of names) {
    const log = await kube.podLogs(ns, 'dns-client', n.container, { signal: ctx.signal }).catch(() => '');
    const out = parseProbeLogs(log).find((o) => o.kind === 'resolve');
    const ok = results.get(n.container) === true && out?.ok === true;
    lookups.push({ name: n.name, ok: ok && (!n.expect || out?.detail === n.expect), ip: out?.detail, expected: n.expect });
  }
  const bad = lookups.filter((l) => !l.ok);
  if (bad.length === 0) checks.push({ name: 'lookups', status: 'pass', summary: `${lookups.length} names resolved (${lookups.map((l) => `${l.name} -> ${l.ip}`).join(', ')})` });
  else {
    const wrong = bad.filter((l) => l.ip && l.expected && l.ip !== l.expected && l.ip !== 'timeout');
    checks.push({
      name: 'lookups',
      status: 'fail',
      summary: wrong.length
        ? `names resolve to the wrong address: ${wrong.map((l) => `${l.name} -> ${l.ip} (expected ${l.expected})`).join(', ')}`
        : `${bad.length} of ${lookups.length} lookups failed from ${nodeOf(p) ?? 'the probe pod'}: ${bad.map((l) => `${l.name} (${l.ip ?? 'no answer'})`).join(', ')}`,
      why: coreOk ? 'CoreDNS pods are Ready but answers do not arrive: the kube-dns Service, its endpoints or a NetworkPolicy in the way' : 'CoreDNS is not serving',
      fix: coreOk ? 'kubectl -n kube-system get endpoints kube-dns; kubectl -n kube-system logs -l k8s-app=kube-dns' : 'see the coredns check above',
    });
  }
  // The coredns check names the cause; put it first when both failed.
  checks.sort((a, b) => (a.status === 'fail' && a.name === 'coredns' ? -1 : b.status === 'fail' && b.name === 'coredns' ? 1 : 0));
  return summarizeChecks('dns', checks, { lookups, probeNode: nodeOf(p), serviceIP: svcIP, running: isRunning(p) });
}
