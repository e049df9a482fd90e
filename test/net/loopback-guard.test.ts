import { describe, expect, it } from 'vitest';
import { dialRefusal, isLoopback } from '../../src/net/loopback-guard.js';
import { probeTcp } from '../../src/preflight/reach.js';

describe('loopback guard', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.0.100.7', true],
    ['::1', true],
    ['localhost', true],
    ['10.0.10.11', false],
    ['192.168.1.1', false],
    ['::ffff:127.0.0.1', true],
    ['not-an-ip', false],
  ])('%s loopback=%s', (host, expected) => expect(isLoopback(host)).toBe(expected));

  it('refuses non-loopback hosts only when GROUNDWORK_LOOPBACK_ONLY is set', () => {
    expect(dialRefusal('10.0.10.11', { GROUNDWORK_LOOPBACK_ONLY: '1' })).toContain('not dialled');
    expect(dialRefusal('127.0.0.1', { GROUNDWORK_LOOPBACK_ONLY: '1' })).toBeUndefined();
    expect(dialRefusal('10.0.10.11', {})).toBeUndefined();
  });

  it('is on in the test runner: probing an example address never opens a socket', async () => {
    expect(process.env.GROUNDWORK_LOOPBACK_ONLY).toBe('1');
    const r = await probeTcp({ host: '10.0.10.11', port: 22 } as never, 200);
    expect(r.status).toBe('error');
    expect(r.ms).toBe(0);
  });
});
