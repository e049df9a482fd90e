import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertLoopbackOnly, buildMemberArgv, buildRestoreArgv, type MemberAddress } from '../../src/drill/member.js';
import { describeTarget, scrubEtcdEnv, shellQuote, sourceEtcdctl, type DrillTarget } from '../../src/drill/targets.js';

const member: MemberAddress = { clientUrl: 'http://127.0.0.1:40001', peerUrl: 'http://127.0.0.1:40002', token: 'groundwork-drill-abc' };

describe('restore and member argv', () => {
  it('etcdctl 3.4 restore: fresh token, loopback peer URL, no bump flags', () => {
    expect(buildRestoreArgv({ tool: 'etcdctl', snapshot: '/s/snap.db', dataDir: '/s/restored.etcd', member })).toEqual([
      'etcdctl',
      'snapshot',
      'restore',
      '/s/snap.db',
      '--data-dir=/s/restored.etcd',
      '--name=groundwork-drill',
      '--initial-cluster=groundwork-drill=http://127.0.0.1:40002',
      '--initial-cluster-token=groundwork-drill-abc',
      '--initial-advertise-peer-urls=http://127.0.0.1:40002',
    ]);
  });
  it('etcdutl restore with a bump and a raw db copy', () => {
    const argv = buildRestoreArgv({ tool: 'etcdutl', bin: '/opt/etcdutl', snapshot: 'db', dataDir: 'd', member, skipHashCheck: true, bumpRevision: true });
    expect(argv[0]).toBe('/opt/etcdutl');
    expect(argv.slice(-3)).toEqual(['--skip-hash-check', '--bump-revision=1000000000', '--mark-compacted']);
  });
  it('the member binds loopback only, and the guard passes it', () => {
    const argv = buildMemberArgv('/s/restored.etcd', member);
    expect(argv).toContain('--listen-client-urls=http://127.0.0.1:40001');
    expect(argv).toContain('--listen-peer-urls=http://127.0.0.1:40002');
    expect(() => assertLoopbackOnly(argv)).not.toThrow();
  });
  it.each([['http://0.0.0.0:2379'], ['http://10.0.0.1:2379'], ['http://localhost:2379'], ['http://127.0.0.1:1,http://192.168.1.1:2']])('the guard refuses to bind %s', (url) => {
    expect(() => assertLoopbackOnly(['etcd', `--listen-client-urls=${url}`])).toThrow(/loopback only/);
  });
});

describe('targets', () => {
  it.each<[DrillTarget, string]>([
    [{ kind: 'endpoints', endpoints: ['https://127.0.0.1:2379'] }, 'etcd https://127.0.0.1:2379'],
    [{ kind: 'kubeadm', ssh: { user: 'root', host: '127.0.0.5' } }, 'kubeadm node root@127.0.0.5'],
    [{ kind: 'talos', node: '127.0.0.6' }, 'talos node 127.0.0.6'],
    [{ kind: 'snapshot', file: '/backups/etcd-1.db' }, 'snapshot file etcd-1.db'],
  ])('describes %j', (t, text) => {
    expect(describeTarget(t)).toBe(text);
  });

  it('endpoints: TLS flags carry paths, the first endpoint only', () => {
    const run = sourceEtcdctl({ kind: 'endpoints', endpoints: ['https://127.0.0.1:2379', 'https://127.0.0.2:2379'], cacert: '/p/ca.crt', cert: '/p/c.crt', key: '/p/c.key' })!;
    expect(run(['endpoint', 'status'])).toEqual(['etcdctl', '--endpoints=https://127.0.0.1:2379', '--dial-timeout=5s', '--cacert=/p/ca.crt', '--cert=/p/c.crt', '--key=/p/c.key', 'endpoint', 'status']);
  });

  it('kubeadm: etcdctl runs on the node with its certs; extra words are quoted for the remote shell', () => {
    const run = sourceEtcdctl({ kind: 'kubeadm', ssh: { user: 'root', host: '127.0.0.5' } })!;
    const argv = run(['get', '--', '']);
    expect(argv.slice(0, 3)).toEqual(['ssh', '-o', 'BatchMode=yes']);
    expect(argv.slice(argv.indexOf('--'), argv.indexOf('--') + 4)).toEqual(['--', 'root@127.0.0.5', 'env', 'ETCDCTL_API=3']);
    expect(argv).toContain('--cacert=/etc/kubernetes/pki/etcd/ca.crt');
    expect(argv.at(-1)).toBe("''");
  });

  it('shellQuote: any word survives a round trip through sh', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.includes('\0')), (word) => {
        const out = execFileSync('/bin/sh', ['-c', `printf %s ${shellQuote(word)}`]).toString();
        expect(out).toBe(word);
      }),
      { numRuns: 40 },
    );
  });

  it("scrubs the operator's ETCD_* and ETCDCTL_* variables, nothing else", () => {
    expect(scrubEtcdEnv({ ETCDCTL_ENDPOINTS: 'x', ETCD_LISTEN_CLIENT_URLS: 'http://0.0.0.0:2379', PATH: '/bin', ETCDX: '1' })).toEqual({
      ETCDCTL_ENDPOINTS: undefined,
      ETCD_LISTEN_CLIENT_URLS: undefined,
    });
  });
});
