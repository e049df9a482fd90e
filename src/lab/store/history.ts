/**
 * The store's watch history: the last `capacity` events, kept for watches that resume from a resourceVersion.
 * A fixed-size ring so that a write costs O(1) once the history is full (copying the array on every write made
 * each write O(capacity), 20,000 entries by default).
 */

interface Versioned {
  rv: number;
}

export class WatchHistory<E extends Versioned> {
  private readonly ring: (E | undefined)[];
  /** Index of the oldest entry in `ring`. */
  private head = 0;
  private count = 0;
  /** Resume is possible from any resourceVersion >= start: everything after it is still here. */
  private startRv: number;

  constructor(
    readonly capacity: number,
    start = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`watch history capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<E | undefined>(capacity);
    this.startRv = start;
  }

  /** The oldest resourceVersion a watch may resume from; older ones are 410 Expired. */
  get start(): number {
    return this.startRv;
  }

  get size(): number {
    return this.count;
  }

  /** Forgets every entry; resume becomes possible from `start` on (a store loaded at that revision). */
  reset(start: number): void {
    this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.startRv = start;
  }

  push(e: E): void {
    if (this.count < this.capacity) {
      this.ring[(this.head + this.count) % this.capacity] = e;
      this.count++;
      return;
    }
    // Full: the oldest entry is overwritten, and resuming from its resourceVersion or earlier is no longer possible.
    this.startRv = this.ring[this.head]!.rv;
    this.ring[this.head] = e;
    this.head = (this.head + 1) % this.capacity;
  }

  /** Entries with rv > from, oldest first. */
  *since(from: number): Generator<E> {
    // A linear scan, as before the ring: commit order is not guaranteed to be rv order with every backend.
    for (let i = 0; i < this.count; i++) {
      const e = this.at(i);
      if (e.rv > from) yield e;
    }
  }

  private at(i: number): E {
    return this.ring[(this.head + i) % this.capacity]!;
  }

  /** The backing array, for tests that check no write copies the history. */
  get storageForTest(): readonly unknown[] {
    return this.ring;
  }
}
