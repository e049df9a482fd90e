/**
 * Cross-field rules that a schema can't say: unique names and addresses, control-plane count, endpoint
 * sanity. Pure. Each finding carries the spec path it belongs to so the loader can give it a line.
 *
 * It also runs on data that failed the schema (so every problem is reported at once), hence it reads the
 * input defensively and skips a rule whose fields are not the right shape: the schema reports those.
 */
import ipaddr from 'ipaddr.js';
import { analyzeSubnets } from '../net/subnets.js';
import type { Spec } from './schema.js';
import { DEFAULT_KUBERNETES_VERSION, DEFAULT_TALOS_VERSION, checkKubernetesVersion, checkTalosKubernetesPair, checkTalosVersion } from './versions.js';

interface SemanticFinding {
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
  const maskFindings = out.length;
  if (typeof mask === 'number' && typeof podCIDR === 'string') {
    const parts = podCIDR.split(',').map((s) => s.trim());
    for (const c of parts) {
      const parsed = parseCidr(c);
      if (!parsed) continue;
      const [addr, prefix] = parsed;
      const v6 = addr.kind() === 'ipv6';
      if (!v6 && mask > 32) out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `${mask} is larger than 32, the size of an IPv4 address (podCIDR ${c})`, severity: 'error' });
      else if (!v6 && mask > 30) out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `/${mask} per node leaves no pod addresses (a /30 holds 2); use 24 for 254 pods per node`, severity: 'error' });
      else if (mask < prefix && !(v6 && parts.length > 1))
        out.push({ path: ['spec', 'network', 'nodeMaskSize'], message: `/${mask} per node is larger than the whole podCIDR ${c}`, severity: 'error' });
    }
  }

  if (out.length === maskFindings) out.push(...checkAddressPlan(network, nodes));

  if (typeof body.endpoint === 'string' && /^https:\/\//.test(body.endpoint)) {
    try {
      const u = new URL(body.endpoint);
      if (!u.port) out.push({ path: ['spec', 'endpoint'], message: `has no port; the API server listens on 6443 (e.g. https://${u.hostname}:6443)`, severity: 'warning' });
    } catch {
      /* the schema reports a malformed URL */
    }
  }

  // Versions: refused here, at the edge, rather than by talosctl or kubeadm half-way through a bootstrap.
  const kubernetes = typeof body.kubernetesVersion === 'string' ? body.kubernetesVersion : body.kubernetesVersion === undefined ? DEFAULT_KUBERNETES_VERSION : undefined;
  const kubernetesProblem = kubernetes === undefined ? undefined : checkKubernetesVersion(kubernetes);
  if (kubernetesProblem) out.push({ path: ['spec', 'kubernetesVersion'], message: kubernetesProblem, severity: 'error' });
  const bootstrap = obj(body.bootstrap);
  if (bootstrap.method === 'talos') {
    const rawTalos = obj(bootstrap.talos).version;
    const talos = typeof rawTalos === 'string' ? rawTalos : rawTalos === undefined ? DEFAULT_TALOS_VERSION : undefined;
    const talosProblem = talos === undefined ? undefined : checkTalosVersion(talos);
    if (talosProblem) out.push({ path: ['spec', 'bootstrap', 'talos', 'version'], message: talosProblem, severity: 'error' });
    const pair = talos === undefined || kubernetes === undefined || talosProblem || kubernetesProblem ? undefined : checkTalosKubernetesPair(talos, kubernetes);
    // Point at the Talos version the operator wrote; with the default Talos, at the Kubernetes version.
    if (pair) out.push({ path: rawTalos === undefined ? ['spec', 'kubernetesVersion'] : ['spec', 'bootstrap', 'talos', 'version'], message: pair, severity: 'error' });
  }

  if (network.cni === 'flannel')
    out.push({ path: ['spec', 'network', 'cni'], message: 'flannel does not enforce NetworkPolicy: policies you apply will be ignored', severity: 'warning' });
  return out;
}

function cidrListOk(v: unknown): v is string {
  return typeof v === 'string' && v.split(',').every((p) => parseCidr(p.trim()) !== undefined);
}

/**
 * The address plan, judged by the same analysis preflight runs (src/net/subnets.ts) minus this machine's routes:
 * podCIDR and serviceCIDR of different families, overlapping, a node address inside either, and a podCIDR too
 * small for the nodes at nodeMaskSize are spec errors, found before anything runs.
 */
function checkAddressPlan(network: Record<string, unknown>, nodes: Record<string, unknown>[]): SemanticFinding[] {
  const podCIDR = network.podCIDR ?? '10.244.0.0/16';
  const serviceCIDR = network.serviceCIDR ?? '10.96.0.0/12';
  const nodeMaskSize = network.nodeMaskSize ?? 24;
  if (!cidrListOk(podCIDR) || !cidrListOk(serviceCIDR) || typeof nodeMaskSize !== 'number' || !Number.isInteger(nodeMaskSize)) return [];
  const plan = nodes
    .map((n, i) => ({ name: typeof n.name === 'string' ? n.name : `spec.nodes[${i}]`, address: n.address, i }))
    .filter((n): n is { name: string; address: string; i: number } => typeof n.address === 'string' && ipaddr.isValid(n.address));
  let findings;
  try {
    findings = analyzeSubnets({ podCIDR, serviceCIDR, nodeMaskSize, nodes: plan, routes: [], kubernetesVersion: '1.33.0' });
  } catch {
    return [];
  }
  const out: SemanticFinding[] = [];
  // Families: a pair must be one IPv4 and one IPv6 range, and pods and Services must share the primary family
  // (dual-stack pods with single-stack Services of that family are fine).
  const fam = (list: string) => list.split(',').map((c) => (c.includes(':') ? 'IPv6' : 'IPv4'));
  for (const [field, list] of [['podCIDR', podCIDR], ['serviceCIDR', serviceCIDR]] as const) {
    const f = fam(list);
    if (f.length === 2 && f[0] === f[1]) out.push({ path: ['spec', 'network', field], message: `a dual-stack pair is one IPv4 and one IPv6 range, not two ${f[0]} ranges`, severity: 'error' });
  }
  if (out.length === 0 && fam(podCIDR)[0] !== fam(serviceCIDR)[0]) {
    out.push({ path: ['spec', 'network', 'serviceCIDR'], message: `is ${fam(serviceCIDR)[0]} first but podCIDR is ${fam(podCIDR)[0]} first: pods and Services must share the primary family`, severity: 'error' });
  }
  if (out.length > 0) return out;
  const say = (f: { summary: string; fix?: string }) => `${f.summary}${f.fix ? `; ${f.fix}` : ''}`;
  for (const f of findings) {
    if (f.status !== 'fail') continue;
    if (f.id === 'pod-service-overlap') out.push({ path: ['spec', 'network', 'serviceCIDR'], message: say(f), severity: 'error' });
    else if (f.id === 'pod-cidr-capacity') out.push({ path: ['spec', 'network', 'podCIDR'], message: say(f), severity: 'error' });
    else if (f.id === 'node-address-overlap') {
      const hits = ((f.evidence as { hits?: { node: string; address: string; range: string; kind: string }[] }).hits ?? []);
      for (const h of hits) {
        const n = plan.find((p) => p.name === h.node && p.address === h.address);
        out.push({ path: n ? ['spec', 'nodes', n.i, 'address'] : ['spec', 'network', h.kind], message: `${h.address} is inside ${h.kind} ${h.range}: the cluster routes that range itself, so pods could not reach this node; move ${h.kind} away from the node network`, severity: 'error' });
      }
    }
  }
  return out;
}
