/**
 * The kubeadm bootstrap stage through the real engine, the real ssh and scp clients and two real sshd "nodes"
 * (cp-1 and w-1), with a strict fake kubeadm first on the nodes' PATH and a strict fake kubectl here. Once with
 * the first control plane as root and the worker as a non-root user with passwordless sudo, once the other way
 * round; both on first contact (an empty known_hosts file). The nodes' /etc is an overlay in the test's temp dir
 * (test/helpers/sshd.ts), so what groundwork put there can be inspected: owner, mode, content, nothing left over.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/spec/load.js';
import { DEFAULT_KUBERNETES_VERSION } from '../../src/spec/versions.js';
import { createFakeTools, type FakeToolSpec, type FakeTools } from '../helpers/fake-tools.js';
import { startSilentListener, startSshd, TEST_USER, type TestSshd } from '../helpers/sshd.js';
import { runBootstrap, SECRETS, tempDir } from '../bootstrap/worlds.js';

const CA_HASH = `sha256:${'ab'.repeat(32)}`;
const ADMIN_CONF = `apiVersion: v1\nkind: Config\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: ${SECRETS.kubeconfigKey}\n`;

let tmp: string;
let remote: FakeTools;
const nodes: TestSshd[] = [];
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'gw-ssh-bootstrap-'));
  chmodSync(tmp, 0o755);
  remote = createFakeTools(path.join(tmp, 'remote'), {});
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Two fresh nodes per case: nothing of the other case on them. */
async function twoNodes(): Promise<[TestSshd, TestSshd]> {
  const first = await startSshd({ remotePath: [remote.binDir] });
  nodes.push(first);
  const second = await startSshd({ remotePath: [remote.binDir], clientKey: first.clientKey });
  nodes.push(second);
  return [first, second];
}

function remoteKubeadm(first: string): FakeToolSpec {
  return {
    kubeadm: [
      {
        match: ['init', '--config', '/etc/groundwork/kubeadm.yaml', '--upload-certs'],
        times: 1,
        writeFiles: { '/etc/kubernetes/admin.conf': ADMIN_CONF },
        stdout: `Your Kubernetes control-plane has initialized successfully!\n  kubeadm join ${first}:6443 --token ${SECRETS.initToken} \\\n\t--discovery-token-ca-cert-hash ${CA_HASH} \\\n\t--control-plane --certificate-key ${SECRETS.initCertKey}\n`,
      },
      { match: ['token', 'create', '--ttl', '15m0s', '--print-join-command'], times: 1, stdout: `kubeadm join ${first}:6443 --token ${SECRETS.joinToken} --discovery-token-ca-cert-hash ${CA_HASH} \n` },
      { match: ['join', '--config', '/etc/groundwork/join.yaml'], times: 1, writeFiles: { '/etc/kubernetes/kubelet.conf': 'apiVersion: v1\nkind: Config\n' } },
    ],
  };
}

/** PATH here: a strict fake kubectl, and the machine's real ssh and scp (nothing else). */
function localTools(dir: string): FakeTools {
  const fakes = createFakeTools(dir, {
    kubectl: [
      { match: ['--kubeconfig', /.*/, 'get', '--raw', '/readyz'], stdout: 'ok' },
      { match: ['--kubeconfig', /.*/, 'get', 'nodes', '-o', 'name'], stdout: 'node/cp-1\nnode/w-1\n' },
    ],
  });
  const real = path.join(dir, 'real');
  mkdirSync(real);
  for (const p of ['ssh', 'scp']) symlinkSync(`/usr/bin/${p}`, path.join(real, p));
  return { ...fakes, env: { ...fakes.env, PATH: `${fakes.path}:${real}` } };
}

function specText(o: { cp: { host: string; port: number }; worker: { host: string; port: number }; cpUser: string; workerUser: string; key: string; knownHosts: string }): string {
  return `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: ssh-real }
spec:
  kubernetesVersion: "${DEFAULT_KUBERNETES_VERSION}"
  endpoint: https://${o.cp.host}:6443
  bootstrap:
    method: kubeadm
    kubeadm:
      ssh: { user: ${o.cpUser}, port: ${o.cp.port}, identityFile: ${o.key}, knownHostsFile: ${o.knownHosts} }
  nodes:
    - { name: cp-1, address: ${o.cp.host}, role: control-plane }
    - { name: w-1, address: ${o.worker.host}, role: worker, ssh: { user: ${o.workerUser}, port: ${o.worker.port} } }
  network:
    cni: calico
`;
}

