/**
 * Reads a snapshot file once, as a stream (never whole: databases are gigabytes), and says what it is:
 * its size, its sha256, whether it is a bolt database at all, and whether the sha256 that `etcdctl snapshot save`
 * appends matches the content. A file copied raw from member/snap/db has no appended hash.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';

/** bbolt's meta page magic (little-endian uint32 right after the 16-byte page header). */
const BOLT_MAGIC = 0xed0cdaed;
const SHA_SIZE = 32;

export type SnapshotFileVerdict =
  | 'ok' // bolt db with an appended sha256 that matches
  | 'no-hash' // bolt db without an appended sha256 (a raw copy of member/snap/db)
  | 'hash-mismatch' // appended sha256 does not match the content: corrupted
  | 'truncated' // size is neither a page multiple nor a page multiple plus a hash
  | 'not-etcd' // not a bolt database
  | 'empty';

export interface SnapshotFileCheck {
  size: number;
  /** sha256 of the whole file as it is on disk (what an operator compares with `sha256sum`). */
  sha256: string;
  verdict: SnapshotFileVerdict;
  mtime: Date;
  /** What the verdict means, for a report. */
  reason: string;
}

/** etcd's own rule (etcdutl hasChecksum): a snapshot with a hash is a 512-byte multiple plus 32 bytes. */
export function hasAppendedHash(size: number): boolean {
  return size % 512 === SHA_SIZE;
}

export interface BoltMeta {
  magic: number;
  version: number;
  pageSize: number;
  /** High-water mark: the database spans pgid pages. */
  pgid: bigint;
  txid: bigint;
  checksumOk: boolean;
}

/** FNV-1a 64, bbolt's meta page checksum. */
function fnv1a64(buf: Buffer): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of buf) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

/** Reads one bbolt meta page: 16-byte page header, then magic, version, pageSize, flags, root, freelist, pgid, txid, checksum. */
function parseBoltMeta(page: Buffer): BoltMeta | undefined {
  if (page.length < 16 + 64) return undefined;
  const m = page.subarray(16, 16 + 64);
  return {
    magic: m.readUInt32LE(0),
    version: m.readUInt32LE(4),
    pageSize: m.readUInt32LE(8),
    pgid: m.readBigUInt64LE(40),
    txid: m.readBigUInt64LE(48),
    checksumOk: fnv1a64(m.subarray(0, 56)) === m.readBigUInt64LE(56),
  };
}

/** The meta page bbolt would use: the valid one with the highest transaction id. */
async function readBoltMeta(file: string): Promise<BoltMeta | undefined> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(16 + 64);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const first = bytesRead === head.length ? parseBoltMeta(head) : undefined;
    if (!first || first.magic !== BOLT_MAGIC) return first;
    const metas = [first];
    if (first.pageSize >= 512 && first.pageSize <= 65536) {
      const second = Buffer.alloc(head.length);
      const r = await fh.read(second, 0, second.length, first.pageSize);
      const m = r.bytesRead === second.length ? parseBoltMeta(second) : undefined;
      if (m) metas.push(m);
    }
    const valid = metas.filter((m) => m.magic === BOLT_MAGIC && m.version === 2 && m.checksumOk);
    if (valid.length === 0) return { ...first, checksumOk: false };
    return valid.reduce((a, b) => (b.txid > a.txid ? b : a));
  } finally {
    await fh.close();
  }
}

export async function checkSnapshotFile(file: string, signal?: AbortSignal): Promise<SnapshotFileCheck> {
  const st = await stat(file);
  const size = st.size;
  // One hash for both: the content's digest is a copy of its state where the appended 32 bytes begin.
  const whole = createHash('sha256');
  let content: Buffer | undefined;
  const withHash = hasAppendedHash(size);
  const contentSize = withHash ? size - SHA_SIZE : size;
  let seen = 0;
  const trailer: Buffer[] = [];
  // One buffer, reused for every read: a stream would allocate a new chunk each time and leave the garbage
  // collector tens of megabytes behind on a large file (peak RSS must not grow with the database).
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fh = await open(file, 'r');
  try {
    for (;;) {
      if (signal?.aborted) throw new Error('aborted');
      const { bytesRead } = await fh.read(buf, 0, buf.length, seen);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      const start = seen;
      seen += bytesRead;
      if (withHash && seen > contentSize) {
        const cut = Math.max(0, contentSize - start);
        whole.update(chunk.subarray(0, cut));
        content ??= whole.copy().digest();
        whole.update(chunk.subarray(cut));
        trailer.push(Buffer.from(chunk.subarray(cut)));
      } else whole.update(chunk);
    }
  } finally {
    await fh.close();
  }
  const sha256 = whole.digest('hex');
  const base = { size, sha256, mtime: st.mtime };
  if (size === 0) return { ...base, verdict: 'empty', reason: 'the file is empty' };
  const meta = await readBoltMeta(file);
  if (!meta || meta.magic !== BOLT_MAGIC) return { ...base, verdict: 'not-etcd', reason: 'not an etcd snapshot: the file does not start with a bolt database header' };
  if (!meta.checksumOk) return { ...base, verdict: 'hash-mismatch', reason: 'both bolt meta pages fail their checksum: the file is corrupted' };
  // A file cut at a page boundary still opens (etcd 3.4 even reports a status for it): the meta page says how
  // many pages the database has, and they must all be there.
  const needed = meta.pgid * BigInt(meta.pageSize);
  if (BigInt(contentSize) < needed) {
    return { ...base, verdict: 'truncated', reason: `the database needs ${needed} bytes but the file holds ${contentSize}: the file is truncated` };
  }
  if (withHash) {
    const expected = Buffer.concat(trailer);
    const actual = content ?? Buffer.alloc(0);
    return expected.equals(actual)
      ? { ...base, verdict: 'ok', reason: 'the sha256 appended by snapshot save matches the content' }
      : { ...base, verdict: 'hash-mismatch', reason: 'the sha256 appended by snapshot save does not match the content: the file is corrupted' };
  }
  if (size % 4096 === 0) {
    return { ...base, verdict: 'no-hash', reason: 'no sha256 appended (a raw copy of member/snap/db?): restore needs --skip-hash-check and nothing proves the copy is whole' };
  }
  return { ...base, verdict: 'truncated', reason: `the size (${size} bytes) is not whole database pages: the file is truncated or was cut short while copying` };
}
