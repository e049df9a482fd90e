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
import { createFakeTools, type FakeTools } from '../helpers/fake-tools.js';
import { startSshd, TEST_USER, type TestSshd } from '../helpers/sshd.js';
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

function remoteKubeadm(first: string) {
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

describe.each([
  ['root', TEST_USER],
  [TEST_USER, 'root'],
])('kubeadm bootstrap over real ssh: cp-1 as %s, w-1 as %s', (cpUser, workerUser) => {
  it('inits, fetches the kubeconfig and joins the worker, leaving no token on either node', async () => {
    const [cp, worker] = await twoNodes();
    remote.setRules(remoteKubeadm(cp.host));
    const stateDir = tempDir('gw-ssh-bootstrap-state-');
    const knownHosts = cp.knownHostsFile();
    const loaded = parseSpec(
      `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata: { name: ssh-real }
spec:
  kubernetesVersion: "1.32.4"
  endpoint: https://${cp.host}:6443
  bootstrap:
    method: kubeadm
    kubeadm:
      ssh: { user: ${cpUser}, port: ${cp.port}, identityFile: ${cp.clientKey}, knownHostsFile: ${knownHosts} }
  nodes:
    - { name: cp-1, address: ${cp.host}, role: control-plane }
    - { name: w-1, address: ${worker.host}, role: worker, ssh: { user: ${workerUser}, port: ${worker.port} } }
  network:
    cni: calico
`,
      'cluster.yaml',
    );
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
