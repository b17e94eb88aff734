/**
 * Hot-key detection: a sliding-window counter of reads, and the hot/cool decision made from it.
 *
 * The window is a ring of fixed buckets (e.g. 10 of 1 s for a 10 s window), so it slides in bucket steps,
 * costs O(buckets) memory whatever the read rate, and expiry drops whole buckets. Time is passed in; a clock
 * that steps backwards (another caller's slightly older `now`) counts into the newest bucket rather than
 * rewriting history.
 */
export interface SlidingCounter {
  readonly bucketMs: number;
  /** counts[i] holds the bucket whose index is congruent to i modulo the ring size. */
  readonly counts: number[];
  /** Index (time / bucketMs) of the newest bucket written, or -1 before the first write. */
  newest: number;
}

export interface HotKeyPolicy {
  /** The window the reads are counted over. */
  windowMs: number;
  /** Buckets in the window: its resolution. */
  buckets: number;
  /** A key becomes hot at this many reads within the window... */
  hotAt: number;
  /** ...and stays hot until it falls below this many (hysteresis, so a key near the threshold does not flap). */
  coolBelow: number;
}

export class HotKeyConfigError extends Error {
  override name = 'HotKeyConfigError';
}

export function createSlidingCounter(windowMs: number, buckets: number): SlidingCounter {
  if (!Number.isInteger(buckets) || buckets < 1 || !(windowMs >= buckets) || windowMs % buckets !== 0) {
    throw new HotKeyConfigError(`a window of ${windowMs} ms cannot be split into ${buckets} whole buckets`);
  }
  return { bucketMs: windowMs / buckets, counts: new Array<number>(buckets).fill(0), newest: -1 };
}

/** Moves the window to `now`, zeroing the buckets that left it; returns the bucket index to count into. */
function slideTo(counter: SlidingCounter, now: number): number {
  const ring = counter.counts.length;
  const index = Math.floor(now / counter.bucketMs);
  if (index <= counter.newest) return counter.newest;
  if (counter.newest < 0 || index - counter.newest >= ring) {
    counter.counts.fill(0);
  } else {
    for (let i = counter.newest + 1; i <= index; i++) counter.counts[i % ring] = 0;
  }
  counter.newest = index;
  return index;
}

/** Counts `n` reads at `now`. */
export function recordReads(counter: SlidingCounter, now: number, n = 1): void {
  const index = slideTo(counter, now);
  const ring = counter.counts.length;
  counter.counts[index % ring] = (counter.counts[index % ring] ?? 0) + n;
}

/** Reads counted within the window ending at `now`. */
export function readsInWindow(counter: SlidingCounter, now: number): number {
  slideTo(counter, now);
  return counter.counts.reduce((sum, c) => sum + c, 0);
}

export function validateHotKeyPolicy(policy: HotKeyPolicy): HotKeyPolicy {
  createSlidingCounter(policy.windowMs, policy.buckets);
  if (!(policy.coolBelow >= 1 && policy.coolBelow <= policy.hotAt)) {
    throw new HotKeyConfigError(`coolBelow (${policy.coolBelow}) must be within 1..hotAt (${policy.hotAt})`);
  }
  return policy;
}

/** Whether a key with `reads` in the window is hot, given whether it was hot before. */
export function isHot(policy: HotKeyPolicy, reads: number, wasHot: boolean): boolean {
  return reads >= policy.hotAt || (wasHot && reads >= policy.coolBelow);
}
