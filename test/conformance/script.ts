/**
 * The conformance script: the API interactions groundwork, kubectl and well-known clients (client-go, the
 * official Python client) make, in one fixed order. Each interaction runs against a Target and returns what a
 * client reads from the answer, normalised (uids, timestamps, resourceVersions, continue tokens replaced by
 * placeholders), so that the embedded API's observation can be compared with the real kube-apiserver's.
 *
 * Interactions share state in order (a namespace, objects created earlier): run the whole list, in order.
 */
import type { Answer, Target } from './targets.js';

export interface Interaction {
  id: string;
  run(t: Target): Promise<unknown>;
}

const NS = 'conformance';
const nsPath = (rest: string) => `/api/v1/namespaces/${NS}/${rest}`;
const appsPath = (rest: string) => `/apis/apps/v1/namespaces/${NS}/${rest}`;
const batchPath = (rest: string) => `/apis/batch/v1/namespaces/${NS}/${rest}`;

const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Replaces what differs between any two servers (uids, times, resourceVersions, continue tokens). */
export function normalise(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => normalise(x));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = normalise((v as Record<string, unknown>)[k], k);
    return out;
  }
  if (typeof v === 'string') {
    if (key.endsWith('resourceVersion')) return '<rv>';
    if (key === 'continue') return v === '' ? '' : '<continue>';
    if (UID.test(v)) return '<uid>';
    if (TIME.test(v)) return '<time>';
  }
  return v;
}

function get(o: unknown, p: string): unknown {
  let cur = o;
  for (const seg of p.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** The named fields of an object (dotted paths). */
function pick(o: unknown, paths: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of paths) out[p] = get(o, p) ?? null;
  return out;
}

/** What a client reads from any answer: the code, and for a Status its reason, details and causes. */
function status(a: Answer): Record<string, unknown> {
  const b = a.body as Record<string, any> | undefined;
  if (b?.kind !== 'Status') return { code: a.status };
  const d = b.details as Record<string, any> | undefined;
  const causes = ((d?.causes ?? []) as { reason?: string; field?: string }[])
    .map((c) => ({ reason: c.reason ?? null, field: c.field ?? null }))
    .sort((x, y) => `${x.field}|${x.reason}`.localeCompare(`${y.field}|${y.reason}`));
  return {
    code: a.status,
    statusCode: b.code ?? null,
    status: b.status ?? null,
    reason: b.reason ?? null,
    details: d === undefined ? null : { name: d.name ?? null, group: d.group ?? null, kind: d.kind ?? null, causes },
  };
}

/** The code (and Status) plus named fields of the object answered. */
function answer(a: Answer, paths: string[] = []): Record<string, unknown> {
  const s = status(a);
  return a.body?.kind === 'Status' || paths.length === 0 ? s : { ...s, ...pick(a.body, paths) };
}

const names = (list: Answer) => ((list.body?.items ?? []) as { metadata: { name: string } }[]).map((i) => i.metadata.name);

async function eventually<T>(fn: () => Promise<T>, done: (t: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await fn();
  while (!done(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    last = await fn();
  }
  return last;
}

/** Managers of an object's managedFields as clients see them. */
function managed(o: any): unknown {
  return ((o?.metadata?.managedFields ?? []) as { manager: string; operation: string; subresource?: string; fieldsV1?: unknown }[])
    .map((m) => ({ manager: m.manager, operation: m.operation, subresource: m.subresource ?? null, fieldsV1: m.fieldsV1 ?? null }))
    .sort((a, b) => `${a.manager}|${a.operation}`.localeCompare(`${b.manager}|${b.operation}`));
}

const cm = (name: string, data: Record<string, string>, labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels ? { labels } : {}) },
  data,
});

const container = (extra: Record<string, unknown> = {}) => ({ name: 'c', image: 'registry.k8s.io/pause:3.10', ...extra });
const pod = (name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec: { containers: [container()], ...spec },
});
const deployment = (name: string, extra: { selector?: unknown; labels?: Record<string, string>; replicas?: number } = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas: extra.replicas ?? 1,
    selector: extra.selector ?? { matchLabels: { app: name } },
    template: { metadata: { labels: extra.labels ?? { app: name } }, spec: { containers: [container({ env: [{ name: 'A', value: '1' }] })] } },
  },
});

