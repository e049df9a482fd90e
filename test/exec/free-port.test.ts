import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findFreePort, findFreePorts } from '../../src/exec/free-port.js';

const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

describe('free ports', () => {
  it('come from below the ephemeral range and the NodePort range, where outgoing connections never take one', async () => {
    const ports = await findFreePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(20_000);
      expect(p).toBeLessThan(Math.min(30_000, ephemeralLow));
    }
  });
  it('a port it gives can be bound, on the host asked for', async () => {
    const p = await findFreePort('127.0.0.2');
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(p, '127.0.0.2', () => resolve());
    });
    srv.close();
  });
});
