/** `groundwork spec schema|check` through the real binary (dist/, built by `npx tsc -p .` / `npm test`). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { parseSpec } from '../../src/spec/load.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

function groundwork(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/groundwork'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', CI: 'true' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(path.join(ROOT, 'dist/cli.js'))) spawnSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'inherit' });
});

describe('groundwork spec schema', () => {
  const r = groundwork(['spec', 'schema']);
  const schema = JSON.parse(r.stdout) as Record<string, any>;

  it('prints a JSON Schema on stdout and nothing on stderr', () => {
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('https://groundwork.dev/schemas/cluster-v1alpha1.json');
    expect(schema.required).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(schema.additionalProperties).toBe(false);
    const spec = schema.properties.spec;
    expect(spec.required).toEqual(['endpoint', 'bootstrap', 'nodes']);
    expect(spec.properties.network.properties.cni.enum).toEqual(['cilium', 'calico', 'flannel', 'none']);
    expect(spec.properties.nodes.items.properties.role.enum).toEqual(['control-plane', 'worker']);
    expect(spec.properties.nodes.items.required).toEqual(['name', 'address', 'role']);
    // Editors show these as hover help.
    expect(spec.properties.network.properties.podCIDR.description).toMatch(/Pod IP range/);
  });

  it('is valid for ajv (draft 2020-12, strict) and accepts every example, rejects wrong ones', () => {
    // Formats (uri) are hints for editors; the https:// pattern carries the rule.
    const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    for (const f of ['talos-ha', 'kubeadm-small', 'lab']) {
      const data = parse(readFileSync(path.join(ROOT, 'examples', `${f}.yaml`), 'utf8'));
      expect(validate(data), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const good = parse(readFileSync(path.join(ROOT, 'examples/lab.yaml'), 'utf8'));
    expect(validate({ ...good, spec: { ...good.spec, network: { cni: 'weave' } } })).toBe(false);
    expect(validate({ ...good, extra: 1 })).toBe(false);
    expect(validate({ ...good, spec: { ...good.spec, endpoint: 'http://127.0.0.1:6443' } })).toBe(false);
    expect(validate({ ...good, spec: { ...good.spec, nodes: [] } })).toBe(false);
    expect(validate({ ...good, metadata: { name: 'Not_A_Label' } })).toBe(false);
  });
});

describe('groundwork spec check', () => {
  it('prints the spec with every default filled in, exit 0', () => {
    const r = groundwork(['spec', 'check', '-f', 'examples/talos-ha.yaml']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const printed = parse(r.stdout);
    expect(printed.spec.network.kubeProxyReplacement).toBe(true);
    expect(printed.spec.addons.backup.target).toEqual({ hostPath: '/var/backups/etcd' });
    expect(printed.spec.bootstrap.kubeadm.ssh.port).toBe(22);
    // The output is itself a valid spec that means the same thing.
    const original = parseSpec(readFileSync(path.join(ROOT, 'examples/talos-ha.yaml'), 'utf8'), 'x').spec;
    expect(parseSpec(r.stdout, 'printed').spec).toEqual(original);
  });

  it('prints JSON with --json', () => {
    const r = groundwork(['spec', 'check', '--json', '-f', 'examples/kubeadm-small.yaml']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).spec.bootstrap.method).toBe('kubeadm');
  });

  it('reports every error on stderr with file:line:col, exit 2, nothing on stdout', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-spec-'));
    const bad = readFileSync(path.join(ROOT, 'examples/lab.yaml'), 'utf8').replace('10.244.0.0/16', '10.244.0.0/33').replace('cni: cilium', 'cni: weave').replace('name: w-2', 'name: w-1');
    writeFileSync(path.join(dir, 'cluster.yaml'), bad);
    const r = groundwork(['spec', 'check'], dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'error: cluster.yaml has 3 problems',
        'cluster.yaml:21:15 spec.nodes[4].name: duplicate node name "w-1" (also spec.nodes[3])',
        'cluster.yaml:23:14 spec.network.podCIDR: "10.244.0.0/33" is not a CIDR (or a dual-stack pair "IPv4CIDR,IPv6CIDR")',
        'cluster.yaml:25:10 spec.network.cni: "weave" is not one of cilium, calico, flannel, none',
        '',
      ].join('\n'),
    );
  });

  it('prints warnings on stderr and still exits 0', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-spec-'));
    writeFileSync(path.join(dir, 'cluster.yaml'), readFileSync(path.join(ROOT, 'examples/lab.yaml'), 'utf8').replace(/(w-2.*)role: worker/, '$1role: control-plane'));
    const r = groundwork(['spec', 'check', '-f', 'cluster.yaml'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('cluster.yaml:17:5 warning: spec.nodes: 4 control planes: an even etcd member count adds no fault tolerance; use 3 or 5\n');
  });

  it('says which flag to use when the file is missing, exit 2', () => {
    const r = groundwork(['spec', 'check', '-f', 'nope.yaml']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: cannot read the cluster spec nope\.yaml: no such file\n {2}fix: pass a spec with -f FILE/);
  });
});
