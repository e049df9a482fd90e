import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/errors.js';
import { parseSpec, loadSpec } from '../../src/spec/load.js';
import { editText, specIssues } from '../helpers/spec-text.js';

/** A valid spec in block style, so every field has its own line and column. */
const BASE = `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  endpoint: https://127.0.100.10:6443
  bootstrap:
    method: talos
  nodes:
    - name: cp-1
      address: 127.0.100.11
      role: control-plane
    - name: w-1
      address: 127.0.100.21
      role: worker
  network:
    podCIDR: 10.244.0.0/16
    cni: cilium
`;

const edit = (...pairs: [string, string][]): string => editText(BASE, ...pairs);

const errorsOf = (text: string): string[] => specIssues(() => parseSpec(text, 'cluster.yaml'));

describe('parseSpec: errors with file:line:col at the value', () => {
  it.each<[string, string, string[]]>([
    ['a prefix longer than 32 bits', edit(['10.244.0.0/16', '10.244.0.0/33']), ['cluster.yaml:17:14 spec.network.podCIDR: "10.244.0.0/33" is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")']],
    ['an address where a CIDR belongs', edit(['10.244.0.0/16', '10.244.0.0']), ['cluster.yaml:17:14 spec.network.podCIDR: "10.244.0.0" is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")']],
    ['octets over 255', edit(['10.244.0.0/16', '10.300.0.0/16']), ['cluster.yaml:17:14 spec.network.podCIDR: "10.300.0.0/16" is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")']],
    ['three CIDRs', edit(['10.244.0.0/16', '"10.244.0.0/16,fd00::/56,10.1.0.0/16"']), ['cluster.yaml:17:14 spec.network.podCIDR: "10.244.0.0/16,fd00::/56,10.1.0.0/16" is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")']],
    ['a boolean CIDR', edit(['10.244.0.0/16', 'true']), ['cluster.yaml:17:14 spec.network.podCIDR: must be a string, got true']],
    ['duplicate node name', edit(['name: w-1', 'name: cp-1']), ['cluster.yaml:13:13 spec.nodes[1].name: duplicate node name "cp-1" (also spec.nodes[0])']],
    ['duplicate node address', edit(['127.0.100.21', '127.0.100.11']), ['cluster.yaml:14:16 spec.nodes[1].address: duplicate node address 127.0.100.11 (also spec.nodes[0])']],
    ['duplicate name and address', edit(['name: w-1', 'name: cp-1'], ['127.0.100.21', '127.0.100.11']), [
      'cluster.yaml:13:13 spec.nodes[1].name: duplicate node name "cp-1" (also spec.nodes[0])',
      'cluster.yaml:14:16 spec.nodes[1].address: duplicate node address 127.0.100.11 (also spec.nodes[0])',
    ]],
    ['a missing field (points at the key of its mapping)', edit(['      address: 127.0.100.21\n', '']), ['cluster.yaml:13:7 spec.nodes[1].address: is required']],
    ['a missing section', edit(['  bootstrap:\n    method: talos\n', '']), ['cluster.yaml:5:1 spec.bootstrap: is required']],
    ['an empty section', edit(['    method: talos\n', '']), ['cluster.yaml:7:3 spec.bootstrap: is empty; it must be a mapping']],
    ['a missing top-level field', edit(['kind: Cluster\n', '']), ['cluster.yaml:1:1 kind: is required']],
    ['a number where a string belongs', edit(['address: 127.0.100.21', 'address: 12']), ['cluster.yaml:14:16 spec.nodes[1].address: must be a string, got 12']],
    ['a scalar where a list belongs', edit(['  nodes:\n', '  nodes: 3\n  unused:\n']), [
      'cluster.yaml:9:10 spec.nodes: must be a list, got 3',
      'cluster.yaml:10:3 spec.unused: unknown field "unused"',
    ]],
    ['a list where a mapping belongs', edit(['  network:\n    podCIDR: 10.244.0.0/16\n    cni: cilium\n', '  network: [cilium]\n']), ['cluster.yaml:16:12 spec.network: must be a mapping, got a list']],
    ['a fraction where a whole number belongs', edit(['    cni: cilium\n', '    cni: cilium\n    nodeMaskSize: 24.5\n']), ['cluster.yaml:19:19 spec.network.nodeMaskSize: must be a whole number, got 24.5']],
    ['a number below the minimum', edit(['    cni: cilium\n', '    cni: cilium\n    nodeMaskSize: 4\n']), ['cluster.yaml:19:19 spec.network.nodeMaskSize: must be at least 8, got 4']],
    ['an unknown field (points at the key)', edit(['    cni: cilium\n', '    cni: cilium\n    mtu: 1500\n']), ['cluster.yaml:19:5 spec.network.mtu: unknown field "mtu"']],
    ['a misspelt top-level field', edit(['kind: Cluster', 'kind: Cluster\nkinds: Cluster']), ['cluster.yaml:3:1 kinds: unknown field "kinds"']],
    ['an unknown CNI', edit(['cni: cilium', 'cni: weave']), ['cluster.yaml:18:10 spec.network.cni: "weave" is not one of cilium, calico, flannel, none']],
    ['an unknown bootstrap method', edit(['method: talos', 'method: k3s']), ['cluster.yaml:8:13 spec.bootstrap.method: "k3s" is not one of talos, kubeadm']],
    ['an unknown role', edit(['role: worker', 'role: master']), ['cluster.yaml:15:13 spec.nodes[1].role: "master" is not one of control-plane, worker']],
    ['a wrong kind', edit(['kind: Cluster', 'kind: Clustr']), ['cluster.yaml:2:7 kind: must be "Cluster", got "Clustr"']],
    ['a wrong apiVersion', edit(['groundwork.dev/v1alpha1', 'groundwork.dev/v1']), ['cluster.yaml:1:13 apiVersion: must be "groundwork.dev/v1alpha1", got "groundwork.dev/v1"']],
    ['an http endpoint', edit(['https://127.0.100.10:6443', 'http://127.0.100.10:6443']), ['cluster.yaml:6:13 spec.endpoint: "http://127.0.100.10:6443" is not an https:// URL, e.g. https://10.0.10.10:6443']],
    ['an endpoint that is no URL', edit(['https://127.0.100.10:6443', '127.0.100.10:6443']), ['cluster.yaml:6:13 spec.endpoint: "127.0.100.10:6443" is not an https:// URL, e.g. https://10.0.10.10:6443']],
    ['a numeric endpoint', edit(['https://127.0.100.10:6443', '6443']), ['cluster.yaml:6:13 spec.endpoint: must be a string, got 6443']],
    ['an upper-case cluster name', edit(['name: demo', 'name: Demo']), ['cluster.yaml:4:9 metadata.name: "Demo" is not a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit']],
    ['a node name with an underscore', edit(['name: w-1', 'name: w_1']), ['cluster.yaml:13:13 spec.nodes[1].name: "w_1" is not a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit']],
    ['a node name ending in "-"', edit(['name: w-1', 'name: w-']), ['cluster.yaml:13:13 spec.nodes[1].name: "w-" is not a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit']],
    ['a 64-character name', edit(['name: demo', `name: ${'a'.repeat(64)}`]), [`cluster.yaml:4:9 metadata.name: "${'a'.repeat(64)}" is longer than 63 characters (a DNS-1123 label)`]],
    ['no control plane', edit(['role: control-plane', 'role: worker']), ['cluster.yaml:10:5 spec.nodes: needs at least one node with role: control-plane']],
    ['no nodes at all', edit(['  nodes:\n    - name: cp-1\n      address: 127.0.100.11\n      role: control-plane\n    - name: w-1\n      address: 127.0.100.21\n      role: worker\n', '  nodes: []\n']), ['cluster.yaml:9:10 spec.nodes: must list at least one node']],
    ['a bad Kubernetes version', edit(['  endpoint:', '  kubernetesVersion: "1.32"\n  endpoint:']), ['cluster.yaml:6:22 spec.kubernetesVersion: "1.32" is not a Kubernetes version like "1.37.2"']],
    // Versions outside what the real talosctl and kubeadm accept are refused here, not half-way through a bootstrap.
    ['an unsupported Kubernetes version', edit(['  endpoint:', '  kubernetesVersion: 1.99.0\n  endpoint:']), ['cluster.yaml:6:22 spec.kubernetesVersion: Kubernetes 1.99.0 is not supported: groundwork supports Kubernetes 1.35 to 1.37 (e.g. "1.37.2")']],
    ['a Kubernetes version upstream no longer maintains', edit(['  endpoint:', '  kubernetesVersion: "1.34.6"\n  endpoint:']), ['cluster.yaml:6:22 spec.kubernetesVersion: Kubernetes 1.34.6 is not supported: groundwork supports Kubernetes 1.35 to 1.37 (e.g. "1.37.2")']],
    ['an unsupported Talos version', edit(['    method: talos', '    method: talos\n    talos:\n      version: v1.11.2']), ['cluster.yaml:10:16 spec.bootstrap.talos.version: Talos v1.11.2 is not supported: groundwork supports Talos v1.12 to v1.14 (e.g. "v1.14.1")']],
    ['a Talos release too old for the Kubernetes version', edit(['    method: talos', '    method: talos\n    talos:\n      version: v1.12.6']), ['cluster.yaml:10:16 spec.bootstrap.talos.version: Talos v1.12.6 runs Kubernetes 1.30 to 1.35, not 1.37.2: use a newer Talos (spec.bootstrap.talos.version) or an older Kubernetes']],
    ['a node mask wider than the pod CIDR', edit(['10.244.0.0/16', '10.244.0.0/26']), ['cluster.yaml:16:3 spec.network.nodeMaskSize: /24 per node is larger than the whole podCIDR 10.244.0.0/26']],
    ['a YAML syntax error', edit(['    method: talos', '    method: [talos']), ['cluster.yaml:9:3 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a tab for indentation', edit(['    method: talos', '\tmethod: talos']), ['cluster.yaml:8:1 YAML syntax error: Tabs are not allowed as indentation']],
    ['a duplicate key', edit(['  name: demo\n', '  name: demo\n  name: again\n']), ['cluster.yaml:5:3 metadata.name: duplicate key: a key may appear only once in a mapping']],
    ['a duplicate key deep down', edit(['      role: worker\n', '      role: worker\n      role: worker\n']), ['cluster.yaml:16:7 spec.nodes[1].role: duplicate key: a key may appear only once in a mapping']],
    ['a list instead of a spec', '- a\n- b\n', ['cluster.yaml:1:1 must be a mapping with apiVersion, kind, metadata and spec (see examples/talos-ha.yaml)']],
    ['an empty file', '', ['cluster.yaml:1:1 must be a mapping with apiVersion, kind, metadata and spec (see examples/talos-ha.yaml)']],
  ])('%s', (_name, text, expected) => {
    expect(errorsOf(text)).toEqual(expected);
  });

  it('reports every problem at once, schema and cross-field, in file order', () => {
    const text = edit(['10.244.0.0/16', '10.244.0.0/33'], ['name: w-1', 'name: cp-1'], ['cni: cilium', 'cni: weave'], ['name: demo', 'name: Demo']);
    expect(errorsOf(text)).toEqual([
      'cluster.yaml:4:9 metadata.name: "Demo" is not a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
      'cluster.yaml:13:13 spec.nodes[1].name: duplicate node name "cp-1" (also spec.nodes[0])',
      'cluster.yaml:17:14 spec.network.podCIDR: "10.244.0.0/33" is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")',
      'cluster.yaml:18:10 spec.network.cni: "weave" is not one of cilium, calico, flannel, none',
    ]);
  });

  it('points at the value inside flow mappings too', () => {
    const text = edit(['    - name: w-1\n      address: 127.0.100.21\n      role: worker\n', '    - { name: w-1, address: 127.0.100.21, role: boss }\n']);
    expect(errorsOf(text)).toEqual(['cluster.yaml:13:49 spec.nodes[1].role: "boss" is not one of control-plane, worker']);
  });

  it('treats the same address written two ways as a duplicate', () => {
    const text = edit(['address: 127.0.100.11', 'address: "::1"'], ['address: 127.0.100.21', 'address: "0:0::1"']);
    expect(errorsOf(text)).toEqual(['cluster.yaml:14:16 spec.nodes[1].address: duplicate node address 0:0::1 (also spec.nodes[0])']);
  });
});

describe('parseSpec: valid specs', () => {
  it('fills in defaults', () => {
    const { spec, warnings } = parseSpec(BASE, 'cluster.yaml');
    expect(warnings).toEqual([]);
    expect(spec.spec.kubernetesVersion).toBe('1.37.2');
    expect(spec.spec.network).toEqual({ podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', nodeMaskSize: 24, cni: 'cilium', kubeProxyReplacement: true });
    expect(spec.spec.bootstrap.talos).toEqual({ version: 'v1.14.1', installDisk: '/dev/sda' });
    expect(spec.spec.bootstrap.kubeadm.ssh).toEqual({ user: 'root', identityFile: '~/.ssh/id_ed25519', port: 22 });
    expect(spec.spec.addons).toMatchObject({ monitoring: 'kube-prometheus-stack', logging: 'fluent-bit', backup: { schedule: '0 */6 * * *', retain: 28, target: { hostPath: '/var/backups/etcd' } } });
    expect(spec.spec.images).toEqual({ registry: '' });
  });

  it.each([
    ['the oldest supported pair', '1.35.0', 'v1.12.0'],
    ['Talos v1.13 with Kubernetes 1.36', '1.36.4', 'v1.13.5'],
    ['the newest', '1.37.2', 'v1.14.1'],
  ])('accepts %s (Kubernetes %s on Talos %s)', (_l, k8s, talos) => {
    const { spec } = parseSpec(edit(['  endpoint:', `  kubernetesVersion: "${k8s}"\n  endpoint:`], ['    method: talos', `    method: talos\n    talos:\n      version: ${talos}`]), 'cluster.yaml');
    expect([spec.spec.kubernetesVersion, spec.spec.bootstrap.talos.version]).toEqual([k8s, talos]);
  });

  it('ignores the Talos version of a kubeadm spec', () => {
    const { spec } = parseSpec(edit(['    method: talos', '    method: kubeadm\n    talos:\n      version: v1.9.0']), 'cluster.yaml');
    expect(spec.spec.bootstrap.method).toBe('kubeadm');
  });

  it('warns, without failing, on an even number of control planes', () => {
    const { warnings } = parseSpec(edit(['role: worker', 'role: control-plane']), 'cluster.yaml');
    expect(warnings.map(formatIssue)).toEqual(['cluster.yaml:10:5 warning: spec.nodes: 2 control planes: an even etcd member count adds no fault tolerance; use 1 or 3']);
  });

  it('warns about an endpoint without a port and about flannel', () => {
    const { warnings } = parseSpec(edit(['https://127.0.100.10:6443', 'https://127.0.100.10'], ['cni: cilium', 'cni: flannel']), 'cluster.yaml');
    expect(warnings.map(formatIssue)).toEqual([
      'cluster.yaml:6:13 warning: spec.endpoint: has no port; the API server listens on 6443 (e.g. https://127.0.100.10:6443)',
      'cluster.yaml:18:10 warning: spec.network.cni: flannel does not enforce NetworkPolicy: policies you apply will be ignored',
    ]);
  });

  it('accepts a dual-stack pod CIDR', () => {
    const { spec } = parseSpec(edit(['10.244.0.0/16', '"10.244.0.0/16,fd00:10:244::/56"']), 'cluster.yaml');
    expect(spec.spec.network.podCIDR).toBe('10.244.0.0/16,fd00:10:244::/56');
  });

  it('accepts backup: false', () => {
    const { spec } = parseSpec(`${BASE}  addons:\n    backup: false\n`, 'cluster.yaml');
    expect(spec.spec.addons.backup).toBe(false);
  });

  it('reports a backup given as a string by the shapes it may take', () => {
    expect(errorsOf(`${BASE}  addons:\n    backup: daily\n`)).toEqual(['cluster.yaml:20:13 spec.addons.backup: must be a mapping or false, got "daily"']);
  });

  it('reports a bad field inside the backup mapping (not the union)', () => {
    expect(errorsOf(`${BASE}  addons:\n    backup: { retain: 0 }\n`)).toEqual(['cluster.yaml:20:23 spec.addons.backup.retain: must be at least 1, got 0']);
  });

  it.each(['talos-ha', 'kubeadm-small', 'lab'])('examples/%s.yaml is valid, starts with the schema comment and has odd control planes', (name) => {
    const text = readFileSync(`examples/${name}.yaml`, 'utf8');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./groundwork.schema.json');
    const { spec, warnings } = parseSpec(text, `examples/${name}.yaml`);
    expect(warnings).toEqual([]);
    expect(spec.spec.nodes.filter((n) => n.role === 'control-plane').length % 2).toBe(1);
  });

  it('examples have the shapes the docs promise', () => {
    const ha = parseSpec(readFileSync('examples/talos-ha.yaml', 'utf8'), 'x').spec.spec;
    expect([ha.bootstrap.method, ha.network.cni, ha.nodes.filter((n) => n.role === 'control-plane').length, ha.nodes.filter((n) => n.role === 'worker').length]).toEqual(['talos', 'cilium', 3, 2]);
    const small = parseSpec(readFileSync('examples/kubeadm-small.yaml', 'utf8'), 'x').spec.spec;
    expect([small.bootstrap.method, small.network.cni, small.nodes.filter((n) => n.role === 'control-plane').length, small.nodes.filter((n) => n.role === 'worker').length]).toEqual(['kubeadm', 'calico', 1, 2]);
    const lab = parseSpec(readFileSync('examples/lab.yaml', 'utf8'), 'x').spec.spec;
    expect(lab.nodes.every((n) => n.address.startsWith('127.0.100.'))).toBe(true);
    expect(new URL(lab.endpoint).hostname.startsWith('127.')).toBe(true);
    expect([lab.bootstrap.method, lab.network.cni, lab.nodes.length]).toEqual(['talos', 'cilium', 5]);
  });
});

describe('loadSpec', () => {
  it('names the file relative to the working directory', async () => {
    await expect(loadSpec('examples/lab.yaml')).resolves.toMatchObject({ file: 'examples/lab.yaml' });
  });

  it('turns a missing file into a usage error naming -f', async () => {
    const err = await loadSpec('does-not-exist.yaml').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'UserError', exitCode: 2, message: 'cannot read the cluster spec does-not-exist.yaml: no such file' });
    expect((err as { fix: string }).fix).toMatch(/-f FILE/);
  });
});
