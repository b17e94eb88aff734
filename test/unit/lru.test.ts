import { describe, expect, it } from 'vitest';
import { LruConfigError, createLru } from '../../src/lru.ts';

const NEVER = Number.POSITIVE_INFINITY;

describe('bounded LRU with expiry', () => {
  it('keeps at most `capacity` entries, evicting the least recently used', () => {
    const lru = createLru<number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) lru.set(key, i, NEVER);
    expect(lru.get('a', 0)).toBe(0); // a is now the most recent; b is the least
    lru.set('d', 3, NEVER);
    expect(lru.size).toBe(3);
    expect(lru.get('b', 0)).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => lru.get(k, 0))).toEqual([0, 2, 3]);
  });

  it('overwriting a key refreshes it and does not grow the map', () => {
    const lru = createLru<string>(2);
    lru.set('a', 'old', NEVER);
    lru.set('b', 'b', NEVER);
    lru.set('a', 'new', NEVER);
    lru.set('c', 'c', NEVER); // evicts b, the least recently written
    expect(lru.size).toBe(2);
    expect(lru.get('a', 0)).toBe('new');
    expect(lru.get('b', 0)).toBeUndefined();
  });

  it('an entry expires at its expiry time and is dropped when read then', () => {
    const lru = createLru<string>(10);
    lru.set('k', 'v', 1_000);
    expect(lru.get('k', 999)).toBe('v');
    expect(lru.get('k', 1_000)).toBeUndefined();
    expect(lru.size).toBe(0);
    // Reading at an earlier time after the drop does not bring it back.
    expect(lru.get('k', 0)).toBeUndefined();
  });

  it('stays bounded under many distinct keys', () => {
    const lru = createLru<number>(100);
    for (let i = 0; i < 10_000; i++) lru.set(`k${i}`, i, NEVER);
    expect(lru.size).toBe(100);
    expect(lru.get('k9999', 0)).toBe(9999);
    expect(lru.get('k9899', 0)).toBeUndefined();
    expect(lru.get('k9900', 0)).toBe(9900);
  });

  it('delete and clear', () => {
    const lru = createLru<number>(4);
    lru.set('a', 1, NEVER);
    lru.set('b', 2, NEVER);
    expect(lru.delete('a')).toBe(true);
    expect(lru.delete('a')).toBe(false);
    expect(lru.get('a', 0)).toBeUndefined();
    lru.clear();
    expect(lru.size).toBe(0);
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createLru(bad)).toThrow(LruConfigError);
  });
});
