import { describe, expect, it } from 'vitest';
import {
  buildCertSANs,
  buildKubeadmConfig,
  buildKubeadmJoinConfig,
  buildNodeUploadArgvs,
  buildNodeSshArgv,
  controlPlaneEndpoint,
  findKubeadmSecrets,
  parseCertificateKey,
  parseJoinCommand,
  KUBEADM_API_VERSION,
  buildKubeadmImageList,
} from '../../src/bootstrap/kubeadm.js';
import { ClusterSpec } from '../../src/spec/schema.js';
import { kubeadmPreflightErrors } from '../../src/bootstrap/steps.js';
import { buildFixtureSpec } from './spec-fixtures.js';

const TOKEN = 'abcdef.0123456789abcdef';
const HASH = `sha256:${'a1'.repeat(32)}`;
const CERT_KEY = 'f0'.repeat(32);

describe.each([
  ['1.35.4', 'cilium'],
  ['1.36.2', 'calico'],
  ['1.37.2', 'cilium'],
  ['1.37.2', 'calico'],
  ['1.37.2', 'flannel'],
] as const)('kubeadm config for Kubernetes %s with %s', (k8s, cni) => {
  const spec = buildFixtureSpec({ method: 'kubeadm', kubernetesVersion: k8s, cni });
  const { init, cluster, apiVersion } = buildKubeadmConfig(spec);

  it('is kubeadm.k8s.io/v1beta4 (1.37 reads no v1beta3; v1 is experimental there)', () => expect(apiVersion).toBe(KUBEADM_API_VERSION));

  it('ClusterConfiguration carries subnets, endpoint, SANs, etcd dataDir and version', () => {
    expect(cluster).toMatchObject({
      apiVersion,
      kind: 'ClusterConfiguration',
      kubernetesVersion: `v${k8s}`,
      controlPlaneEndpoint: '127.0.10.11:6443',
      networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12' },
      etcd: { local: { dataDir: '/var/lib/etcd' } },
    });
    expect((cluster.apiServer as { certSANs: string[] }).certSANs).toEqual(['127.0.10.11', 'cp-1', '127.0.10.12', 'cp-2', '127.0.10.13', 'cp-3']);
  });

  it('InitConfiguration advertises the first control plane with a short-lived token', () => {
    expect(init).toMatchObject({ apiVersion, kind: 'InitConfiguration', localAPIEndpoint: { advertiseAddress: '127.0.10.11', bindPort: 6443 } });
    expect((init.bootstrapTokens as { ttl: string }[])[0]!.ttl).toBe('15m0s');
    const reg = init.nodeRegistration as { name: string; kubeletExtraArgs: unknown };
    expect(reg.name).toBe('cp-1');
    // v1beta4 turned the string maps into lists of {name, value}.
    expect(reg.kubeletExtraArgs).toEqual([{ name: 'node-ip', value: '127.0.10.11' }]);
  });

  it('kube-proxy is off only when Cilium replaces it', () => {
    expect(cluster.proxy).toEqual(cni === 'cilium' ? { disabled: true } : undefined);
    expect(init.skipPhases).toBeUndefined();
  });

  it('JoinConfiguration for a control plane carries the certificate key; a worker gets none', () => {
    const cp2 = spec.spec.nodes[1]!;
    const w1 = spec.spec.nodes[3]!;
    const j = buildKubeadmJoinConfig(spec, cp2, { token: TOKEN, caCertHash: HASH, certificateKey: CERT_KEY });
    expect(j).toMatchObject({
      apiVersion,
      kind: 'JoinConfiguration',
      discovery: { bootstrapToken: { apiServerEndpoint: '127.0.10.11:6443', token: TOKEN, caCertHashes: [HASH] } },
      controlPlane: { localAPIEndpoint: { advertiseAddress: '127.0.10.12', bindPort: 6443 }, certificateKey: CERT_KEY },
    });
    const jw = buildKubeadmJoinConfig(spec, w1, { token: TOKEN, caCertHash: HASH, certificateKey: CERT_KEY });
    expect(jw.controlPlane).toBeUndefined();
    expect(() => buildKubeadmJoinConfig(spec, cp2, { token: TOKEN, caCertHash: HASH })).toThrow(/certificate key/);
  });
});

describe('endpoints and SANs', () => {
  it('defaults the port and brackets IPv6', () => {
    const spec = buildFixtureSpec({ method: 'kubeadm' });
    expect(controlPlaneEndpoint({ ...spec, spec: { ...spec.spec, endpoint: 'https://[::1]:7443' } })).toBe('[::1]:7443');
    expect(controlPlaneEndpoint({ ...spec, spec: { ...spec.spec, endpoint: 'https://api.example.test' } })).toBe('api.example.test:6443');
  });
  it('has no duplicates and adds the spec extras', () => {
    const spec = buildFixtureSpec({ method: 'kubeadm' });
    spec.spec.bootstrap.kubeadm.certSANs = ['api.lab.test', 'cp-1'];
    expect(buildCertSANs(spec)).toEqual(['127.0.10.11', 'cp-1', '127.0.10.12', 'cp-2', '127.0.10.13', 'cp-3', 'api.lab.test']);
  });
});

