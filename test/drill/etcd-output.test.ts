import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KeyCounter,
  OTHER_PREFIX,
  OutputParseError,
  compareCounts,
  parseEndpointStatus,
  parseHashKv,
  KeyListing,
  parseKeyPage,
  parseSnapshotStatus,
  parseToolVersion,
  prefixOfKey,
  supportsBumpRevision,
} from '../../src/drill/etcd-output.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/drill');
const fixture = (name: string) => readFileSync(path.join(fixtures, name), 'utf8');

describe('snapshot status -w json', () => {
  it.each([
    ['etcdctl-3.4.23-snapshot-status.json', { hash: 2275094106, revision: 7, totalKey: 10, totalSize: 24576 }],
    ['etcdutl-3.5.16-snapshot-status.json', { hash: 3474280975, revision: 1127436, totalKey: 1133571, totalSize: 2596864000 }],
    ['etcdutl-3.6.0-snapshot-status.json', { hash: 1084519789, revision: 48211, totalKey: 48301, totalSize: 104857600, version: '3.6.0' }],
  ])('%s', (file, expected) => {
    expect(parseSnapshotStatus(fixture(file))).toEqual(expected);
  });

  it('drops the empty version etcdutl 3.6 prints for snapshots of older servers', () => {
    expect(parseSnapshotStatus('{"hash":1,"revision":2,"totalKey":3,"totalSize":4,"version":""}')).toEqual({ hash: 1, revision: 2, totalKey: 3, totalSize: 4 });
  });

  it.each([[''], ['Error: snapshot file integrity check failed'], ['{"hash":"x"}'], ['{"revision":1}'], ['panic: runtime error']])('rejects %j with a parse error, not a crash', (text) => {
    expect(() => parseSnapshotStatus(text)).toThrow(OutputParseError);
  });
});

describe('endpoint hashkv -w json', () => {
  it.each([
    ['etcdctl-3.4.23-endpoint-hashkv.json', { endpoint: 'http://127.0.0.1:23791', hash: 2727007067, revision: 7, compactRevision: -1 }],
    ['etcdctl-3.5.16-endpoint-hashkv.json', { endpoint: 'https://127.0.0.1:2379', hash: 2845196817, revision: 1127436, compactRevision: 1120311 }],
    ['etcdctl-3.6.0-endpoint-hashkv.json', { endpoint: 'https://127.0.0.1:2379', hash: 3110249470, revision: 48211, compactRevision: 47005, hashRevision: 48211 }],
  ])('%s', (file, expected) => {
    expect(parseHashKv(fixture(file))).toEqual([expected]);
  });
});

describe('endpoint status -w json', () => {
  it.each([
    ['etcdctl-3.4.23-endpoint-status.json', { endpoint: 'http://127.0.0.1:23791', version: '3.4.23', revision: 7, dbSize: 24576, dbSizeInUse: 16384 }],
    ['etcdctl-3.5.16-endpoint-status.json', { endpoint: 'https://127.0.0.1:2379', version: '3.5.16', revision: 1127436, dbSize: 2596864000, dbSizeInUse: 1839218688 }],
    ['etcdctl-3.6.0-endpoint-status.json', { endpoint: 'https://127.0.0.1:2379', version: '3.6.0', revision: 48211, dbSize: 104857600, dbSizeInUse: 98304000 }],
  ])('%s', (file, expected) => {
    expect(parseEndpointStatus(fixture(file))).toEqual([expected]);
  });
});

describe('get --keys-only -w json pages', () => {
  it('decodes base64 keys and reads more/count', () => {
    expect(parseKeyPage(fixture('etcdctl-3.4.23-get-keys-page.json'))).toEqual({
      revision: 7,
      keys: ['/registry/apiextensions.k8s.io/customresourcedefinitions/a', '/registry/configmaps/kube-system/x'],
      more: true,
      count: 6,
    });
  });
  it('reads an empty range (no kvs, no more)', () => {
    expect(parseKeyPage('{"header":{"revision":4}}')).toEqual({ revision: 4, keys: [], more: false, count: 0 });
  });
});

describe('tool versions and restore flags', () => {
  it.each([
    ['etcdctl-3.4.23-version.txt', '3.4.23'],
    ['etcdutl-3.5.16-version.txt', '3.5.16'],
    ['etcdutl-3.6.0-version.txt', '3.6.0'],
    ['etcd Version: 3.4.23\nGit SHA: Not provided\n', '3.4.23'],
  ])('%s', (src, v) => {
    expect(parseToolVersion(src.endsWith('.txt') ? fixture(src) : src)).toBe(v);
  });
  it('sees --bump-revision and --mark-compacted only where etcdutl offers them', () => {
    expect(supportsBumpRevision(fixture('etcdutl-3.5.16-snapshot-restore-help.txt'))).toBe(true);
    expect(supportsBumpRevision(fixture('etcdutl-3.5.9-snapshot-restore-help.txt'))).toBe(false);
  });
});

