import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinPlaybookFile, loadPlaybook } from '../../src/playbook/load.js';
import { secretValuesOf } from '../../src/run/secret-values.js';
import { Redactor, REDACTED } from '../../src/run/secret.js';

describe('shipped playbooks', () => {
  const names = readdirSync('playbooks').filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));

  it('there are some', () => {
    expect(names.length).toBeGreaterThan(0);
  });

  it.each(names)('playbooks/%s.yaml loads, its name matches the file, ids are unique', async (name) => {
    const pb = await loadPlaybook(builtinPlaybookFile(name));
    expect(pb.name).toBe(name);
    expect(new Set(pb.steps.map((s) => s.id)).size).toBe(pb.steps.length);
  });
});

describe('secretValuesOf', () => {
  it.each<[string, string, boolean, string[]]>([
    ['values under secret-ish keys', 'cluster:\n  id: short\n  secret: s3cr3t-b00tstrap-t0ken\n  name: controlplane\n  ca: { crt: LS0tLS1CRUdJTiBDRVJU }\n', true, ['s3cr3t-b00tstrap-t0ken', 'LS0tLS1CRUdJTiBDRVJU']],
    ['long base64 under any key', 'machine:\n  blob: QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=\n  server: https://10.0.10.10:6443\n', true, ['QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=']],
    ['a kubeconfig-like multi-document file', 'a: 1\n---\nusers:\n- user: { token: eyJhbGciOiJSUzI1NiJ9.payload }\n', true, ['eyJhbGciOiJSUzI1NiJ9.payload']],
    ['KEY=value lines of a plain file', 'TOKEN=abcdef.0123456789abcdef\nX=1\n', false, ['abcdef.0123456789abcdef']],
    ['not YAML at all', '{{{ not yaml', false, []],
  ])('%s', (_name, text, structured, expected) => {
    const r = secretValuesOf(text);
    expect(r.structured).toBe(structured);
    expect(r.values.sort()).toEqual([...expected].sort());
  });

  it('scrubs a secret value quoted alone, and leaves ordinary words of the file readable', () => {
    const r = new Redactor();
    r.addSecretText('machine:\n  type: controlplane\n  token: s3cr3t-b00tstrap-t0ken\netcd:\n  members: 3\n');
    expect(r.redact('got s3cr3t-b00tstrap-t0ken back')).toBe(`got ${REDACTED} back`);
    expect(r.redact('etcd: 3 members, machine type controlplane')).toBe('etcd: 3 members, machine type controlplane');
  });

  it('redacts a plain token file whole and by line', () => {
    const r = new Redactor();
    r.addSecretText('abcdef.0123456789abcdef\n');
    expect(r.redact('join --token abcdef.0123456789abcdef')).toBe(`join --token ${REDACTED}`);
  });
});
