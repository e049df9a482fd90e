import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  buildProbe,
  buildProbeContainer,
  checksumContent,
  formatProbeLine,
  parseProbe,
  parseProbeLine,
  parseProbeLogs,
  probeImage,
  type Probe,
} from '../../src/probe/index.js';

describe('buildProbe / parseProbe round trip', () => {
  it.each<[string, Probe]>([
    ['connect to a pod IP', { kind: 'connect', host: '10.244.1.5', port: 8080, timeoutS: 2 }],
    ['connect to a service name', { kind: 'connect', host: 'postgres.db.svc.cluster.local', port: 5432, timeoutS: 5 }],
    ['connect through a Service, tried 3 times', { kind: 'connect', host: '10.96.0.20', port: 8080, timeoutS: 2, attempts: 3 }],
    ['resolve', { kind: 'resolve', name: 'kubernetes.default', timeoutS: 2 }],
    ['http-get', { kind: 'http-get', url: 'http://web.default:80/healthz', timeoutS: 3 }],
    ['serve', { kind: 'serve', port: 8080 }],
    ['write-file', { kind: 'write-file', path: '/data/probe.txt', content: 'hello; rm -rf / $(reboot)' }],
    ['read-file', { kind: 'read-file', path: '/data/probe.txt', sha256: checksumContent('x') }],
    ['sleep N', { kind: 'sleep', seconds: 30 }],
    ['run forever', { kind: 'sleep' }],
    ['exit 3', { kind: 'exit', code: 3 }],
  ])('%s', (_name, probe) => {
    expect(parseProbe(buildProbe(probe))).toEqual(probe);
  });

  it.each([
    [2, 'ok', 0],
    [5, 'fail', 1],
  ])('connect with 3 attempts runs in sh: nc refusing %i times ends %s', (refusals, verdict, code) => {
    // A PATH built here: an nc that refuses the first N calls (counted in a file), and sleep.
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-probe-retry-'));
    try {
      writeFileSync(path.join(dir, 'nc'), `#!/bin/sh\nn=$(cat "${dir}/count" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "${dir}/count"; [ "$n" -gt ${refusals} ]\n`, { mode: 0o755 });
      symlinkSync('/bin/sleep', path.join(dir, 'sleep'));
      symlinkSync('/bin/cat', path.join(dir, 'cat'));
      const [sh, ...args] = buildProbe({ kind: 'connect', host: '10.96.0.20', port: 8080, timeoutS: 2, attempts: 3 });
      const r = spawnSync(`/bin/${sh}`, args, { env: { PATH: dir }, encoding: 'utf8' });
      expect(r.stdout.trim()).toBe(`GW-PROBE connect 10.96.0.20:8080 ${verdict}`);
      expect(r.status).toBe(code);
      expect(readFileSync(path.join(dir, 'count'), 'utf8').trim()).toBe(String(Math.min(refusals + 1, 3)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves without agnhost netexec\'s UDP server, so two servers in one pod do not both bind UDP 8081', () => {
    // On real nodes the second one exited "listen udp :8081: bind: address already in use" (netpol's trap port).
    expect(buildProbe({ kind: 'serve', port: 3306 })).toEqual(['/agnhost', 'netexec', '--http-port=3306', '--udp-port=-1']);
  });

  it('splits command and args like a container runtime', () => {
    const argv = buildProbe({ kind: 'connect', host: 'a', port: 1, timeoutS: 2 });
    expect(parseProbe(argv.slice(0, 2), argv.slice(2))).toEqual({ kind: 'connect', host: 'a', port: 1, timeoutS: 2 });
  });

  it('never puts an operator value inside the script', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (p, content) => {
        const argv = buildProbe({ kind: 'write-file', path: p || '/x', content });
        expect(argv.slice(0, 4)).toEqual(buildProbe({ kind: 'write-file', path: '/y', content: 'z' }).slice(0, 4));
        expect(argv).toHaveLength(6);
      }),
    );
  });

  it('round-trips any connect target', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 60 }), (host, port, t) => {
        const probe: Probe = { kind: 'connect', host, port, timeoutS: t };
        expect(parseProbe(buildProbe(probe))).toEqual(probe);
      }),
    );
  });
});