const apply = (t: Target, p: string, body: unknown, manager: string | undefined, extra = '') =>
  t.request('PATCH', `${p}${manager ? `?fieldManager=${manager}${extra}` : extra ? `?${extra.slice(1)}` : ''}`, { body: JSON.stringify(body), contentType: 'application/apply-patch+yaml' });

/** kubectl's answer with names and ages out of the way: code, stdout lines, the first stderr line. */
function kubectlOut(r: { code: number; stdout: string; stderr: string }): Record<string, unknown> {
  const err = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('Warning:'));
  return { code: r.code, stdout: r.stdout.trim().split('\n').map((l) => l.replace(/\s+/g, ' ').trim()), stderr: err[0] ?? '' };
}

export const SCRIPT: Interaction[] = [
  // ---- namespace and basic CRUD ----
  { id: 'namespace create', run: async (t) => answer(await t.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } }), ['metadata.name', 'metadata.labels', 'spec', 'status']) },
  {
    id: 'namespace default ServiceAccount appears',
    run: async (t) => status(await eventually(() => t.request('GET', nsPath('serviceaccounts/default')), (a) => a.status === 200, 15_000)),
  },
  { id: 'configmap create', run: async (t) => answer(await t.request('POST', nsPath('configmaps'), { body: cm('one', { a: '1' }) }), ['kind', 'apiVersion', 'metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.resourceVersion', 'metadata.creationTimestamp', 'data']) },
  { id: 'configmap create again (AlreadyExists)', run: async (t) => status(await t.request('POST', nsPath('configmaps'), { body: cm('one', { a: '1' }) })) },
  { id: 'configmap get', run: async (t) => answer(await t.request('GET', nsPath('configmaps/one')), ['kind', 'apiVersion', 'metadata.name', 'data']) },
  { id: 'configmap get missing (404 details)', run: async (t) => status(await t.request('GET', nsPath('configmaps/nope'))) },
  { id: 'deployment get missing (404 details, group)', run: async (t) => status(await t.request('GET', appsPath('deployments/nope'))) },
  { id: 'namespace get missing (404 details)', run: async (t) => status(await t.request('GET', '/api/v1/namespaces/nope')) },
  { id: 'unknown resource (404)', run: async (t) => status(await t.request('GET', nsPath('widgets'))) },
  {
    id: 'configmap update with stale resourceVersion (Conflict)',
    run: async (t) => status(await t.request('PUT', nsPath('configmaps/one'), { body: { ...cm('one', { a: '2' }), metadata: { name: 'one', resourceVersion: '1' } } })),
  },
  {
    id: 'configmap update',
    run: async (t) => {
      const cur = (await t.request('GET', nsPath('configmaps/one'))).body;
      return answer(await t.request('PUT', nsPath('configmaps/one'), { body: { ...cur, data: { a: '2' } } }), ['data']);
    },
  },
  { id: 'configmap create generateName', run: async (t) => answer(await t.request('POST', nsPath('configmaps'), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-' } } }), ['metadata.generateName']) },
  { id: 'configmap create dryRun', run: async (t) => answer(await t.request('POST', nsPath('configmaps?dryRun=All'), { body: cm('dry', {}) }), ['metadata.name']) },
  { id: 'configmap dryRun not stored', run: async (t) => status(await t.request('GET', nsPath('configmaps/dry'))) },
  { id: 'create with mismatched namespace (BadRequest)', run: async (t) => status(await t.request('POST', nsPath('configmaps'), { body: { ...cm('x', {}), metadata: { name: 'x', namespace: 'default' } } })) },
  { id: 'create in a missing namespace (404)', run: async (t) => status(await t.request('POST', '/api/v1/namespaces/nowhere/configmaps', { body: cm('x', {}) })) },
  { id: 'create with a body that is not JSON (BadRequest)', run: async (t) => status(await t.request('POST', nsPath('configmaps'), { body: '{not json', contentType: 'application/json' })) },

  // ---- Secret ----
  {
    id: 'secret stringData becomes data',
    run: async (t) => answer(await t.request('POST', nsPath('secrets'), { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, stringData: { password: 'hunter2' }, data: { user: Buffer.from('me').toString('base64') } } }), ['data', 'stringData', 'type']),
  },

  // ---- patches ----
  { id: 'JSON patch', run: async (t) => answer(await t.request('PATCH', nsPath('configmaps/one'), { body: [{ op: 'add', path: '/data/b', value: 'x' }], contentType: 'application/json-patch+json' }), ['data']) },
  { id: 'JSON patch test fails (422)', run: async (t) => status(await t.request('PATCH', nsPath('configmaps/one'), { body: [{ op: 'test', path: '/data/a', value: 'nope' }], contentType: 'application/json-patch+json' })) },
  { id: 'merge patch', run: async (t) => answer(await t.request('PATCH', nsPath('configmaps/one'), { body: { data: { b: null, c: '3' }, metadata: { labels: { m: 'y' } } }, contentType: 'application/merge-patch+json' }), ['data', 'metadata.labels']) },
  { id: 'patch with an unknown content type (415)', run: async (t) => status(await t.request('PATCH', nsPath('configmaps/one'), { body: {}, contentType: 'text/plain' })) },
  {
    id: 'deployment create',
    run: async (t) => {
      const a = await t.request('POST', appsPath('deployments'), { body: deployment('web') });
      // Its first ReplicaSet, before the template changes (so each change is one rollout on either server).
      const rs = await eventually(() => t.request('GET', appsPath('replicasets')), (x) => (x.body?.items ?? []).length >= 1);
      return { ...answer(a, ['metadata.generation', 'spec.replicas', 'spec.strategy', 'spec.revisionHistoryLimit', 'spec.progressDeadlineSeconds', 'spec.template.spec.containers']), replicaSets: names(rs).length };
    },
  },
  {
    id: 'strategic merge patch (containers by name, env by name)',
    run: async (t) => answer(await t.request('PATCH', appsPath('deployments/web'), { body: { spec: { template: { spec: { containers: [{ name: 'c', env: [{ name: 'B', value: '2' }] }] } } } }, contentType: 'application/strategic-merge-patch+json' }), ['metadata.generation', 'spec.template.spec.containers']),
  },
  {
    id: 'strategic merge patch with $setElementOrder (kubectl apply)',
    run: async (t) => answer(await t.request('PATCH', appsPath('deployments/web'), { body: { spec: { template: { spec: { containers: [{ name: 'c', env: [{ name: 'C', value: '3' }], '$setElementOrder/env': [{ name: 'A' }, { name: 'C' }, { name: 'B' }] }] } } } }, contentType: 'application/strategic-merge-patch+json' }), ['spec.template.spec.containers']),
  },
  { id: 'strategic merge patch on a ConfigMap', run: async (t) => answer(await t.request('PATCH', nsPath('configmaps/one'), { body: { data: { d: '4' } }, contentType: 'application/strategic-merge-patch+json' }), ['data']) },
  { id: 'patch a missing object (404)', run: async (t) => status(await t.request('PATCH', nsPath('configmaps/nope'), { body: { data: {} }, contentType: 'application/merge-patch+json' })) },

  // ---- server-side apply ----
  { id: 'apply creates with managedFields', run: async (t) => { const a = await apply(t, nsPath('configmaps/ssa'), cm('ssa', { a: '1', b: '2' }), 'alice'); return { ...answer(a, ['data']), managed: managed(a.body) }; } },
  { id: 'apply again removes a field the manager dropped', run: async (t) => { const a = await apply(t, nsPath('configmaps/ssa'), cm('ssa', { a: '1' }), 'alice'); return { ...answer(a, ['data']), managed: managed(a.body) }; } },
  { id: 'apply by a second manager, same value (shared)', run: async (t) => { const a = await apply(t, nsPath('configmaps/ssa'), cm('ssa', { a: '1', c: '3' }), 'bob'); return { ...answer(a, ['data']), managed: managed(a.body) }; } },
  { id: 'apply by a second manager, other value (Conflict)', run: async (t) => status(await apply(t, nsPath('configmaps/ssa'), cm('ssa', { a: '9' }), 'carol')) },
  { id: 'apply with force takes the field', run: async (t) => { const a = await apply(t, nsPath('configmaps/ssa'), cm('ssa', { a: '9' }), 'carol', '&force=true'); return { ...answer(a, ['data']), managed: managed(a.body) }; } },
  { id: 'apply without fieldManager (BadRequest)', run: async (t) => status(await apply(t, nsPath('configmaps/ssa'), cm('ssa', { a: '1' }), undefined)) },
  {
    id: 'update after apply records an Update manager',
    run: async (t) => {
      const a = await t.request('PATCH', nsPath('configmaps/ssa?fieldManager=editor'), { body: { data: { e: '5' } }, contentType: 'application/merge-patch+json' });
      return { ...answer(a, ['data']), managed: managed(a.body) };
    },
  },

  // ---- selectors ----
  {
    id: 'label selectors (equality, set, existence)',
    run: async (t) => {
      for (const [n, l] of [['sel-a', { app: 'x', env: 'a' }], ['sel-b', { app: 'x', env: 'b' }], ['sel-c', { app: 'y' }]] as const) await t.request('POST', nsPath('configmaps'), { body: cm(n, {}, l) });
      const q = async (s: string) => names(await t.request('GET', nsPath(`configmaps?labelSelector=${encodeURIComponent(s)}`)));
      return { eq: await q('app=x'), doubleEq: await q('app==x'), set: await q('env in (b,c)'), notin: await q('app,env notin (a)'), exists: await q('app,!env'), neq: await q('app,app!=x'), none: await q('app=z') };
    },
  },
  { id: 'field selector metadata.name', run: async (t) => names(await t.request('GET', nsPath('configmaps?fieldSelector=metadata.name%3Dsel-b'))) },
  { id: 'field selector on a field not supported (BadRequest)', run: async (t) => status(await t.request('GET', nsPath('configmaps?fieldSelector=data.a%3D1'))) },
  { id: 'bad label selector (BadRequest)', run: async (t) => status(await t.request('GET', nsPath('configmaps?labelSelector=%3D%3D%3D'))) },
  { id: 'pod field selector status.phase', run: async (t) => status(await t.request('GET', nsPath('pods?fieldSelector=status.phase%3DRunning'))) },

  // ---- pagination while objects change ----
  {
    id: 'pagination with limit/continue while objects change',
    run: async (t) => {
      for (let i = 0; i < 5; i++) await t.request('POST', nsPath('configmaps'), { body: cm(`page-${i}`, {}, { page: 'yes' }) });
      const first = await t.request('GET', nsPath('configmaps?labelSelector=page%3Dyes&limit=2'));
      await t.request('DELETE', nsPath('configmaps/page-3'));
      await t.request('POST', nsPath('configmaps'), { body: cm('page-9', {}, { page: 'yes' }) });
      const second = await t.request('GET', nsPath(`configmaps?labelSelector=page%3Dyes&limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`));
      const third = second.body.metadata.continue ? await t.request('GET', nsPath(`configmaps?labelSelector=page%3Dyes&limit=2&continue=${encodeURIComponent(second.body.metadata.continue)}`)) : undefined;
      return {
        first: { names: names(first), remaining: first.body.metadata.remainingItemCount ?? null, hasContinue: Boolean(first.body.metadata.continue) },
        second: { names: names(second), hasContinue: Boolean(second.body.metadata.continue) },
        third: third ? names(third) : null,
      };
    },
  },
  { id: 'continue token that is not one (BadRequest)', run: async (t) => status(await t.request('GET', nsPath('configmaps?limit=2&continue=garbage'))) },
  {
    id: 'list metadata',
    run: async (t) => {
      const a = await t.request('GET', nsPath('configmaps?labelSelector=app%3Dy'));
      return { ...answer(a, ['kind', 'apiVersion', 'metadata']) };
    },
  },

  // ---- watch ----
  {
    id: 'watch resumes from a resourceVersion',
    run: async (t) => {
      const c = await t.request('POST', nsPath('configmaps'), { body: cm('w', { n: '0' }, { watch: 'me' }) });
      const rv = c.body.metadata.resourceVersion as string;
      await t.request('PATCH', nsPath('configmaps/w'), { body: { data: { n: '1' } }, contentType: 'application/merge-patch+json' });
      await t.request('DELETE', nsPath('configmaps/w'));
      const w = await t.watch(nsPath(`configmaps?watch=true&labelSelector=watch%3Dme&resourceVersion=${rv}`), 2);
      return { status: w.status, events: w.events.map((e) => ({ type: e.type, name: e.object?.metadata?.name ?? null, n: e.object?.data?.n ?? null })) };
    },
  },
  {
    // Not a 410: kube-apiserver serves an early resourceVersion from its watch cache (a 410 needs etcd compaction
    // and the cache to have moved past it, which a short test cannot arrange), as the lab serves it from history.
    id: 'watch from an early resourceVersion replays',
    run: async (t) => {
      const w = await t.watch(nsPath('configmaps?watch=true&resourceVersion=2'), 1);
      return { status: w.status, events: w.events.map((e) => ({ type: e.type, code: e.object?.code ?? null, reason: e.object?.reason ?? null })) };
    },
  },
  {
    id: 'watch=True on the list path (the Python client)',
    run: async (t) => {
      const w = await t.watch(nsPath('configmaps?watch=True&labelSelector=app%3Dy'), 1);
      return { status: w.status, events: w.events.map((e) => ({ type: e.type, kind: e.object?.kind ?? null, name: e.object?.metadata?.name ?? null })) };
    },
  },
  {
    id: 'watch of one object by fieldSelector',
    run: async (t) => {
      const w = await t.watch(nsPath('configmaps?watch=1&fieldSelector=metadata.name%3Dsel-a'), 1);
      return { status: w.status, events: w.events.map((e) => ({ type: e.type, name: e.object?.metadata?.name ?? null })) };
    },
  },

  // ---- subresources ----
  {
    id: 'status subresource writes status only',
    run: async (t) => {
      const cur = (await t.request('GET', appsPath('deployments/web'))).body;
      const a = await t.request('PUT', appsPath('deployments/web/status'), { body: { ...cur, spec: { ...cur.spec, replicas: 7 }, status: { ...cur.status, observedGeneration: 42 } } });
      return answer(a, ['spec.replicas', 'status.observedGeneration']);
    },
  },
  {
    id: 'main resource ignores status',
    run: async (t) => {
      const a = await t.request('PATCH', appsPath('deployments/web'), { body: { status: { observedGeneration: 99 } }, contentType: 'application/merge-patch+json' });
      return { code: a.status, changed: a.body?.status?.observedGeneration === 99 };
    },
  },
  { id: 'scale subresource get', run: async (t) => answer(await t.request('GET', appsPath('deployments/web/scale')), ['kind', 'apiVersion', 'metadata.name', 'spec.replicas', 'status.selector']) },
  {
    id: 'scale subresource patch',
    run: async (t) => {
      const a = await t.request('PATCH', appsPath('deployments/web/scale'), { body: { spec: { replicas: 2 } }, contentType: 'application/merge-patch+json' });
      const d = await t.request('GET', appsPath('deployments/web'));
      return { scale: answer(a, ['kind', 'spec.replicas']), deployment: pick(d.body, ['spec.replicas']) };
    },
  },
  { id: 'kubectl scale', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'scale', 'deployment/web', '--replicas=1'])) },

  // ---- validation ----
  { id: 'pod with no containers (422)', run: async (t) => status(await t.request('POST', nsPath('pods'), { body: pod('empty', { containers: [] }) })) },
  { id: 'pod container with no image (422)', run: async (t) => status(await t.request('POST', nsPath('pods'), { body: pod('noimage', { containers: [{ name: 'c' }] }) })) },
  { id: 'pod with duplicate container names (422)', run: async (t) => status(await t.request('POST', nsPath('pods'), { body: pod('dup', { containers: [container(), container()] }) })) },
  { id: 'deployment selector not matching its template (422)', run: async (t) => status(await t.request('POST', appsPath('deployments'), { body: deployment('mismatch', { selector: { matchLabels: { app: 'a' } }, labels: { app: 'b' } }) })) },
  { id: 'deployment with no selector (422)', run: async (t) => { const d = deployment('nosel'); delete (d.spec as { selector?: unknown }).selector; return status(await t.request('POST', appsPath('deployments'), { body: d })); } },
  { id: 'invalid label key (422)', run: async (t) => status(await t.request('POST', nsPath('configmaps'), { body: cm('badlabel', {}, { 'bad key!': 'x' }) })) },
  { id: 'invalid label value (422)', run: async (t) => status(await t.request('POST', nsPath('configmaps'), { body: cm('badvalue', {}, { ok: 'not ok!' }) })) },
  { id: 'invalid object name (422)', run: async (t) => status(await t.request('POST', nsPath('configmaps'), { body: cm('Not_A_Name', {}) })) },
  {
    id: 'cronjob with a schedule that is not one (422)',
    run: async (t) => status(await t.request('POST', batchPath('cronjobs'), { body: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'badcron' }, spec: { schedule: 'every day at noon', jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [container()] } } } } } } })),
  },
  {
    id: 'job with restartPolicy Always (422)',
    run: async (t) => status(await t.request('POST', batchPath('jobs'), { body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'always' }, spec: { template: { spec: { restartPolicy: 'Always', containers: [container()] } } } } })),
  },
  { id: 'service with no ports (422)', run: async (t) => status(await t.request('POST', nsPath('services'), { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'noports' }, spec: { selector: { app: 'x' } } } })) },
  { id: 'unknown field with fieldValidation=Strict (BadRequest)', run: async (t) => status(await t.request('POST', nsPath('configmaps?fieldValidation=Strict'), { body: { ...cm('strict', {}), bogus: 1 } })) },

  // ---- jobs and cronjobs through kubectl ----
  { id: 'kubectl create cronjob', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'create', 'cronjob', 'cj', '--image=registry.k8s.io/pause:3.10', '--schedule=*/5 * * * *'])) },
  { id: 'kubectl create job --from=cronjob', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'create', 'job', 'manual', '--from=cronjob/cj'])) },
  {
    id: 'job from a cronjob gets a selector and labels',
    run: async (t) => {
      const j = (await t.request('GET', batchPath('jobs/manual'))).body;
      return {
        selector: Object.keys(j?.spec?.selector?.matchLabels ?? {}).sort(),
        templateLabels: Object.keys(j?.spec?.template?.metadata?.labels ?? {}).sort(),
        labels: Object.keys(j?.metadata?.labels ?? {}).sort(),
        manualSelector: j?.spec?.manualSelector ?? null,
        owner: (j?.metadata?.ownerReferences ?? []).map((o: { kind: string; controller?: boolean }) => `${o.kind}/${o.controller}`),
      };
    },
  },
  {
    id: 'job created without a selector gets one',
    run: async (t) => {
      const a = await t.request('POST', batchPath('jobs'), { body: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'plain' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [container()] } } } } });
      return { ...status(a), selector: Object.keys(a.body?.spec?.selector?.matchLabels ?? {}).sort(), templateLabels: Object.keys(a.body?.spec?.template?.metadata?.labels ?? {}).sort(), ...pick(a.body, ['spec.completions', 'spec.parallelism', 'spec.backoffLimit', 'spec.completionMode', 'spec.suspend']) };
    },
  },

  // ---- kubectl ----
  {
    id: 'kubectl apply of a kind: List',
    run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [cm('list-a', { k: 'v' }), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'list-b' }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } }] }))),
  },
  {
    id: 'kubectl apply of a kind: List again (unchanged)',
    run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [cm('list-a', { k: 'v' })] }))),
  },
  {
    id: 'kubectl apply --server-side of a kind: List',
    run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [cm('list-ssa', { k: 'v' })] }))),
  },
  { id: 'kubectl get missing', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'get', 'pod', 'nope'])) },
  { id: 'kubectl get -l -o name', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'get', 'configmaps', '-l', 'app=x', '-o', 'name'])) },
  { id: 'kubectl get -o jsonpath', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'get', 'configmap', 'one', '-o', 'jsonpath={.data}'])) },
  { id: 'kubectl create invalid (422 through kubectl)', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'create', '-f', '-'], JSON.stringify(pod('kbad', { containers: [] })))) },

  // ---- graceful deletion ----
  {
    id: 'delete a bound pod: Terminating with deletionTimestamp',
    run: async (t) => {
      await t.request('POST', nsPath('pods'), { body: pod('grace', { nodeName: 'conformance-nowhere' }) });
      const a = await t.request('DELETE', nsPath('pods/grace'));
      const after = await t.request('GET', nsPath('pods/grace'));
      return { delete: answer(a, ['metadata.deletionTimestamp', 'metadata.deletionGracePeriodSeconds']), after: answer(after, ['metadata.deletionTimestamp']) };
    },
  },
  {
    id: 'delete a bound pod with gracePeriodSeconds=0: gone',
    run: async (t) => {
      const a = await t.request('DELETE', nsPath('pods/grace?gracePeriodSeconds=0'));
      return { delete: status(a), after: status(await t.request('GET', nsPath('pods/grace'))) };
    },
  },
  {
    id: 'delete an unscheduled pod: gone at once',
    run: async (t) => {
      await t.request('POST', nsPath('pods'), { body: pod('unbound', { schedulerName: 'nobody' }) });
      const a = await t.request('DELETE', nsPath('pods/unbound'));
      return { delete: status(a), after: status(await t.request('GET', nsPath('pods/unbound'))) };
    },
  },
  { id: 'delete missing (404 details)', run: async (t) => status(await t.request('DELETE', nsPath('configmaps/nope'))) },
  {
    id: 'delete with a finalizer: deletionTimestamp, then removed when it goes',
    run: async (t) => {
      await t.request('POST', nsPath('configmaps'), { body: { ...cm('fin', {}), metadata: { name: 'fin', finalizers: ['example.com/hold'] } } });
      const a = await t.request('DELETE', nsPath('configmaps/fin'));
      const held = await t.request('GET', nsPath('configmaps/fin'));
      await t.request('PATCH', nsPath('configmaps/fin'), { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
      return { delete: answer(a, ['metadata.finalizers']), held: answer(held, ['metadata.finalizers']), after: status(await t.request('GET', nsPath('configmaps/fin'))) };
    },
  },
  { id: 'delete precondition on uid (Conflict)', run: async (t) => status(await t.request('DELETE', nsPath('configmaps/one'), { body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: '00000000-0000-0000-0000-000000000000' } } })) },

  // ---- garbage collection ----
  {
    id: 'background deletion collects dependents',
    run: async (t) => {
      const owner = (await t.request('POST', nsPath('configmaps'), { body: cm('owner', {}) })).body;
      const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid };
      await t.request('POST', nsPath('configmaps'), { body: { ...cm('dependent', {}), metadata: { name: 'dependent', ownerReferences: [ref] } } });
      await t.request('DELETE', nsPath('configmaps/owner'));
      return status(await eventually(() => t.request('GET', nsPath('configmaps/dependent')), (a) => a.status === 404));
    },
  },
  {
    id: 'foreground deletion waits for dependents',
    run: async (t) => {
      const owner = (await t.request('POST', nsPath('configmaps'), { body: cm('fg-owner', {}) })).body;
      const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'fg-owner', uid: owner.metadata.uid, blockOwnerDeletion: true };
      await t.request('POST', nsPath('configmaps'), { body: { ...cm('fg-dependent', {}), metadata: { name: 'fg-dependent', ownerReferences: [ref] } } });
      const a = await t.request('DELETE', nsPath('configmaps/fg-owner'), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' } });
      const owned = await eventually(() => t.request('GET', nsPath('configmaps/fg-owner')), (x) => x.status === 404);
      return { delete: answer(a, ['metadata.finalizers', 'metadata.deletionTimestamp']), owner: status(owned), dependent: status(await t.request('GET', nsPath('configmaps/fg-dependent'))) };
    },
  },
  {
    id: 'orphan deletion keeps dependents without the reference',
    run: async (t) => {
      const owner = (await t.request('POST', nsPath('configmaps'), { body: cm('or-owner', {}) })).body;
      const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'or-owner', uid: owner.metadata.uid };
      await t.request('POST', nsPath('configmaps'), { body: { ...cm('or-dependent', {}), metadata: { name: 'or-dependent', ownerReferences: [ref] } } });
      await t.request('DELETE', nsPath('configmaps/or-owner?propagationPolicy=Orphan'));
      const owned = await eventually(() => t.request('GET', nsPath('configmaps/or-owner')), (x) => x.status === 404);
      const dep = await eventually(() => t.request('GET', nsPath('configmaps/or-dependent')), (x) => (x.body?.metadata?.ownerReferences ?? []).length === 0);
      return { owner: status(owned), dependent: answer(dep, ['metadata.ownerReferences']) };
    },
  },

  // ---- rollouts ----
  { id: 'kubectl set image (a rollout)', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'set', 'image', 'deployment/web', 'c=registry.k8s.io/pause:3.9'])) },
  {
    id: 'rollout makes a new ReplicaSet and revision',
    run: async (t) => {
      const rs = await eventually(() => t.request('GET', appsPath('replicasets')), (a) => ((a.body?.items ?? []) as any[]).some((r) => r.spec.template.spec.containers[0].image.endsWith(':3.9')));
      const d = await eventually(() => t.request('GET', appsPath('deployments/web')), (a) => a.body?.metadata?.annotations?.['deployment.kubernetes.io/revision'] === String((rs.body?.items ?? []).length), 10_000);
      return {
        replicaSets: ((rs.body?.items ?? []) as any[]).map((r) => ({ revision: r.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? null, image: r.spec.template.spec.containers[0].image, owner: r.metadata.ownerReferences?.[0]?.kind ?? null, hash: typeof r.metadata.labels?.['pod-template-hash'] })).sort((a, b) => String(a.revision).localeCompare(String(b.revision))),
        revision: d.body?.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? null,
      };
    },
  },
  {
    // How many template changes become ReplicaSets depends on how quickly the Deployment controller ran between the
    // patches (two patches in one sync make one ReplicaSet), on either server: compare what kubectl prints per
    // revision and that it lists one revision per ReplicaSet, not how many there are.
    id: 'kubectl rollout history',
    run: async (t) => {
      const out = kubectlOut(await t.kubectl(['-n', NS, 'rollout', 'history', 'deployment/web']));
      const lines = out.stdout as string[];
      const revisions = lines.slice(2);
      const replicaSets = ((await t.request('GET', appsPath('replicasets'))).body?.items ?? []) as unknown[];
      return { ...out, stdout: lines.slice(0, 2), revisionLines: [...new Set(revisions.map((l) => l.replace(/^\d+ /, 'N ')))], oneRevisionPerReplicaSet: revisions.length === replicaSets.length };
    },
  },
  { id: 'kubectl rollout restart', run: async (t) => kubectlOut(await t.kubectl(['-n', NS, 'rollout', 'restart', 'deployment/web'])) },

  // ---- Pod Security (enforce baseline, as Talos configures it) ----
  { id: 'privileged pod refused by PodSecurity baseline (403)', run: async (t) => status(await t.request('POST', nsPath('pods'), { body: pod('priv', { containers: [container({ securityContext: { privileged: true } })] }) })) },
  { id: 'hostNetwork pod refused by PodSecurity baseline (403)', run: async (t) => status(await t.request('POST', nsPath('pods'), { body: pod('hostnet', { hostNetwork: true }) })) },
  {
    id: 'namespace enforcing restricted refuses a plain pod (403)',
    run: async (t) => {
      await t.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'conformance-restricted', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
      await eventually(() => t.request('GET', '/api/v1/namespaces/conformance-restricted/serviceaccounts/default'), (a) => a.status === 200, 10_000);
      return status(await t.request('POST', '/api/v1/namespaces/conformance-restricted/pods', { body: pod('plain') }));
    },
  },
  { id: 'baseline pod admitted', run: async (t) => status(await t.request('POST', nsPath('pods'), { body: pod('fine') })) },

  // ---- RBAC ----
  { id: 'kubectl auth can-i as the default ServiceAccount', run: async (t) => kubectlOut(await t.kubectl(['auth', 'can-i', 'create', 'pods', '-n', 'default', '--as=system:serviceaccount:default:default'])) },
  { id: 'kubectl auth can-i as admin', run: async (t) => kubectlOut(await t.kubectl(['auth', 'can-i', 'create', 'pods', '-n', 'default'])) },
  { id: 'list pods impersonating the default ServiceAccount (403)', run: async (t) => status(await t.request('GET', '/api/v1/namespaces/default/pods', { headers: { 'Impersonate-User': 'system:serviceaccount:default:default' } })) },

  // ---- namespace cascade ----
  {
    id: 'namespace delete: Terminating, contents removed, then gone',
    run: async (t) => {
      await t.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'conformance-doomed' } } });
      await t.request('POST', '/api/v1/namespaces/conformance-doomed/configmaps', { body: cm('inside', {}) });
      const a = await t.request('DELETE', '/api/v1/namespaces/conformance-doomed');
      const create = await t.request('POST', '/api/v1/namespaces/conformance-doomed/configmaps', { body: cm('late', {}) });
      const gone = await eventually(() => t.request('GET', '/api/v1/namespaces/conformance-doomed'), (x) => x.status === 404, 30_000);
      return { delete: answer(a, ['status.phase', 'spec.finalizers']), createWhileTerminating: status(create), after: status(gone) };
    },
  },
];
