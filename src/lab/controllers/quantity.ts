/**
 * Kubernetes resource quantities ("500m", "1.5", "128Mi", "2G") as numbers: cpu in millicores, everything
 * else in base units. Enough for requests vs allocatable; not a full resource.Quantity.
 */
const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Base units (cores for cpu), or NaN when unparseable. */
export function parseQuantity(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === 'number') return q;
  const m = /^([+-]?\d*\.?\d+(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * SUFFIX[m[2] ?? '']!;
}

/** cpu -> millicores, others -> base units; integers so sums don't drift. */
export function toUnits(resource: string, q: string | number | undefined): number {
  const v = parseQuantity(q);
  if (Number.isNaN(v)) return 0;
  return Math.ceil(resource === 'cpu' ? v * 1000 : v);
}

type Obj = Record<string, any>;

/** What a pod asks for: sum over containers, max with each init container (the scheduler's rule). */
const requestsOf = new WeakMap<object, Readonly<Record<string, number>>>();

/**
 * A pod's requests in units. A stored (frozen, so unchanging) spec is parsed once: the scheduler sums every
 * placed pod's on each pass. The result is shared: read it, do not change it.
 */
export function podRequests(spec: Obj | undefined): Readonly<Record<string, number>> {
  if (!spec || !Object.isFrozen(spec)) return parseRequests(spec);
  let r = requestsOf.get(spec);
  if (!r) requestsOf.set(spec, (r = Object.freeze(parseRequests(spec))));
  return r;
}

function parseRequests(spec: Obj | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of (spec?.containers ?? []) as Obj[]) {
    for (const [r, q] of Object.entries((c.resources?.requests ?? c.resources?.limits ?? {}) as Record<string, string>)) {
      out[r] = (out[r] ?? 0) + toUnits(r, q);
    }
  }
  for (const c of (spec?.initContainers ?? []) as Obj[]) {
    for (const [r, q] of Object.entries((c.resources?.requests ?? {}) as Record<string, string>)) {
      out[r] = Math.max(out[r] ?? 0, toUnits(r, q));
    }
  }
  return out;
}
