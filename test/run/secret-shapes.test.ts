import { describe, expect, it } from 'vitest';
import { ToolError, UserError, renderError } from '../../src/errors.js';
import { findSecretShapes, redactSecretShapes } from '../../src/run/secret-shapes.js';
import { Redactor } from '../../src/run/secret.js';

const TOKEN = 'abcdef.0123456789abcdef';
const KEY = 'c0ffee00'.repeat(8);
const HASH = `sha256:${'ab'.repeat(32)}`;

describe('secrets recognised by their shape', () => {
  it('a join command, a certificate key announced on the line before, flags with =, YAML keys, Bearer, a PEM key', () => {
    const text = [
      `kubeadm join 10.0.0.1:6443 --token ${TOKEN} --discovery-token-ca-cert-hash ${HASH} --control-plane --certificate-key ${KEY}`,
      '[upload-certs] Using certificate key:',
      KEY,
      `--token=${TOKEN}`,
      `    token: ${TOKEN}`,
      'password: "hunter2hunter2"',
      'Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig',
      '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----',
    ].join('\n');
    const out = redactSecretShapes(text);
    for (const s of [TOKEN, KEY, HASH, 'hunter2hunter2', 'eyJhbGciOiJSUzI1NiJ9', 'MHcCAQEEIB']) expect(out, s).not.toContain(s);
    expect(out).toContain('kubeadm join 10.0.0.1:6443 --token [redacted]');
    expect(findSecretShapes(text)).toEqual(expect.arrayContaining([TOKEN, KEY]));
  });

  it('leaves ordinary text alone: digests, hostnames, run ids, versions, paths', () => {
    const text = [
      `image: registry.k8s.io/pause@sha256:${'ab'.repeat(32)}`,
      'node cp-1.example.internal (10.0.0.11) joined; kube-system/coredns-abc123-xyz',
      'run 20261201-201841-123abcd; talos v1.10.5; /etc/groundwork/join.yaml',
      'specHash: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
      'could not create a join token on cp-1 (10.0.0.11)',
    ].join('\n');
    expect(redactSecretShapes(text)).toBe(text);
  });

  it('the Redactor applies the shapes after the values it knows, and scan() makes a found value known everywhere', () => {
    const r = new Redactor();
    expect(r.redact(`join with --token ${TOKEN}`)).toBe('join with --token [redacted]');
    r.scan(`[upload-certs] Using certificate key:\n${KEY}\n`);
    expect(r.redact(`the key ${KEY} was rejected`)).toBe('the key [redacted] was rejected');
  });

  it('renderError never prints a secret-shaped value, whatever the error', () => {
    const tool = new ToolError(['ssh', 'cp-1', '--', 'kubeadm', 'init'], 1, `kubeadm join 10.0.0.1:6443 --token ${TOKEN}\nboom`);
    expect(tool.stderrTail).not.toContain(TOKEN);
    const user = new UserError(`token ${TOKEN} rejected`, { why: `--certificate-key ${KEY}` });
    const bug = new Error(`unexpected ${TOKEN}`);
    for (const e of [tool, user, bug]) {
      const text = renderError(e);
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(KEY);
    }
  });
});
