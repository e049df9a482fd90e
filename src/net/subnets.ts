/**
 * The cluster's address plan, judged: overlaps between podCIDR, serviceCIDR, node addresses and this machine's
 * routes; capacity; the classic collisions. Pure: routes come in as data. Each finding is one named preflight
 * check with what was measured, why it matters and how to fix it.
 */
import {
  CNI_INTERFACE,
  cidrContainsAddress,
  cidrsOverlap,
  countAddresses,
  countSubnets,
  isMeaningfulRoute,
  parseCidr,
  parseCidrList,
  type Cidr,
  type Family,
  type Route,
} from './cidr.js';

type FindingStatus = 'pass' | 'warn' | 'fail';

export interface SubnetFinding {
  id: SubnetCheckId;
  status: FindingStatus;
  summary: string;
  why: string;
  fix?: string;
  evidence: Record<string, unknown>;
}

export const SUBNET_CHECKS = [
  'dual-stack-families',
  'pod-service-overlap',
  'node-address-overlap',
  'route-overlap',
  'pod-cidr-capacity',
  'service-cidr-capacity',
  'classic-collisions',
] as const;
export type SubnetCheckId = (typeof SUBNET_CHECKS)[number];

export interface SubnetPlan {
  podCIDR: string;
  serviceCIDR: string;
  nodeMaskSize: number;
  nodes: { name: string; address: string }[];
  /** This machine's routes (from /proc/net/route and /proc/net/ipv6_route). */
  routes: Route[];
  kubernetesVersion: string;
}

/**
 * kube-controller-manager's default per-node IPv6 mask (--node-cidr-mask-size-ipv6=64). The spec's single
 * nodeMaskSize is the IPv4 one in dual-stack (src/spec/semantic.ts reads it the same way).
 */
const DEFAULT_NODE_MASK_IPV6 = 64;

/**
 * kube-controller-manager refuses a node mask more than 16 bits longer than the cluster CIDR
 * (pkg/controller/nodeipam/ipam/cidrset/cidr_set.go: clusterSubnetMaxDiff = 16, ErrCIDRSetSubNetTooBig).
 */
export const MAX_NODE_MASK_DIFF = 16;

/** kubelet's default --max-pods (kubelet config maxPods: 110); a node range must hold at least this many pods. */
export const DEFAULT_MAX_PODS = 110;

/**
 * kube-apiserver before 1.33 (MultiCIDRServiceAllocator off) refuses a service range with more than 20 host bits:
 * "specified --service-cluster-ip-range is too large" (cmd/kube-apiserver/app/options/validation.go, maxCIDRBits).
 */
export const MAX_SERVICE_HOST_BITS = 20;

/** kubeadm puts cluster DNS on the 10th address of the service range (kubeadm GetDNSIP), so it needs >= 16 addresses. */
export const MIN_SERVICE_ADDRESSES = 16;
/** Below a /24's worth of Services a growing cluster runs out; a warning, not a failure. */
export const WARN_SERVICE_ADDRESSES = 256;

/** Ranges other software claims by default: where pods and Services collide with the world. */
const CLASSIC_COLLISIONS = [
  {
    cidr: '192.168.0.0/16',
    // Calico manifests default CALICO_IPV4POOL_CIDR to 192.168.0.0/16 (docs.tigera.io, "Install Calico").
    what: "Calico's default pod pool, and the range most home and office LANs, VPNs and printers live in",
  },
  {
    cidr: '172.17.0.0/16',
    // dockerd's default bridge docker0 (docs.docker.com, "Networking with standalone containers"/bip).
    what: "Docker's default bridge (docker0) on any machine that runs Docker",
  },
] as const;

/** Candidate ranges we suggest, in order; the first that overlaps nothing known is offered in a fix. */
const SUGGESTIONS: Record<Family, string[]> = {
  ipv4: ['10.244.0.0/16', '10.42.0.0/16', '10.200.0.0/16', '172.20.0.0/16', '10.96.0.0/12', '10.32.0.0/12', '100.64.0.0/16'],
  ipv6: ['fd00:10:244::/56', 'fd00:10:96::/112', 'fd42:42::/56', 'fd00:beef::/108'],
};

