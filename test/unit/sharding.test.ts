import { describe, expect, it } from 'vitest';
import { createIdGenerator } from '../../src/ids.ts';
import {
  BUCKET_COUNT,
  ShardMapError,
  bucketOf,
  createShardMap,
  groupByShard,
  shardOf,
  type ShardMap,
} from '../../src/sharding.ts';

const FIXED = Date.UTC(2025, 2, 3, 4, 5, 6);

/** Deterministic, realistic keys: ids minted over a moving clock by a few nodes. */
function ids(count: number): string[] {
  let tick = 0;
  const gens = [7, 300, 901].map((node) => createIdGenerator({ node, now: () => FIXED + Math.floor(tick / 5) * 13 }));
  return Array.from({ length: count }, () => gens[tick++ % gens.length]!());
}

function countPerShard(map: ShardMap, keys: string[]): number[] {
  const counts = new Array<number>(map.shardCount).fill(0);
  for (const key of keys) counts[shardOf(map, key)]! += 1;
  return counts;
}

describe('bucketOf', () => {
  it('is FNV-1a (32-bit) modulo the bucket count, so placement is stable across releases', () => {
    // Published FNV-1a 32-bit test vectors.
    expect(bucketOf('')).toBe(0x811c9dc5 % BUCKET_COUNT);
    expect(bucketOf('a')).toBe(0xe40c292c % BUCKET_COUNT);
    expect(bucketOf('foobar')).toBe(0xbf9cf968 % BUCKET_COUNT);
  });

  it('is deterministic and an integer in 0..1023', () => {
    const keys = [...ids(2000), '', 'a', 'été', '👍🏽', 'x'.repeat(5000), '0', '-1'];
    for (const key of keys) {
      const bucket = bucketOf(key);
      expect(Number.isInteger(bucket)).toBe(true);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKET_COUNT);
      expect(bucketOf(key)).toBe(bucket);
      expect(bucketOf(key.slice())).toBe(bucket);
    }
  });

  it('spreads 100k ids over all buckets and evenly over the shards of the default 4-shard map', () => {
    const keys = ids(100_000);
    const buckets = new Array<number>(BUCKET_COUNT).fill(0);
    for (const key of keys) buckets[bucketOf(key)]! += 1;
    expect(buckets.every((n) => n > 0)).toBe(true);
    // ~98 per bucket expected; a badly mixed hash piles keys into a few buckets.
    expect(Math.max(...buckets)).toBeLessThan(98 * 3);

    const counts = countPerShard(createShardMap(4), keys);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(keys.length);
    for (const n of counts) {
      expect(n / keys.length).toBeGreaterThanOrEqual(0.2);
      expect(n / keys.length).toBeLessThanOrEqual(0.3);
    }
  });

  it('spreads sequential numeric strings evenly too', () => {
    const keys = Array.from({ length: 100_000 }, (_, i) => String(i));
    for (const n of countPerShard(createShardMap(4), keys)) {
      expect(n / keys.length).toBeGreaterThanOrEqual(0.2);
      expect(n / keys.length).toBeLessThanOrEqual(0.3);
    }
  });
});

describe('createShardMap without a spec', () => {
  it('assigns 4 shards contiguous ranges of 256 buckets', () => {
    const map = createShardMap(4);
    expect(map.shardCount).toBe(4);
    expect(map.buckets).toHaveLength(BUCKET_COUNT);
    expect(map.buckets[0]).toBe(0);
    expect(map.buckets[255]).toBe(0);
    expect(map.buckets[256]).toBe(1);
    expect(map.buckets[511]).toBe(1);
    expect(map.buckets[512]).toBe(2);
    expect(map.buckets[767]).toBe(2);
    expect(map.buckets[768]).toBe(3);
    expect(map.buckets[1023]).toBe(3);
    map.buckets.forEach((shard, b) => expect(shard).toBe(Math.floor(b / 256)));
  });

  it.each([1, 2, 3, 5, 7, 1000, 1024])(
    'gives %i shards contiguous, near-equal ranges covering every shard',
    (count) => {
      const map = createShardMap(count);
      expect(map.buckets).toHaveLength(BUCKET_COUNT);
      expect(map.buckets[0]).toBe(0);
      expect(map.buckets[BUCKET_COUNT - 1]).toBe(count - 1);
      const sizes = new Array<number>(count).fill(0);
      for (let b = 0; b < BUCKET_COUNT; b++) {
        const shard = map.buckets[b]!;
        expect(Number.isInteger(shard) && shard >= 0 && shard < count).toBe(true);
        if (b > 0) expect(shard - map.buckets[b - 1]!).toBeGreaterThanOrEqual(0);
        if (b > 0) expect(shard - map.buckets[b - 1]!).toBeLessThanOrEqual(1);
        sizes[shard]! += 1;
      }
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    },
  );

  it('maps each bucket to itself with 1024 shards', () => {
    const map = createShardMap(1024);
    map.buckets.forEach((shard, b) => expect(shard).toBe(b));
  });

  it('treats an empty spec as no spec', () => {
    expect(createShardMap(4, '').buckets).toEqual(createShardMap(4).buckets);
  });
});

