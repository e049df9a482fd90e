/**
 * Spec values that end up in a program's argv (or in a config a program reads) are refused at the spec edge
 * when they are not what their field says (issue 20): an ssh user "-oProxyCommand=..." would be an ssh option,
 * a label value with "," a second kubelet label, a NUL byte in a path an internal error with a stack.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SpecError } from '../../src/errors.js';
import { parseSpec } from '../../src/spec/load.js';
import { editText, specIssues } from '../helpers/spec-text.js';

/** A kubeadm spec in block style: every field on its own line. */
const BASE = `apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  endpoint: https://127.0.100.10:6443
  bootstrap:
    method: kubeadm
    kubeadm:
      ssh:
        user: root
        identityFile: /keys/id_ed25519
      etcdDataDir: /var/lib/etcd
      certSANs:
        - api.lab.test
  nodes:
    - name: cp-1
      address: 127.0.100.11
      role: control-plane
      labels:
        zone: a
      taints:
        - dedicated=infra:NoSchedule
      ssh:
        user: ops
  addons:
    storageClass: local-path
  images:
    registry: registry.lab.test:5000/mirror
`;

const edit = (from: string, to: string): string => editText(BASE, [from, to]);

const errorsOf = (text: string): string[] => specIssues(() => parseSpec(text, 'cluster.yaml'));

describe('values that land in argv are refused for their kind, with file:line:col and field', () => {
  it('the base spec is valid', () => {
    expect(parseSpec(BASE, 'cluster.yaml').spec.spec.nodes[0]!.ssh!.user).toBe('ops');
  });

  it.each<[string, string, string]>([
    ['ssh user that is an ssh option', edit('user: root', 'user: "-oProxyCommand=touch /tmp/pwned"'), 'cluster.yaml:11:15 spec.bootstrap.kubeadm.ssh.user: "-oProxyCommand=touch /tmp/pwned" is not a user name: lower-case letters, digits, "_", "." and "-", starting with a letter or "_", at most 32 characters'],
    ['per-node ssh user that is an ssh option', edit('user: ops', 'user: "-oProxyCommand=id"'), 'cluster.yaml:25:15 spec.nodes[0].ssh.user: "-oProxyCommand=id" is not a user name: lower-case letters, digits, "_", "." and "-", starting with a letter or "_", at most 32 characters'],
    ['ssh user with an @', edit('user: root', 'user: "root@127.0.0.9"'), 'cluster.yaml:11:15 spec.bootstrap.kubeadm.ssh.user: "root@127.0.0.9" is not a user name: lower-case letters, digits, "_", "." and "-", starting with a letter or "_", at most 32 characters'],
    ['ssh user with a space', edit('user: root', 'user: "root -v"'), 'cluster.yaml:11:15 spec.bootstrap.kubeadm.ssh.user: "root -v" is not a user name: lower-case letters, digits, "_", "." and "-", starting with a letter or "_", at most 32 characters'],
    ['ssh user of 33 characters', edit('user: root', `user: ${'a'.repeat(33)}`), `cluster.yaml:11:15 spec.bootstrap.kubeadm.ssh.user: "${'a'.repeat(33)}" is not a user name: lower-case letters, digits, "_", "." and "-", starting with a letter or "_", at most 32 characters`],
    ['NUL byte in identityFile', edit('identityFile: /keys/id_ed25519', 'identityFile: "/keys/id\\0x"'), 'cluster.yaml:12:23 spec.bootstrap.kubeadm.ssh.identityFile: "/keys/id\\u0000x" contains a NUL byte'],
    ['line break in identityFile', edit('identityFile: /keys/id_ed25519', 'identityFile: "/keys/id\\nx"'), 'cluster.yaml:12:23 spec.bootstrap.kubeadm.ssh.identityFile: "/keys/id\\nx" contains a line break'],
    ['identityFile that is an option', edit('identityFile: /keys/id_ed25519', 'identityFile: "-oProxyCommand=x"'), 'cluster.yaml:12:23 spec.bootstrap.kubeadm.ssh.identityFile: "-oProxyCommand=x" starts with "-"; write ./-oProxyCommand=x for a relative path'],
    ['known_hosts path with a space (ssh would read two files)', edit('identityFile: /keys/id_ed25519', 'identityFile: /keys/id_ed25519\n        knownHostsFile: "/keys/known hosts"'), 'cluster.yaml:13:25 spec.bootstrap.kubeadm.ssh.knownHostsFile: "/keys/known hosts" holds a space, quote or backslash, which ssh\'s UserKnownHostsFile would split or unquote'],
    ['endpoint with a user part', edit('endpoint: https://127.0.100.10:6443', 'endpoint: "https://-oProxyCommand=x@127.0.100.10:6443"'), 'cluster.yaml:6:13 spec.endpoint: "https://-oProxyCommand=x@127.0.100.10:6443" has no IP address or DNS name as its host (and nothing but a port after it)'],
    ['endpoint with a path', edit('endpoint: https://127.0.100.10:6443', 'endpoint: https://127.0.100.10:6443/x'), 'cluster.yaml:6:13 spec.endpoint: "https://127.0.100.10:6443/x" has no IP address or DNS name as its host (and nothing but a port after it)'],
    ['relative etcd data dir', edit('etcdDataDir: /var/lib/etcd', 'etcdDataDir: var/lib/etcd'), 'cluster.yaml:13:20 spec.bootstrap.kubeadm.etcdDataDir: "var/lib/etcd" is not an absolute path (it must start with "/")'],
    ['certSAN with a space', edit('- api.lab.test', '- "api.lab.test --v=9"'), 'cluster.yaml:15:11 spec.bootstrap.kubeadm.certSANs[0]: "api.lab.test --v=9" is not an IP address or DNS name for the API server certificate'],
    ['label value with a comma (a second kubelet label)', edit('zone: a', 'zone: "a,node-role.kubernetes.io/control-plane=x"'), 'cluster.yaml:21:15 spec.nodes[0].labels.zone: "a,node-role.kubernetes.io/control-plane=x" is not a label value: up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit (or empty)'],
    ['label key with a space', edit('zone: a', '"my zone": a'), 'cluster.yaml:21:9 spec.nodes[0].labels.my zone: "my zone" is not a label key: [prefix/]name, the name up to 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit'],
    ['taint with an unknown effect', edit('- dedicated=infra:NoSchedule', '- dedicated=infra:Never'), 'cluster.yaml:23:11 spec.nodes[0].taints[0]: "dedicated=infra:Never" is not a taint: it has effect "Never"; a taint\'s effect is NoSchedule, PreferNoSchedule or NoExecute'],
    ['registry that is a flag', edit('registry: registry.lab.test:5000/mirror', 'registry: "--insecure"'), 'cluster.yaml:29:15 spec.images.registry: "--insecure" is not a registry like "registry.example.com:5000/mirror" (host[:port][/path])'],
    ['storage class with a slash', edit('storageClass: local-path', 'storageClass: "a/b"'), 'cluster.yaml:27:19 spec.addons.storageClass: "a/b" is not a Kubernetes name: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit'],
  ])('%s', (_what, text, message) => {
    expect(errorsOf(text)).toEqual([message]);
  });

  it('a label key without its value names the key (a map key of the node)', () => {
    expect(errorsOf(edit('zone: a', 'zone: "a b"'))[0]).toMatch(/^cluster\.yaml:21:15 spec\.nodes\[0\]\.labels\.zone: "a b" is not a label value/);
  });
});

