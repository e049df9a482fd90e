/**
 * `kubectl create <generator>` sends protobuf (typed clients); the lab decodes it. Each case checks the
 * stored object field by field, which also pins the protobuf field numbers against the real kubectl.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createKubectl } from './kubectl-helper.js';

let lab: Lab;
let k: ReturnType<typeof createKubectl>;

beforeAll(async () => {
  lab = await startLab({ nodes: 2 });
  k = createKubectl(lab.kubeconfigPath);
});
afterAll(async () => {
  await lab?.stop();
});

describe('kubectl create generators (protobuf bodies)', () => {
  it('namespace, configmap, secret, serviceaccount', async () => {
    expect((await k.run(['create', 'namespace', 'team-a'])).stdout.trim()).toBe('namespace/team-a created');
    expect(lab.store.get('namespaces', undefined, 'team-a')?.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'team-a' });
    expect((await k.run(['create', 'configmap', 'cfg', '-n', 'team-a', '--from-literal=colour=blue', '--from-literal=size=xl'])).code).toBe(0);
    expect(lab.store.get('configmaps', 'team-a', 'cfg')?.data).toEqual({ colour: 'blue', size: 'xl' });
    const s = await k.run(['create', 'secret', 'generic', 'creds', '-n', 'team-a', '--from-literal=password=hunter2']);
    expect(s.stderr).toBe('');
    const secret = lab.store.get('secrets', 'team-a', 'creds')!;
    expect(secret.type).toBe('Opaque');
    expect(Buffer.from((secret.data as Record<string, string>).password, 'base64').toString()).toBe('hunter2');
    expect((await k.run(['create', 'serviceaccount', 'robot', '-n', 'team-a'])).stdout.trim()).toBe('serviceaccount/robot created');
  });

  it('deployment, job, cronjob and service', async () => {
    const d = await k.run(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=3', '--port=80']);
    expect(d.stderr).toBe('');
    const dep = lab.store.get('deployments.apps', 'default', 'web')!;
    expect(dep.metadata.labels).toEqual({ app: 'web' });
    expect(dep.spec).toMatchObject({
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] } },
    });
    const j = await k.run(['create', 'job', 'once', '--image=busybox:1.36', '--', 'echo', 'hi']);
    expect(j.stderr).toBe('');
    expect(lab.store.get('jobs.batch', 'default', 'once')!.spec).toMatchObject({
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'once', image: 'busybox:1.36', command: ['echo', 'hi'] }] } },
    });
    const c = await k.run(['create', 'cronjob', 'nightly', '--image=busybox:1.36', '--schedule=0 3 * * *', '--', 'date']);
    expect(c.stderr).toBe('');
    expect(lab.store.get('cronjobs.batch', 'default', 'nightly')!.spec).toMatchObject({
      schedule: '0 3 * * *',
      jobTemplate: { metadata: { name: 'nightly' }, spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ command: ['date'] }] } } } },
    });
    const svc = await k.run(['create', 'service', 'clusterip', 'web', '--tcp=80:8080']);
    expect(svc.stderr).toBe('');
    expect(lab.store.get('services', 'default', 'web')!.spec).toMatchObject({ type: 'ClusterIP', selector: { app: 'web' }, ports: [{ name: '80-8080', port: 80, targetPort: 8080, protocol: 'TCP' }] });
  });

  it('`auth can-i` (SelfSubjectAccessReview, protobuf) answers yes for the admin credential', async () => {
    expect((await k.run(['auth', 'can-i', 'create', 'pods'])).stdout.trim()).toBe('yes');
    const list = await k.run(['auth', 'can-i', '--list']);
    expect(list.stdout.split('\n')[1]).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]/);
  });
});
