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

describe('loopback guard in the Kubernetes door', () => {
  it('refuses a kubeconfig whose server is not on loopback, before any request', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { loadKubeConfig } = await import('../../src/kube/index.js');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gw-kc-')), 'kubeconfig');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{ name: k, cluster: { server: "https://10.0.10.10:6443" } }]\nusers: [{ name: u, user: { token: abc } }]\ncontexts: [{ name: c, context: { cluster: k, user: u } }]\n',
    );
    await expect(loadKubeConfig(file, undefined, { env: { GROUNDWORK_LOOPBACK_ONLY: '1' } })).rejects.toThrow(/not dialled/);
  });
});
