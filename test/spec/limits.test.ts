/**
 * The spec's stated size limit: at most MAX_NODES (5,000) nodes. A spec at the cap loads; one node more is a
 * spec error at the first node too many (file:line:col), said before any per-node work, so a 200,000-node spec
 * is refused quickly instead of crashing. Spec files must be regular files of a sane size.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SpecError, UserError } from '../../src/errors.js';
import { MAX_NODES, MAX_SPEC_BYTES, loadSpec, parseSpec } from '../../src/spec/load.js';
import { ClusterSpec } from '../../src/spec/schema.js';
import { bigSpecYaml } from '../helpers/big-spec.js';

function specError(fn: () => unknown): SpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
  throw new Error('expected a SpecError');
}

describe('node count cap', { timeout: 90_000 }, () => {
  it('is 5,000, stated in the schema too', () => {
    expect(MAX_NODES).toBe(5000);
    const nodes = (ClusterSpec as unknown as { shape: { spec: { shape: { nodes: { safeParse(v: unknown): { success: boolean } } } } } }).shape.spec.shape.nodes;
    const node = (i: number) => ({ name: `n-${i}`, address: '127.0.0.1', role: 'worker' });
    expect(nodes.safeParse(Array.from({ length: MAX_NODES + 1 }, (_, i) => node(i))).success).toBe(false);
  });

  it('a spec of exactly 5,000 nodes loads', () => {
    expect(parseSpec(bigSpecYaml(MAX_NODES), 'cluster.yaml').spec.spec.nodes).toHaveLength(MAX_NODES);
  });

  it('5,001 nodes: one error at the first node too many, with its line and column', () => {
    const e = specError(() => parseSpec(bigSpecYaml(MAX_NODES + 1), 'cluster.yaml'));
    expect(e.issues).toHaveLength(1);
    // 13 lines of header, then one line per node: node index 5000 is on line 5014, its flow map at column 7.
    expect(e.issues[0]).toMatchObject({ file: 'cluster.yaml', line: 5014, column: 7, path: 'spec.nodes[5000]' });
    expect(e.issues[0]!.message).toBe('5,001 nodes: groundwork plans clusters of at most 5,000 nodes');
  });

  it('12,000 nodes: the same single error (no per-node checks run beyond the cap)', () => {
    const e = specError(() => parseSpec(bigSpecYaml(12_000), 'big.yaml'));
    expect(e.issues.map((i) => `${i.file}:${i.line}:${i.column} ${i.path}`)).toEqual(['big.yaml:5014:7 spec.nodes[5000]']);
  });

  it('200,000 nodes: refused by its size before it is parsed (no stack overflow, no minutes of parsing)', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gw-limits-')), 'cluster.yaml');
    writeFileSync(file, bigSpecYaml(200_000));
    await expect(loadSpec(file)).rejects.toThrow(/larger than any cluster spec/);
  });
});

describe('spec files', () => {
  it('larger than any spec: a usage error naming the limit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-limits-'));
    const file = path.join(dir, 'cluster.yaml');
    writeFileSync(file, `# ${'x'.repeat(MAX_SPEC_BYTES)}\n`);
    const err = await loadSpec(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(2);
    expect((err as UserError).message).toMatch(/larger than any cluster spec \(at most 4 MiB\)/);
  });

  it('a directory or a device is refused by name, not by errno', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-limits-'));
    await expect(loadSpec(dir)).rejects.toThrow(/is a directory, not a file/);
    await expect(loadSpec('/dev/null')).rejects.toThrow(/is a device, not a file/);
  });
});
