/**
 * Cross-field rules that a schema can't say: unique names and addresses, control-plane count, endpoint
 * sanity. Pure. Each finding carries the spec path it belongs to so the loader can give it a line.
 *
 * It also runs on data that failed the schema (so every problem is reported at once), hence it reads the
 * input defensively and skips a rule whose fields are not the right shape: the schema reports those.
 */
import ipaddr from 'ipaddr.js';
import type { Spec } from './schema.js';

export interface SemanticFinding {
  path: (string | number)[];
  message: string;
  severity: 'error' | 'warning';
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function parseCidr(c: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  try {
    return ipaddr.parseCIDR(c);
  } catch {
    return undefined;
  }
}

export function checkSemantics(input: Spec | unknown): SemanticFinding[] {
  const out: SemanticFinding[] = [];
  const body = obj(obj(input).spec);
  const nodes = Array.isArray(body.nodes) ? body.nodes.map(obj) : [];

  const seenName = new Map<string, number>();
  const seenAddr = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (typeof n.name === 'string') {
      const prev = seenName.get(n.name);
      if (prev !== undefined) out.push({ path: ['spec', 'nodes', i, 'name'], message: `duplicate node name "${n.name}" (also spec.nodes[${prev}])`, severity: 'error' });
      else seenName.set(n.name, i);
    }
    if (typeof n.address === 'string') {
      // 10.0.0.1 and 10.0.0.01 or ::1 and 0:0::1 are the same machine: compare normalised forms.
      const key = ipaddr.isValid(n.address) ? ipaddr.parse(n.address).toNormalizedString() : n.address;
      const prev = seenAddr.get(key);
      if (prev !== undefined) out.push({ path: ['spec', 'nodes', i, 'address'], message: `duplicate node address ${n.address} (also spec.nodes[${prev}])`, severity: 'error' });
      else seenAddr.set(key, i);
    }
  });

  const rolesKnown = nodes.length > 0 && nodes.every((n) => n.role === 'control-plane' || n.role === 'worker');
  if (rolesKnown) {
    const cps = nodes.filter((n) => n.role === 'control-plane').length;
    if (cps === 0) out.push({ path: ['spec', 'nodes'], message: 'needs at least one node with role: control-plane', severity: 'error' });
    else if (cps % 2 === 0)
      // etcd needs a majority: 2 members tolerate no more failures than 1, 4 no more than 3 (kubespray rejects even counts).
      out.push({ path: ['spec', 'nodes'], message: `${cps} control planes: an even etcd member count adds no fault tolerance; use ${cps - 1} or ${cps + 1}`, severity: 'warning' });
  }

  const network = obj(body.network);
  const mask = network.nodeMaskSize ?? 24;
  const podCIDR = network.podCIDR ?? '10.244.0.0/16';
  if (typeof mask === 'number' && typeof podCIDR === 'string') {
    const parts = podCIDR.split(',').map((s) => s.trim());
    for (const c of parts) {
      const parsed = parseCidr(c);
      if (!parsed) continue;
      const [addr, prefix] = parsed;
      const v6 = addr.kind() === 'ipv6';
      if (!v6 && mask > 32) out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `${mask} is larger than 32, the size of an IPv4 address (podCIDR ${c})`, severity: 'error' });
      else if (mask < prefix && !(v6 && parts.length > 1))
        out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `/${mask} per node is larger than the whole podCIDR ${c}`, severity: 'error' });
    }
  }

  if (typeof body.endpoint === 'string' && /^https:\/\//.test(body.endpoint)) {
    try {
      const u = new URL(body.endpoint);
      if (!u.port) out.push({ path: ['spec', 'endpoint'], message: `has no port; the API server listens on 6443 (e.g. https://${u.hostname}:6443)`, severity: 'warning' });
    } catch {
      /* the schema reports a malformed URL */
    }
  }

  if (network.cni === 'flannel')
    out.push({ path: ['spec', 'network', 'cni'], message: 'flannel does not enforce NetworkPolicy: policies you apply will be ignored', severity: 'warning' });
  return out;
}
