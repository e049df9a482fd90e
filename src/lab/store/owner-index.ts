/**
 * owner uid → dependents: which objects name an owner in metadata.ownerReferences. One index, kept by the store
 * (a Foreground or Orphan delete asks for a finalizer only when there are dependents) and by the garbage
 * collector (src/lab/controllers/garbage-collector.ts, from the watch events it acts on).
 */

/** Where an object is: "resource|namespace|name" (namespace empty when cluster-scoped). */
export function objectKey(resource: string, namespace: string | undefined, name: string): string {
  return `${resource}|${namespace ?? ''}|${name}`;
}

export class OwnerIndex {
  private readonly dependents = new Map<string, Set<string>>();
  /** object key → the owner uids it is indexed under */
  private readonly owners = new Map<string, readonly string[]>();

  /** Indexes the object at `key` under these owners, in place of what it was indexed under before. */
  set(key: string, ownerUids: readonly string[]): void {
    this.remove(key);
    if (ownerUids.length === 0) return;
    this.owners.set(key, ownerUids);
    for (const uid of ownerUids) {
      let s = this.dependents.get(uid);
      if (!s) this.dependents.set(uid, (s = new Set()));
      s.add(key);
    }
  }

  remove(key: string): void {
    for (const uid of this.owners.get(key) ?? []) {
      const s = this.dependents.get(uid);
      s?.delete(key);
      if (s && s.size === 0) this.dependents.delete(uid);
    }
    this.owners.delete(key);
  }

  /** The keys of the objects that name this owner. */
  dependentsOf(uid: string): string[] {
    return [...(this.dependents.get(uid) ?? [])];
  }

  hasDependents(uid: string): boolean {
    return (this.dependents.get(uid)?.size ?? 0) > 0;
  }
}