/** The first suggestion of this family and at least `prefix`-sized that overlaps none of `taken`. */
function suggestFreeCidr(family: Family, taken: Cidr[], maxPrefix?: number): string | undefined {
  return SUGGESTIONS[family].find((s) => {
    const c = parseCidr(s);
    return (maxPrefix === undefined || c.prefix <= maxPrefix) && !taken.some((t) => cidrsOverlap(c, t));
  });
}

function isAtLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = version.replace(/^v/, '').split('.').map(Number);
  return a! > major || (a === major && b! >= minor);
}

function fmtCount(n: number): string {
  return n >= 2 ** 53 ? `2^${Math.round(Math.log2(n))}` : n.toLocaleString('en-US');
}

function families(cs: Cidr[]): Family[] {
  return cs.map((c) => c.family);
}

/** Analyse the plan. Always returns one finding per SUBNET_CHECKS id, in that order. */
export function analyzeSubnets(plan: SubnetPlan): SubnetFinding[] {
  const pods = parseCidrList(plan.podCIDR);
  const services = parseCidrList(plan.serviceCIDR);
  const dual = pods.length > 1;
  return [
    checkFamilies(pods, services, plan),
    checkPodServiceOverlap(pods, services),
    checkNodeAddresses(pods, services, plan),
    checkRoutes(pods, services, plan),
    checkPodCapacity(pods, dual, plan),
    checkServiceCapacity(services, plan),
    checkClassicCollisions(pods, services),
  ];
}

function checkFamilies(pods: Cidr[], services: Cidr[], plan: SubnetPlan): SubnetFinding {
  const why = 'dual-stack needs exactly one IPv4 and one IPv6 range in both podCIDR and serviceCIDR, and nodes with an address in each primary family';
  const evidence = { podFamilies: families(pods), serviceFamilies: families(services) };
  const bad = (list: Cidr[]) => list.length === 2 && list[0]!.family === list[1]!.family;
  if (bad(pods) || bad(services)) {
    return {
      id: 'dual-stack-families',
      status: 'fail',
      summary: `a dual-stack pair must be one IPv4 and one IPv6 range (podCIDR ${families(pods).join('+')}, serviceCIDR ${families(services).join('+')})`,
      why,
      fix: 'write podCIDR and serviceCIDR as "IPv4CIDR,IPv6CIDR", e.g. podCIDR: 10.244.0.0/16,fd00:10:244::/56',
      evidence,
    };
  }
  const pf = new Set(families(pods));
  const sf = new Set(families(services));
  if (pf.size !== sf.size || [...pf].some((f) => !sf.has(f))) {
    return {
      id: 'dual-stack-families',
      status: 'fail',
      summary: `podCIDR is ${[...pf].join('+')} but serviceCIDR is ${[...sf].join('+')}`,
      why,
      fix: pf.size > sf.size ? 'add the missing family to serviceCIDR ("IPv4CIDR,IPv6CIDR")' : 'make podCIDR and serviceCIDR the same families',
      evidence,
    };
  }
  const primary = pods[0]!.family;
  const wrongFamily = plan.nodes.filter((n) => (n.address.includes(':') ? 'ipv6' : 'ipv4') !== primary);
  if (wrongFamily.length > 0) {
    return {
      id: 'dual-stack-families',
      status: 'warn',
      summary: `${wrongFamily.length} node(s) have ${primary === 'ipv4' ? 'IPv6' : 'IPv4'} addresses but the primary pod family is ${primary}: ${wrongFamily.map((n) => `${n.name} ${n.address}`).join(', ')}`,
      why: "a node's InternalIP family should match the first (primary) range, or kubelet and the CNI disagree on which family is primary",
      fix: `list the ${primary} range first in podCIDR and serviceCIDR, or give the nodes ${primary} addresses`,
      evidence: { ...evidence, nodes: wrongFamily },
    };
  }
  return {
    id: 'dual-stack-families',
    status: 'pass',
    summary: pods.length > 1 ? `dual-stack: ${families(pods).join(' + ')} in both podCIDR and serviceCIDR` : `single-stack ${primary}`,
    why,
    evidence,
  };
}