describe('prefixOfKey', () => {
  it.each([
    ['/registry/pods/default/web-1', '/registry/pods'],
    ['/registry/services/specs/default/kubernetes', '/registry/services'],
    ['/registry/services/endpoints/default/kubernetes', '/registry/services'],
    ['/registry/namespaces/kube-system', '/registry/namespaces'],
    ['/registry/deployments/default/web', '/registry/deployments'],
    ['/registry/apiextensions.k8s.io/customresourcedefinitions/ciliumnodes.cilium.io', '/registry/apiextensions.k8s.io/customresourcedefinitions'],
    ['/registry/apiregistration.k8s.io/apiservices/v1.', '/registry/apiregistration.k8s.io/apiservices'],
    ['/registry/cilium.io/ciliumnodes/w-1', '/registry/cilium.io/ciliumnodes'],
    ['/registry/masterleases/10.0.0.1', '/registry/masterleases'],
    ['/registry/deployments.apps/default/web', '/registry/deployments.apps'],
    ['/registry/networkpolicies.networking.k8s.io/default/deny-all', '/registry/networkpolicies.networking.k8s.io'],
    ['/registry/monitoring.coreos.com/servicemonitors/monitoring/node', '/registry/monitoring.coreos.com/servicemonitors'],
    ['/registry/', '/registry/'],
    ['compact_rev_key', OTHER_PREFIX],
    ['/groundwork/drill-sentinel', OTHER_PREFIX],
    ['/registryx/pods/a', OTHER_PREFIX],
  ])('%s -> %s', (key, prefix) => {
    expect(prefixOfKey(key)).toBe(prefix);
  });

  it('every key under /registry/ lands in a /registry prefix that is a prefix of the key', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z0-9.-]{1,12}$/), { minLength: 1, maxLength: 5 }), (parts) => {
        const key = `/registry/${parts.join('/')}`;
        const p = prefixOfKey(key);
        expect(p.startsWith('/registry/')).toBe(true);
        expect(key.startsWith(p)).toBe(true);
      }),
    );
  });
});

describe('KeyCounter and compareCounts', () => {
  it('totals equal the sum of prefix counts, whatever the keys', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), (keys) => {
        const c = new KeyCounter();
        for (const k of keys) c.add(k);
        expect(c.total).toBe(keys.length);
        expect(Object.values(c.toRecord()).reduce((a, b) => a + b, 0)).toBe(keys.length);
      }),
    );
  });
  it('the same keys in any order compare equal; one key fewer is found', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^\/registry\/[a-z]{1,4}\/[a-z0-9]{1,6}$/), { minLength: 1 }), (keys) => {
        const a = new KeyCounter();
        const b = new KeyCounter();
        for (const k of keys) a.add(k);
        for (const k of [...keys].reverse()) b.add(k);
        expect(compareCounts(a.toRecord(), b.toRecord())).toEqual([]);
        const c = new KeyCounter();
        for (const k of keys.slice(1)) c.add(k);
        expect(compareCounts(a.toRecord(), c.toRecord())).toEqual([{ prefix: prefixOfKey(keys[0]!), expected: a.counts.get(prefixOfKey(keys[0]!)), actual: (c.counts.get(prefixOfKey(keys[0]!)) ?? 0) }]);
      }),
    );
  });
  it('is symmetric in what differs', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }), fc.nat(50)), fc.dictionary(fc.string({ minLength: 1 }), fc.nat(50)), (x, y) => {
        expect(compareCounts(x, y).map((d) => d.prefix)).toEqual(compareCounts(y, x).map((d) => d.prefix));
      }),
    );
  });
});

describe('a key listing read as it streams', () => {
  it('finds every key, the revision and the count wherever the chunks are cut', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }), (keys, cuts) => {
        const doc = JSON.stringify({ header: { cluster_id: 1, revision: 77, raft_term: 2 }, kvs: keys.map((k, i) => ({ key: Buffer.from(k, 'latin1').toString('base64'), create_revision: i, mod_revision: i, version: 1 })), count: keys.length });
        const got: string[] = [];
        const listing = new KeyListing((k) => got.push(k));
        for (let i = 0, c = 0; i < doc.length; c++) {
          const n = cuts[c % cuts.length]!;
          listing.push(Buffer.from(doc.slice(i, i + n), 'latin1'));
          i += n;
        }
        expect(listing.end()).toEqual({ revision: 77, more: false, count: keys.length, keys: keys.length });
        expect(got).toEqual(keys);
      }),
      { numRuns: 200 },
    );
  });

  it('keys written with spaces (not as Go writes them) are read too, in order, beside Go-style ones', () => {
    const got: string[] = [];
    const listing = new KeyListing((k) => got.push(k));
    listing.push('{"header":{"revision":9},"kvs":[{"key":"L2E=","version":1},{"key": "L2I=", "version": 1},{"key":"L2M="}],"count":3}');
    expect(listing.end()).toEqual({ revision: 9, more: false, count: 3, keys: 3 });
    expect(got).toEqual(['/a', '/b', '/c']);
  });

  it('a listing that ends before the server said it would (a cut connection) is an error, not a short count', () => {
    const listing = new KeyListing(() => undefined);
    listing.push('{"header":{"revision":5},"kvs":[{"key":"L2E=","create_revision":2}],"count":2}');
    expect(() => listing.end()).toThrow(OutputParseError);
  });
});
