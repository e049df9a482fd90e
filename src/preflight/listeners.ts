/**
 * Who is listening here, read from /proc/net/{tcp,tcp6,udp,udp6} rather than by binding: a bind test would
 * have to touch every address of the machine, and would briefly steal the port from whoever wants it.
 */
import ipaddr from 'ipaddr.js';

export interface Listener {
  protocol: 'tcp' | 'udp';
  address: string;
  port: number;
}

/** Linux socket states (include/net/tcp_states.h): 0A = LISTEN; 07 = CLOSE, what an unconnected UDP socket shows. */
const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

function hexAddress(hex: string): string {
  const bytes: number[] = [];
  // The address is printed as 32-bit words in host (little-endian) order: reverse each 4-byte group.
  for (let w = 0; w < hex.length; w += 8) {
    const word = hex.slice(w, w + 8);
    for (let i = 6; i >= 0; i -= 2) bytes.push(parseInt(word.slice(i, i + 2), 16));
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parse one /proc/net/{tcp,tcp6,udp,udp6} table. */
export function parseProcNetSockets(text: string, protocol: 'tcp' | 'udp'): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    const st = f[3]!.toUpperCase();
    if (!addrHex || !portHex) continue;
    if ((protocol === 'tcp' && st !== TCP_LISTEN) || (protocol === 'udp' && st !== UDP_UNCONNECTED)) continue;
    out.push({ protocol, address: hexAddress(addrHex), port: parseInt(portHex, 16) });
  }
  return out;
}

export function listenersOn(listeners: Listener[], protocol: 'tcp' | 'udp', from: number, to = from): Listener[] {
  return listeners.filter((l) => l.protocol === protocol && l.port >= from && l.port <= to);
}
