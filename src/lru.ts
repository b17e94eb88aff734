/**
 * A bounded least-recently-used map whose entries also expire. Time is passed in, never read, so the same
 * code runs under a real clock in a Worker and under a test's clock in Node.
 *
 * Built on a `Map`, whose iteration order is insertion order: a read re-inserts the entry, so the first key is
 * always the least recently used one and eviction is O(1). Expired entries are dropped when they are read or
 * when eviction reaches them; nothing sweeps in the background (an isolate has no idle time to do it in).
 */
export interface Lru<V> {
  /** The value, if present and not expired at `now`; marks it most recently used. */
  get(key: string, now: number): V | undefined;
  /** Stores `value` until `expiresAt` (exclusive), evicting the least recently used entries beyond capacity. */
  set(key: string, value: V, expiresAt: number): void;
  delete(key: string): boolean;
  clear(): void;
  readonly size: number;
  readonly capacity: number;
}

export class LruConfigError extends Error {
  override name = 'LruConfigError';
}

interface Slot<V> {
  value: V;
  expiresAt: number;
}

export function createLru<V>(capacity: number): Lru<V> {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new LruConfigError(`an LRU needs a capacity of at least 1, not ${capacity}`);
  }
  const slots = new Map<string, Slot<V>>();
  return {
    get(key, now) {
      const slot = slots.get(key);
      if (!slot) return undefined;
      slots.delete(key);
      if (now >= slot.expiresAt) return undefined;
      slots.set(key, slot);
      return slot.value;
    },
    set(key, value, expiresAt) {
      slots.delete(key);
      slots.set(key, { value, expiresAt });
      while (slots.size > capacity) {
        const oldest = slots.keys().next();
        if (oldest.done) break;
        slots.delete(oldest.value);
      }
    },
    delete: (key) => slots.delete(key),
    clear: () => slots.clear(),
    get size() {
      return slots.size;
    },
    capacity,
  };
}