describe('parseProbe reads the plain forms people type', () => {
  it.each<[string[], Probe | undefined]>([
    [['nc', '-z', '-w', '2', '10.96.0.10', '53'], { kind: 'connect', host: '10.96.0.10', port: 53, timeoutS: 2 }],
    [['nc', '-zv', 'db', '5432'], undefined],
    [['nc', '-z', 'db', '5432'], { kind: 'connect', host: 'db', port: 5432, timeoutS: 2 }],
    [['nc', '-z', '-u', '-w', '1', 'kube-dns.kube-system', '53'], { kind: 'connect', host: 'kube-dns.kube-system', port: 53, timeoutS: 1, protocol: 'UDP' }],
    [['nc', '-zu', '10.96.0.10', '53'], { kind: 'connect', host: '10.96.0.10', port: 53, timeoutS: 2, protocol: 'UDP' }],
    [['/agnhost', 'connect', 'web:80', '--timeout=5s'], { kind: 'connect', host: 'web', port: 80, timeoutS: 5 }],
    [['/agnhost', 'connect', '[fd00::1]:80'], { kind: 'connect', host: 'fd00::1', port: 80, timeoutS: 2 }],
    [['/agnhost', 'netexec', '--http-port=9000'], { kind: 'serve', port: 9000 }],
    [['/agnhost', 'serve-hostname'], { kind: 'serve', port: 9376 }],
    [['/agnhost', 'pause'], { kind: 'sleep' }],
    [['sleep', 'infinity'], { kind: 'sleep' }],
    [['sleep', '3600'], { kind: 'sleep', seconds: 3600 }],
    [['true'], { kind: 'exit', code: 0 }],
    [['/bin/false'], { kind: 'exit', code: 1 }],
    [['nginx', '-g', 'daemon off;'], undefined],
    [['sh', '-c', 'echo hi'], undefined],
    [['sh', '-c', 'exit "$1"', 'gw-probe', '1'], undefined],
    [[], undefined],
  ])('%j', (argv, want) => {
    expect(parseProbe(argv)).toEqual(want);
  });

  it('rejects out-of-range values', () => {
    expect(parseProbe(['nc', '-z', 'h', '70000'])).toBeUndefined();
    const argv = buildProbe({ kind: 'exit', code: 1 });
    argv[4] = '999';
    expect(parseProbe(argv)).toBeUndefined();
  });
});

describe('log lines', () => {
  it.each([
    ['GW-PROBE connect 10.244.1.5:8080 ok', { kind: 'connect', target: '10.244.1.5:8080', ok: true }],
    ['GW-PROBE connect 10.244.1.5:8080 fail timeout', { kind: 'connect', target: '10.244.1.5:8080', ok: false, detail: 'timeout' }],
    ['GW-PROBE resolve kubernetes.default ok 10.96.0.1', { kind: 'resolve', target: 'kubernetes.default', ok: true, detail: '10.96.0.1' }],
    ['GW-PROBE exit 0', { kind: 'exit', target: '0', ok: true }],
    ['GW-PROBE exit 2', { kind: 'exit', target: '2', ok: false }],
    ['GW-PROBE bogus x ok', undefined],
    ['hello world', undefined],
  ])('%s', (line, want) => {
    expect(parseProbeLine(line)).toEqual(want);
  });

  it('formatProbeLine and parseProbeLine agree', () => {
    const kinds = ['connect', 'resolve', 'http-get', 'serve', 'write-file', 'read-file', 'sleep'] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        fc.stringMatching(/^[a-z0-9.:/-]{1,30}$/),
        fc.boolean(),
        fc.option(fc.stringMatching(/^[a-z0-9=]{1,20}$/), { nil: undefined }),
        (kind, target, ok, detail) => {
          const o = detail === undefined ? { kind, target, ok } : { kind, target, ok, detail };
          expect(parseProbeLine(formatProbeLine(o))).toEqual(o);
        },
      ),
    );
  });

  it('parses every probe line out of mixed logs', () => {
    const logs = 'starting\nGW-PROBE write-file /data/a ok sha256=ab\nnoise\nGW-PROBE read-file /data/a fail sha256=missing\n';
    expect(parseProbeLogs(logs).map((o) => o.ok)).toEqual([true, false]);
  });
});

describe('images and containers', () => {
  it.each([
    ['', 'registry.k8s.io/e2e-test-images/agnhost:2.53'],
    ['mirror.local:5000', 'mirror.local:5000/e2e-test-images/agnhost:2.53'],
    ['mirror.local/k8s/', 'mirror.local/k8s/e2e-test-images/agnhost:2.53'],
  ])('registry %j -> %s', (registry, image) => {
    expect(probeImage(registry)).toBe(image);
  });

  it('builds a restricted-PSS container', () => {
    const c = buildProbeContainer({ kind: 'serve', port: 8080 }, { registry: 'm.local' });
    expect(c).toMatchObject({
      image: 'm.local/e2e-test-images/agnhost:2.53',
      securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
      ports: [{ containerPort: 8080, protocol: 'TCP' }],
    });
  });

  it('sha256 matches sha256sum', () => {
    // printf "%s" hello | sha256sum
    expect(checksumContent('hello')).toBe('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
  });
});

describe('buildProbePod', () => {
  it('one-shot probes never restart; servers do', async () => {
    const { buildProbePod } = await import('../../src/probe/index.js');
    const once = buildProbePod({ kind: 'connect', host: 'web', port: 80, timeoutS: 2 }, { name: 'c', namespace: 'gw-test' }) as { spec: Record<string, unknown> };
    const srv = buildProbePod({ kind: 'serve', port: 8080 }, { name: 's', namespace: 'gw-test', labels: { app: 'srv' } }) as { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
    expect(once.spec.restartPolicy).toBe('Never');
    expect(srv.spec.restartPolicy).toBe('Always');
    expect(srv.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'groundwork', app: 'srv' });
    expect(once.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = (once.spec.containers as { command: string[] }[])[0]!;
    expect(parseProbe(c.command)).toEqual({ kind: 'connect', host: 'web', port: 80, timeoutS: 2 });
  });
});
