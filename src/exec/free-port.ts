/**
 * Free TCP ports for the programs we start (etcd members, the real control plane, test servers).
 *
 * A port is chosen, probed and released, then handed to a program that binds it seconds later. A port from
 * port 0 comes out of the kernel's ephemeral range, the same range every outgoing connection on the machine
 * takes its local port from: in those seconds a busy machine (kube-apiserver opening connections to etcd, a
 * test beside it) can take it, and the program fails with "address already in use". So ports are drawn at
 * random from below the ephemeral range and below the NodePort range, where only listeners live, and probed.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOW = 20_000;
/** Kubernetes' default NodePort range starts here (30000-32767). */
const NODE_PORTS = 30_000;

/** The first port of the kernel's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range). */
function ephemeralLow(): number {
  try {
    const first = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(first) && first > 0 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

function probe(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(undefined));
    srv.listen({ port, host, exclusive: true }, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(got));
    });
  });
}

/** A port free on `host` right now, outside the ephemeral range when the machine leaves room below it. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const high = Math.min(NODE_PORTS, ephemeralLow());
  if (high - LOW >= 1000) {
    for (let i = 0; i < 50; i++) {
      const got = await probe(LOW + Math.floor(Math.random() * (high - LOW)), host);
      if (got !== undefined) return got;
    }
  }
  const got = await probe(0, host);
  if (got === undefined) throw new Error(`no free TCP port on ${host}`);
  return got;
}

/** N distinct free ports on `host`. */
export async function findFreePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await findFreePort(host));
  return [...out];
}
