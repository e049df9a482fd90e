/**
 * Label requirements and the one matcher for them. Both spellings of a selector come here: the string form
 * (`a=b,c in (x),!d`, parsed by the lab's API server: lab/store/selectors.ts) and the object form (matchLabels and
 * matchExpressions in NetworkPolicies, Deployments, ...: requirementsOf). Pure.
 */

export type LabelRequirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

/** An object selector (metav1.LabelSelector). */
export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string; values?: string[] }[] | null;
}

const OPS: Record<string, 'in' | 'notin' | 'exists' | 'notexists'> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: 'notexists' };

/** The requirements of an object selector; undefined for an operator the API server would reject. */
export function requirementsOf(sel: LabelSelector): LabelRequirement[] | undefined {
  const reqs: LabelRequirement[] = Object.entries(sel.matchLabels ?? {}).map(([key, value]) => ({ key, op: 'eq', value }));
  for (const e of sel.matchExpressions ?? []) {
    const op = OPS[e.operator];
    if (!op) return undefined;
    reqs.push(op === 'in' || op === 'notin' ? { key: e.key, op, values: e.values ?? [] } : { key: e.key, op });
  }
  return reqs;
}

/** Every requirement holds for these labels. */
export function matchLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        if (!has || v !== r.value) return false;
        break;
      case 'neq':
        if (has && v === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v!)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
    }
  }
  return true;
}