describe('ssh and scp argv of a node (the builder itself: test/net/ssh-argv.test.ts)', () => {
  const spec = buildFixtureSpec({ method: 'kubeadm' });
  const cp1 = spec.spec.nodes[0]!;
  it('never prompts, and the destination comes after --', () => {
    expect(buildNodeSshArgv(spec, cp1, ['test', '-f', '/etc/kubernetes/admin.conf'])).toEqual([
      'ssh', '-i', '/keys/id_ed25519', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'ConnectTimeout=10',
      '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '-p', '22', '--', 'root@127.0.10.11', 'test', '-f', '/etc/kubernetes/admin.conf',
    ]);
  });
  it('scp uses -P and brackets IPv6 hosts', () => {
    const v6 = { ...cp1, address: '::1' };
    const [scp, install] = buildNodeUploadArgvs(spec, v6, '/a', '/b');
    expect(scp!.slice(0, 2)).toEqual(['scp', '-i']);
    expect(scp!.slice(-5)).toEqual(['-P', '22', '--', '/a', 'root@[::1]:.groundwork-staging-b']);
    expect(install!.slice(install!.indexOf('--'))).toEqual(['--', 'root@::1', 'install', '-m', '0600', '--', '.groundwork-staging-b', '/b', '; r=$?;', 'rm', '-f', '--', '.groundwork-staging-b', '; exit $r']);
  });
  it('a node override of user and port wins; a non-root user runs the command through sudo -n', () => {
    const argv = buildNodeSshArgv(spec, { ...cp1, ssh: { user: 'ops', port: 2222 } }, ['true']);
    expect(argv.slice(argv.indexOf('-p'))).toEqual(['-p', '2222', '--', 'ops@127.0.10.11', 'sudo', '-n', '--', 'true']);
  });
});

describe('parsing kubeadm output', () => {
  it('reads token and CA hash from --print-join-command', () => {
    expect(parseJoinCommand(`kubeadm join 127.0.10.11:6443 --token ${TOKEN} --discovery-token-ca-cert-hash ${HASH} \n`)).toEqual({ token: TOKEN, caCertHash: HASH });
    expect(parseJoinCommand('error: no token')).toBeUndefined();
  });
  it('reads the certificate key from upload-certs', () => {
    expect(parseCertificateKey(`[upload-certs] Storing the certificates in Secret "kubeadm-certs"\n[upload-certs] Using certificate key:\n${CERT_KEY}\n`)).toBe(CERT_KEY);
    expect(parseCertificateKey('nothing')).toBeUndefined();
  });
  it('finds every secret kubeadm init prints', () => {
    const out = `  kubeadm join 127.0.10.11:6443 --token ${TOKEN} \\\n\t--discovery-token-ca-cert-hash ${HASH} \\\n\t--control-plane --certificate-key ${CERT_KEY}\n`;
    const s = findKubeadmSecrets(out);
    expect(s).toContain(TOKEN);
    expect(s).toContain(CERT_KEY);
  });
});

describe('node labels', () => {
  it.each([
    ['1.37.2', [{ name: 'node-ip', value: '127.0.10.21' }, { name: 'node-labels', value: 'tier=db,zone=a' }]],
  ])('Kubernetes %s: kubelet gets --node-labels in the join config', (k8s, args) => {
    const spec = buildFixtureSpec({ method: 'kubeadm', kubernetesVersion: k8s });
    const w1 = { ...spec.spec.nodes[3]!, labels: { tier: 'db', zone: 'a' } };
    const j = buildKubeadmJoinConfig(spec, w1, { token: TOKEN, caCertHash: HASH });
    expect((j.nodeRegistration as { kubeletExtraArgs: unknown }).kubeletExtraArgs).toEqual(args);
  });
});

