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
  it.each<[string, string, string[]]>([
    ['YAML scalars of 12+ characters', 'cluster:\n  id: short\n  secret: s3cr3t-b00tstrap-t0ken\n  ca: { crt: LS0tLS1CRUdJTiBDRVJU }\n', ['s3cr3t-b00tstrap-t0ken', 'LS0tLS1CRUdJTiBDRVJU']],
    ['KEY=value lines (YAML folds them into one scalar too)', 'TOKEN=abcdef.0123456789abcdef\nX=1\n', ['TOKEN=abcdef.0123456789abcdef X=1', 'abcdef.0123456789abcdef']],
    ['a kubeconfig-like multi-document file', 'a: 1\n---\nusers:\n- user: { token: eyJhbGciOiJSUzI1NiJ9.payload }\n', ['eyJhbGciOiJSUzI1NiJ9.payload']],
    ['not YAML at all', '{{{ not yaml', []],
  ])('%s', (_name, text, expected) => {
    expect(secretValuesOf(text).sort()).toEqual([...expected].sort());
  });

  it('lets a redactor scrub a value quoted alone in a log line', () => {
    const r = new Redactor();
    for (const v of secretValuesOf('secret: s3cr3t-b00tstrap-t0ken\n')) r.add(v);
    expect(r.redact('got s3cr3t-b00tstrap-t0ken back')).toBe(`got ${REDACTED} back`);
  });
});
