/**
 * Per-isolate cache counters, for the benchmark's hit ratios and origin loads per second. Keys are a policy
 * name (`post`, `author-recent`, `edge-post`, ...) or a policy name and a level (`post.l2`, `author-recent.edge`).
 *
 * - hits: reads answered from a cached copy (fresh or stale);
 * - misses: reads that found no usable copy (they waited for a load, their own or a shared one);
 * - loads: keys read from the level below (the origin, for a policy's own entry), background refreshes included;
 * - stale: hits served stale while a refresh ran.
 */
export interface CacheCounters {
  hits: number;
  misses: number;
  loads: number;
  stale: number;
}

const counters = new Map<string, CacheCounters>();

export function countersFor(name: string): CacheCounters {
  let c = counters.get(name);
  if (!c) {
    c = { hits: 0, misses: 0, loads: 0, stale: 0 };
    counters.set(name, c);
  }
  return c;
}

/** A snapshot of this isolate's counters since it started. */
export function cacheStats(): Record<string, CacheCounters> {
  return Object.fromEntries([...counters].map(([name, c]) => [name, { ...c }]));
}