describe('a node kubeadm cannot fully vet: preflight checks ignored by name, the kubelet config, image tags', () => {
  const withKubeadm = (kubeadm: Record<string, unknown>, registry = '') => {
    const base = buildFixtureSpec({ method: 'kubeadm', registry });
    return ClusterSpec.parse({ ...base, spec: { ...base.spec, bootstrap: { ...base.spec.bootstrap, kubeadm: { ...base.spec.bootstrap.kubeadm, ...kubeadm } } } });
  };
  const issues = (kubeadm: Record<string, unknown>) => {
    const r = ClusterSpec.safeParse({ ...buildFixtureSpec({ method: 'kubeadm' }), spec: { ...buildFixtureSpec({ method: 'kubeadm' }).spec, bootstrap: { method: 'kubeadm', kubeadm } } });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('the ignored checks go into init and join nodeRegistration, each by name', () => {
    const spec = withKubeadm({ ignorePreflightErrors: ['SystemVerification', 'ContainerRuntimeVersion'] });
    const { init } = buildKubeadmConfig(spec);
    expect((init.nodeRegistration as { ignorePreflightErrors: string[] }).ignorePreflightErrors).toEqual(['SystemVerification', 'ContainerRuntimeVersion']);
    const j = buildKubeadmJoinConfig(spec, spec.spec.nodes[3]!, { token: TOKEN, caCertHash: HASH });
    expect((j.nodeRegistration as { ignorePreflightErrors: string[] }).ignorePreflightErrors).toEqual(['SystemVerification', 'ContainerRuntimeVersion']);
    expect(buildKubeadmConfig(buildFixtureSpec({ method: 'kubeadm' })).init.nodeRegistration).not.toHaveProperty('ignorePreflightErrors');
  });

  it('refuses "all" (in any case), a name kubeadm could not print, and a check named twice', () => {
    expect(issues({ ignorePreflightErrors: ['All'] })).toEqual([expect.stringMatching(/ignorePreflightErrors\.0: "all" would hide every failed check; name each check/)]);
    expect(issues({ ignorePreflightErrors: ['Port 2379'] })).toEqual([expect.stringMatching(/"Port 2379" is not a kubeadm preflight check name like "SystemVerification"/)]);
    expect(issues({ ignorePreflightErrors: ['CRI', 'cri'] })).toEqual([expect.stringMatching(/ignorePreflightErrors: names a check twice/)]);
  });

  it('a KubeletConfiguration only when the spec sets a kubelet field', () => {
    expect(buildKubeadmConfig(buildFixtureSpec({ method: 'kubeadm' })).kubelet).toBeUndefined();
    expect(buildKubeadmConfig(withKubeadm({ kubelet: { failCgroupV1: false, cgroupDriver: 'cgroupfs' } })).kubelet).toEqual({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      failCgroupV1: false,
    });
    expect(issues({ kubelet: { cgroupDriver: 'none' } })).toEqual([expect.stringMatching(/kubelet\.cgroupDriver/)]);
  });

  it('image tags set etcd.local.imageTag and dns.imageTag, with or without a mirror, and the image list follows', () => {
    const spec = withKubeadm({ imageTags: { etcd: '3.7.0-0', coredns: 'v1.15.0' } }, 'groundwork.local');
    const { cluster } = buildKubeadmConfig(spec);
    expect(cluster.etcd).toEqual({ local: { dataDir: '/var/lib/etcd', imageTag: '3.7.0-0' } });
    expect(cluster.dns).toEqual({ imageRepository: 'groundwork.local/coredns', imageTag: 'v1.15.0' });
    expect(buildKubeadmImageList(spec).map((i) => i.image)).toEqual(expect.arrayContaining(['groundwork.local/coredns/coredns:v1.15.0', 'groundwork.local/etcd:3.7.0-0']));
    expect(buildKubeadmConfig(withKubeadm({ imageTags: { coredns: 'v1.15.0' } })).cluster.dns).toEqual({ imageTag: 'v1.15.0' });
    expect(issues({ imageTags: { etcd: '-3.7' } })).toEqual([expect.stringMatching(/"-3.7" is not an image tag/)]);
  });

  it('a node reached over SSH elsewhere than its address: ssh and scp go there, the cluster keeps the address', () => {
    const base = buildFixtureSpec({ method: 'kubeadm' });
    const spec = ClusterSpec.parse({ ...base, spec: { ...base.spec, nodes: base.spec.nodes.map((n, i) => (i === 0 ? { ...n, address: '10.99.0.1', ssh: { host: '127.0.0.77', port: 2200 } } : n)) } });
    const cp1 = spec.spec.nodes[0]!;
    const argv = buildNodeSshArgv(spec, cp1, ['true']);
    expect(argv.slice(argv.indexOf('-p'))).toEqual(['-p', '2200', '--', 'root@127.0.0.77', 'true']);
    expect((buildKubeadmConfig(spec).init.localAPIEndpoint as { advertiseAddress: string }).advertiseAddress).toBe('10.99.0.1');
  });
});

describe('kubeadm preflight errors in its output', () => {
  it('each [ERROR Name] line, by name, and nothing from a run without them', () => {
    const out = [
      '[preflight] Running pre-flight checks',
      '\t[WARNING ContainerRuntimeVersion]: You must update your container runtime',
      '[preflight] Some fatal errors occurred:',
      '\t[ERROR SystemVerification]: cgroups v1 support is deprecated and will be removed in a future release.',
      '\t[ERROR Port-2379]: Port 2379 is in use',
      "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`",
      'To see the stack trace of this error execute with --v=5 or higher',
    ].join('\n');
    expect(kubeadmPreflightErrors(out)).toEqual([
      { name: 'SystemVerification', line: '[ERROR SystemVerification]: cgroups v1 support is deprecated and will be removed in a future release.' },
      { name: 'Port-2379', line: '[ERROR Port-2379]: Port 2379 is in use' },
    ]);
    expect(kubeadmPreflightErrors('error execution phase wait-control-plane: timed out')).toEqual([]);
  });
});
