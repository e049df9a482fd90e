import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cancelled, SpecError, ToolError, UserError, formatIssue } from '../../src/errors.js';
import { parsePlaybook } from '../../src/playbook/load.js';
import { playbookSteps, specVars } from '../../src/playbook/steps.js';
import { REDACTED, Secret } from '../../src/run/secret.js';
import { parseSpec } from '../../src/spec/load.js';
import { createTestContext } from '../helpers/context.js';
import { createFakeBin } from './fake-tools.js';

const LAB = parseSpec(readFileSync('examples/lab.yaml', 'utf8'), 'examples/lab.yaml').spec;

function playbook(steps: string, name = 'test'): ReturnType<typeof parsePlaybook> {
  return parsePlaybook(`name: ${name}\nstage: bootstrap\nsteps:\n${steps}`, `playbooks/${name}.yaml`);
}

describe('playbookSteps: expansion at plan time', () => {
  const pb = playbook(`  - id: gen-secrets
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
  - id: label
    title: "Label worker {{ index }}"
    forEach: nodes.workers
    when: { path: item.role, equals: worker }
    run: [kubectl, label, node, "{{ item.name }}", "index={{ index }}"]
  - id: vip
    title: Set the VIP
    when: spec.bootstrap.talos.vip
    run: [talosctl, config, endpoint, "{{ spec.bootstrap.talos.vip }}"]
  - id: cilium-only
    title: Cilium only
    when: { path: spec.network.cni, equals: cilium }
    run: [cilium, status]
`);
  const vars = specVars(LAB, { secretsDir: '/gw/secrets', files: { controlplane: '/gw/run/controlplane.yaml' } });
  const steps = playbookSteps(pb, vars);

  it('gives one step per forEach item, ids <id>:<item.name>, titles rendered', () => {
    expect(steps.map((s) => s.id)).toEqual(['gen-secrets', 'apply-config:cp-1', 'apply-config:cp-2', 'apply-config:cp-3', 'label:w-1', 'label:w-2', 'cilium-only']);
    expect(steps.map((s) => s.title).slice(1, 6)).toEqual(['Apply machine config to cp-1', 'Apply machine config to cp-2', 'Apply machine config to cp-3', 'Label worker 0', 'Label worker 1']);
    expect(steps.every((s) => s.stage === 'bootstrap')).toBe(true);
  });

  it('previews the exact argv, files and idempotency notes', () => {
    expect(steps[0]!.preview).toEqual({
      argv: [['talosctl', 'gen', 'secrets', '-o', '/gw/secrets/talos-secrets.yaml']],
      files: ['/gw/secrets/talos-secrets.yaml'],
      note: 'skipped when /gw/secrets/talos-secrets.yaml exists',
    });
    expect(steps[2]!.preview).toEqual({
      argv: [['talosctl', 'apply-config', '--insecure', '--nodes', '127.0.100.12', '--file', '/gw/run/controlplane.yaml']],
      note: 'skipped when this succeeds: talosctl get members --nodes 127.0.100.12; timeout 2m per attempt; 2 retries',
    });
    expect(steps[5]!.preview?.argv).toEqual([['kubectl', 'label', 'node', 'w-2', 'index=1']]);
  });

  it('sets once, done() only where creates/unless exist, and leaves retries/timeout to run()', () => {
    expect(steps.map((s) => [s.once === true, typeof s.done === 'function'])).toEqual([
      [true, true], [false, true], [false, true], [false, true], [false, false], [false, false], [false, false],
    ]);
    expect(steps.every((s) => s.retries === undefined && s.timeoutMs === undefined)).toBe(true);
  });

  it('keeps steps whose when holds and drops the others', () => {
    const withVip = specVars({ ...LAB, spec: { ...LAB.spec, network: { ...LAB.spec.network, cni: 'calico' }, bootstrap: { ...LAB.spec.bootstrap, talos: { ...LAB.spec.bootstrap.talos, vip: '127.0.100.10' } } } }, { secretsDir: '/s', files: { controlplane: '/c' } });
    const ids = playbookSteps(pb, withVip).map((s) => s.id);
    expect(ids).toContain('vip');
    expect(ids).not.toContain('cilium-only');
  });

  it('an empty forEach list gives no steps', () => {
    const noWorkers = { ...vars, nodes: { ...(vars.nodes as object), workers: [] } };
    expect(playbookSteps(pb, noWorkers).filter((s) => s.id.startsWith('label'))).toEqual([]);
  });

  it('uses the index when items have no name', () => {
    const p = playbook(`  - id: ping\n    title: ping\n    forEach: targets\n    run: [ping, "{{ item }}"]\n`);
    expect(playbookSteps(p, { targets: ['127.0.0.1', '127.0.0.2'] }).map((s) => [s.id, s.preview?.argv?.[0]])).toEqual([
      ['ping:0', ['ping', '127.0.0.1']],
      ['ping:1', ['ping', '127.0.0.2']],
    ]);
  });

  it('reports unknown placeholders and bad forEach paths with positions, once per mistake', () => {
    let err: SpecError | undefined;
    try {
      playbookSteps(pb, specVars(LAB, { secretsDir: '/s', files: { controlplan: '/c' } }));
    } catch (e) {
      err = e as SpecError;
    }
    expect(err?.issues.map(formatIssue)).toEqual([
      'playbooks/test.yaml:13:86 steps[1].run[6]: step "apply-config:cp-1": unknown placeholder {{ files.controlplane }}: nothing at files.controlplane (there: controlplan)',
    ]);
    const bad = playbook(`  - id: x\n    title: x\n    forEach: spec.network\n    run: [x]\n  - id: y\n    title: y\n    forEach: nodes.masters\n    run: [y]\n`);
    expect(() => playbookSteps(bad, vars)).toThrow(SpecError);
    try {
      playbookSteps(bad, vars);
    } catch (e) {
      expect((e as SpecError).issues.map(formatIssue)).toEqual([
        'playbooks/test.yaml:6:14 steps[0].forEach: step "x": forEach spec.network is not a list',
        'playbooks/test.yaml:10:14 steps[1].forEach: step "y": forEach nodes.masters does not exist (there: all, controlPlanes, workers, firstControlPlane)',
      ]);
    }
  });
});

