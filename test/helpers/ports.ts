/** Free TCP ports for test servers (the listener is closed before the port is used: a small race, fine in tests). */
import { createServer } from 'node:net';

export function freePortOn(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** N distinct free ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePortOn());
  return [...out];
}
