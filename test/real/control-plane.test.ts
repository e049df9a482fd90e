import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';

describe('the real control plane helper (Talos Pod Security)', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ podSecurity: 'talos' });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves the API to the real kubectl with the admin kubeconfig', async () => {
    const r = await cp.kubectl(['get', 'namespaces', '-o', 'name']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('namespace/kube-system');
  });

  it('enforces baseline outside kube-system and exempts kube-system', async () => {
    const pod = (ns: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'hostnet', namespace: ns }, spec: { hostNetwork: true, containers: [{ name: 'c', image: 'busybox' }] } });
    const refused = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: pod('default') });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)');
    const exempt = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: pod('kube-system') });
    expect(exempt.stderr).toBe('');
    expect(exempt.code).toBe(0);
  });

  it('runs the controller manager: a Deployment gets its ReplicaSet without any node', async () => {
    await cp.kubectl(['create', 'deployment', 'web', '--image=registry.k8s.io/pause:3.10', '-n', 'default']);
    let rs = '';
    for (let i = 0; i < 100 && rs === ''; i++) {
      rs = (await cp.kubectl(['get', 'replicasets', '-n', 'default', '-l', 'app=web', '-o', 'name'])).stdout.trim();
      if (rs === '') await new Promise((r) => setTimeout(r, 100));
    }
    expect(rs).toMatch(/^replicaset.apps\/web-/);
  });

  it('hands out ServiceAccount kubeconfigs with a bound token', async () => {
    await cp.kubectl(['create', 'serviceaccount', 'probe', '-n', 'default']);
    const kc = await cp.serviceAccountKubeconfig('default', 'probe');
    const r = await cp.kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: kc });
    expect(r.stdout).toBe('system:serviceaccount:default:probe');
  });
});

describe('the real control plane helper (a default kubeadm cluster)', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane({ podSecurity: 'kubeadm', controllers: false });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
  });

  it('admits a hostNetwork, hostPath pod in any namespace: kube-apiserver defaults to privileged', async () => {
    // No controller manager here: the test makes the default ServiceAccount itself.
    expect((await cp.kubectl(['create', 'namespace', 'plain'])).code).toBe(0);
    expect((await cp.kubectl(['-n', 'plain', 'create', 'serviceaccount', 'default'])).code).toBe(0);
    const pod = JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'node-agent', namespace: 'plain' },
      spec: { hostNetwork: true, hostPID: true, containers: [{ name: 'c', image: 'busybox', volumeMounts: [{ name: 'root', mountPath: '/host' }] }], volumes: [{ name: 'root', hostPath: { path: '/' } }] },
    });
    const r = await cp.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: pod });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('pod/node-agent serverside-applied (server dry run)');
  });
});
