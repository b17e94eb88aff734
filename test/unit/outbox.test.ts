import { describe, expect, it } from 'vitest';
import { createIdGenerator } from '../../src/ids.ts';
import { OutboxError, isIdempotencyKey, mintOnShardOf, nextDueAt, parseFaultSpec } from '../../src/outbox.ts';
import { createShardMap, shardOf } from '../../src/sharding.ts';

describe('outbox helpers', () => {
  it('mints post ids on the shard of the author, still in time order', () => {
    const map = createShardMap(4);
    const newId = createIdGenerator({ node: 1 });
    let last = '';
    for (const author of ['1577569550991970313', '1577569550991970314', '42', 'x']) {
      for (let i = 0; i < 20; i++) {
        const id = mintOnShardOf(newId, map, author);
        expect(shardOf(map, id)).toBe(shardOf(map, author));
        expect(id > last).toBe(true);
        last = id;
      }
    }
  });

  it('gives up, loudly, when no draw can land on the shard', () => {
    const map = createShardMap(2);
    const constant = () => '1577569550991970313';
    const other = ['1', '2', '3', '4', '5'].find((k) => shardOf(map, k) !== shardOf(map, constant()))!;
    expect(() => mintOnShardOf(constant, map, other)).toThrow(OutboxError);
  });

  it('backs off by doubling from the delay, capped at 32 times it', () => {
    expect(nextDueAt(1000, 0, 30)).toBe(1030);
    expect(nextDueAt(1000, 1, 30)).toBe(1060);
    expect(nextDueAt(1000, 3, 30)).toBe(1240);
    expect(nextDueAt(1000, 50, 30)).toBe(1000 + 30 * 32);
  });

  it('takes idempotency keys of 1-255 printable ASCII characters', () => {
    expect(isIdempotencyKey(crypto.randomUUID())).toBe(true);
    expect(isIdempotencyKey('a'.repeat(255))).toBe(true);
    expect(isIdempotencyKey('')).toBe(false);
    expect(isIdempotencyKey('a'.repeat(256))).toBe(false);
    expect(isIdempotencyKey('with space')).toBe(false);
    expect(isIdempotencyKey('é')).toBe(false);
  });

  it('parses fault specs and refuses what it does not know', () => {
    expect(parseFaultSpec('')).toEqual({ rates: {}, seed: 1 });
    expect(parseFaultSpec('d1.write=0.2, queue.send=0.1,delivery=1,seed=7')).toEqual({
      rates: { 'd1.write': 0.2, 'queue.send': 0.1, delivery: 1 },
      seed: 7,
    });
    expect(() => parseFaultSpec('d1.write=2')).toThrow(/from 0 to 1/);
    expect(() => parseFaultSpec('disk=0.1')).toThrow(/unknown fault point/);
    expect(() => parseFaultSpec('d1.write')).toThrow(/name=number/);
  });
});
