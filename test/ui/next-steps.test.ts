import { describe, expect, it } from 'vitest';
import { parseArgv } from '../../src/cli.js';
import { defaultDraft, nextSteps, shellLine } from '../../src/ui/wizard/model.js';
import type { SpecInput } from '../../src/spec/schema.js';
import { captureIo } from '../helpers/io.js';

const io = () => captureIo('/tmp', { PATH: '' }, new AbortController().signal);

function spec(method: 'talos' | 'kubeadm', ssh?: { user?: string; port?: number; identityFile?: string }): SpecInput {
  const d = defaultDraft() as SpecInput & { spec: Record<string, unknown> };
  const bootstrap = { ...(d.spec.bootstrap as object), method, ...(ssh ? { kubeadm: { ssh } } : {}) };
  return { ...d, spec: { ...d.spec, bootstrap } } as SpecInput;
}

/** Every offered command, parsed by the real program (no action runs): accepted, with the flags meant. */
async function accepted(argv: string[]) {
  expect(shellLine(argv).split(' ').slice(1)).toEqual(argv); // nothing here needs quoting
  const t = io();
  const r = await parseArgv(argv, t);
  expect(t.err()).toBe('');
  expect(r.code).toBe(0);
  return r.command!;
}

const TARGETS = ['endpoints', 'kubeadm', 'talos', 'snapshot', 'lab'] as const;

describe('the wizard’s next steps are commands the CLI accepts for this spec', () => {
  it('after a rehearsal: the real setup of the saved file, no resume (a rehearsal leaves nothing to resume)', async () => {
    const steps = nextSteps(spec('talos'), { file: 'lab/cluster.yaml', stateDir: 'lab/.groundwork', mode: 'rehearse', status: 'pass' });
    expect(steps.map((s) => s.argv[0])).toEqual(['setup']);
    const c = await accepted(steps[0]!.argv);
    expect(c.path).toEqual(['setup']);
    expect(c.opts).toMatchObject({ yes: true, file: 'lab/cluster.yaml', resume: false });
  });

  it('after a real run that did not finish: resume it', async () => {
    const steps = nextSteps(spec('kubeadm'), { file: 'c.yaml', stateDir: '.groundwork', mode: 'setup', status: 'fail' });
    const c = await accepted(steps[0]!.argv);
    expect(c.opts).toMatchObject({ yes: true, resume: true, file: 'c.yaml' });
  });

  it('after a passing Talos setup: validate with its kubeconfig, drill the first control plane with --talos', async () => {
    const d = spec('talos');
    const cp = ((d.spec!.nodes ?? []) as { role: string; address: string }[]).find((n) => n.role === 'control-plane')!;
    const steps = nextSteps(d, { file: 'c.yaml', stateDir: 'st', mode: 'setup', status: 'pass' });
    const validate = await accepted(steps.find((s) => s.argv[0] === 'validate')!.argv);
    expect(validate.opts).toMatchObject({ kubeconfig: 'st/secrets/kubeconfig', file: 'c.yaml' });
    const drill = await accepted(steps.find((s) => s.argv[0] === 'drill')!.argv);
    expect(drill.path).toEqual(['drill']);
    expect(TARGETS.filter((t) => drill.opts[t] !== undefined && drill.opts[t] !== false)).toEqual(['talos']); // exactly one target
    expect(drill.opts).toMatchObject({ talos: cp.address, talosconfig: 'st/secrets/talos/talosconfig' });
  });

  it('after a passing kubeadm setup: drill over ssh as the spec’s user, port and key', async () => {
    const d = spec('kubeadm', { user: 'ops', port: 2222, identityFile: '~/.ssh/cluster_ed25519' });
    const cp = ((d.spec!.nodes ?? []) as { role: string; address: string }[]).find((n) => n.role === 'control-plane')!;
    const steps = nextSteps(d, { file: 'c.yaml', stateDir: 'st', mode: 'setup', status: 'pass' });
    const drill = await accepted(steps.find((s) => s.argv[0] === 'drill')!.argv);
    expect(TARGETS.filter((t) => drill.opts[t] !== undefined && drill.opts[t] !== false)).toEqual(['kubeadm']);
    expect(drill.opts).toMatchObject({ kubeadm: `ops@${cp.address}`, sshPort: '2222', sshIdentity: '~/.ssh/cluster_ed25519' });
  });

  it('the check itself rejects what the CLI rejects', async () => {
    const t = io();
    expect((await parseArgv(['drill', '--no-such-flag'], t)).code).toBe(2);
  });
});
