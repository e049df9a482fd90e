/**
 * One real Kubernetes node (issue 21, tools/real/REAL-PODS.md): the real control plane on loopback plus
 * tools/real/real-node.sh — containerd's CRI, kubelet and kube-proxy built from the control plane's Kubernetes
 * version, the bridge/host-local/loopback CNI plugins, our own pause and the busybox probe image — in a network
 * namespace of its own. Pods get real IPs and reach each other through a Service that real kube-proxy programs.
 *
 * Not part of `npm test` (CI does not run it yet): `npm run test:real-node` builds kubelet and kube-proxy
 * (tools/real/build-node.sh) and runs this file. It needs root and Debian's containerd, runc,
 * containernetworking-plugins, iptables, socat and busybox-static; a missing piece fails the test naming it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../helpers/control-plane.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const NODE = 'gw-node-1';
const POD_CIDR = '10.244.1.0/24';
/** Host-wide sysctls kubelet would set if it could; the node must leave them as they are. */
const HOST_SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops'];

function nodeToolsDir(): string {
  const cache = process.env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'groundwork', 'real-tools');
  const dir = process.env.GROUNDWORK_REAL_NODE_TOOLS ?? path.join(cache, 'node-current');
  if (!existsSync(path.join(dir, 'kubelet'))) throw new Error(`kubelet is not built (looked in ${dir}): run \`bash tools/real/build-node.sh\``);
  return realpathSync(dir);
}

function sh(args: string[], env: Record<string, string> = {}): { code: number; out: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

/** Host paths kubelet, containerd and libcni write whatever they are configured with; the node keeps them private. */
const HOST_PATHS = ['/var/lib/kubelet', '/var/lib/cni', '/var/log/containers', '/var/log/pods', '/run/containerd'];
const hostPaths = () => HOST_PATHS.map((p) => `${p}: ${existsSync(p) ? readdirSync(p).sort().join(',') : 'absent'}`);
const sysctls = () => HOST_SYSCTLS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, 'utf8').trim()}`);

describe('a real node: kubelet + containerd CRI + CNI bridge + kube-proxy in its own network namespace', () => {
  let cp: ControlPlane;
  let dir: string;
  let hostSysctlsBefore: string[];
  let hostPathsBefore: string[];
  let netnsBefore: string;

  const kubectl = async (args: string[], input?: string) => {
    const r = await cp.kubectl(args, input === undefined ? {} : { input });
    return r;
  };
  const down = () => sh(['bash', path.join(REPO, 'tools/real/real-node.sh'), 'down', dir]);

  beforeAll(async () => {
    for (const bin of ['containerd', 'runc', 'ctr', 'socat', 'iptables', 'nsenter']) {
      if (sh(['sh', '-c', `command -v ${bin}`]).code !== 0) throw new Error(`${bin} is not installed: apt-get install -y containerd runc containernetworking-plugins iptables socat busybox-static`);
    }
    const tools = nodeToolsDir();
    hostSysctlsBefore = sysctls();
    hostPathsBefore = hostPaths();
    netnsBefore = sh(['ip', 'netns', 'list']).out;
    cp = await startControlPlane({ podSecurity: 'talos' });
    dir = mkdtempSync(path.join(tmpdir(), 'gw-real-node-'));
    const up = sh(['bash', path.join(REPO, 'tools/real/real-node.sh'), 'up', dir], {
      NODE_NAME: NODE,
      POD_CIDR,
      KUBECONFIG_NODE: await cp.clientKubeconfig(`system:node:${NODE}`, ['system:nodes']),
      KUBECONFIG_PROXY: await cp.clientKubeconfig('system:kube-proxy'),
      CLIENT_CA: path.join(cp.dir, 'pki', 'ca.crt'),
      NODE_BIN: tools,
      NODE_IMAGES: path.join(tools, 'images'),
    });
    if (up.code !== 0) throw new Error(`real-node.sh up failed:\n${up.out}`);
  }, 240_000);

  afterAll(async () => {
    if (dir) {
      const r = down();
      if (r.code !== 0) console.error(r.out);
      rmSync(dir, { recursive: true, force: true });
    }
    await cp?.stop();
  }, 120_000);

  it('registers the node, Ready, with containerd as its runtime and kubelet at the control plane version', async () => {
    const wait = await kubectl(['wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=90s']);
    expect(wait.stdout + wait.stderr).toContain('condition met');
    const info = JSON.parse((await kubectl(['get', 'node', NODE, '-o', 'json'])).stdout) as {
      status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string; kubeProxyVersion?: string } };
    };
    expect(info.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    const server = JSON.parse((await kubectl(['version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } };
    expect(info.status.nodeInfo.kubeletVersion).toBe(server.serverVersion.gitVersion);
  });

  it('runs a pod from the locally imported probe image: Running, Ready by an HTTP probe, an IP from the pod CIDR', async () => {
    const pod = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', labels: { app: 'web' } },
      spec: {
        containers: [{
          name: 'web', image: 'groundwork.local/probe:1', imagePullPolicy: 'Never',
          command: ['/bin/sh', '-c', 'mkdir -p /www && echo probe-ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
        }],
      },
    };
    expect((await kubectl(['apply', '-f', '-'], JSON.stringify(pod))).code).toBe(0);
    const wait = await kubectl(['-n', 'default', 'wait', 'pod/web', '--for=condition=Ready', '--timeout=90s']);
    expect(wait.stdout + wait.stderr).toContain('condition met');
    const got = JSON.parse((await kubectl(['-n', 'default', 'get', 'pod', 'web', '-o', 'json'])).stdout) as { status: { phase: string; podIP: string } };
    expect(got.status.phase).toBe('Running');
    expect(got.status.podIP).toMatch(/^10\.244\.1\.\d+$/);
  });

  it('reaches that pod from another pod through a ClusterIP Service programmed by kube-proxy', async () => {
    expect((await kubectl(['-n', 'default', 'expose', 'pod', 'web', '--port=80', '--target-port=8080', '--name=web'])).code).toBe(0);
    // busybox-static's wget crashes (Debian 1.35, see REAL-PODS.md): HTTP by hand over nc. The pod succeeds only
    // when the Service answered with the page.
    const client = {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'default' },
      spec: {
        restartPolicy: 'Never',
        containers: [{
          name: 'c', image: 'groundwork.local/probe:1', imagePullPolicy: 'Never',
          command: ['/bin/sh', '-c', 'for i in $(seq 30); do printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 "$WEB_SERVICE_HOST" 80 | grep -qx probe-ok && exit 0; sleep 1; done; exit 1'],
        }],
      },
    };
    expect((await kubectl(['apply', '-f', '-'], JSON.stringify(client))).code).toBe(0);
    const wait = await kubectl(['-n', 'default', 'wait', 'pod/client', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=90s']);
    expect(wait.stdout + wait.stderr).toContain('condition met');
  });

  it('leaves nothing on the host: processes, network namespaces, cgroups, mounts, files; host sysctls unchanged', async () => {
    const pids = ['kubelet', 'kube-proxy', 'containerd'].map((p) => Number(readFileSync(path.join(dir, `${p}.pid`), 'utf8')));
    const r = down();
    expect(r.out).toContain(`node ${NODE} down`);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(sh(['ip', 'netns', 'list']).out).toBe(netnsBefore);
    expect(existsSync(`/sys/fs/cgroup/memory/groundwork-${NODE}`) || existsSync(`/sys/fs/cgroup/groundwork-${NODE}`)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dir);
    expect(sysctls()).toEqual(hostSysctlsBefore);
    expect(hostPaths()).toEqual(hostPathsBefore);
  });
});
