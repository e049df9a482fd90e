import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  cidrContains,
  cidrContainsAddress,
  cidrsOverlap,
  countSubnets,
  nthSubnet,
  parseCidr,
  parseCidrList,
  parseProcNetIpv6Route,
  parseProcNetRoute,
  isMeaningfulRoute,
} from '../../src/net/cidr.js';

describe('parseCidr', () => {
  it.each([
    ['10.244.0.0/16', '10.244.0.0/16', 'ipv4'],
    ['10.244.1.7/16', '10.244.0.0/16', 'ipv4'],
    ['192.168.0.0/16', '192.168.0.0/16', 'ipv4'],
    ['fd00:10:244::/56', 'fd00:10:244::/56', 'ipv6'],
    ['2001:db8::1/64', '2001:db8::/64', 'ipv6'],
    [' 10.96.0.0/12 ', '10.96.0.0/12', 'ipv4'],
  ])('%s -> %s (%s)', (input, text, family) => {
    const c = parseCidr(input);
    expect(c.text).toBe(text);
    expect(c.family).toBe(family);
  });

  it.each(['10.244.0.0/33', '10.244.0.0', 'not-a-cidr', '::1/129'])('rejects %s', (input) => {
    expect(() => parseCidr(input)).toThrow();
  });

  it('reads dual-stack pairs', () => {
    expect(parseCidrList('10.244.0.0/16,fd00:10:244::/56').map((c) => c.family)).toEqual(['ipv4', 'ipv6']);
  });
});

describe('overlap and containment (real cases)', () => {
  it.each([
    // kubeadm defaults don't collide with each other
    ['10.244.0.0/16', '10.96.0.0/12', false],
    // 10.96.0.0/12 spans 10.96.0.0-10.111.255.255: a podCIDR of 10.100.0.0/16 lands inside it
    ['10.100.0.0/16', '10.96.0.0/12', true],
    // Calico default vs a home LAN
    ['192.168.0.0/16', '192.168.1.0/24', true],
    // Docker bridge vs k3s default pods
    ['172.17.0.0/16', '10.42.0.0/16', false],
    ['172.16.0.0/12', '172.17.0.0/16', true],
    // adjacent ranges touch but do not overlap
    ['10.0.0.0/24', '10.0.1.0/24', false],
    // IPv6 and IPv4 never overlap
    ['fd00::/8', '10.0.0.0/8', false],
    ['fd00:10:244::/56', 'fd00:10:244:1::/64', true],
    ['fd00:10:244::/56', 'fd00:10:96::/112', false],
  ])('%s vs %s -> %s', (a, b, expected) => {
    expect(cidrsOverlap(parseCidr(a), parseCidr(b))).toBe(expected);
    expect(cidrsOverlap(parseCidr(b), parseCidr(a))).toBe(expected);
  });

  it.each([
    ['10.96.0.0/12', '10.96.0.10', true],
    ['10.96.0.0/12', '10.112.0.1', false],
    ['192.168.0.0/16', '192.168.178.20', true],
    ['fd00:10:244::/56', 'fd00:10:244:0:1::5', true],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
  ])('%s contains %s -> %s', (c, a, expected) => {
    expect(cidrContainsAddress(parseCidr(c), a)).toBe(expected);
  });

  it.each([
    ['10.244.0.0/16', 24, 256],
    ['10.244.0.0/16', 16, 1],
    ['10.244.0.0/16', 15, 0],
    ['10.0.0.0/8', 24, 65536],
    ['fd00:10:244::/56', 64, 256],
  ])('%s has %i /%i subnets', (c, mask, n) => {
    expect(countSubnets(parseCidr(c), mask)).toBe(n);
  });
});

// Arbitrary CIDRs built from random bytes and prefixes, both families.
const v4 = fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 })).map(([b, p]) => parseCidr(`${b.join('.')}/${p}`));
const v6 = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }))
  .map(([parts, p]) => parseCidr(`${parts.map((x) => x.toString(16)).join(':')}/${p}`));
const anyCidr = fc.oneof(v4, v6);

describe('properties', () => {
  it('overlap is symmetric', () => {
    fc.assert(fc.property(anyCidr, anyCidr, (a, b) => cidrsOverlap(a, b) === cidrsOverlap(b, a)));
  });

  it('overlap is symmetric for ranges of the same family (which actually meet)', () => {
    fc.assert(fc.property(v4, v4, (a, b) => cidrsOverlap(a, b) === cidrsOverlap(b, a)));
  });

  it('a CIDR contains (and overlaps) each of its own subnets', () => {
    fc.assert(
      fc.property(anyCidr, fc.nat(16), fc.nat(), (parent, extra, pick) => {
        const childPrefix = Math.min(parent.bits, parent.prefix + extra);
        const count = countSubnets(parent, childPrefix);
        const child = nthSubnet(parent, childPrefix, pick % Math.min(count, 2 ** 16));
        return cidrContains(parent, child) && cidrsOverlap(parent, child) && !cidrContains(child, parent) === child.prefix > parent.prefix;
      }),
    );
  });

  it('sibling subnets never overlap', () => {
    fc.assert(
      fc.property(v4, fc.integer({ min: 1, max: 8 }), (parent, extra) => {
        fc.pre(parent.prefix + extra <= 32);
        const a = nthSubnet(parent, parent.prefix + extra, 0);
        const b = nthSubnet(parent, parent.prefix + extra, 1);
        return !cidrsOverlap(a, b);
      }),
    );
  });

  it('capacity is monotonic in mask size: a longer node mask never fits fewer nodes', () => {
    fc.assert(
      fc.property(anyCidr, fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 128 }), (c, m1, m2) => {
        const [lo, hi] = m1 <= m2 ? [m1, m2] : [m2, m1];
        fc.pre(lo >= c.prefix && hi <= c.bits);
        return countSubnets(c, lo) <= countSubnets(c, hi);
      }),
    );
  });
});

describe('routing tables', () => {
  // Captured from a Debian host with Docker and a Wi-Fi LAN.
  const procNetRoute = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    'eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0',
    'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    'cilium_host\t0000F40A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  ].join('\n');

  it('reads /proc/net/route (little-endian hex)', () => {
    const routes = parseProcNetRoute(procNetRoute);
    expect(routes.map((r) => `${r.cidr.text} ${r.iface} via ${r.gateway}`)).toEqual([
      '0.0.0.0/0 eth0 via 192.168.1.1',
      '192.168.1.0/24 eth0 via 0.0.0.0',
      '172.17.0.0/16 docker0 via 0.0.0.0',
      '10.244.0.0/16 cilium_host via 0.0.0.0',
    ]);
    expect(routes.filter(isMeaningfulRoute).map((r) => r.cidr.text)).toEqual(['192.168.1.0/24', '172.17.0.0/16', '10.244.0.0/16']);
  });

  it('reads /proc/net/ipv6_route', () => {
    const text = [
      'fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0',
      'fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0',
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0',
      '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo',
    ].join('\n');
    const routes = parseProcNetIpv6Route(text);
    expect(routes.map((r) => r.cidr.text)).toEqual(['fd00::/64', 'fe80::/64', '::/0', '::1/128']);
    expect(routes[2]!.gateway).toBe('fd00::1');
    expect(routes.filter(isMeaningfulRoute).map((r) => r.cidr.text)).toEqual(['fd00::/64']);
  });
});
