/** Issue 18: each command's flags become its service's options in a pure function of (flags, command context). */
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { contextFrom, type CommandContext } from '../../src/commands/context.js';
import { setupOptions } from '../../src/commands/setup.js';
import { planOptions } from '../../src/commands/plan.js';
import { preflightOptions } from '../../src/commands/preflight.js';
import { rehearseOptions } from '../../src/commands/rehearse.js';
import { validateOptions } from '../../src/commands/validate.js';
import { drillOptions, type DrillFlags } from '../../src/commands/drill.js';
import { UserError } from '../../src/errors.js';
import type { Io } from '../../src/io.js';

const CWD = '/work/clusters';
function io(tty: boolean, env: Record<string, string | undefined> = {}): Io {
  const s = () => Object.assign(new PassThrough(), { isTTY: tty });
  return { stdout: s(), stderr: s(), stdin: s(), env, cwd: CWD };
}
const g = { file: 'cluster.yaml', json: false, color: true };
const ctx = (over: Partial<typeof g & { stateDir: string; yes: boolean }> = {}, world: Io = io(false)): CommandContext => contextFrom({ ...g, ...over }, world);

describe('the command context', () => {
  it.each<[string, Parameters<typeof contextFrom>[0], Record<string, string>, boolean, string, boolean]>([
    ['state dir beside the spec, colour allowed', { ...g }, {}, false, `${CWD}/.groundwork`, true],
    ['a spec in another directory', { ...g, file: 'prod/cluster.yaml' }, {}, false, `${CWD}/prod/.groundwork`, true],
    ['--state-dir relative to the working directory', { ...g, stateDir: 'state' }, {}, false, `${CWD}/state`, true],
    ['--no-color', { ...g, color: false }, {}, false, `${CWD}/.groundwork`, false],
    ['NO_COLOR=1', { ...g }, { NO_COLOR: '1' }, false, `${CWD}/.groundwork`, false],
    ['NO_COLOR="" allows colour (no-color.org)', { ...g }, { NO_COLOR: '' }, false, `${CWD}/.groundwork`, true],
    ['an optional spec that is missing: the working directory', { ...g, file: 'nowhere/cluster.yaml' }, {}, true, `${CWD}/.groundwork`, true],
  ])('%s', (_, flags, env, specOptional, stateDir, color) => {
    const c = contextFrom(flags, io(false, env), { specOptional });
    expect([c.stateDir, c.color]).toEqual([stateDir, color]);
  });
});

describe('flags → options', () => {
  it('setup: headless with --yes, the wizard in a terminal, a usage error otherwise', () => {
    expect(setupOptions({ dryRun: true, resume: false, stages: 'cni,preflight' }, ctx({ yes: true }))).toMatchObject({
      setup: { file: 'cluster.yaml', stateDir: `${CWD}/.groundwork`, dryRun: true, resume: false, stages: ['preflight', 'cni'], color: true },
    });
    expect(setupOptions({ dryRun: false, resume: false }, ctx({}, io(true)))).toMatchObject({ wizard: { file: 'cluster.yaml', stateDir: `${CWD}/.groundwork` } });
    expect(() => setupOptions({ dryRun: false, resume: false }, ctx())).toThrow(/no terminal to ask questions in/);
    expect(() => setupOptions({ dryRun: true, resume: false }, ctx({}, io(true)))).toThrow(/are for headless runs/);
    expect(() => setupOptions({ dryRun: false, resume: false, stages: 'nope' }, ctx({ yes: true }))).toThrow(UserError);
  });

  it('plan, rehearse, preflight and validate carry the context', () => {
    expect(planOptions({ stages: 'cni' }, ctx({ json: true }))).toMatchObject({ file: 'cluster.yaml', stateDir: `${CWD}/.groundwork`, json: true, stages: 'cni' });
    expect(rehearseOptions({ nodes: 5, fault: ['dns-down'], stages: 'drill,validate', timeout: 30 }, ctx())).toMatchObject({ nodes: 5, faults: ['dns-down'], stages: ['validate', 'drill'], timeoutS: 30 });
    // Piped stderr: the progress is not coloured.
    expect(preflightOptions({ ignore: ['x'], remote: false, list: false }, ctx())).toMatchObject({ ignore: ['x'], remote: false, color: false, stateDir: `${CWD}/.groundwork` });
    expect(preflightOptions({ remote: true, list: false }, ctx({}, io(true))).color).toBe(true);
    const v = validateOptions({ keep: true, timeout: 120, printRbac: false, only: 'dns' }, ctx(), (list) => (list ? (list.split(',') as never) : undefined));
    expect(v).toMatchObject({ keep: true, timeoutS: 120, only: ['dns'], specFile: 'cluster.yaml' });
  });

  const drill = (f: Partial<DrillFlags>) => drillOptions({ bumpRevision: true, ...f }, ctx());
  it.each<[string, Partial<DrillFlags>, unknown]>([
    ['endpoints with TLS files made absolute', { endpoints: 'https://127.0.0.1:2379, ', cacert: 'ca.crt' }, { kind: 'endpoints', endpoints: ['https://127.0.0.1:2379'], cacert: path.join(CWD, 'ca.crt') }],
    ['kubeadm: a ~/ key stays for ssh to expand', { kubeadm: 'ops@127.0.0.5', sshPort: '2222', sshIdentity: '~/.ssh/k' }, { kind: 'kubeadm', ssh: { user: 'ops', host: '127.0.0.5', port: 2222, identityFile: '~/.ssh/k' } }],
    ['snapshot', { snapshot: 'b/etcd.db' }, { kind: 'snapshot', file: path.join(CWD, 'b/etcd.db') }],
    ['the lab, resolved later', { lab: true, labEtcd: 'http://127.0.0.1:2379' }, { lab: { etcd: 'http://127.0.0.1:2379' } }],
  ])('drill: %s', (_, flags, target) => {
    expect(drill(flags).drill.target).toEqual(target);
  });

  it.each<[string, Partial<DrillFlags>, RegExp]>([
    ['no target', {}, /what should the drill restore/],
    ['two targets', { snapshot: 'a', lab: true }, /one drill target, not several/],
    ['ssh flags without --kubeadm', { snapshot: 'a', sshPort: '22' }, /go with --kubeadm/],
    ['TLS flags without --endpoints', { snapshot: 'a', key: 'k' }, /go with --endpoints/],
    ['a bad destination', { kubeadm: '-oProxyCommand=x' }, /is not \[user@\]HOST/],
    ['a bad port', { kubeadm: 'h', sshPort: '70000' }, /is not a port/],
  ])('drill refuses %s', (_, flags, message) => {
    expect(() => drill(flags)).toThrow(message);
  });
});
