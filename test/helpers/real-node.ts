/**
 * Real Kubernetes nodes for tests (issue 21, tools/real/REAL-PODS.md): tools/real/real-node.sh brings up
 * containerd's CRI, kubelet and kube-proxy (built by tools/real/build-node.sh) in a network namespace of their own
 * against a control plane from ./control-plane.ts. One node stands alone (the control plane on host loopback);
 * several join a fabric (one more netns with a bridge, FABRIC_ADDRESS on it) and route each other's pod CIDRs,
 * and the control plane runs inside the fabric, so it reaches every kubelet and pods reach it.
 *
 *   const fabric = startFabric();                              // first: the control plane starts inside it
 *   const cp = await startControlPlane({ netns: { name: fabric.name, address: FABRIC_ADDRESS } });
 *   const n1 = await startRealNode(cp, { name: 'gw-node-1', ip: '10.99.0.1', podCidr: '10.244.1.0/24', fabric });
 *   n1.down()                                                   // in afterAll (then fabric.down())
 *
 * Needs root and Debian's containerd, runc, containernetworking-plugins, iptables, socat and busybox-static; a
 * missing piece throws naming it (never a skip).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import type { ControlPlane } from './control-plane.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(REPO, 'tools/real/real-node.sh');

/** Host-wide sysctls kubelet would set if it could; a node must leave them as they are. */
export const HOST_SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops'];
/** Host paths kubelet, containerd and libcni write whatever they are configured with; a node keeps them private. */
export const HOST_PATHS = ['/var/lib/kubelet', '/var/lib/cni', '/var/log/containers', '/var/log/pods', '/run/containerd'];

/** What a node could leave on the host, to compare before and after. */
export function hostState(): { sysctls: string[]; paths: string[]; netns: string } {
  return {
    sysctls: HOST_SYSCTLS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, 'utf8').trim()}`),
    paths: HOST_PATHS.map((p) => `${p}: ${existsSync(p) ? readdirSync(p).sort().join(',') : 'absent'}`),
    netns: run(['ip', 'netns', 'list']).out,
  };
}

export function run(args: string[], env: Record<string, string> = {}): { code: number; out: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** The directory build-node.sh printed: $GROUNDWORK_REAL_NODE_TOOLS, else the cache's `node-current` link. */
export function nodeToolsDir(): string {
  const cache = process.env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'groundwork', 'real-tools');
  const dir = process.env.GROUNDWORK_REAL_NODE_TOOLS ?? path.join(cache, 'node-current');
  if (!existsSync(path.join(dir, 'kubelet'))) throw new Error(`kubelet is not built (looked in ${dir}): run \`bash tools/real/build-node.sh\``);
  return realpathSync(dir);
}

function requireHostTools(): void {
  for (const bin of ['containerd', 'runc', 'ctr', 'socat', 'iptables', 'nsenter']) {
    if (run(['sh', '-c', `command -v ${bin}`]).code !== 0) throw new Error(`${bin} is not installed: apt-get install -y containerd runc containernetworking-plugins iptables socat busybox-static`);
  }
}

/** The fabric bridge's address (real-node.sh's FABRIC_IP default). */
export const FABRIC_ADDRESS = '10.99.0.254';

export interface Fabric {
  name: string;
  down(): void;
}

export function startFabric(name = 'gw-fabric'): Fabric {
  requireHostTools();
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-fabric-'));
  const r = run(['bash', SCRIPT, 'fabric-up', dir, name]);
  if (r.code !== 0) throw new Error(`real-node.sh fabric-up failed:\n${r.out}`);
  return {
    name,
    down() {
      run(['bash', SCRIPT, 'fabric-down', dir, name]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RealNode {
  name: string;
  ip: string;
  podCidr: string;
  /** The node's state dir (logs/, pod-logs/, *.pid). */
  dir: string;
  /** real-node.sh down (every process by pid, netns, cgroups, mount points), then the dir removed. */
  down(): { code: number; out: string };
}

export async function startRealNode(cp: ControlPlane, o: { name: string; ip: string; podCidr: string; fabric?: Fabric }): Promise<RealNode> {
  requireHostTools();
  const tools = nodeToolsDir();
  const dir = mkdtempSync(path.join(tmpdir(), `gw-real-node-${o.name}-`));
  const env: Record<string, string> = {
    NODE_NAME: o.name,
    NODE_IP: o.ip,
    POD_CIDR: o.podCidr,
    KUBECONFIG_NODE: await cp.clientKubeconfig(`system:node:${o.name}`, ['system:nodes'], cp.clusterServer),
    KUBECONFIG_PROXY: await cp.clientKubeconfig('system:kube-proxy', [], cp.clusterServer),
    CLIENT_CA: path.join(cp.dir, 'pki', 'ca.crt'),
    NODE_BIN: tools,
    NODE_IMAGES: path.join(tools, 'images'),
  };
  if (o.fabric) env.FABRIC = o.fabric.name;
  let stopped: { code: number; out: string } | undefined;
  const down = () => {
    if (!stopped) {
      stopped = run(['bash', SCRIPT, 'down', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
    return stopped;
  };
  const up = run(['bash', SCRIPT, 'up', dir], env);
  if (up.code !== 0) {
    down();
    throw new Error(`real-node.sh up ${o.name} failed:\n${up.out}`);
  }
  // kubelet answers /healthz a moment before its Node object exists: wait for it, so `kubectl wait node/...` has one.
  for (let i = 0; ; i++) {
    if ((await cp.kubectl(['get', 'node', o.name, '-o', 'name'])).code === 0) break;
    if (i === 300) {
      const log = run(['tail', '-n', '30', path.join(dir, 'logs', 'kubelet.log')]).out;
      down();
      throw new Error(`node ${o.name} did not register (300 checks, 200 ms apart); kubelet's log ends:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name: o.name, ip: o.ip, podCidr: o.podCidr, dir, down };
}

/** busybox httpd serving "probe-ok" on 8080, Ready by an HTTP probe. */
export function webPod(name: string, nodeName?: string): object {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'web', image: 'groundwork.local/probe:1', imagePullPolicy: 'Never',
        command: ['/bin/sh', '-c', 'mkdir -p /www && echo probe-ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
        ports: [{ containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
      }],
    },
  };
}

/**
 * A pod that succeeds only when http://HOST:PORT/ answers "probe-ok" (busybox-static's wget crashes, see
 * REAL-PODS.md: HTTP by hand over nc). HOST may be a `$(VAR)` the kubelet expands.
 */
export function httpClientPod(name: string, host: string, port: number, nodeName?: string): object {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      restartPolicy: 'Never',
      containers: [{
        name: 'c', image: 'groundwork.local/probe:1', imagePullPolicy: 'Never',
        env: [{ name: 'TARGET', value: host }],
        command: ['/bin/sh', '-c', `for i in $(seq 30); do printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 "$TARGET" ${port} | grep -qx probe-ok && echo "reached $TARGET:${port}" && exit 0; sleep 1; done; exit 1`],
      }],
    },
  };
}
