import { drizzle, type DrizzleD1Database } from 'drizzle-orm/d1';
import { groupByShard, shardOf, type ShardMap } from '../src/sharding.ts';
import type { Dialect } from './dialect.ts';
import * as schema from './schema.ts';

export type ShardDb = DrizzleD1Database<typeof schema>;

/**
 * The shards (D1 databases, or Postgres ones through db/shards-pg.ts, which speaks D1's surface) and the bucket map
 * that places keys on them. Repositories are the only users; `dialect` holds the SQL that differs between the two.
 */
export interface Shards {
  readonly map: ShardMap;
  readonly dialect: Dialect;
  readonly all: readonly ShardDb[];
  of(key: string): ShardDb;
  /** Keys grouped by shard, for one query per shard. */
  group(keys: Iterable<string>): Array<[ShardDb, string[]]>;
  /** Runs `query` once per shard that holds any of `keys` (deduplicated), in parallel, and concatenates. */
  queryByKeys<T>(keys: Iterable<string>, query: (db: ShardDb, keys: string[]) => Promise<T[]>): Promise<T[]>;
}

export function createShards(databases: readonly D1Database[], map: ShardMap, dialect: Dialect): Shards {
  if (databases.length !== map.shardCount) {
    throw new Error(`shard map expects ${map.shardCount} databases, got ${databases.length}`);
  }
  const all = databases.map((d1) => drizzle(d1, { schema }));
  return {
    map,
    dialect,
    all,
    of: (key) => all[shardOf(map, key)]!,
    group: (keys) => [...groupByShard(map, keys)].map(([shard, group]) => [all[shard]!, group]),
    async queryByKeys(keys, query) {
      const groups = [...groupByShard(map, new Set(keys))];
      return (await Promise.all(groups.map(([shard, group]) => query(all[shard]!, group)))).flat();
    },
  };
}
