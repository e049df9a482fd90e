import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { analyzeSubnets, SUBNET_CHECKS, type SubnetPlan, type SubnetCheckId } from '../../src/net/subnets.js';
import { cidrContainsAddress, parseCidr, parseProcNetRoute, type Route } from '../../src/net/cidr.js';

const nodes3 = [
  { name: 'cp-1', address: '10.0.10.11' },
  { name: 'cp-2', address: '10.0.10.12' },
  { name: 'w-1', address: '10.0.10.21' },
];

function plan(p: Partial<SubnetPlan> = {}): SubnetPlan {
  return { podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeMaskSize: 24, nodes: nodes3, routes: [], kubernetesVersion: '1.32.4', ...p };
}

function route(cidr: string, iface = 'eth0'): Route {
  return { cidr: parseCidr(cidr), iface, gateway: '0.0.0.0' };
}

function find(p: SubnetPlan, id: SubnetCheckId) {
  return analyzeSubnets(p).find((f) => f.id === id)!;
}

describe('analyzeSubnets', () => {
  it('names its checks as the operator passes them to --ignore', () => {
    expect(SUBNET_CHECKS).toEqual(['dual-stack-families', 'pod-service-overlap', 'node-address-overlap', 'route-overlap', 'pod-cidr-capacity', 'service-cidr-capacity', 'classic-collisions']);
  });

  it('the kubeadm defaults pass every check, one finding per check', () => {
    const out = analyzeSubnets(plan());
    expect(out.map((f) => f.id)).toEqual([...SUBNET_CHECKS]);
    expect(out.map((f) => f.status)).toEqual(SUBNET_CHECKS.map(() => 'pass'));
    expect(find(plan(), 'pod-cidr-capacity').summary).toBe('10.244.0.0/16 with /24 per node fits 256 nodes (254 pod addresses each); the spec has 3');
  });

  it.each<[string, Partial<SubnetPlan>, SubnetCheckId, 'pass' | 'warn' | 'fail', RegExp]>([
    // pods inside 10.96.0.0/12 (10.96.0.0-10.111.255.255)
    ['pods inside the service range', { podCIDR: '10.100.0.0/16' }, 'pod-service-overlap', 'fail', /10\.100\.0\.0\/16 ∩ 10\.96\.0\.0\/12/],
    ['dual-stack v6 service inside v6 pods', { podCIDR: '10.244.0.0/16,fd00:10::/48', serviceCIDR: '10.96.0.0/12,fd00:10:0:1::/112' }, 'pod-service-overlap', 'fail', /fd00:10::\/48/],
    ['Calico default on an office LAN node', { podCIDR: '192.168.0.0/16', nodes: [{ name: 'cp-1', address: '192.168.1.10' }] }, 'node-address-overlap', 'fail', /cp-1 192\.168\.1\.10 is inside podCIDR 192\.168\.0\.0\/16/],
    ['service range swallowing the node LAN', { serviceCIDR: '10.0.0.0/12' }, 'node-address-overlap', 'fail', /inside serviceCIDR 10\.0\.0\.0\/12/],
    ['Docker bridge route on this machine', { podCIDR: '172.17.0.0/16', routes: [route('172.17.0.0/16', 'docker0')] }, 'route-overlap', 'fail', /podCIDR 172\.17\.0\.0\/16 overlaps route 172\.17\.0\.0\/16 dev docker0/],
    ['a VPN route inside the service range', { routes: [route('10.100.0.0/16', 'tun0')] }, 'route-overlap', 'fail', /serviceCIDR 10\.96\.0\.0\/12 overlaps route 10\.100\.0\.0\/16 dev tun0/],
    ["Cilium's own route on a node that runs it", { routes: [route('10.244.0.0/16', 'cilium_host')] }, 'route-overlap', 'pass', /1 CNI route\(s\) ignored/],
    ['a default route is not an overlap', { routes: [route('0.0.0.0/0')] }, 'route-overlap', 'pass', /0 route/],
    ['a /24 podCIDR with /24 per node fits one node', { podCIDR: '10.244.0.0/24' }, 'pod-cidr-capacity', 'fail', /fits 1 nodes .* but the spec has 3/],
    ['a /8 podCIDR with /28 per node is over the 16-bit limit', { podCIDR: '10.0.0.0/8', nodeMaskSize: 28, nodes: [] }, 'pod-cidr-capacity', 'fail', /20 bits below 10\.0\.0\.0\/8/],
    ['/26 per node holds 62 pods', { nodeMaskSize: 26 }, 'pod-cidr-capacity', 'warn', /fewer than kubelet's default 110/],
    ['/22 podCIDR fits 4 nodes for 3', { podCIDR: '10.244.0.0/22' }, 'pod-cidr-capacity', 'warn', /less than 2x headroom/],
    ['dual-stack uses /64 for IPv6 nodes', { podCIDR: '10.244.0.0/16,fd00:10:244::/56', serviceCIDR: '10.96.0.0/12,fd00:10:96::/112' }, 'pod-cidr-capacity', 'pass', /fd00:10:244::\/56 with \/64 per node fits 256 nodes/],
    ['a /8 service range is refused by kube-apiserver 1.32', { serviceCIDR: '10.96.0.0/8', podCIDR: '172.20.0.0/16' }, 'service-cidr-capacity', 'fail', /24 host bits; kube-apiserver 1\.32\.4 accepts at most 20/],
    ['IPv6 /64 service range before 1.33', { podCIDR: 'fd00:10:244::/56', serviceCIDR: 'fd00:10:96::/64', nodeMaskSize: 64, nodes: [{ name: 'a', address: 'fd00:1::1' }] }, 'service-cidr-capacity', 'fail', /64 host bits/],
    ['IPv6 /64 service range from 1.33 on', { podCIDR: 'fd00:10:244::/56', serviceCIDR: 'fd00:10:96::/64', nodeMaskSize: 64, kubernetesVersion: '1.33.0', nodes: [{ name: 'a', address: 'fd00:1::1' }] }, 'service-cidr-capacity', 'pass', /holds/],
    ['a /29 service range has no 10th address', { serviceCIDR: '10.96.0.0/29' }, 'service-cidr-capacity', 'fail', /8 addresses: no room for cluster DNS/],
    ['a /25 service range is small', { serviceCIDR: '10.96.0.0/25' }, 'service-cidr-capacity', 'warn', /holds 126 Services/],
    ['Calico default podCIDR', { podCIDR: '192.168.0.0/16' }, 'classic-collisions', 'warn', /192\.168\.0\.0\/16: Calico's default pod pool/],
    ['Docker bridge inside a /12', { podCIDR: '172.16.0.0/12' }, 'classic-collisions', 'warn', /172\.17\.0\.0\/16: Docker's default bridge/],
    ['two IPv4 ranges are not dual-stack', { podCIDR: '10.244.0.0/16,10.245.0.0/16' }, 'dual-stack-families', 'fail', /one IPv4 and one IPv6/],
    ['dual-stack pods, single-stack services', { podCIDR: '10.244.0.0/16,fd00:10:244::/56' }, 'dual-stack-families', 'fail', /serviceCIDR is ipv4$/],
    ['IPv6 nodes with an IPv4-primary plan', { nodes: [{ name: 'cp-1', address: 'fd00::11' }] }, 'dual-stack-families', 'warn', /cp-1 fd00::11/],
  ])('%s', (_name, p, id, status, summary) => {
    const f = find(plan(p), id);
    expect(f.status).toBe(status);
    expect(f.summary).toMatch(summary);
    if (status !== 'pass') {
      expect(f.why.length).toBeGreaterThan(20);
      expect(f.fix).toBeTruthy();
    }
  });

  it('suggests a free range in the fix', () => {
    const f = find(plan({ podCIDR: '192.168.0.0/16', nodes: [{ name: 'cp-1', address: '192.168.1.10' }] }), 'node-address-overlap');
    expect(f.fix).toContain('podCIDR: 10.244.0.0/16');
    const r = find(plan({ routes: parseProcNetRoute('Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\neth0\t0000F40A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0') }), 'route-overlap');
    expect(r.status).toBe('fail');
    expect(r.fix).toContain('podCIDR: 10.42.0.0/16');
  });

  it('property: node capacity never decreases as the node mask grows (fewer addresses per node)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 24 }), fc.integer({ min: 16, max: 30 }), fc.integer({ min: 16, max: 30 }), (prefix, m1, m2) => {
        const [lo, hi] = m1 <= m2 ? [m1, m2] : [m2, m1];
        fc.pre(lo >= prefix);
        const fit = (mask: number) => (find(plan({ podCIDR: `10.0.0.0/${prefix}`, nodeMaskSize: mask, nodes: [] }), 'pod-cidr-capacity').evidence.ranges as { nodesThatFit: number }[])[0]!.nodesThatFit;
        return fit(lo) <= fit(hi);
      }),
    );
  });

  it('property: node-address-overlap fails exactly when some node address lies in podCIDR or serviceCIDR', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    // Biased towards 10.0.x.x and 172.30.x.x so that both outcomes are common.
    const first = fc.oneof(fc.constantFrom(10, 172), octet);
    const second = fc.oneof(fc.constantFrom(0, 30), octet);
    fc.assert(
      fc.property(fc.tuple(first, second, octet, octet), fc.integer({ min: 8, max: 24 }), (o, prefix) => {
        const address = o.join('.');
        const p = plan({ podCIDR: `10.0.0.0/${prefix}`, serviceCIDR: '172.30.0.0/16', nodes: [{ name: 'n', address }] });
        const inside = cidrContainsAddress(parseCidr(p.podCIDR), address) || cidrContainsAddress(parseCidr(p.serviceCIDR), address);
        return (find(p, 'node-address-overlap').status === 'fail') === inside;
      }),
    );
  });

  it('property: any overlap between pods and services is reported whichever order the pair is written', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 24 }), fc.integer({ min: 8, max: 24 }), (a, b) => {
        const x = find(plan({ podCIDR: `10.0.0.0/${a}`, serviceCIDR: `10.0.0.0/${b}` }), 'pod-service-overlap').status;
        const y = find(plan({ podCIDR: `10.0.0.0/${b}`, serviceCIDR: `10.0.0.0/${a}` }), 'pod-service-overlap').status;
        return x === 'fail' && y === 'fail';
      }),
    );
  });
});