function checkPodServiceOverlap(pods: Cidr[], services: Cidr[]): SubnetFinding {
  const clashes = pods.flatMap((p) => services.filter((s) => cidrsOverlap(p, s)).map((s) => [p.text, s.text]));
  const why = 'a Service IP inside the pod range is routed to a pod (or nowhere) instead of kube-proxy/Cilium: Services break at random';
  if (clashes.length > 0) {
    const free = suggestFreeCidr(services[0]!.family, [...pods, ...services], services[0]!.prefix);
    return {
      id: 'pod-service-overlap',
      status: 'fail',
      summary: `podCIDR and serviceCIDR overlap: ${clashes.map(([p, s]) => `${p} ∩ ${s}`).join(', ')}`,
      why,
      fix: `pick non-overlapping ranges in spec.network${free ? `, e.g. serviceCIDR: ${free}` : ''}`,
      evidence: { overlaps: clashes },
    };
  }
  return {
    id: 'pod-service-overlap',
    status: 'pass',
    summary: `podCIDR ${pods.map((c) => c.text).join(',')} and serviceCIDR ${services.map((c) => c.text).join(',')} do not overlap`,
    why,
    evidence: { podCIDR: pods.map((c) => c.text), serviceCIDR: services.map((c) => c.text) },
  };
}

function checkNodeAddresses(pods: Cidr[], services: Cidr[], plan: SubnetPlan): SubnetFinding {
  const hits: { node: string; address: string; range: string; kind: 'podCIDR' | 'serviceCIDR' }[] = [];
  for (const n of plan.nodes) {
    for (const p of pods) if (cidrContainsAddress(p, n.address)) hits.push({ node: n.name, address: n.address, range: p.text, kind: 'podCIDR' });
    for (const s of services) if (cidrContainsAddress(s, n.address)) hits.push({ node: n.name, address: n.address, range: s.text, kind: 'serviceCIDR' });
  }
  const why = "a node address inside the pod or service range is shadowed by the cluster's own routes: the node becomes unreachable from pods";
  if (hits.length > 0) {
    const taken = [...pods, ...services, ...plan.nodes.map((n) => parseCidr(`${n.address}/${n.address.includes(':') ? 64 : 24}`))];
    const kind = hits[0]!.kind;
    const fam = (kind === 'podCIDR' ? pods : services)[0]!.family;
    const free = suggestFreeCidr(fam, taken);
    return {
      id: 'node-address-overlap',
      status: 'fail',
      summary: hits.map((h) => `${h.node} ${h.address} is inside ${h.kind} ${h.range}`).join('; '),
      why,
      fix: `move ${kind} away from the node network${free ? `, e.g. ${kind}: ${free}` : ''}`,
      evidence: { hits },
    };
  }
  return {
    id: 'node-address-overlap',
    status: 'pass',
    summary: `no node address (${plan.nodes.length}) is inside podCIDR or serviceCIDR`,
    why,
    evidence: { nodes: plan.nodes.length },
  };
}

