/**
 * Issue 16 item 3: every spec field a real run needs is asked, validated by the spec's own rules, and saving
 * edits the operator's cluster.yaml in place (comments, key order); an unparsable file is shown as its errors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KEY, frameWith, mountWizard, tick } from './wizard-helpers.js';

beforeAll(() => {
  process.env.CI = 'false';
});

const { DOWN, RIGHT, ENTER, CTRL_U, CTRL_N } = KEY;
/** The focused field's line. */
const focusedLine = (f: string) => f.split('\n').find((l) => l.startsWith('›')) ?? '';

describe('wizard: the fields a real run needs', () => {
  it('kubeadm asks the ssh user, key, port and known_hosts file, and saves them where the spec has them', async () => {
    const { app, press, services } = await mountWizard();
    await press(RIGHT); // Bootstrap with: kubeadm
    const f = await frameWith(app, 'SSH user');
    for (const label of ['SSH user', 'SSH key', 'SSH port', 'known_hosts file']) expect(f).toContain(label);
    expect(f).not.toContain('Talos version');
    // Empty fields show what the spec uses when left empty.
    expect(f).toMatch(/SSH user +default root/);
    await press(DOWN, 4);
    await press('ops');
    await press(DOWN);
    await press('~/.ssh/lab_ed25519');
    await press(DOWN);
    await press('70000');
    expect(await frameWith(app, /SSH port +70000[\s\S]*✖/)).toMatch(/SSH port +70000\s*\n\s+✖/);
    await press(KEY.BACKSPACE, 5);
    await press('2222');
    await press(DOWN);
    await press('~/.ssh/known_hosts_lab');
    await tick(30);
    expect(await frameWith(app, 'known_hosts_lab')).not.toContain('✖');
    await press(ENTER, 4); // nodes, network, add-ons, review
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    await press('s');
    await tick(50);
    expect(services.saved).toHaveLength(1);
    const { parseSpec } = await import('../../src/spec/load.js');
    const ssh = parseSpec(services.saved[0]!, 'cluster.yaml').spec.spec.bootstrap.kubeadm.ssh;
    expect(ssh).toMatchObject({ user: 'ops', identityFile: '~/.ssh/lab_ed25519', port: 2222, knownHostsFile: '~/.ssh/known_hosts_lab' });
  });

  it('Talos asks its version and install disk, checked by the spec rules', async () => {
    const { app, press } = await mountWizard();
    const f = await frameWith(app, 'Talos version');
    expect(f).toContain('Install disk');
    expect(f).not.toContain('SSH user');
    await press(DOWN, 4);
    await press('1.14');
    expect(await frameWith(app, 'is not a Talos version')).toContain('is not a Talos version');
    await press(CTRL_U);
    await press('v1.14.0');
    await press(DOWN);
    await press('sdb');
    expect(await frameWith(app, 'is not an absolute path')).toContain('is not an absolute path');
    await press(CTRL_U);
    await press('/dev/nvme0n1');
    await tick(30);
    expect(await frameWith(app, '/dev/nvme0n1')).not.toContain('✖');
  });

  it('a DNS endpoint is accepted exactly as `spec check` accepts it', async () => {
    const { parseSpec } = await import('../../src/spec/load.js');
    const { defaultDraft, setPath, toYaml } = await import('../../src/ui/wizard/model.js');
    const endpoint = 'https://api.example.internal:6443';
    expect(() => parseSpec(toYaml(setPath(defaultDraft(), ['spec', 'endpoint'], endpoint)), 'c.yaml')).not.toThrow();
    const { app, press } = await mountWizard();
    await press(DOWN, 2);
    await press(CTRL_U);
    await press(endpoint);
    await tick(30);
    const f = await frameWith(app, endpoint);
    expect(focusedLine(f)).toContain(endpoint);
    expect(f).not.toContain('✖');
    await press(ENTER);
    expect(await frameWith(app, 'groundwork · nodes')).toContain('groundwork · nodes');
    // And one the spec refuses is refused here too, with the spec's words.
    await press(KEY.ESC);
    await press(DOWN, 2);
    await press(CTRL_U);
    await press('https://api_bad:6443');
    expect(await frameWith(app, 'no IP address or DNS name')).toContain('no IP address or DNS name');
  });

  it('the log destination: stdout, or an endpoint with its URL checked, saved as spec.addons.logDestination', async () => {
    const { app, press, services } = await mountWizard();
    await press(ENTER, 3);
    let f = await frameWith(app, 'Log destination');
    expect(f).toMatch(/Log destination +stdout/);
    expect(f).not.toContain('Log endpoint URL');
    await press(DOWN, 2);
    await press(RIGHT); // loki
    f = await frameWith(app, 'Log endpoint URL');
    expect(f).toMatch(/Log destination +‹ loki ›/);
    expect(f).toContain('✖');
    await press(DOWN);
    await press('loki.logging:3100');
    expect(await frameWith(app, 'is not a http:// or https:// URL')).toContain('is not a http:// or https:// URL');
    await press(CTRL_U);
    await press('http://loki.logging:3100');
    await tick(30);
    expect(await frameWith(app, 'http://loki.logging:3100')).not.toContain('✖');
    await press(ENTER);
    await press('s');
    await tick(50);
    expect(parse(services.saved[0]!).spec.addons.logDestination).toEqual({ type: 'loki', url: 'http://loki.logging:3100' });
  });
});

