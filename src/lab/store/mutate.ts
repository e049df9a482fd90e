/**
 * Read-modify-write with retry on 409 Conflict, the one loop behind LabStore.mutate (the memory store and the
 * mirror of a real API server): `fn` gets a private clone; returning undefined with nothing changed skips the write.
 */
import { ApiError, type KubeObject } from './types.js';

export async function readModifyWrite(
  /** The current object; `attempt` 0 is the first read, later ones follow a conflict. */
  read: (attempt: number) => KubeObject | Promise<KubeObject>,
  write: (next: KubeObject) => Promise<KubeObject>,
  fn: (obj: KubeObject) => KubeObject | undefined | void,
  retries: number,
): Promise<KubeObject> {
  for (let attempt = 0; ; attempt++) {
    const cur = await read(attempt);
    const copy = structuredClone(cur);
    const r = fn(copy);
    if (r === undefined && JSON.stringify(copy) === JSON.stringify(cur)) return cur;
    const next = r ?? copy;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    try {
      return await write(next);
    } catch (e) {
      if (e instanceof ApiError && e.code === 409 && attempt < retries) continue;
      throw e;
    }
  }
}
