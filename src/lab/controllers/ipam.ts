/**
 * Address management: per-node slices of the podCIDR (node i gets the i-th /nodeMaskSize block, like
 * kube-controller-manager's range allocator), pod IPs inside a slice, Service ClusterIPs from the serviceCIDR.
 * IPv4 only (the first CIDR of a dual-stack pair).
 */
import ipaddr from 'ipaddr.js';
import { countAddresses, countSubnets, nthSubnet, parseCidrList, type Cidr } from '../../net/cidr.js';

function toInt(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((a, b) => a * 256 + b, 0);
}
function toIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}
/** The IPv4 CIDR of a (possibly dual-stack) list: CIDR math is net/cidr.ts's. */
function firstV4(cidrs: string): Cidr {
  const v4 = parseCidrList(cidrs).find((c) => c.family === 'ipv4');
  if (!v4) throw new Error(`no IPv4 CIDR in "${cidrs}"`);
  return v4;
}

/** A range as integers, for the allocator's arithmetic. */
interface Range {
  base: number;
  size: number;
}
function parseRange(cidr: string): Range {
  const c = firstV4(cidr);
  return { base: toInt(c.network.toString()), size: countAddresses(c) };
}
function inRange(r: Range, ip: string): boolean {
  if (!ipaddr.IPv4.isValid(ip)) return false;
  const n = toInt(ip);
  return n >= r.base && n < r.base + r.size;
}

/** The podCIDR slice of the node at `index`, e.g. 10.244.2.0/24 for index 2 of 10.244.0.0/16 with /24. */
export function nodePodCidr(podCIDR: string, nodeMaskSize: number, index: number): string {
  const parent = firstV4(podCIDR);
  const mask = Math.min(Math.max(nodeMaskSize, parent.prefix), 30);
  const count = countSubnets(parent, mask);
  if (index >= count) throw new Error(`podCIDR ${podCIDR} has room for ${count} nodes of /${mask}; node ${index + 1} does not fit`);
  return nthSubnet(parent, mask, index).text;
}

/** Hands out addresses of one range, skipping the network address, `.1` (gateway) and any reserved. */
export class Allocator {
  private readonly range: Range;
  private readonly used = new Set<number>();
  private next = 0;
  constructor(cidr: string, private readonly skipFirst = 2) {
    this.range = parseRange(cidr);
  }
  contains(ip: string): boolean {
    return inRange(this.range, ip);
  }
  /** Marks an address taken; false when outside the range or already taken. */
  reserve(ip: string): boolean {
    if (!this.contains(ip)) return false;
    const n = toInt(ip);
    if (this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }
  release(ip: string): void {
    if (this.contains(ip)) this.used.delete(toInt(ip));
  }
  isUsed(ip: string): boolean {
    return this.contains(ip) && this.used.has(toInt(ip));
  }
  /** The next free address (round-robin, like the apiserver's allocator avoiding quick reuse). */
  allocate(): string | undefined {
    const usable = this.range.size - this.skipFirst - 1; // minus broadcast
    for (let i = 0; i < usable; i++) {
      const off = this.skipFirst + ((this.next + i) % usable);
      const n = this.range.base + off;
      if (!this.used.has(n)) {
        this.used.add(n);
        this.next = (off - this.skipFirst + 1) % usable;
        return toIp(n);
      }
    }
    return undefined;
  }
}

/** The n-th address of a CIDR (1 -> 10.96.0.1 for 10.96.0.0/12). */
export function nthAddress(cidr: string, n: number): string {
  return toIp(parseRange(cidr).base + n);
}
