import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { loadPlaybook, parsePlaybook } from '../../src/playbook/load.js';
import { parseDuration } from '../../src/playbook/schema.js';
import { editText, specIssues } from '../helpers/spec-text.js';

const BASE = `name: talos
stage: bootstrap
description: Bring up Talos
steps:
  - id: gen-secrets
    title: Generate Talos cluster secrets
    run: [talosctl, gen, secrets, -o, "{{ secretsDir }}/talos-secrets.yaml"]
    creates: "{{ secretsDir }}/talos-secrets.yaml"
    secret: "{{ secretsDir }}/talos-secrets.yaml"
    once: true
  - id: apply-config
    title: "Apply machine config to {{ item.name }}"
    forEach: nodes.controlPlanes
    run: [talosctl, apply-config, --insecure, --nodes, "{{ item.address }}", --file, "{{ files.controlplane }}"]
    unless: [talosctl, get, members, --nodes, "{{ item.address }}"]
    timeout: 2m
    retries: 2
`;

const edit = (...pairs: [string, string][]): string => editText(BASE, ...pairs);

const errorsOf = (text: string): string[] => specIssues(() => parsePlaybook(text, 'playbooks/talos.yaml'));

describe('parsePlaybook', () => {
  it('reads the format with defaults', () => {
    const pb = parsePlaybook(BASE, 'playbooks/talos.yaml');
    expect(pb.name).toBe('talos');
    expect(pb.stage).toBe('bootstrap');
    expect(pb.file).toBe('playbooks/talos.yaml');
    expect(pb.steps[0]).toMatchObject({ id: 'gen-secrets', once: true, retries: 0 });
    expect(pb.steps[1]).toMatchObject({ id: 'apply-config', once: false, retries: 2, timeout: '2m', forEach: 'nodes.controlPlanes' });
    expect(pb.where(['steps', 1, 'run', 4])).toEqual({ line: 14, column: 56 });
  });

  it('turns numbers and booleans in argv into strings', () => {
    const pb = parsePlaybook(edit(['run: [talosctl, gen, secrets, -o,', 'run: [talosctl, gen, secrets, --port, 6443, --force, true, -o,']), 'p.yaml');
    expect(pb.steps[0]!.run.slice(3, 7)).toEqual(['--port', '6443', '--force', 'true']);
  });

  it.each<[string, string, string[]]>([
    ['a shell string instead of argv', edit(['run: [talosctl, gen, secrets, -o, "{{ secretsDir }}/talos-secrets.yaml"]', 'run: "talosctl gen secrets"']), ['playbooks/talos.yaml:7:10 steps[0].run: must be a list, got "talosctl gen secrets"']],
    ['an empty argv', edit(['unless: [talosctl, get, members, --nodes, "{{ item.address }}"]', 'unless: []']), ['playbooks/talos.yaml:15:13 steps[1].unless: must list the program and its arguments, e.g. [talosctl, version]']],
    ['a mapping inside argv', edit(['--insecure,', '{ a: 1 },']), ['playbooks/talos.yaml:14:35 steps[1].run[2]: must be a string, a number or true or false, got a mapping']],
    ['a missing id', edit(['  - id: gen-secrets\n    title', '  - title']), ['playbooks/talos.yaml:5:5 steps[0].id: is required']],
    ['a bad step id', edit(['id: gen-secrets', 'id: Gen_Secrets']), ['playbooks/talos.yaml:5:9 steps[0].id: "Gen_Secrets" is not a step id: lower-case letters, digits and "-"']],
    ['a duplicate step id', edit(['id: apply-config', 'id: gen-secrets']), ['playbooks/talos.yaml:11:9 steps[1].id: duplicate step id "gen-secrets" (also steps[0])']],
    ['an unknown stage', edit(['stage: bootstrap', 'stage: boot']), ['playbooks/talos.yaml:2:8 stage: "boot" is not one of preflight, bootstrap, cni, monitoring, backup, validate, drill']],
    ['an unknown step field (at the key)', edit(['    once: true\n', '    once: true\n    shell: true\n']), ['playbooks/talos.yaml:11:5 steps[0].shell: unknown field "shell"']],
    ['a bad duration', edit(['timeout: 2m', 'timeout: 2 minutes']), ['playbooks/talos.yaml:16:14 steps[1].timeout: "2 minutes" is not a duration like "30s", "2m", "1h" or a number of milliseconds']],
    ['too many retries', edit(['retries: 2', 'retries: 50']), ['playbooks/talos.yaml:17:14 steps[1].retries: must be at most 10, got 50']],
    ['once as a string', edit(['once: true', 'once: "yes"']), ['playbooks/talos.yaml:10:11 steps[0].once: must be true or false, got "yes"']],
    ['a forEach that is no path', edit(['forEach: nodes.controlPlanes', 'forEach: "nodes controlPlanes"']), ['playbooks/talos.yaml:13:14 steps[1].forEach: "nodes controlPlanes" is not a path like "spec.bootstrap.method" or "nodes.controlPlanes"']],
    ['a placeholder with spaces in its path', edit(['"{{ item.address }}", --file', '"{{ item address }}", --file']), ['playbooks/talos.yaml:14:56 steps[1].run[4]: {{ item address }} is not a placeholder like {{ spec.endpoint }} or {{ item.address }}']],
    ['an unclosed placeholder', edit(['creates: "{{ secretsDir }}/talos', 'creates: "{{ secretsDir /talos']), ['playbooks/talos.yaml:8:14 steps[0].creates: unbalanced "{{" or "}}" in "{{ secretsDir /talos-secrets.yaml" (write a literal brace pair as {{ "{{" }})']],
    ['a placeholder as the program', edit(['run: [talosctl, gen', 'run: ["{{ tools.talosctl }}", gen']), ['playbooks/talos.yaml:7:11 steps[0].run[0]: the program (first element) must be written out, not a placeholder']],
    ['no steps', 'name: x\nstage: cni\nsteps: []\n', ['playbooks/talos.yaml:3:8 steps: must list at least one step']],
    ['a YAML syntax error', edit(['    retries: 2\n', '    retries: [2\n']), ['playbooks/talos.yaml:18:1 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a duplicate key', edit(['    timeout: 2m\n', '    timeout: 2m\n    timeout: 3m\n']), ['playbooks/talos.yaml:17:5 steps[1].timeout: duplicate key: a key may appear only once in a mapping']],
    ['not a mapping', '- a\n', ['playbooks/talos.yaml:1:1 must be a mapping with name, stage and steps (see playbooks/README.md)']],
  ])('%s', (_name, text, expected) => {
    expect(errorsOf(text)).toEqual(expected);
  });

  it('reports every problem at once', () => {
    expect(errorsOf(edit(['stage: bootstrap', 'stage: boot'], ['id: apply-config', 'id: gen-secrets'], ['retries: 2', 'retries: -1']))).toEqual([
      'playbooks/talos.yaml:2:8 stage: "boot" is not one of preflight, bootstrap, cni, monitoring, backup, validate, drill',
      'playbooks/talos.yaml:17:14 steps[1].retries: must be at least 0, got -1',
    ]);
  });

  it('accepts a quoted literal for arguments that need braces', () => {
    const pb = parsePlaybook(edit(['--insecure,', `'{{ "{{.metadata.name}}" }}',`]), 'p.yaml');
    expect(pb.steps[1]!.run[2]).toBe('{{ "{{.metadata.name}}" }}');
  });
});

describe('loadPlaybook', () => {
  it('reads a file and names it in errors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-pb-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, edit(['stage: bootstrap', 'stage: boot']));
    const err = (await loadPlaybook(file).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.issues[0]).toMatchObject({ file, line: 2, column: 8 });
  });

  it('a missing file is a usage error', async () => {
    await expect(loadPlaybook('/nonexistent/x.yaml')).rejects.toMatchObject({ name: 'UserError', exitCode: 2, message: 'cannot read the playbook /nonexistent/x.yaml: no such file' });
  });
});

describe('parseDuration', () => {
  it.each<[string | number, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [1500, 1500],
  ])('%s → %i ms', (d, ms) => expect(parseDuration(d)).toBe(ms));
});
