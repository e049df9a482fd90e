/**
 * Two real nodes on a fabric (issue 21 item 2, first step; tools/real/REAL-PODS.md): each kubelet in its own network
 * namespace with its own address on the fabric's bridge, each node's pod CIDR routed by the fabric, so pods on
 * different nodes reach each other by their real IPs and through a Service that each node's kube-proxy programs.
 * The control plane runs inside the fabric: the API server reaches the kubelets (`kubectl logs`) and pods reach
 * the API server through the `kubernetes` Service.
 * `npm run test:real-node` (not in CI yet).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';
import { FABRIC_ADDRESS, hostState, httpClientPod, startFabric, startRealNode, webPod, type Fabric, type RealNode } from '../helpers/real-node.js';

describe('two real nodes on a fabric: pod-to-pod across nodes, a Service whose endpoint is on the other node', () => {
  let cp: ControlPlane;
  let fabric: Fabric;
  const nodes: RealNode[] = [];
  let before: ReturnType<typeof hostState>;

  beforeAll(async () => {
    before = hostState();
    fabric = startFabric();
    cp = await startControlPlane({ podSecurity: 'talos', netns: { name: fabric.name, address: FABRIC_ADDRESS } });
    nodes.push(await startRealNode(cp, { name: 'gw-node-a', ip: '10.99.0.1', podCidr: '10.244.1.0/24', fabric }));
    nodes.push(await startRealNode(cp, { name: 'gw-node-b', ip: '10.99.0.2', podCidr: '10.244.2.0/24', fabric }));
  }, 240_000);

  afterAll(async () => {
    for (const n of nodes) n.down();
    await cp?.stop();
    fabric?.down();
  }, 120_000);

  it('registers both nodes Ready, each with its own InternalIP', async () => {
    const wait = await cp.kubectl(['wait', 'node/gw-node-a', 'node/gw-node-b', '--for=condition=Ready', '--timeout=90s']);
    expect(wait.code).toBe(0);
    const ips = (await cp.kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.addresses[?(@.type=="InternalIP")].address} {end}'])).stdout.trim();
    expect(ips).toBe('gw-node-a=10.99.0.1 gw-node-b=10.99.0.2');
  });

  it('reaches a pod on node b from a pod on node a by its pod IP, and through a ClusterIP Service', async () => {
    expect((await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(webPod('web-b', 'gw-node-b')) })).code).toBe(0);
    const ready = await cp.kubectl(['-n', 'default', 'wait', 'pod/web-b', '--for=condition=Ready', '--timeout=90s']);
    expect(ready.stdout + ready.stderr).toContain('condition met');
    const ip = (await cp.kubectl(['-n', 'default', 'get', 'pod', 'web-b', '-o', 'jsonpath={.status.podIP}'])).stdout;
    expect(ip).toMatch(/^10\.244\.2\.\d+$/);
    expect((await cp.kubectl(['-n', 'default', 'expose', 'pod', 'web-b', '--port=80', '--target-port=8080', '--name=web-b'])).code).toBe(0);
    const clients = [httpClientPod('direct-a', ip, 8080, 'gw-node-a'), httpClientPod('svc-a', '$(WEB_B_SERVICE_HOST)', 80, 'gw-node-a')];
    for (const c of clients) expect((await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(c) })).code).toBe(0);
    const done = await cp.kubectl(['-n', 'default', 'wait', 'pod/direct-a', 'pod/svc-a', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=90s']);
    expect(done.stdout + done.stderr).toMatch(/direct-a condition met[\s\S]*svc-a condition met/);
  });

  it('serves kubectl logs from a kubelet: the API server reaches the node over the fabric', async () => {
    const logs = await cp.kubectl(['-n', 'default', 'logs', 'direct-a']);
    expect(logs.stderr).toBe('');
    expect(logs.stdout).toMatch(/^reached 10\.244\.2\.\d+:8080$/m);
  });

  it('lets a pod reach the API server through the kubernetes Service (endpoint: the fabric address)', async () => {
    const ep = (await cp.kubectl(['-n', 'default', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=kubernetes', '-o', 'jsonpath={.items[0].endpoints[0].addresses[0]}'])).stdout;
    expect(ep).toBe(FABRIC_ADDRESS);
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api-client', namespace: 'default' },
      spec: {
        nodeName: 'gw-node-b', restartPolicy: 'Never',
        containers: [{
          name: 'c', image: 'groundwork.local/probe:1', imagePullPolicy: 'Never',
          // Plain HTTP to a Go TLS server gets "Client sent an HTTP request to an HTTPS server" (busybox has no TLS
          // client that works here): proof that the API server itself answered.
          command: ['/bin/sh', '-c', 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$KUBERNETES_SERVICE_HOST" "$KUBERNETES_SERVICE_PORT" | grep -q "HTTPS server"'],
        }],
      },
    };
    expect((await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) })).code).toBe(0);
    const done = await cp.kubectl(['-n', 'default', 'wait', 'pod/api-client', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=90s']);
    expect(done.stdout + done.stderr).toContain('condition met');
  });

  it('leaves nothing on the host once both nodes, the control plane and the fabric are down', async () => {
    for (const n of nodes) expect(n.down().out).toContain(`node ${n.name} down`);
    await cp.stop();
    fabric.down();
    expect(hostState()).toEqual(before);
  });
});