describe('Step.run and Step.done with real executables', () => {
  it('runs the argv through exec and records it in the audit log', async () => {
    const bin = createFakeBin();
    bin.addRecorder('talosctl');
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: v\n    title: v\n    run: [talosctl, version, --nodes, "{{ nodes.firstControlPlane.address }}"]\n`), specVars(LAB));
    await expect(step!.run(ctx)).resolves.toEqual({ status: 'pass', summary: 'ran talosctl version --nodes 127.0.100.11' });
    expect(bin.calls('talosctl')).toEqual(['version --nodes 127.0.100.11']);
    expect(ctx.audit.map((a) => [a.argv, a.exitCode, a.step])).toEqual([[['talosctl', 'version', '--nodes', '127.0.100.11'], 0, 'v']]);
  });

  it('creates: not done before, done after the file exists (relative to the run dir)', async () => {
    const bin = createFakeBin();
    bin.addRecorder('gen', `printf 'made\\n' > "$1"`);
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: gen\n    title: gen\n    run: [gen, "{{ out }}"]\n    creates: "{{ out }}"\n`), { out: path.join(ctx.runDir, 'out.txt') });
    expect(await step!.done!(ctx)).toBe(false);
    expect((await step!.run(ctx)).status).toBe('pass');
    expect(await step!.done!(ctx)).toBe(true);

    const [rel] = playbookSteps(playbook(`  - id: rel\n    title: rel\n    run: [gen, never-called]\n    creates: relative.txt\n`), {});
    expect(await rel!.done!(ctx)).toBe(false);
    writeFileSync(path.join(ctx.runDir, 'relative.txt'), 'x');
    expect(await rel!.done!(ctx)).toBe(true);
    expect(bin.calls('gen')).toEqual([path.join(ctx.runDir, 'out.txt')]);
  });

  it('creates: a run that does not make the file ends as a warning', async () => {
    const bin = createFakeBin();
    bin.add('noop', 'exit 0');
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: n\n    title: n\n    run: [noop]\n    creates: never.txt\n`), {});
    const out = await step!.run(ctx);
    expect(out.status).toBe('warn');
    expect(out.summary).toBe(`noop succeeded but ${path.join(ctx.runDir, 'never.txt')} does not exist`);
  });

  it('unless: exit 0 of the probe means done, anything else means not done', async () => {
    const bin = createFakeBin();
    const state = path.join(bin.dir, 'member');
    bin.addRecorder('talosctl', `[ -f '${state}' ]`);
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: join\n    title: join\n    run: [talosctl, apply-config, "{{ item.address }}"]\n    forEach: nodes.workers\n    unless: [talosctl, get, members, --nodes, "{{ item.address }}"]\n`), specVars(LAB));
    expect(await step!.done!(ctx)).toBe(false);
    writeFileSync(state, '');
    expect(await step!.done!(ctx)).toBe(true);
    expect(bin.calls('talosctl')).toEqual(['get members --nodes 127.0.100.21', 'get members --nodes 127.0.100.21']);
    expect(ctx.audit.map((a) => a.exitCode)).toEqual([1, 0]);
  });

  it('retries a failing command with backoff and passes when it recovers', async () => {
    const bin = createFakeBin();
    const counter = path.join(bin.dir, 'count');
    bin.addRecorder('flaky', `n=0; [ -f '${counter}' ] && read n < '${counter}'; n=$((n+1)); echo $n > '${counter}'; [ $n -ge 3 ] || { echo "not yet ($n)" >&2; exit 7; }`);
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: f\n    title: f\n    run: [flaky]\n    retries: 2\n`), {}, { backoffMs: 1 });
    await expect(step!.run(ctx)).resolves.toMatchObject({ status: 'pass' });
    expect(bin.calls('flaky')).toHaveLength(3);
    expect(ctx.lines).toEqual(['f: attempt 1 of 3 failed (flaky exited with code 7); retrying', 'f: attempt 2 of 3 failed (flaky exited with code 7); retrying']);
  });

  it('probes a once step again before a retry: a bootstrap that took effect but failed is never sent twice', async () => {
    const bin = createFakeBin();
    const marker = path.join(bin.dir, 'bootstrapped');
    // The first call takes effect, then fails (as a timeout after the node accepted it would).
    bin.addRecorder('talosctl', `: > '${marker}'; echo "context deadline exceeded" >&2; exit 1`);
    bin.add('probe', `[ -f '${marker}' ]`);
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: bootstrap\n    title: b\n    run: [talosctl, bootstrap]\n    unless: [probe]\n    once: true\n    retries: 10\n`), {}, { backoffMs: 1 });
    await expect(step!.run(ctx)).resolves.toMatchObject({ status: 'pass', summary: expect.stringContaining('confirmed by its probe') });
    expect(bin.calls('talosctl')).toEqual(['bootstrap']);
  });

  it('gives up after the last retry with the tool error (command, exit code, stderr)', async () => {
    const bin = createFakeBin();
    bin.addRecorder('broken', 'echo "cannot reach 127.0.100.11" >&2; exit 4');
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: b\n    title: b\n    run: [broken, now]\n    retries: 1\n`), {}, { backoffMs: 1 });
    const err = (await step!.run(ctx).catch((e: unknown) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect([err.message, err.argv, err.exitCode, err.stderrTail]).toEqual(['broken exited with code 4 (2 attempts)', ['broken', 'now'], 4, 'cannot reach 127.0.100.11']);
    expect(bin.calls('broken')).toHaveLength(2);
  });

  it('never retries a missing tool', async () => {
    const bin = createFakeBin();
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: m\n    title: m\n    run: [talosctl, version]\n    retries: 3\n`), {}, { backoffMs: 1 });
    const err = (await step!.run(ctx).catch((e: unknown) => e)) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe('talosctl is not installed or not on PATH');
    expect(ctx.audit).toHaveLength(1);
  });

  it('timeout: a process that runs too long is stopped and the step fails', async () => {
    const bin = createFakeBin();
    bin.add('hang', 'exec /bin/sleep 30');
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: h\n    title: h\n    run: [hang]\n    timeout: 300ms\n`), {});
    const err = (await step!.run(ctx).catch((e: unknown) => e)) as ToolError;
    expect(err).toBeInstanceOf(ToolError);
    expect(err.message).toBe('hang did not finish within 300ms and was stopped');
    expect(ctx.audit[0]).toMatchObject({ argv: ['hang'], timedOut: true });
  });

  it('an abort during the backoff stops the retries', async () => {
    const bin = createFakeBin();
    bin.addRecorder('fail', 'exit 1');
    const abort = new AbortController();
    const ctx = createTestContext({ env: bin.env, signal: abort.signal });
    const [step] = playbookSteps(playbook(`  - id: a\n    title: a\n    run: [fail]\n    retries: 5\n`), {}, { backoffMs: 60_000 });
    const running = step!.run({ ...ctx, log: (l) => { ctx.lines.push(l); abort.abort(); } });
    await expect(running).rejects.toBeInstanceOf(Cancelled);
    expect(bin.calls('fail')).toHaveLength(1);
  });

  it('secret: the written file becomes 0600 and its contents are redacted from then on', async () => {
    const bin = createFakeBin();
    bin.add('talosctl', `umask 022; printf 'cluster:\\n  secret: s3cr3t-b00tstrap-t0ken\\n' > "$3"`);
    const ctx = createTestContext({ env: bin.env });
    const pb = playbook(`  - id: gen-secrets
    title: gen
    run: [talosctl, gen, secrets, "{{ secretsDir }}/talos-secrets.yaml"]
    creates: "{{ secretsDir }}/talos-secrets.yaml"
    secret: "{{ secretsDir }}/talos-secrets.yaml"
    once: true
`);
    const [step] = playbookSteps(pb, { secretsDir: ctx.stateDir });
    expect((await step!.run(ctx)).status).toBe('pass');
    const file = path.join(ctx.stateDir, 'talos-secrets.yaml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(ctx.redactor.redact('token is s3cr3t-b00tstrap-t0ken.')).toBe(`token is ${REDACTED}.`);
  });

  it('secret: a missing secret file fails the step and says why', async () => {
    const bin = createFakeBin();
    bin.add('noop', 'exit 0');
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: s\n    title: s\n    run: [noop]\n    secret: missing.yaml\n`), {});
    const out = await step!.run(ctx);
    expect(out).toMatchObject({ status: 'fail', summary: `noop succeeded but did not write its secret file ${path.join(ctx.runDir, 'missing.yaml')}` });
    expect(out.fix).toMatch(/secret: path/);
  });

  it('a Secret var reaches the process but not the preview, title or audit log', async () => {
    const bin = createFakeBin();
    const out = path.join(bin.dir, 'argv');
    bin.add('kubeadm', `printf '%s\\0' "$@" > '${out}'`);
    const ctx = createTestContext({ env: bin.env });
    const [step] = playbookSteps(playbook(`  - id: join\n    title: "Join with {{ token }}"\n    run: [kubeadm, join, --token, "{{ token }}"]\n`), { token: new Secret('abcdef.0123456789abcdef') });
    expect(step!.title).toBe(`Join with ${REDACTED}`);
    expect(step!.preview?.argv).toEqual([['kubeadm', 'join', '--token', REDACTED]]);
    const r = await step!.run(ctx);
    expect(readFileSync(out, 'utf8').split('\0').slice(0, -1)).toEqual(['join', '--token', 'abcdef.0123456789abcdef']);
    expect(JSON.stringify([r, ctx.audit, ctx.lines])).not.toContain('abcdef.0123456789abcdef');
    expect(ctx.audit[0]!.argv).toEqual(['kubeadm', 'join', '--token', REDACTED]);
  });

  it('capture: stdout feeds {{ values.x }} of a later step; a secret capture is redacted', async () => {
    const bin = createFakeBin();
    const out = path.join(bin.dir, 'argv');
    bin.add('kubeadm', `if [ "$1" = token ]; then echo '  tok3n.value1234567  '; else printf '%s\\0' "$@" > '${out}'; fi`);
    const ctx = createTestContext({ env: bin.env });
    const steps = playbookSteps(
      playbook(`  - id: token
    title: token
    run: [kubeadm, token, create]
    capture: { name: joinToken, secret: true }
  - id: join
    title: join
    run: [kubeadm, join, --token, "{{ values.joinToken }}"]
`),
      {},
    );
    expect(steps[1]!.preview?.argv).toEqual([['kubeadm', 'join', '--token', '{{ values.joinToken }}']]);
    expect(steps[0]!.preview?.note).toBe('keeps its output as values.joinToken (secret)');
    await steps[0]!.run(ctx);
    expect(ctx.values.joinToken).toBeInstanceOf(Secret);
    expect(String(ctx.values.joinToken)).toBe(REDACTED);
    const r = await steps[1]!.run(ctx);
    expect(readFileSync(out, 'utf8').split('\0').slice(0, -1)).toEqual(['join', '--token', 'tok3n.value1234567']);
    expect(r.summary).toBe(`ran kubeadm join --token ${REDACTED}`);
    expect(JSON.stringify(ctx.audit)).not.toContain('tok3n.value1234567');
  });

  it('dry run: nothing is executed', async () => {
    const bin = createFakeBin();
    bin.addRecorder('talosctl');
    const ctx = createTestContext({ env: bin.env, dryRun: true });
    const [step] = playbookSteps(playbook(`  - id: v\n    title: v\n    run: [talosctl, bootstrap]\n    once: true\n`), {});
    expect(await step!.run(ctx)).toEqual({ status: 'skip', summary: 'dry run: would run talosctl bootstrap' });
    expect(bin.calls('talosctl')).toEqual([]);
    expect(existsSync(path.join(bin.dir, 'talosctl.calls'))).toBe(false);
  });
});
