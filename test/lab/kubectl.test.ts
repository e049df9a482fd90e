/**
 * The real kubectl (v1.32) against an in-process lab with default flags. Controllers are not started here:
 * where a kubelet would act (pod Ready, logs), the test writes through the store, as the kubelet would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { startLab, type Lab } from '../../src/lab/index.js';
import type { KubeObject } from '../../src/lab/store/types.js';
import { createKubectl } from './kubectl-helper.js';
import { LAB_KUBERNETES_VERSION } from '../../src/lab/version.js';

let lab: Lab;
let k: ReturnType<typeof createKubectl>;
const dir = mkdtempSync(path.join(tmpdir(), 'gw-lab-kubectl-'));

beforeAll(async () => {
  lab = await startLab({ nodes: 3, controlPlanes: 1, kubeconfigPath: path.join(dir, 'kubeconfig') });
  k = createKubectl(lab.kubeconfigPath);
});
afterAll(async () => {
  await lab?.stop();
});

function manifest(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const ALL_KINDS = (ns: string, replicas = 2, image = 'nginx:1.27') => `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: ${ns}, labels: { app: web } }
spec:
  containers:
    - name: web
      image: nginx:1.27
      ports: [{ containerPort: 80 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${ns} }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 80 }]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data, namespace: ${ns} }
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 1Gi } }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-all, namespace: ${ns} }
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, namespace: ${ns} }
spec:
  selector: { matchLabels: { app: agent } }
  template:
    metadata: { labels: { app: agent } }
    spec: { containers: [{ name: agent, image: "busybox:1.36", command: [sleep, "3600"] }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: api, namespace: ${ns} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: api
          image: ${image}
          env: [{ name: MODE, value: prod }]
---
apiVersion: batch/v1
kind: Job
metadata: { name: once, namespace: ${ns} }
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: once, image: "busybox:1.36", command: [echo, hi] }]
`;

async function setPodRunning(ns: string, name: string, node = 'w-1', ip = '10.244.1.7'): Promise<KubeObject> {
  await lab.store.mutate('pods', ns, name, (p) => {
    (p.spec as { nodeName?: string }).nodeName = node;
  });
  return lab.store.mutate(
    'pods',
    ns,
    name,
    (p) => {
      const now = new Date().toISOString();
      p.status = {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        hostIP: '127.0.100.2',
        startTime: now,
        conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })),
        containerStatuses: ((p.spec as { containers: { name: string; image: string }[] }).containers).map((c) => ({
          name: c.name,
          image: c.image,
          imageID: '',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
        })),
      };
    },
    { subresource: 'status' },
  );
}

describe('real kubectl against the lab', () => {
  it('writes a 0600 kubeconfig and `get nodes` lists the nodes, Ready, with roles and loopback InternalIPs', async () => {
    expect(statSync(lab.kubeconfigPath).mode & 0o777).toBe(0o600);
    const r = await k.run(['get', 'nodes', '-o', 'wide']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
      ['cp-1', 'Ready', 'control-plane'],
      ['w-1', 'Ready', '<none>'],
      ['w-2', 'Ready', '<none>'],
    ]);
    expect(r.stdout).toContain('127.0.100.1');
    expect(r.stdout).toContain(LAB_KUBERNETES_VERSION);
  });

  it('`apply -f` creates all eight kinds, is idempotent, and a changed manifest is merged (strategic merge patch)', async () => {
    const f = manifest('all.yaml', ALL_KINDS('shop'));
    const first = await k.run(['apply', '-f', f]);
    expect(first.stderr).toBe('');
    expect(first.stdout.trim().split('\n')).toEqual([
      'namespace/shop created',
      'pod/web created',
      'service/web created',
      'persistentvolumeclaim/data created',
      'networkpolicy.networking.k8s.io/deny-all created',
      'daemonset.apps/agent created',
      'deployment.apps/api created',
      'job.batch/once created',
    ]);
    const again = await k.run(['apply', '-f', f]);
    expect(again.stdout).not.toContain('configured');
    expect(again.stdout.match(/unchanged/g)).toHaveLength(8);

    const changed = manifest('all-2.yaml', ALL_KINDS('shop', 3, 'nginx:1.28'));
    const third = await k.run(['apply', '-f', changed]);
    expect(third.stdout).toContain('deployment.apps/api configured');
    const dep = lab.store.get('deployments.apps', 'shop', 'api')!;
    const spec = dep.spec as { replicas: number; template: { spec: { containers: { image: string; env: unknown[] }[] } } };
    expect(spec.replicas).toBe(3);
    expect(spec.template.spec.containers[0].image).toBe('nginx:1.28');
    expect(spec.template.spec.containers[0].env).toEqual([{ name: 'MODE', value: 'prod' }]);
    expect(dep.metadata.generation).toBe(2);
    expect(dep.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('nginx:1.28');
  });

  it('`apply --server-side` and `diff` (dry-run patches) see exactly the change', async () => {
    const f = manifest('ssa.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ssa }\ndata: { a: "1" }\n');
    expect((await k.run(['apply', '--server-side', '-f', f])).stdout.trim()).toBe('configmap/ssa serverside-applied');
    writeFileSync(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ssa }\ndata: { a: "2" }\n');
    const d = await k.run(['diff', '-f', f]);
    expect(d.code).toBe(1);
    const changed = d.stdout.split('\n').filter((l) => /^[-+] /.test(l));
    expect(changed).toEqual(['-  a: "1"', '+  a: "2"']);
    expect(lab.store.get('configmaps', 'default', 'ssa')?.data).toEqual({ a: '1' });
  });

  it('`get pods -A -o wide` shows NAMESPACE, STATUS, IP and NODE', async () => {
    await k.run(['apply', '-f', manifest('wide.yaml', ALL_KINDS('wide'))]);
    await setPodRunning('wide', 'web', 'w-2', '10.244.2.9');
    const r = await k.run(['get', 'pods', '-A', '-o', 'wide']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/);
    const row = r.stdout.split('\n').find((l) => l.startsWith('wide '))!;
    expect(row.split(/\s+/).slice(0, 5)).toEqual(['wide', 'web', '1/1', 'Running', '0']);
    expect(row).toContain('10.244.2.9');
    expect(row).toContain('w-2');
  });

  it('rejects an invalid object with 422 and field causes from the Kubernetes schema', async () => {
    const f = manifest('bad.yaml', `apiVersion: v1
kind: Pod
metadata: { name: bad }
spec:
  containers:
    - name: c
      image: 42
      ports: [{ containerPort: "http" }]
`);
    const r = await k.run(['apply', '-f', f]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('The Pod "bad" is invalid');
    expect(r.stderr).toContain('spec.containers[0].image: Invalid value: 42');
    expect(r.stderr).toContain('spec.containers[0].ports[0].containerPort');
    expect(lab.store.get('pods', 'default', 'bad')).toBeUndefined();
  });

  it('rejects a misspelt field like a real apiserver (kubectl asks for strict field validation)', async () => {
    const f = manifest('typo.yaml', `apiVersion: apps/v1
kind: Deployment
metadata: { name: typo }
spec:
  selector: { matchLabels: { app: typo } }
  template:
    metadata: { labels: { app: typo } }
    spec:
      containers:
        - name: c
          image: nginx:1.27
          imagePullPolicyy: Always
`);
    const r = await k.run(['apply', '-f', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error from server (BadRequest)');
    expect(r.stderr).toContain('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"');
    // --validate=false asks for no field validation: the object is accepted, as on a real cluster.
    expect((await k.run(['apply', '--validate=false', '-f', f])).code).toBe(0);
  });

  it('`create` of an existing object is 409 AlreadyExists; `get` of a missing one is 404 NotFound', async () => {
    const f = manifest('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { a: "1" }\n');
    expect((await k.run(['create', '-f', f])).code).toBe(0);
    const dup = await k.run(['create', '-f', f]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('Error from server (AlreadyExists)');
    expect(dup.stderr).toContain('configmaps "settings" already exists');
    const missing = await k.run(['get', 'pod', 'nope']);
    expect(missing.stderr.trim()).toBe('Error from server (NotFound): pods "nope" not found');
  });

  it('`label`, `taint` and `cordon` change the node the way a client sees it', async () => {
    expect((await k.run(['label', 'node', 'w-1', 'zone=a'])).stdout.trim()).toBe('node/w-1 labeled');
    expect((await k.run(['taint', 'node', 'w-2', 'dedicated=db:NoSchedule'])).stdout.trim()).toBe('node/w-2 tainted');
    expect((await k.run(['cordon', 'w-1'])).stdout.trim()).toBe('node/w-1 cordoned');
    const nodes = await k.run(['get', 'nodes', '-l', 'zone=a']);
    expect(nodes.stdout).toMatch(/w-1\s+Ready,SchedulingDisabled/);
    expect(nodes.stdout).not.toContain('w-2');
    const taints = await k.run(['get', 'node', 'w-2', '-o', 'jsonpath={.spec.taints}']);
    expect(JSON.parse(taints.stdout)).toEqual([{ effect: 'NoSchedule', key: 'dedicated', value: 'db' }]);
    // Removing one taint keeps the others (strategic merge on taints by key).
    await k.run(['taint', 'node', 'w-2', 'other=x:NoExecute']);
    await k.run(['taint', 'node', 'w-2', 'dedicated=db:NoSchedule-']);
    const after = await k.run(['get', 'node', 'w-2', '-o', 'jsonpath={.spec.taints}']);
    expect(JSON.parse(after.stdout)).toEqual([{ effect: 'NoExecute', key: 'other', value: 'x' }]);
    expect((await k.run(['uncordon', 'w-1'])).stdout.trim()).toBe('node/w-1 uncordoned');
    expect((lab.store.get('nodes', undefined, 'w-1')!.spec as { unschedulable?: boolean }).unschedulable).toBeFalsy();
  });

  it('`wait --for=condition=Ready` returns when the pod becomes Ready', async () => {
    await k.run(['apply', '-f', manifest('wait.yaml', ALL_KINDS('waiting'))]);
    const w = k.start(['wait', '--for=condition=Ready', 'pod/web', '-n', 'waiting', '--timeout=20s']);
    // Let kubectl see the pod not Ready first, then make it Ready like a kubelet would.
    await new Promise((r) => setTimeout(r, 300));
    await setPodRunning('waiting', 'web');
    expect(await w.exited).toBe(0);
    expect(w.output().trim()).toBe('pod/web condition met');
  });

  it('`logs` prints what the kubelet wrote; --tail and -f work', async () => {
    await k.run(['apply', '-f', manifest('logs.yaml', ALL_KINDS('logs'))]);
    await setPodRunning('logs', 'web');
    for (const l of ['one', 'two', 'three']) lab.logs.append('logs', 'web', 'web', l);
    expect((await k.run(['logs', 'web', '-n', 'logs'])).stdout).toBe('one\ntwo\nthree\n');
    expect((await k.run(['logs', 'web', '-n', 'logs', '--tail=1'])).stdout).toBe('three\n');
    const f = k.start(['logs', '-f', 'web', '-n', 'logs', '--tail=1']);
    await f.until((s) => s.includes('three'));
    lab.logs.append('logs', 'web', 'web', 'four');
    await f.until((s) => s.includes('four'));
    expect(f.output()).toBe('three\nfour\n');
    // A pod on a node is deleted gracefully; this lab has no kubelet to confirm it, so the test does (grace 0).
    await lab.store.delete('pods', 'logs', 'web', { gracePeriodSeconds: 0 });
    expect(await f.exited).toBe(0);
  });

  it('`get -w` prints the list, then changes as they happen', async () => {
    await lab.store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'watching' } });
    await lab.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'first', namespace: 'watching' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });
    const w = k.start(['get', 'pods', '-w', '-n', 'watching']);
    await w.until((s) => /first\s+0\/1\s+Pending/.test(s));
    await lab.store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'second', namespace: 'watching' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });
    await w.until((s) => s.includes('second'));
    await setPodRunning('watching', 'first');
    await w.until((s) => /first\s+1\/1\s+Running/.test(s));
    await w.kill();
    const lines = w.output().trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
    expect(lines.filter((l) => l.startsWith('NAME'))).toHaveLength(1);
  });

  it('`delete deployment` removes its ReplicaSets and pods by ownerReference (background and foreground)', async () => {
    await k.run(['apply', '-f', manifest('gc.yaml', ALL_KINDS('gc'))]);
    for (const [dname, cascade] of [['api', 'background'], ['api2', 'foreground']] as const) {
      if (dname === 'api2') {
        const src = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api2', namespace: 'gc' }, spec: { selector: { matchLabels: { app: 'api2' } }, template: { metadata: { labels: { app: 'api2' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } } };
        await lab.store.create(src);
      }
      const dep = lab.store.get('deployments.apps', 'gc', dname)!;
      const rs = await lab.store.create({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: `${dname}-rs`, namespace: 'gc', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: dname, uid: dep.metadata.uid!, controller: true, blockOwnerDeletion: true }] },
        spec: { selector: { matchLabels: { app: dname } }, template: { metadata: { labels: { app: dname } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] } } },
      });
      for (const i of [1, 2]) {
        await lab.store.create({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${dname}-${i}`, namespace: 'gc', labels: { app: dname }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name!, uid: rs.metadata.uid!, controller: true, blockOwnerDeletion: true }] },
          spec: { containers: [{ name: 'c', image: 'nginx:1.27' }] },
        });
      }
      const r = await k.run(['delete', 'deployment', dname, '-n', 'gc', `--cascade=${cascade}`]);
      expect(r.stdout.trim()).toBe(`deployment.apps "${dname}" deleted`);
      const gone = await k.run(['wait', '--for=delete', `pod/${dname}-1`, `pod/${dname}-2`, `replicaset/${dname}-rs`, '-n', 'gc', '--timeout=10s']);
      expect(gone.code).toBe(0);
      expect(lab.store.get('deployments.apps', 'gc', dname)).toBeUndefined();
    }
    // The pod that no one owns is untouched.
    expect(lab.store.get('pods', 'gc', 'web')).toBeDefined();
  });

  it('`delete namespace` empties it while Terminating, then removes it', async () => {
    await k.run(['apply', '-f', manifest('ns.yaml', ALL_KINDS('doomed'))]);
    const seen: string[] = [];
    const stop = lab.store.watch('namespaces', undefined, { fieldSelector: 'metadata.name=doomed' }, (e) => {
      seen.push(`${e.type}:${(e.object.status as { phase?: string } | undefined)?.phase ?? ''}`);
    });
    const r = await k.run(['delete', 'namespace', 'doomed']);
    stop();
    expect(r.stdout.trim()).toBe('namespace "doomed" deleted');
    expect(seen[0]).toBe('MODIFIED:Terminating');
    expect(seen.at(-1)).toMatch(/^DELETED/);
    for (const res of ['pods', 'services', 'persistentvolumeclaims', 'deployments.apps', 'jobs.batch', 'networkpolicies.networking.k8s.io']) {
      expect(lab.store.list(res, 'doomed').items).toEqual([]);
    }
    const gone = await k.run(['get', 'ns', 'doomed']);
    expect(gone.stderr).toContain('namespaces "doomed" not found');
  });

  it('answers 401 Unauthorized without the kubeconfig\'s token, and kubectl says so', async () => {
    const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = https.get(`${lab.url}/api/v1/pods`, { ca: lab.caPem }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
    });
    expect(status.code).toBe(401);
    const health = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      https.get(`${lab.url}/readyz`, { ca: lab.caPem }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
      }).on('error', reject);
    });
    expect(health).toEqual({ code: 200, body: 'ok' });
    expect(JSON.parse(status.body)).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    const r = await k.run(['get', 'pods', '--token', 'wrong']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('You must be logged in to the server (Unauthorized)');
  });
});
