/**
 * groundwork's own kubeadm bootstrap, for real (issue 21 item 4, tools/real/REAL-PODS.md): `groundwork setup -f
 * cluster.yaml --yes` over real ssh to a real sshd on "the machine", which is this one in namespaces of its own
 * (tools/real/kubeadm-node.sh: a netns with lo only, /etc and /var/lib overlays, Debian's containerd with the
 * control-plane images preloaded under the mirror name groundwork.local, the bridge CNI, and a stand-in for
 * kubelet.service since there is no systemd). The real kubeadm 1.37.2 runs `init` there with only the preflight
 * check this machine cannot pass ignored by name (SystemVerification: cgroup v1), the KubeletConfiguration says
 * failCgroupV1: false and cgroupfs, and the cluster it makes, with local-path-provisioner added as an operator adds
 * a StorageClass, passes `groundwork validate`: control-plane, connectivity, dns, scheduling, security, storage;
 * netpol fails, saying why (the bridge CNI enforces no NetworkPolicy). Nothing is left on the host.
 *
 * Needs root, the real tools (tools/real/build.sh, build-node.sh, build-addons.sh, build-control-plane.sh) and
 * Debian's containerd, runc, containernetworking-plugins, iptables, socat and openssh-server: a missing piece fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realTool } from '../helpers/real-tools.js';
import { hostState, nodeToolsDir } from '../helpers/real-node.js';
import { loopbackHost } from '../helpers/sshd.js';
import { findFreePort } from '../../src/exec/free-port.js';
import { localPathObjects } from '../../src/lab/real/local-path.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/groundwork');
const SCRIPT = path.join(ROOT, 'tools/real/kubeadm-node.sh');
const NODE = 'cp-1';
const NODE_IP = '10.88.0.1';
/** What kubeadm may write on a host; the node's went into its overlays. */
const HOST_FILES = ['/etc/kubernetes', '/etc/groundwork', '/var/lib/etcd', '/var/lib/kubelet/config.yaml', '/etc/cni/net.d/10-groundwork.conflist', '/etc/default/kubelet'];

function controlPlaneImagesDir(): string {
  const cache = process.env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'groundwork', 'real-tools');
  const dir = path.join(cache, 'control-plane-current');
  if (!existsSync(path.join(dir, 'etcd.tar'))) throw new Error(`the control-plane images are not built (looked in ${dir}): run \`bash tools/real/build-control-plane.sh\``);
  return realpathSync(dir);
}

function addonsDir(): string {
  const cache = process.env.GROUNDWORK_REAL_TOOLS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'groundwork', 'real-tools');
  const dir = path.join(cache, 'addons-current');
  if (!existsSync(path.join(dir, 'agnhost.tar'))) throw new Error(`the add-on images are not built (looked in ${dir}): run \`bash tools/real/build-addons.sh\``);
  return realpathSync(dir);
}

interface Report { status: string; results: { id: string; status: string; summary: string }[] }