function checkRoutes(pods: Cidr[], services: Cidr[], plan: SubnetPlan): SubnetFinding {
  const meaningful = plan.routes.filter(isMeaningfulRoute);
  const cni = meaningful.filter((r) => CNI_INTERFACE.test(r.iface));
  const others = meaningful.filter((r) => !CNI_INTERFACE.test(r.iface));
  const hits: { range: string; kind: string; route: string; iface: string }[] = [];
  for (const [kind, list] of [['podCIDR', pods], ['serviceCIDR', services]] as const) {
    for (const c of list) for (const r of others) if (cidrsOverlap(c, r.cidr)) hits.push({ range: c.text, kind, route: r.cidr.text, iface: r.iface });
  }
  const why = 'a network this machine already routes to (LAN, VPN, Docker bridge) that overlaps the pod or service range makes those addresses ambiguous: traffic goes to the wrong place';
  const evidence = { routesChecked: others.length, cniRoutesIgnored: cni.map((r) => `${r.cidr.text} dev ${r.iface}`), hits };
  if (hits.length > 0) {
    const h = hits[0]!;
    const fam = (h.kind === 'podCIDR' ? pods : services).find((c) => c.text === h.range)!.family;
    const free = suggestFreeCidr(fam, [...pods, ...services, ...others.map((r) => r.cidr)]);
    return {
      id: 'route-overlap',
      status: 'fail',
      summary: hits.map((x) => `${x.kind} ${x.range} overlaps route ${x.route} dev ${x.iface}`).join('; '),
      why,
      fix: `choose a ${h.kind} that no local network uses${free ? `, e.g. ${h.kind}: ${free}` : ''} (or remove the route if it is stale: ip route del ${h.route})`,
      evidence,
    };
  }
  return {
    id: 'route-overlap',
    status: 'pass',
    summary: `none of this machine's ${others.length} route(s) overlaps podCIDR or serviceCIDR${cni.length ? ` (${cni.length} CNI route(s) ignored)` : ''}`,
    why,
    evidence,
  };
}

function checkPodCapacity(pods: Cidr[], dual: boolean, plan: SubnetPlan): SubnetFinding {
  const n = plan.nodes.length;
  const per = pods.map((p) => {
    const mask = p.family === 'ipv6' && dual ? DEFAULT_NODE_MASK_IPV6 : plan.nodeMaskSize;
    const fit = countSubnets(p, mask);
    const podsPerNode = mask <= p.bits ? 2 ** (p.bits - mask) - 2 : 0;
    return { range: p.text, nodeMask: mask, nodesThatFit: fit, podsPerNode, tooManyBits: mask - p.prefix > MAX_NODE_MASK_DIFF };
  });
  const why = 'each node gets one /nodeMaskSize slice of podCIDR: when slices run out, new nodes get no pod range and stay NotReady';
  const evidence = { nodes: n, ranges: per };
  const say = (x: (typeof per)[number]) => `${x.range} with /${x.nodeMask} per node fits ${fmtCount(x.nodesThatFit)} nodes (${fmtCount(x.podsPerNode)} pod addresses each)`;
  const fail = per.find((x) => x.nodesThatFit === 0 || x.tooManyBits || x.nodesThatFit < n);
  if (fail) {
    const reason =
      fail.nodesThatFit === 0
        ? `/${fail.nodeMask} per node is larger than ${fail.range}`
        : fail.tooManyBits
          ? `/${fail.nodeMask} is ${fail.nodeMask - parseCidr(fail.range).prefix} bits below ${fail.range}; kube-controller-manager allows at most ${MAX_NODE_MASK_DIFF}`
          : `${say(fail)}, but the spec has ${n}`;
    return { id: 'pod-cidr-capacity', status: 'fail', summary: reason, why, fix: 'widen podCIDR (a shorter prefix) or change nodeMaskSize so that 2^(nodeMaskSize - podPrefix) is at least twice the node count and at most 65,536', evidence };
  }
  const small = per.find((x) => x.podsPerNode < DEFAULT_MAX_PODS);
  if (small) {
    return {
      id: 'pod-cidr-capacity',
      status: 'warn',
      summary: `${say(small)}: fewer than kubelet's default ${DEFAULT_MAX_PODS} pods per node`,
      why: 'a node whose pod range is smaller than maxPods refuses pods with "no IP addresses available" long before it is full',
      fix: `use nodeMaskSize ${small.range.includes(':') ? 64 : 24} (or set kubelet maxPods below ${small.podsPerNode})`,
      evidence,
    };
  }
  // Headroom: at least twice today's node count, so the cluster can grow without re-addressing every pod.
  const tight = per.find((x) => x.nodesThatFit < 2 * n);
  if (tight) {
    return { id: 'pod-cidr-capacity', status: 'warn', summary: `${say(tight)}; the spec has ${n}: less than 2x headroom`, why, fix: 'widen podCIDR now: changing it later means re-creating the cluster', evidence };
  }
  return { id: 'pod-cidr-capacity', status: 'pass', summary: `${per.map(say).join('; ')}; the spec has ${n}`, why, evidence };
}