describe('createShardMap with a spec', () => {
  it('maps the ranges of "0:0,512:1"', () => {
    const map = createShardMap(2, '0:0,512:1');
    expect(map.shardCount).toBe(2);
    expect(map.buckets).toHaveLength(BUCKET_COUNT);
    map.buckets.forEach((shard, b) => expect(shard).toBe(b < 512 ? 0 : 1));
  });

  it('reproduces the default map when the spec lists the default ranges', () => {
    expect(createShardMap(4, '0:0,256:1,512:2,768:3').buckets).toEqual(createShardMap(4).buckets);
  });

  it('accepts unsorted entries and surrounding whitespace', () => {
    const map = createShardMap(3, ' 700:2 , 0:1,100:0 ');
    map.buckets.forEach((shard, b) => expect(shard).toBe(b < 100 ? 1 : b < 700 ? 0 : 2));
  });

  it('supports single-bucket ranges and a range starting at the last bucket', () => {
    const map = createShardMap(3, '0:0,10:1,11:0,1023:2');
    expect(map.buckets[9]).toBe(0);
    expect(map.buckets[10]).toBe(1);
    expect(map.buckets[11]).toBe(0);
    expect(map.buckets[1022]).toBe(0);
    expect(map.buckets[1023]).toBe(2);
  });

  it('moves only the keys of a moved range when resharding', () => {
    const before = createShardMap(4, '0:0,256:1,512:2,768:3');
    const after = createShardMap(4, '0:0,256:1,512:2,640:0,768:3');
    for (let b = 0; b < BUCKET_COUNT; b++) {
      expect(after.buckets[b]).toBe(b >= 640 && b < 768 ? 0 : before.buckets[b]);
    }
    const keys = ids(20_000);
    let moved = 0;
    for (const key of keys) {
      const bucket = bucketOf(key);
      const inRange = bucket >= 640 && bucket < 768;
      if (inRange) {
        expect(shardOf(before, key)).toBe(2);
        expect(shardOf(after, key)).toBe(0);
        moved++;
      } else {
        expect(shardOf(after, key)).toBe(shardOf(before, key));
      }
    }
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(keys.length / 4);
  });

  it.each([
    ['not starting at bucket 0', 4, '256:0,512:1'],
    ['shard equal to the count', 4, '0:0,512:4'],
    ['shard above the count', 2, '0:0,512:9'],
    ['bucket 1024', 4, '0:0,1024:1'],
    ['huge bucket', 4, '0:0,99999999999999999999:1'],
    ['garbage', 4, 'garbage'],
    ['missing shard', 4, '0:0,512:'],
    ['missing bucket', 4, '0:0,:1'],
    ['trailing comma', 4, '0:0,'],
    ['wrong separator', 4, '0:0;512:1'],
    ['negative bucket', 4, '0:0,-1:1'],
    ['negative shard', 4, '0:-1'],
    ['fractional shard', 4, '0:1.5'],
    ['a lone comma', 4, ','],
  ])('rejects a spec with %s', (_name, count, spec) => {
    expect(() => createShardMap(count, spec)).toThrow(ShardMapError);
  });

  it('names its error', () => {
    const error: unknown = (() => {
      try {
        createShardMap(4, 'garbage');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ShardMapError);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('ShardMapError');
  });
});

describe('shard counts', () => {
  it.each([0, 1025, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects %s shards', (count) => {
    expect(() => createShardMap(count)).toThrow(ShardMapError);
    expect(() => createShardMap(count, '0:0')).toThrow(ShardMapError);
  });

  it('accepts 1 and 1024 shards', () => {
    expect(createShardMap(1).buckets.every((s) => s === 0)).toBe(true);
    expect(createShardMap(1024).shardCount).toBe(1024);
  });
});

describe('shardOf and groupByShard', () => {
  it('shardOf reads the bucket of the key from the map', () => {
    const map = createShardMap(3, '0:2,300:0,900:1');
    for (const key of ids(500)) expect(shardOf(map, key)).toBe(map.buckets[bucketOf(key)]);
  });

  it('puts every key in exactly one group, the one shardOf names, in input order', () => {
    const map = createShardMap(4);
    const keys = ids(3000);
    const groups = groupByShard(map, keys);
    let total = 0;
    for (const [shard, group] of groups) {
      expect(group.length).toBeGreaterThan(0);
      for (const key of group) expect(shardOf(map, key)).toBe(shard);
      const positions = group.map((key) => keys.indexOf(key));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      total += group.length;
    }
    expect(total).toBe(keys.length);
    const seen = [...groups.values()].flat();
    expect(new Set(seen).size).toBe(keys.length);
    expect([...groups.keys()].sort()).toEqual([0, 1, 2, 3]);
  });

  it('accepts any iterable and returns no groups for no keys', () => {
    const map = createShardMap(2);
    expect(groupByShard(map, []).size).toBe(0);
    const keys = new Set(ids(50));
    const groups = groupByShard(map, keys.values());
    expect([...groups.values()].flat().sort()).toEqual([...keys].sort());
  });

  it('keeps duplicate keys together in the same group', () => {
    const map = createShardMap(4);
    const key = ids(1)[0]!;
    const groups = groupByShard(map, [key, key]);
    expect(groups.size).toBe(1);
    expect(groups.get(shardOf(map, key))).toEqual([key, key]);
  });
});
