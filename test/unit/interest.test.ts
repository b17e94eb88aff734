import { describe, expect, it } from 'vitest';
import {
  DWELL_FULL_MS,
  INTEREST_HALF_LIFE_MS,
  addEngagement,
  engagementWeight,
  foldEngagements,
  interestVector,
  type Interest,
} from '../../src/interest.ts';
import { decodeVector, dot, encodeVector, norm, normalize } from '../../src/vectors.ts';
import { createRng } from '../../src/random.ts';

const T0 = Date.UTC(2026, 10, 1);
const M = 'model-a';

describe('engagement weights', () => {
  it('like 1, comment 3, share 5, dwell up to a like at 30 s, view 0', () => {
    expect(engagementWeight('like')).toBe(1);
    expect(engagementWeight('comment')).toBe(3);
    expect(engagementWeight('share')).toBe(5);
    expect(engagementWeight('dwell', DWELL_FULL_MS / 2)).toBeCloseTo(0.5, 12);
    expect(engagementWeight('dwell', 10 * DWELL_FULL_MS)).toBe(1);
    expect(engagementWeight('view')).toBe(0);
  });
});

describe('interest vector', () => {
  it('is the weighted average direction of engaged posts', () => {
    const interest = foldEngagements([
      { model: M, vector: [1, 0], weight: 1, at: T0 },
      { model: M, vector: [0, 1], weight: 3, at: T0 },
    ]);
    const v = interestVector(interest)!;
    expect(v[1]! / v[0]!).toBeCloseTo(3, 5);
    expect(norm(v)).toBeCloseTo(1, 6);
  });

  it('decays: an engagement a half-life older weighs half', () => {
    const interest = foldEngagements([
      { model: M, vector: [1, 0], weight: 1, at: T0 },
      { model: M, vector: [0, 1], weight: 1, at: T0 + INTEREST_HALF_LIFE_MS },
    ])!;
    expect(interest.sum[0]! / interest.sum[1]!).toBeCloseTo(0.5, 6);
    expect(interest.weight).toBeCloseTo(1.5, 6);
  });

  it('does not depend on the order engagements arrive in (queues do not keep it)', () => {
    const rng = createRng(7);
    const events = Array.from({ length: 20 }, (_, i) => ({
      model: M,
      vector: Array.from({ length: 8 }, () => rng() - 0.5),
      weight: 1 + (i % 5),
      at: T0 + Math.floor(rng() * 20 * 86_400_000),
    }));
    let arrival: Interest | null = null;
    for (const e of [...events].reverse()) arrival = addEngagement(arrival, e);
    const sorted = foldEngagements(events)!;
    expect(arrival?.at).toBe(sorted.at);
    expect(arrival?.weight).toBeCloseTo(sorted.weight, 9);
    sorted.sum.forEach((x, i) => expect(arrival?.sum[i]).toBeCloseTo(x, 5));
  });

  it('starts over when the model changes, since vectors of two models are not comparable', () => {
    const before = addEngagement(null, { model: M, vector: [1, 0, 0], weight: 5, at: T0 });
    const after = addEngagement(before, { model: 'model-b', vector: [0, 1], weight: 1, at: T0 + 1 });
    expect(after.model).toBe('model-b');
    expect([...after.sum]).toEqual([0, 1]);
    expect(after.weight).toBe(1);
  });

  it('is null before any engagement with a vector', () => {
    expect(interestVector(null)).toBeNull();
    expect(interestVector(foldEngagements([]))).toBeNull();
  });
});

describe('vector encoding', () => {
  it('int8 with a scale keeps dot products of unit vectors within 1%', () => {
    const rng = createRng(42);
    for (let trial = 0; trial < 20; trial++) {
      const a = normalize(Array.from({ length: 384 }, () => rng() - 0.5))!;
      const b = normalize(Array.from({ length: 384 }, (_, i) => a[i]! + (rng() - 0.5) * 0.1))!;
      const exact = dot(a, b);
      const stored = dot(decodeVector(encodeVector(a)), decodeVector(encodeVector(b)));
      expect(Math.abs(stored - exact)).toBeLessThan(0.01);
      expect(encodeVector(a).length).toBe(4 + 384);
    }
  });

  it('round-trips from a view into a larger buffer (as D1 and RPC hand them over)', () => {
    const bytes = encodeVector([0.5, -0.25, 0]);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    const decoded = decodeVector(padded.subarray(3));
    expect(decoded[0]).toBeCloseTo(0.5, 2);
    expect(decoded[1]).toBeCloseTo(-0.25, 2);
    expect(decoded[2]).toBe(0);
  });

  it('the zero vector has no direction', () => {
    expect(normalize([0, 0])).toBeNull();
    expect(() => dot([1], [1, 2])).toThrow(RangeError);
  });
});