const COMMENTED = `# production cluster, owned by the platform team
apiVersion: groundwork.dev/v1alpha1
kind: Cluster
metadata:
  name: demo # the cluster's name
spec:
  # keep in sync with the load balancer
  endpoint: https://127.0.100.1:6443
  kubernetesVersion: "1.37.2"
  bootstrap:
    method: talos
  nodes:
    - name: cp-1 # the first control plane
      address: 127.0.100.1
      role: control-plane
    - { name: w-1, address: 127.0.100.2, role: worker }
  addons:
    monitoring: none # not yet
`;

describe('wizard: saving keeps the operator’s file', () => {
  it('an edit and an added node are written into the file: comments, quoting, flow style and key order stay', async () => {
    const { draftFromYaml } = await import('../../src/ui/wizard/model.js');
    const start = draftFromYaml(COMMENTED);
    expect(start.problems).toBeUndefined();
    const { app, press, services } = await mountWizard({ initial: start.draft, initialText: start.text });
    await press(DOWN);
    await press(CTRL_U);
    await press('prod');
    await press(ENTER);
    await press(CTRL_N);
    expect(await frameWith(app, 'w-2')).toContain('w-2');
    await press(ENTER, 3);
    expect(await frameWith(app, 'groundwork · review')).toContain('groundwork · review');
    await press('s');
    await tick(50);
    const saved = services.saved[0]!;
    for (const comment of ['# production cluster, owned by the platform team', "# the cluster's name", '# keep in sync with the load balancer', '# the first control plane', '# not yet']) expect(saved).toContain(comment);
    expect(saved).toContain("name: prod # the cluster's name");
    expect(saved).toContain('kubernetesVersion: "1.37.2"');
    expect(saved).toContain('- { name: w-1, address: 127.0.100.2, role: worker }');
    expect(saved.indexOf('endpoint:')).toBeLessThan(saved.indexOf('kubernetesVersion:'));
    expect(saved.indexOf('nodes:')).toBeLessThan(saved.indexOf('addons:'));
    const { parseSpec } = await import('../../src/spec/load.js');
    const loaded = parseSpec(saved, 'cluster.yaml').spec;
    expect(loaded.metadata.name).toBe('prod');
    expect(loaded.spec.nodes.map((n) => n.name)).toEqual(['cp-1', 'w-1', 'w-2']);
    // A second save edits what the first one wrote: still the operator's file.
    await press('s');
    await tick(50);
    expect(services.saved[1]).toBe(saved);
  });

  it('specText: a removed node goes, an emptied field with a default is dropped, untouched text is byte for byte the same', async () => {
    const { draftFromYaml, specText, writeField, KUBEADM_FIELDS, setPath } = await import('../../src/ui/wizard/model.js');
    const { draft, text } = draftFromYaml(COMMENTED);
    expect(specText(draft, text)).toBe(COMMENTED);
    const oneNode = setPath(draft, ['spec', 'nodes'], (draft.spec.nodes as object[]).slice(0, 1));
    const out = specText(oneNode, text);
    expect(out).not.toContain('w-1');
    expect(out).toContain('# the first control plane');
    const user = KUBEADM_FIELDS.find((f) => f.key === 'sshUser')!;
    const withUser = writeField(draft, user, 'ops');
    expect(parse(specText(withUser, text)).spec.bootstrap.kubeadm.ssh.user).toBe('ops');
    const emptied = writeField(withUser, user, '');
    expect(parse(specText(emptied, text)).spec.bootstrap.kubeadm?.ssh?.user).toBeUndefined();
  });
});

describe('wizard: an unparsable cluster.yaml', () => {
  it('is shown as its errors (file, line, field) before anything else, with the choice to start fresh', async () => {
    const { draftFromYaml } = await import('../../src/ui/wizard/model.js');
    const broken = 'apiVersion: groundwork.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: demo\n  name: again\nspec: [\n';
    const start = draftFromYaml(broken, 'cluster.yaml');
    expect(start.problems?.length).toBeGreaterThan(0);
    expect(start.text).toBeUndefined();
    const { app, press, services } = await mountWizard({ initial: start.draft, initialText: start.text, problems: start.problems });
    const f = await frameWith(app, 'cannot be read');
    expect(f.split('\n')[0]).toContain('groundwork · cannot read the spec');
    expect(f).toMatch(/✖ cluster\.yaml:5:\d+ metadata\.name: duplicate key/);
    expect(f).toContain('n starts fresh');
    expect(f).not.toContain('Bootstrap with');
    await press(ENTER); // nothing but n (or q) leaves this screen
    expect(await frameWith(app, 'cannot be read')).toContain('cannot be read');
    await press('n');
    expect(await frameWith(app, 'groundwork · cluster')).toContain('Bootstrap with');
    await press(ENTER, 4);
    await press('s');
    await tick(50);
    // Started fresh: a new file from the defaults, not an edit of the broken text.
    expect(services.saved[0]).toMatch(/^# yaml-language-server/);
  });

  it('a file that is YAML but no mapping is refused the same way; one with field errors opens as it is', async () => {
    const { draftFromYaml } = await import('../../src/ui/wizard/model.js');
    expect(draftFromYaml('- a\n- b\n').problems?.[0]?.message).toContain('is not a mapping');
    const withErrors = draftFromYaml('apiVersion: groundwork.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: Bad_Name\n');
    expect(withErrors.problems).toBeUndefined();
    expect((withErrors.draft.metadata as { name: string }).name).toBe('Bad_Name');
  });
});