describe('groundwork setup with the kubeadm bootstrap: the real kubeadm init through a real sshd on a node of this machine', () => {
  let dir: string;
  let nodeDir: string;
  let host: string;
  let sshPort: number;
  let env: Record<string, string>;
  let before: ReturnType<typeof hostState>;
  let hostFilesBefore: boolean[];
  let setup: { code: number; out: string };
  let kubeconfig: string;
  let pids: number[] = [];
  let down: { code: number; out: string } | undefined;

  const nodeDown = () => {
    if (down) return down;
    const r = spawnSync('bash', [SCRIPT, 'down', nodeDir], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 120_000 });
    down = { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
    return down;
  };
  const kubectl = (...args: string[]) => spawnSync(realTool('kubectl'), ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', env: { HOME: dir, PATH: '/usr/bin:/bin' }, timeout: 180_000 });
  /** A file the node wrote under its /etc or /var/lib, seen from here (the overlays' upper dirs). */
  const nodeFile = (f: string) => path.join(nodeDir, 'node', f.startsWith('/etc/') ? 'etc' : 'var_lib', 'up', f.replace(/^\/(etc|var\/lib)\//, ''));

  beforeAll(async () => {
    before = hostState();
    hostFilesBefore = HOST_FILES.map((f) => existsSync(f));
    dir = mkdtempSync(path.join(tmpdir(), 'gw-kubeadm-real-'));
    nodeDir = path.join(dir, 'node');
    const images = controlPlaneImagesDir();
    const node = nodeToolsDir();
    const kubeadmDir = path.dirname(realTool('kubeadm'));
    host = loopbackHost();
    sshPort = await findFreePort(host);
    const key = path.join(dir, 'id_ed25519');
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'gw-kubeadm-real', '-f', key]).status).toBe(0);
    const up = spawnSync('bash', [SCRIPT, 'up', nodeDir], {
      encoding: 'utf8',
      timeout: 180_000,
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        NODE_NAME: NODE,
        NODE_IP,
        SSH_HOST: host,
        SSH_PORT: String(sshPort),
        AUTHORIZED_KEY: `${key}.pub`,
        SSH_PATH: `${kubeadmDir}:${node}`,
        NODE_BIN: node,
        // What an air-gapped operator preloads: kubeadm's images from the mirror, and validate's probe image.
        // local-path-provisioner and its helper pods' image: the StorageClass the operator adds after init.
        IMAGES: [...readdirSync(images).filter((f) => f.endsWith('.tar')).map((f) => path.join(images, f)), ...['agnhost.tar', 'local-path.tar'].map((f) => path.join(addonsDir(), f)), path.join(node, 'images', 'probe.tar')].join(' '),
      },
    });
    expect(up.status, `${up.stdout}${up.stderr}`).toBe(0);
    pids = ['node', 'containerd', 'sshd', 'kubelet-service'].map((p) => Number(readFileSync(path.join(nodeDir, `${p}.pid`), 'utf8')));
    writeFileSync(path.join(dir, 'known_hosts'), '', { mode: 0o600 });
    writeFileSync(
      path.join(dir, 'cluster.yaml'),
      `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: kubeadm-real }
spec:
  kubernetesVersion: "1.37.2"
  endpoint: https://${host}:6443
  bootstrap:
    method: kubeadm
    kubeadm:
      ssh: { user: root, port: ${sshPort}, identityFile: ${key}, knownHostsFile: ${path.join(dir, 'known_hosts')} }
      # cgroup v1 here: kubelet 1.37 runs there only when told, and kubeadm's SystemVerification says so as an error.
      ignorePreflightErrors: [SystemVerification]
      kubelet: { failCgroupV1: false, cgroupDriver: cgroupfs }
      # The mirror holds the CoreDNS we build (v1.15.0); kubeadm 1.37 pins v1.14.6.
      imageTags: { coredns: v1.15.0 }
  nodes:
    # One node that takes pods too (no control-plane taint); ssh reaches it through host loopback.
    - { name: ${NODE}, address: ${NODE_IP}, role: control-plane, taints: [], ssh: { host: ${host} } }
  network:
    # The node brings its own (the bridge CNI kubeadm-node.sh writes to /etc/cni/net.d).
    cni: none
  images:
    registry: groundwork.local
`,
    );
    env = { PATH: `${path.dirname(realTool('kubectl'))}:${path.dirname(realTool('helm'))}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: dir, NO_COLOR: '1', CI: 'true' };
    const r = spawnSync(process.execPath, [BIN, 'setup', '-f', path.join(dir, 'cluster.yaml'), '--yes', '--stages', 'preflight,bootstrap,cni'], { cwd: dir, encoding: 'utf8', env, timeout: 900_000 });
    setup = { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
    kubeconfig = path.join(dir, '.groundwork', 'secrets', 'kubeconfig');
  }, 600_000);

  afterAll(() => {
    if (!nodeDir) return;
    // The node's containerd root (the unpacked images) is hundreds of MB: gone with the dir once the node is down
    // and nothing of it is mounted any more.
    if (nodeDown().code === 0 && !readFileSync('/proc/self/mountinfo', 'utf8').includes(dir)) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('setup passes: preflight, then kubeadm init for real through ssh, the kubeconfig fetched, the node registered', () => {
    expect(setup.code, setup.out).toBe(0);
    expect(setup.out).toMatch(/\[WARN cgroup-v2-cp-1\] .*failCgroupV1: false/);
    expect(setup.out).toContain(`root@${host} kubeadm init --config /etc/groundwork/kubeadm.yaml --upload-certs`);
    expect(setup.out).toContain('1 nodes registered');
    // kubeadm wrote what init writes, on the node (its /etc and /var/lib overlays)
    for (const f of ['/etc/kubernetes/admin.conf', '/etc/kubernetes/kubelet.conf', '/etc/kubernetes/manifests/etcd.yaml', '/etc/kubernetes/manifests/kube-apiserver.yaml', '/var/lib/kubelet/config.yaml', '/var/lib/etcd/member']) {
      expect(existsSync(nodeFile(f)), f).toBe(true);
    }
  });

  it('kubeadm got the spec: one preflight check ignored by name, failCgroupV1: false and cgroupfs in the kubelet config it wrote', () => {
    const docs = parseAllDocuments(readFileSync(nodeFile('/etc/groundwork/kubeadm.yaml'), 'utf8')).map((d) => d.toJS() as Record<string, any>);
    expect(docs.find((d) => d.kind === 'InitConfiguration')!.nodeRegistration.ignorePreflightErrors).toEqual(['SystemVerification']);
    const kubelet = parseYaml(readFileSync(nodeFile('/var/lib/kubelet/config.yaml'), 'utf8')) as Record<string, unknown>;
    expect(kubelet).toMatchObject({ failCgroupV1: false, cgroupDriver: 'cgroupfs' });
    // kubelet ran as the stand-in for kubelet.service runs it: kubeadm's flags file, then /etc/default/kubelet
    expect(readFileSync(path.join(nodeDir, 'logs', 'kubelet.log'), 'utf8')).toMatch(/kubelet-service: starting kubelet .*--node-ip=10\.88\.0\.1.* --cgroup-root=\/groundwork-cp-1/);
  });

  it('the cluster runs on the preloaded images: etcd 3.7.0-0, the control plane and kube-proxy v1.37.2, CoreDNS, all from groundwork.local', () => {
    expect(kubectl('wait', `node/${NODE}`, '--for=condition=Ready', '--timeout=120s').status).toBe(0);
    // CoreDNS comes after init (kubeadm's addon phase): its Deployment, then the static pods and kube-proxy.
    expect(kubectl('-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=180s').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'rollout', 'status', 'daemonset/kube-proxy', '--timeout=180s').status).toBe(0);
    expect(kubectl('-n', 'kube-system', 'wait', 'pod', '--all', '--for=condition=Ready', '--timeout=180s').status).toBe(0);
    const pods = JSON.parse(kubectl('-n', 'kube-system', 'get', 'pods', '-o', 'json').stdout) as { items: { metadata: { name: string }; spec: { containers: { image: string }[] } }[] };
    const images = [...new Set(pods.items.flatMap((p) => p.spec.containers.map((c) => c.image)))].sort();
    expect(images).toEqual([
      'groundwork.local/coredns/coredns:v1.15.0',
      'groundwork.local/etcd:3.7.0-0',
      'groundwork.local/kube-apiserver:v1.37.2',
      'groundwork.local/kube-controller-manager:v1.37.2',
      'groundwork.local/kube-proxy:v1.37.2',
      'groundwork.local/kube-scheduler:v1.37.2',
    ]);
    const node = JSON.parse(kubectl('get', 'node', NODE, '-o', 'json').stdout) as { status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string }; addresses: { type: string; address: string }[] } };
    expect(node.status.nodeInfo.kubeletVersion).toBe('v1.37.2');
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: NODE_IP });
  }, 400_000);

  it('takes a StorageClass as an operator adds one after init: local-path-provisioner, its volumes under the node\'s /var/lib', () => {
    const objects = localPathObjects({ nodes: [{ name: NODE, path: '/var/lib/groundwork-local-path' }] });
    const r = spawnSync(realTool('kubectl'), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { encoding: 'utf8', env: { HOME: dir, PATH: '/usr/bin:/bin' }, input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), timeout: 120_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(kubectl('-n', 'kube-system', 'rollout', 'status', 'deployment/local-path-provisioner', '--timeout=120s').status).toBe(0);
  }, 200_000);

  it('never shows the bootstrap token kubeadm made, in the output or the run records', () => {
    const secrets = JSON.parse(kubectl('-n', 'kube-system', 'get', 'secrets', '--field-selector', 'type=bootstrap.kubernetes.io/token', '-o', 'json').stdout) as { items: { data: Record<string, string> }[] };
    expect(secrets.items.length).toBeGreaterThan(0);
    const records = path.join(dir, '.groundwork', 'runs');
    const recorded = readdirSync(records, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
      .join('\n');
    for (const s of secrets.items) {
      const token = `${Buffer.from(s.data['token-id']!, 'base64').toString()}.${Buffer.from(s.data['token-secret']!, 'base64').toString()}`;
      // (a boolean, so a failure never prints the token)
      expect(setup.out.includes(token) || recorded.includes(token)).toBe(false);
    }
  });

  it('groundwork validate passes control-plane, connectivity, dns, scheduling, security and storage; netpol fails, saying why', () => {
    const r = spawnSync(process.execPath, [BIN, 'validate', '-f', path.join(dir, 'cluster.yaml'), '--kubeconfig', kubeconfig, '--timeout', '90', '--json'], { cwd: dir, encoding: 'utf8', env, timeout: 600_000 });
    const report = JSON.parse(r.stdout) as Report;
    const status = Object.fromEntries(report.results.map((x) => [x.id.replace(/^.*:/, ''), x.status]));
    expect(status, r.stdout + r.stderr).toEqual({ 'control-plane': 'pass', connectivity: 'pass', dns: 'pass', scheduling: 'pass', security: 'pass', storage: 'pass', netpol: 'fail' });
    const why = (id: string) => report.results.find((x) => x.id.endsWith(id))!.summary;
    expect(why('netpol')).toContain('NetworkPolicies are not enforced');
  }, 600_000);

  it('leaves nothing on the host: processes, network namespaces, cgroups, mounts, files; host sysctls unchanged', () => {
    const d = nodeDown();
    expect(d.out).toContain(`node ${NODE} down`);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/memory/groundwork-${NODE}`) || existsSync(`/sys/fs/cgroup/groundwork-${NODE}`)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(nodeDir);
    expect(HOST_FILES.map((f) => existsSync(f))).toEqual(hostFilesBefore);
    expect(hostState()).toEqual(before);
  });
});