function checkServiceCapacity(services: Cidr[], plan: SubnetPlan): SubnetFinding {
  const limited = !isAtLeast(plan.kubernetesVersion, 1, 33);
  const per = services.map((s) => ({ range: s.text, addresses: countAddresses(s), hostBits: s.bits - s.prefix }));
  const why = 'every Service takes one address from serviceCIDR; the 1st is the API server, the 10th cluster DNS';
  const evidence = { ranges: per, kubernetesVersion: plan.kubernetesVersion };
  const tooBig = limited ? per.find((x) => x.hostBits > MAX_SERVICE_HOST_BITS) : undefined;
  if (tooBig) {
    const bits = tooBig.range.includes(':') ? 128 : 32;
    return {
      id: 'service-cidr-capacity',
      status: 'fail',
      summary: `${tooBig.range} has ${tooBig.hostBits} host bits; kube-apiserver ${plan.kubernetesVersion} accepts at most ${MAX_SERVICE_HOST_BITS}`,
      why: 'the API server refuses to start ("specified --service-cluster-ip-range is too large")',
      fix: `use a /${bits - MAX_SERVICE_HOST_BITS} or smaller, e.g. ${bits === 32 ? '10.96.0.0/12' : 'fd00:10:96::/112'}`,
      evidence,
    };
  }
  const tiny = per.find((x) => x.addresses < MIN_SERVICE_ADDRESSES);
  if (tiny) {
    return { id: 'service-cidr-capacity', status: 'fail', summary: `${tiny.range} has ${tiny.addresses} addresses: no room for cluster DNS at the 10th`, why, fix: 'use at least a /24 (IPv4) or /112 (IPv6) for serviceCIDR', evidence };
  }
  const small = per.find((x) => x.addresses < WARN_SERVICE_ADDRESSES);
  if (small) {
    return { id: 'service-cidr-capacity', status: 'warn', summary: `${small.range} holds ${small.addresses - 2} Services`, why, fix: 'use at least a /24 (IPv4) or /112 (IPv6); 10.96.0.0/12 is the kubeadm default', evidence };
  }
  return { id: 'service-cidr-capacity', status: 'pass', summary: per.map((x) => `${x.range} holds ${fmtCount(x.addresses - 2)} Services`).join('; '), why, evidence };
}

function checkClassicCollisions(pods: Cidr[], services: Cidr[]): SubnetFinding {
  const hits: { kind: string; range: string; collidesWith: string; what: string }[] = [];
  for (const k of CLASSIC_COLLISIONS) {
    const c = parseCidr(k.cidr);
    for (const [kind, list] of [['podCIDR', pods], ['serviceCIDR', services]] as const)
      for (const r of list) if (cidrsOverlap(r, c)) hits.push({ kind, range: r.text, collidesWith: k.cidr, what: k.what });
  }
  const why = 'ranges that other software uses by default collide sooner or later: a laptop on the office Wi-Fi, a VPN, or Docker on a node';
  if (hits.length > 0) {
    const h = hits[0]!;
    const free = suggestFreeCidr('ipv4', [...pods, ...services, ...CLASSIC_COLLISIONS.map((k) => parseCidr(k.cidr))]);
    return {
      id: 'classic-collisions',
      status: 'warn',
      summary: hits.map((x) => `${x.kind} ${x.range} overlaps ${x.collidesWith}: ${x.what}`).join('; '),
      why,
      fix: `unless you know these networks never reach the cluster, use ${h.kind}: ${free ?? '10.244.0.0/16'}`,
      evidence: { hits },
    };
  }
  return { id: 'classic-collisions', status: 'pass', summary: `no overlap with ${CLASSIC_COLLISIONS.map((k) => k.cidr).join(' or ')}`, why, evidence: { checked: CLASSIC_COLLISIONS.map((k) => k.cidr) } };
}
