import { describe, expect, it } from 'vitest';
import { SpecError, formatIssue } from '../../src/errors.js';
import { renderArgv, renderTemplate, lookupPath } from '../../src/playbook/render.js';
import { REDACTED, Secret } from '../../src/run/secret.js';

const VARS = {
  secretsDir: '/state/secrets',
  spec: { endpoint: 'https://127.0.100.10:6443', network: { nodeMaskSize: 24, cni: 'cilium' }, addons: { backup: false } },
  nodes: {
    controlPlanes: [
      { name: 'cp-1', address: '127.0.100.11' },
      { name: 'cp-2', address: '127.0.100.12' },
    ],
  },
  item: { name: 'cp 1; rm -rf /', address: '$(reboot)' },
  token: new Secret('abcdef.0123456789abcdef', 'join token'),
  empty: '',
  nothing: null,
};

describe('renderArgv', () => {
  it.each<[string, string[], string[]]>([
    ['plain words stay as they are', ['talosctl', 'version'], ['talosctl', 'version']],
    ['a placeholder is a whole element', ['-o', '{{ secretsDir }}'], ['-o', '/state/secrets']],
    ['a placeholder inside an element', ['--out={{ secretsDir }}/talos.yaml'], ['--out=/state/secrets/talos.yaml']],
    ['no spaces needed inside braces', ['{{secretsDir}}'], ['/state/secrets']],
    ['two placeholders in one element', ['{{ nodes.controlPlanes[0].name }}={{ nodes.controlPlanes[0].address }}'], ['cp-1=127.0.100.11']],
    ['list index with dot syntax', ['{{ nodes.controlPlanes.1.address }}'], ['127.0.100.12']],
    ['numbers become strings', ['--mask', '{{ spec.network.nodeMaskSize }}'], ['--mask', '24']],
    ['false becomes "false"', ['{{ spec.addons.backup }}'], ['false']],
    ['an empty string stays one (empty) element', ['a', '{{ empty }}', 'b'], ['a', '', 'b']],
    ['a value with shell syntax stays one element', ['--name', '{{ item.name }}'], ['--name', 'cp 1; rm -rf /']],
    ['a value is not re-scanned for placeholders', ['{{ item.address }}'], ['$(reboot)']],
    ['a quoted literal gives braces', ['-o', 'go-template={{ "{{.metadata.name}}" }}'], ['-o', 'go-template={{.metadata.name}}']],
    ['JSON escapes in a quoted literal', ['{{ "a\\"b" }}'], ['a"b']],
  ])('%s', (_name, template, expected) => {
    const r = renderArgv(template, VARS);
    expect(r.argv).toEqual(expected);
    expect(r.preview).toEqual(expected);
    expect(r.argv).toHaveLength(template.length);
    expect(r.secrets).toEqual([]);
  });

  it('reveals a secret only in the argv for exec; the preview says [redacted]', () => {
    const r = renderArgv(['kubeadm', 'join', '--token', '{{ token }}', '--x={{ token }}!'], VARS);
    expect(r.argv).toEqual(['kubeadm', 'join', '--token', 'abcdef.0123456789abcdef', '--x=abcdef.0123456789abcdef!']);
    expect(r.preview).toEqual(['kubeadm', 'join', '--token', REDACTED, `--x=${REDACTED}!`]);
    expect(r.secrets).toHaveLength(2);
    expect(JSON.stringify(r.preview)).not.toContain('abcdef.0123');
  });

  const site = { file: 'playbooks/talos.yaml', stepId: 'apply-config:cp-1', field: 'steps[1].run', line: 14, column: 10 };
  it.each<[string, string, string]>([
    ['an unknown top-level name', '{{ secretDir }}', 'unknown placeholder {{ secretDir }}: nothing at secretDir (there: secretsDir, spec, nodes, item, token, empty, nothing)'],
    ['an unknown nested name', '{{ spec.network.mtu }}', 'unknown placeholder {{ spec.network.mtu }}: nothing at spec.network.mtu (there: nodeMaskSize, cni)'],
    ['an index past the end', '{{ nodes.controlPlanes[5].name }}', 'unknown placeholder {{ nodes.controlPlanes[5].name }}: nothing at nodes.controlPlanes[5] (there: [0]..[1])'],
    ['a path through a string', '{{ secretsDir.x }}', 'unknown placeholder {{ secretsDir.x }}: nothing at secretsDir.x'],
    ['an inherited property', '{{ spec.constructor }}', 'unknown placeholder {{ spec.constructor }}: nothing at spec.constructor (there: endpoint, network, addons)'],
    ['__proto__', '{{ spec.__proto__ }}', 'unknown placeholder {{ spec.__proto__ }}: nothing at spec.__proto__ (there: endpoint, network, addons)'],
    ['a mapping', '{{ spec.network }}', '{{ spec.network }} is a mapping; a placeholder takes one value (pick a field, e.g. {{ spec.network.name }})'],
    ['a list', '{{ nodes.controlPlanes }}', '{{ nodes.controlPlanes }} is a list; a placeholder takes one value (pick one, e.g. {{ nodes.controlPlanes[0] }}, or use forEach)'],
    ['null', '{{ nothing }}', '{{ nothing }} is empty (null); a placeholder needs a value'],
    ['a path into a secret', '{{ token.value }}', 'unknown placeholder {{ token.value }}: nothing at token.value'],
    ['a malformed placeholder', '{{ a b }}', '{{ a b }} is not a placeholder like {{ spec.endpoint }} or {{ item.address }}'],
  ])('%s is an error naming file, line, step and placeholder', (_name, template, message) => {
    let err: unknown;
    try {
      renderArgv(['talosctl', template], VARS, {}, [{}, site]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).issues.map(formatIssue)).toEqual([`playbooks/talos.yaml:14:10 steps[1].run: step "apply-config:cp-1": ${message}`]);
  });

  it('reports every bad element at once', () => {
    const err = (() => {
      try {
        renderArgv(['x', '{{ a }}', '{{ b }}'], { c: 1 }, { file: 'p.yaml', stepId: 's', field: 'steps[0].run' });
      } catch (e) {
        return e as SpecError;
      }
    })();
    expect(err?.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'steps[0].run[1]: step "s": unknown placeholder {{ a }}: nothing at a (there: c)',
      'steps[0].run[2]: step "s": unknown placeholder {{ b }}: nothing at b (there: c)',
    ]);
  });

  it('leaves values.* as written at plan time when asked, and fills them at run time', () => {
    expect(renderArgv(['kubeadm', 'join', '{{ values.joinCommand }}'], {}, { deferValues: true }).preview).toEqual(['kubeadm', 'join', '{{ values.joinCommand }}']);
    expect(() => renderArgv(['x', '{{ other }}'], {}, { deferValues: true })).toThrow(SpecError);
    expect(renderArgv(['kubeadm', '{{ values.joinCommand }}'], { values: { joinCommand: 'j' } }).argv).toEqual(['kubeadm', 'j']);
    expect(() => renderArgv(['kubeadm', '{{ values.joinCommand }}'], { values: {} }, { file: 'p.yaml', stepId: 'join' })).toThrow(
      'p.yaml:1:1 step "join": {{ values.joinCommand }} has no value: the step that captures it did not run in this run (skipped as already done, or finished in an earlier run)',
    );
  });
});

describe('renderTemplate and lookupPath', () => {
  it('renders titles with secrets redacted in the preview', () => {
    expect(renderTemplate('Join with {{ token }}', VARS)).toMatchObject({ value: 'Join with abcdef.0123456789abcdef', preview: `Join with ${REDACTED}` });
  });

  it.each<[string, unknown]>([
    ['nodes.controlPlanes[1].name', 'cp-2'],
    ['nodes.controlPlanes.0.address', '127.0.100.11'],
    ['spec.addons.backup', false],
    ['empty', ''],
  ])('lookupPath(%s)', (p, v) => {
    expect(lookupPath(VARS, p)).toEqual({ found: true, value: v });
  });
});
