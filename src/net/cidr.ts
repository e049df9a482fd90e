/**
 * CIDR math for the cluster's address plan: parse (IPv4, IPv6, dual-stack pairs), overlap, containment, capacity,
 * and this machine's routing table. Pure. Address math goes through ipaddr.js (prefix matching, byte arrays,
 * masks) rather than hand-rolled bit twiddling.
 */
import ipaddr from 'ipaddr.js';

export type Family = 'ipv4' | 'ipv6';
type Addr = ipaddr.IPv4 | ipaddr.IPv6;

export interface Cidr {
  /** Normalized "network/prefix", e.g. 10.244.0.0/16 (host bits cleared). */
  text: string;
  family: Family;
  network: Addr;
  prefix: number;
  /** 32 or 128 */
  bits: number;
}

function familyBits(family: Family): number {
  return family === 'ipv4' ? 32 : 128;
}

/** Parse one CIDR; host bits are cleared ("10.244.1.7/16" is the network 10.244.0.0/16). Throws on bad input. */
export function parseCidr(text: string): Cidr {
  const [addr, prefix] = ipaddr.parseCIDR(text.trim());
  const family = addr.kind();
  const network =
    family === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${prefix}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`);
  return { text: `${network.toString()}/${prefix}`, family, network, prefix, bits: familyBits(family) };
}

/** "v4cidr" or dual-stack "v4cidr,v6cidr" (either order), as the spec writes podCIDR and serviceCIDR. */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map(parseCidr);
}

/** An address as a host route (/32 or /128). */
function addressCidr(address: string): Cidr {
  const a = ipaddr.parse(address);
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address for routing purposes.
  const plain = a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
  return parseCidr(`${plain.toString()}/${familyBits(plain.kind())}`);
}

/** Two ranges overlap when the shorter prefix matches both: then one contains the other. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  return a.network.match(b.network as never, shorter);
}

/** Does `outer` contain all of `inner`? */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  return inner.network.match(outer.network as never, outer.prefix);
}

export function cidrContainsAddress(c: Cidr, address: string): boolean {
  return cidrContains(c, addressCidr(address));
}

/** Addresses in a range (2^hostBits). A float for IPv6; exact up to 2^53. */
export function countAddresses(c: Cidr): number {
  return 2 ** (c.bits - c.prefix);
}

/** How many /childPrefix subnets fit in `parent` (0 when the child is bigger than the parent). */
export function countSubnets(parent: Cidr, childPrefix: number): number {
  if (childPrefix < parent.prefix || childPrefix > parent.bits) return 0;
  return 2 ** (childPrefix - parent.prefix);
}

/** The i-th /childPrefix subnet of `parent` (i from 0), for examples and property tests. */
export function nthSubnet(parent: Cidr, childPrefix: number, i: number): Cidr {
  const bytes = parent.network.toByteArray();
  // Add i << (bits - childPrefix) to the network address, byte by byte with carry, from the last byte.
  let carry = BigInt(i) << BigInt(parent.bits - childPrefix);
  for (let b = bytes.length - 1; b >= 0 && carry > 0n; b--) {
    const sum = BigInt(bytes[b]!) + (carry & 0xffn);
    bytes[b] = Number(sum & 0xffn);
    carry = (carry >> 8n) + (sum >> 8n);
  }
  return parseCidr(`${ipaddr.fromByteArray(bytes).toString()}/${childPrefix}`);
}

// ---------------------------------------------------------------------------------------------------------
// This machine's routes

export interface Route {
  iface: string;
  cidr: Cidr;
  /** "0.0.0.0" / "::" when the route is on-link. */
  gateway: string;
}

function hexBytes(hex: string): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  return out;
}

/**
 * /proc/net/route: IPv4 routes, one per line after the header; Destination, Gateway and Mask are 32-bit values
 * printed in host byte order (little-endian on every platform Kubernetes runs on), so the bytes read reversed.
 */
export function parseProcNetRoute(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, gw, , , , , mask] = f as [string, string, string, string, string, string, string, string];
    if (!/^[0-9A-Fa-f]{8}$/.test(dest) || !/^[0-9A-Fa-f]{8}$/.test(mask)) continue;
    const network = ipaddr.fromByteArray(hexBytes(dest).reverse());
    const prefix = ipaddr.fromByteArray(hexBytes(mask).reverse()).prefixLengthFromSubnetMask();
    if (prefix === null) continue;
    const gateway = ipaddr.fromByteArray(hexBytes(gw).reverse()).toString();
    out.push({ iface, cidr: parseCidr(`${network.toString()}/${prefix}`), gateway });
  }
  return out;
}

/** /proc/net/ipv6_route: dest (32 hex) prefix (hex) src srcPrefix nextHop metric refcnt use flags iface. */
export function parseProcNetIpv6Route(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9a-fA-F]{32}$/.test(f[0]!)) continue;
    const network = ipaddr.fromByteArray(hexBytes(f[0]!));
    const prefix = parseInt(f[1]!, 16);
    const gateway = ipaddr.fromByteArray(hexBytes(f[4]!)).toString();
    out.push({ iface: f[9]!, cidr: parseCidr(`${network.toString()}/${prefix}`), gateway });
  }
  return out;
}

/** Routes that say something about address ownership here: not the default route, loopback, link-local or multicast. */
export function isMeaningfulRoute(r: Route): boolean {
  if (r.cidr.prefix === 0 || r.iface === 'lo') return false;
  const range = r.cidr.network.range();
  return !['loopback', 'linkLocal', 'multicast', 'unspecified'].includes(range);
}

/**
 * Interfaces a CNI or kube-proxy creates on a node that already ran (or runs) a cluster: their routes ARE the
 * pod and service ranges, so they are reported but not held against the plan.
 */
export const CNI_INTERFACE = /^(cilium_|lxc|cali|vxlan\.calico|tunl0|flannel\.|cni0|kube-ipvs0|kube-bridge|weave)/;
