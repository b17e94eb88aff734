import { describe, expect, it } from 'vitest';
import { HOT_AUTHOR } from '../../src/cache-policy.ts';
import {
  HotKeyConfigError,
  createSlidingCounter,
  isHot,
  readsInWindow,
  recordReads,
  validateHotKeyPolicy,
} from '../../src/hot-keys.ts';

const T0 = 1_000_000_000; // a multiple of every bucket size used here

describe('sliding-window read counter', () => {
  it('counts reads within the window and forgets them bucket by bucket as it slides', () => {
    const counter = createSlidingCounter(10_000, 10); // ten buckets of 1 s
    recordReads(counter, T0, 5);
    recordReads(counter, T0 + 4_500, 3);
    recordReads(counter, T0 + 9_999, 2);
    expect(readsInWindow(counter, T0 + 9_999)).toBe(10);
    // A read leaves the window ten buckets after its own bucket began.
    expect(readsInWindow(counter, T0 + 10_000)).toBe(5);
    expect(readsInWindow(counter, T0 + 13_999)).toBe(5);
    expect(readsInWindow(counter, T0 + 14_000)).toBe(2);
    expect(readsInWindow(counter, T0 + 18_999)).toBe(2);
    expect(readsInWindow(counter, T0 + 19_000)).toBe(0);
  });

  it('a long silence empties the window however large the gap', () => {
    const counter = createSlidingCounter(10_000, 10);
    recordReads(counter, T0, 100);
    expect(readsInWindow(counter, T0 + 3_600_000)).toBe(0);
    recordReads(counter, T0 + 3_600_000, 1);
    expect(readsInWindow(counter, T0 + 3_600_000)).toBe(1);
  });

  it('a caller slightly behind counts into the newest bucket instead of rewriting history', () => {
    const counter = createSlidingCounter(10_000, 10);
    recordReads(counter, T0 + 5_000, 1);
    recordReads(counter, T0 + 2_000, 1); // an older `now` from another caller
    expect(readsInWindow(counter, T0 + 5_000)).toBe(2);
    // Both reads leave the window together, with the newest bucket.
    expect(readsInWindow(counter, T0 + 15_000)).toBe(0);
  });

  it('matches a brute-force count of timestamped reads at bucket resolution', () => {
    const counter = createSlidingCounter(6_000, 6);
    const reads: number[] = [];
    let t = T0;
    for (let i = 0; i < 500; i++) {
      t += (i * 7919) % 900; // irregular gaps of 0-899 ms
      recordReads(counter, t);
      reads.push(t);
      const windowStart = (Math.floor(t / 1_000) - 5) * 1_000;
      expect(readsInWindow(counter, t)).toBe(reads.filter((r) => r >= windowStart).length);
    }
  });

  it('refuses windows that do not split into whole buckets', () => {
    expect(() => createSlidingCounter(10_000, 3)).toThrow(HotKeyConfigError);
    expect(() => createSlidingCounter(10_000, 0)).toThrow(HotKeyConfigError);
    expect(() => createSlidingCounter(5, 10)).toThrow(HotKeyConfigError);
  });
});

describe('hot or not', () => {
  const policy = { windowMs: 10_000, buckets: 10, hotAt: 100, coolBelow: 50 };

  it('becomes hot at hotAt and cools only below coolBelow (hysteresis)', () => {
    expect(isHot(policy, 99, false)).toBe(false);
    expect(isHot(policy, 100, false)).toBe(true);
    expect(isHot(policy, 60, true)).toBe(true);
    expect(isHot(policy, 50, true)).toBe(true);
    expect(isHot(policy, 49, true)).toBe(false);
    expect(isHot(policy, 60, false)).toBe(false);
  });

  it('a read rate above the threshold makes a key hot within one window, and silence cools it', () => {
    const counter = createSlidingCounter(policy.windowMs, policy.buckets);
    let hot = false;
    let becameHotAt: number | undefined;
    for (let t = T0; t < T0 + 20_000; t += 50) {
      recordReads(counter, t); // 20 reads per second: 200 per window
      hot = isHot(policy, readsInWindow(counter, t), hot);
      if (hot) becameHotAt ??= t;
    }
    expect(becameHotAt).toBeDefined();
    expect(becameHotAt! - T0).toBeLessThan(policy.windowMs);
    expect(isHot(policy, readsInWindow(counter, T0 + 40_000), hot)).toBe(false);
  });

  it('the AuthorFeed policy is valid', () => {
    expect(validateHotKeyPolicy(HOT_AUTHOR)).toBe(HOT_AUTHOR);
    expect(() => validateHotKeyPolicy({ ...HOT_AUTHOR, coolBelow: HOT_AUTHOR.hotAt + 1 })).toThrow(HotKeyConfigError);
  });
});
