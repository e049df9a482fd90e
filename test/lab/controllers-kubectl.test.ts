/**
 * The cluster behaviour through the machine's real kubectl: apply, wait, logs, rollout status, events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildProbe } from '../../src/probe/index.js';
import { startLab, type Lab } from '../../src/lab/index.js';
import { createControllers } from '../../src/lab/controllers/index.js';
import { createKubectl } from './kubectl-helper.js';

let lab: Lab;
let kubectl: ReturnType<typeof createKubectl>;

beforeAll(async () => {
  lab = await startLab({ controllers: createControllers({ timeScale: 0.01, startDelayMs: 20, resyncMs: 100 }) });
  kubectl = createKubectl(lab.kubeconfigPath);
});
afterAll(async () => {
  await lab?.stop();
});

const manifests = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } },
  {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'demo' },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', command: buildProbe({ kind: 'serve', port: 8080 }), ports: [{ containerPort: 8080 }] }] } },
    },
  },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'demo' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } },
  {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'demo' },
    spec: { restartPolicy: 'Never', containers: [{ name: 'probe', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', command: buildProbe({ kind: 'connect', host: 'web.demo.svc.cluster.local', port: 80, timeoutS: 2 }) }] },
  },
];

describe('kubectl against a lab with controllers', () => {
  it('apply, rollout status, wait, logs, get -o wide', async () => {
    const apply = await kubectl.run(['apply', '-f', '-'], { input: manifests.map((m) => stringify(m)).join('---\n') });
    expect(apply.stderr).toBe('');
    expect(apply.code).toBe(0);
    const rollout = await kubectl.run(['-n', 'demo', 'rollout', 'status', 'deployment/web', '--timeout=20s']);
    expect(rollout.stdout).toContain('deployment "web" successfully rolled out');
    const wait = await kubectl.run(['-n', 'demo', 'wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/client', '--timeout=20s']);
    expect(wait.code).toBe(0);
    const logs = await kubectl.run(['-n', 'demo', 'logs', 'client']);
    expect(logs.stdout.trim()).toBe('GW-PROBE connect web.demo.svc.cluster.local:80 ok');
    const wide = await kubectl.run(['get', 'pods', '-A', '-o', 'wide']);
    expect(wide.code).toBe(0);
    expect(wide.stdout).toMatch(/demo\s+client\s+0\/1\s+Completed\s+0\s+\S+\s+10\.244\.\d+\.\d+\s+w-\d/);
    expect(wide.stdout).toMatch(/kube-system\s+coredns-\S+\s+1\/1\s+Running/);
    expect(wide.stdout).toMatch(/kube-system\s+cilium-\S+\s+1\/1\s+Running\s+0\s+\S+\s+127\.0\.100\.\d/);
    const ep = await kubectl.run(['-n', 'demo', 'get', 'endpoints', 'web', '-o', 'jsonpath={.subsets[0].addresses[*].ip}']);
    expect(ep.stdout.split(' ')).toHaveLength(2);
    const svc = await kubectl.run(['-n', 'demo', 'get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}']);
    expect(svc.stdout).toMatch(/^10\.\d+\.\d+\.\d+$/);
  });

  it('wait --for=condition=Ready on nodes and FailedScheduling in events', async () => {
    expect((await kubectl.run(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=10s'])).code).toBe(0);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'huge', namespace: 'demo' }, spec: { containers: [{ name: 'c', image: 'nginx:1.27', resources: { requests: { memory: '64Gi' } } }] } };
    expect((await kubectl.run(['apply', '-f', '-'], { input: stringify(pod) })).code).toBe(0);
    let out = '';
    for (let i = 0; i < 50 && !out.includes('FailedScheduling'); i++) {
      out = (await kubectl.run(['-n', 'demo', 'get', 'events', '--field-selector', 'involvedObject.name=huge'])).stdout;
      if (!out.includes('FailedScheduling')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toContain('0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory.');
  });
});