describe('kubeadm bootstrap over real ssh: a node that refuses the key, a node that never answers', () => {
  it('a wrong key stops the run at check-nodes naming the node, its user@host and port, and "Permission denied (publickey)"', async () => {
    const cp = await startSshd({ remotePath: [remote.binDir] });
    nodes.push(cp);
    // This node authorizes a key of its own, not the spec's.
    const worker = await startSshd({ remotePath: [remote.binDir] });
    nodes.push(worker);
    remote.setRules({ kubeadm: [] });
    const loaded = parseSpec(specText({ cp, worker, cpUser: 'root', workerUser: TEST_USER, key: cp.clientKey, knownHosts: cp.knownHostsFile() }), 'cluster.yaml');
    const r = await runBootstrap(loaded, localTools(tempDir('gw-ssh-bootstrap-local-')), tempDir('gw-ssh-bootstrap-state-'));
    expect(r.summary.status).toBe('fail');
    const fail = r.summary.results.find((x) => x.status === 'fail')!;
    expect(fail.id).toBe('check-nodes');
    expect(r.output).toContain(`1 of 2 nodes cannot be reached over SSH`);
    expect(r.output).toContain(`w-1 (${worker.host}) does not answer`);
    expect(r.output).toContain(`${TEST_USER}@${worker.host}: Permission denied (publickey`);
    // The advice names w-1's own user and port, not the spec-wide ones.
    expect(r.output).toMatch(new RegExp(`fix: .*w-1: ${TEST_USER}@${worker.host.replace(/\./g, '\\.')} port ${worker.port}`));
    expect(r.output).not.toMatch(new RegExp(`fix: .*cp-1:`));
    expect(remote.calls()).toEqual([]);
  }, 60_000);

  it('a node that accepts TCP and never answers fails check-nodes on the banner-exchange timeout', async () => {
    const cp = await startSshd({ remotePath: [remote.binDir] });
    nodes.push(cp);
    const silent = await startSilentListener();
    try {
      remote.setRules({ kubeadm: [] });
      const loaded = parseSpec(specText({ cp, worker: silent, cpUser: TEST_USER, workerUser: 'root', key: cp.clientKey, knownHosts: cp.knownHostsFile() }), 'cluster.yaml');
      const r = await runBootstrap(loaded, localTools(tempDir('gw-ssh-bootstrap-local-')), tempDir('gw-ssh-bootstrap-state-'));
      expect(r.summary.status).toBe('fail');
      expect(r.summary.results.find((x) => x.status === 'fail')!.id).toBe('check-nodes');
      expect(r.output).toContain(`w-1 (${silent.host}) does not answer`);
      // ssh's last word on it: which host and port timed out (after "Connection timed out during banner exchange").
      expect(r.output).toContain(`Connection to ${silent.host} port ${silent.port} timed out`);
    } finally {
      await silent.stop();
    }
  }, 60_000);
});

describe.each([
  ['root', TEST_USER],
  [TEST_USER, 'root'],
])('kubeadm bootstrap over real ssh: cp-1 as %s, w-1 as %s', (cpUser, workerUser) => {
  it('inits, fetches the kubeconfig and joins the worker, leaving no token on either node', async () => {
    const [cp, worker] = await twoNodes();
    remote.setRules(remoteKubeadm(cp.host));
    const stateDir = tempDir('gw-ssh-bootstrap-state-');
    const knownHosts = cp.knownHostsFile();
    const loaded = parseSpec(specText({ cp, worker, cpUser, workerUser, key: cp.clientKey, knownHosts }), 'cluster.yaml');
    const local = localTools(tempDir('gw-ssh-bootstrap-local-'));
    const r = await runBootstrap(loaded, local, stateDir);
    expect(r.summary.status, r.output).toBe('pass');
    remote.verify();
    local.verify();

    // Both hosts were trusted on first contact.
    // (Debian's ssh_config hashes known_hosts: ssh-keygen -F finds them.)
    for (const n of [cp, worker]) expect(spawnSync('ssh-keygen', ['-F', `[${n.host}]:${n.port}`, '-f', knownHosts]).status).toBe(0);

    // cp-1 got the init config as root's 0600 file in a 0700 dir; the kubeconfig came back here.
    const cfg = statSync(cp.nodeFile('/etc/groundwork/kubeadm.yaml'));
    expect([cfg.uid, cfg.mode & 0o777]).toEqual([0, 0o600]);
    expect(statSync(cp.nodeFile('/etc/groundwork')).mode & 0o777).toBe(0o700);
    expect(readFileSync(cp.nodeFile('/etc/groundwork/kubeadm.yaml'), 'utf8')).toBe(readFileSync(r.layout.kubeadm.config, 'utf8'));
    expect(readFileSync(r.layout.kubeconfig, 'utf8')).toBe(ADMIN_CONF);
    expect(statSync(r.layout.kubeconfig).mode & 0o777).toBe(0o600);

    // w-1 joined (kubelet.conf) and its join config, which held the token, is gone.
    expect(existsSync(worker.nodeFile('/etc/kubernetes/kubelet.conf'))).toBe(true);
    expect(statSync(worker.nodeFile('/etc/groundwork')).mode & 0o777).toBe(0o700);
    expect(existsSync(worker.nodeFile('/etc/groundwork/join.yaml'))).toBe(false);
    // No staged copy stays in either user's home.
    for (const home of ['/root', `/home/${TEST_USER}`]) expect(readdirSync(home).filter((f) => f.startsWith('.groundwork-staging'))).toEqual([]);
    // The tokens never show.
    for (const s of [SECRETS.initToken, SECRETS.initCertKey, SECRETS.joinToken, SECRETS.kubeconfigKey]) expect(r.output).not.toContain(s);
  }, 120_000);
});
