/**
 * Two-level placement: a key hashes to one of BUCKET_COUNT logical buckets, and a shard map assigns buckets
 * to physical shards. Resharding moves whole buckets by editing the map; keys never rehash.
 */
export const BUCKET_COUNT = 1024;

/** FNV-1a over UTF-16 code units: cheap, stable across runtimes, and well spread for numeric strings. */
export function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % BUCKET_COUNT;
}

export interface ShardMap {
  readonly shardCount: number;
  /** bucket -> shard index, BUCKET_COUNT entries. */
  readonly buckets: readonly number[];
}

export class ShardMapError extends Error {
  override name = 'ShardMapError';
}

/**
 * Builds the map. Without a spec, buckets are split into contiguous equal ranges. A spec lists where each
 * range starts, `"0:0,256:1,512:2,768:3"` (bucket:shard), so an operator can move a range to a new shard.
 */
export function createShardMap(shardCount: number, spec?: string): ShardMap {
  if (!Number.isInteger(shardCount) || shardCount < 1 || shardCount > BUCKET_COUNT) {
    throw new ShardMapError(`shard count must be an integer in 1..${BUCKET_COUNT}, got ${shardCount}`);
  }
  const buckets = new Array<number>(BUCKET_COUNT);
  if (!spec) {
    for (let b = 0; b < BUCKET_COUNT; b++) buckets[b] = Math.floor((b * shardCount) / BUCKET_COUNT);
    return { shardCount, buckets };
  }
  const starts = spec.split(',').map((part) => {
    const match = /^\s*(\d+):(\d+)\s*$/.exec(part);
    if (!match) throw new ShardMapError(`bad shard map entry "${part}", expected bucket:shard`);
    const bucket = Number(match[1]);
    const shard = Number(match[2]);
    if (bucket >= BUCKET_COUNT || shard >= shardCount) {
      throw new ShardMapError(`shard map entry "${part}" is out of range`);
    }
    return { bucket, shard };
  });
  starts.sort((a, b) => a.bucket - b.bucket);
  if (starts[0]?.bucket !== 0) throw new ShardMapError('shard map must start at bucket 0');
  let next = 0;
  for (let b = 0; b < BUCKET_COUNT; b++) {
    while (next + 1 < starts.length && starts[next + 1]!.bucket <= b) next++;
    buckets[b] = starts[next]!.shard;
  }
  return { shardCount, buckets };
}

export function shardOf(map: ShardMap, key: string): number {
  return map.buckets[bucketOf(key)]!;
}

/** Groups keys by the shard that holds them, so a batch read costs one query per shard. */
export function groupByShard(map: ShardMap, keys: Iterable<string>): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const key of keys) {
    const shard = shardOf(map, key);
    const group = groups.get(shard);
    if (group) group.push(key);
    else groups.set(shard, [key]);
  }
  return groups;
}
