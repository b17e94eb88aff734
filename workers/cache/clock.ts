/**
 * A clock that starts at the caller's `now` and advances with real time, for callers that only have a point in
 * time: the cache can still measure how long a load took (XFetch scales by it).
 */
export function clockFrom(now: number): () => number {
  const start = Date.now();
  return () => now + (Date.now() - start);
}
