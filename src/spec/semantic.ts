/**
 * Cross-field rules that a schema can't say: unique names and addresses, control-plane count, endpoint
 * sanity. Pure. Each finding carries the spec path it belongs to so the loader can give it a line.
 */
import type { Spec } from './schema.js';

export interface SemanticFinding {
  path: (string | number)[];
  message: string;
  severity: 'error' | 'warning';
}

export function checkSemantics(spec: Spec): SemanticFinding[] {
  const out: SemanticFinding[] = [];
  const nodes = spec.spec.nodes;

  const seenName = new Map<string, number>();
  const seenAddr = new Map<string, number>();
  nodes.forEach((n, i) => {
    const prevName = seenName.get(n.name);
    if (prevName !== undefined) out.push({ path: ['spec', 'nodes', i, 'name'], message: `duplicate node name "${n.name}" (also spec.nodes[${prevName}])`, severity: 'error' });
    else seenName.set(n.name, i);
    const prevAddr = seenAddr.get(n.address);
    if (prevAddr !== undefined) out.push({ path: ['spec', 'nodes', i, 'address'], message: `duplicate node address ${n.address} (also spec.nodes[${prevAddr}])`, severity: 'error' });
    else seenAddr.set(n.address, i);
  });

  const cps = nodes.filter((n) => n.role === 'control-plane').length;
  if (cps === 0) out.push({ path: ['spec', 'nodes'], message: 'needs at least one node with role: control-plane', severity: 'error' });
  else if (cps % 2 === 0)
    // etcd needs a majority: 2 members tolerate no more failures than 1, 4 no more than 3 (kubespray rejects even counts).
    out.push({ path: ['spec', 'nodes'], message: `${cps} control planes: an even etcd member count adds no fault tolerance; use ${cps - 1} or ${cps + 1}`, severity: 'warning' });

  const mask = spec.spec.network.nodeMaskSize;
  const podCIDRs = spec.spec.network.podCIDR.split(',').map((s) => s.trim());
  for (const c of podCIDRs) {
    const prefix = Number(c.split('/')[1]);
    const v6 = c.includes(':');
    if (!v6 && mask > 32) out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `${mask} is larger than 32, the size of an IPv4 address (podCIDR ${c})`, severity: 'error' });
    else if (mask < prefix && !(v6 && podCIDRs.length > 1)) out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `/${mask} per node is larger than the whole podCIDR ${c}`, severity: 'error' });
  }

  try {
    const u = new URL(spec.spec.endpoint);
    if (!u.port) out.push({ path: ['spec', 'endpoint'], message: `has no port; the API server listens on 6443 (e.g. https://${u.hostname}:6443)`, severity: 'warning' });
  } catch {
    out.push({ path: ['spec', 'endpoint'], message: 'is not a valid URL', severity: 'error' });
  }

  if (spec.spec.network.cni === 'flannel')
    out.push({ path: ['spec', 'network', 'cni'], message: 'flannel does not enforce NetworkPolicy: policies you apply will be ignored', severity: 'warning' });
  return out;
}
