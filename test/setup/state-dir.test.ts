import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { claimStateDir } from '../../src/setup.js';
import { parseSpec } from '../../src/spec/load.js';
import { UserError } from '../../src/errors.js';

const lab = parseSpec(readFileSync('examples/lab.yaml', 'utf8'), 'examples/lab.yaml').spec;
const other = { ...lab, metadata: { name: 'other' } };

describe('one state dir, one cluster', () => {
  it('the first run claims the dir; the same cluster again is fine; another cluster is refused, naming both', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'gw-claim-')), '.groundwork');
    claimStateDir(dir, lab);
    expect(JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8'))).toEqual({ name: 'lab', endpoint: 'https://127.0.100.10:6443' });
    expect(() => claimStateDir(dir, lab)).not.toThrow();
    let err: unknown;
    try {
      claimStateDir(dir, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toContain('belongs to cluster "lab"');
    expect((err as UserError).fix).toContain('--state-dir .groundwork-other');
    expect((err as UserError).exitCode).toBe(2);
  });
});