describe('property: a hostile ssh user, identity file or label never loads as anything but what its field allows', () => {
  const HOSTILE = ['-', '-o', '-oProxyCommand=touch /tmp/p', '=', '\0', '\n', '\r', ';', '$(id)', '`id`', '|', '&', ' ', '@', ':', "'", '"', '\\', '*', '~', '#', ','];
  const hostile = fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: fc.constantFrom(...HOSTILE, 'a', 'root', '0', '.', '_'), minLength: 1, maxLength: 6 }));

  it('an ssh user either matches ^[a-z_][a-z0-9_.-]{0,31}$ or the spec is refused at that field', () => {
    fc.assert(
      fc.property(hostile, (user) => {
        const text = BASE.replace('user: root', `user: ${JSON.stringify(user)}`);
        let loaded;
        try {
          loaded = parseSpec(text, 'cluster.yaml');
        } catch (e) {
          expect(e).toBeInstanceOf(SpecError);
          expect((e as SpecError).issues.map((i) => i.path)).toEqual(['spec.bootstrap.kubeadm.ssh.user']);
          return;
        }
        expect(loaded.spec.spec.bootstrap.kubeadm.ssh.user).toMatch(/^[a-z_][a-z0-9_.-]{0,31}$/);
      }),
      { numRuns: 300 },
    );
  });

  it('an identity file, label or taint with a NUL or a line break is a spec error, never a raw error', () => {
    fc.assert(
      fc.property(hostile, fc.constantFrom('identityFile', 'label', 'taint'), (v, where) => {
        const value = `x${v}\0`;
        const text =
          where === 'identityFile'
            ? BASE.replace('identityFile: /keys/id_ed25519', `identityFile: ${JSON.stringify(value)}`)
            : where === 'label'
              ? BASE.replace('zone: a', `zone: ${JSON.stringify(value)}`)
              : BASE.replace('- dedicated=infra:NoSchedule', `- ${JSON.stringify(value)}`);
        expect(errorsOf(text).length).toBeGreaterThan(0);
      }),
      { numRuns: 100 },
    );
  });

  it('the whole spec as YAML round-trips hostile values into refusals, never into a loaded spec with them', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const data = { apiVersion: 'groundwork.dev/v1alpha1', kind: 'Cluster', metadata: { name: 'x' }, spec: { endpoint: 'https://127.0.0.1:6443', bootstrap: { method: 'kubeadm', kubeadm: { ssh: { user: `-${v}` } } }, nodes: [{ name: 'cp-1', address: '127.0.0.1', role: 'control-plane' }] } };
        expect(() => parseSpec(stringify(data), 'c.yaml')).toThrow(SpecError);
      }),
      { numRuns: 100 },
    );
  });
});
