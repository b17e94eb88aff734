import { env } from 'cloudflare:test';
import { expect, vi } from 'vitest';
import { createShards, type Shards } from '../../db/shards.ts';
import { dialectOf } from '../../db/dialect.ts';
import { depsFor, shardDatabases } from '../../workers/composition.ts';

const TABLES = [
  'users',
  'handles',
  'posts',
  'likes',
  'comments',
  'shares',
  'user_posts',
  'follows_by_follower',
  'follows_by_followee',
  'interactions',
  'post_outbox',
  'follow_outbox',
  'idempotency_keys',
  'dead_letters',
  'blocks',
  'blocked_by',
  'mutes',
  'filters',
  'notifications',
  'markers',
] as const;

export type Table = (typeof TABLES)[number];

/** The shard databases of the configured backend: D1 bindings, or the Postgres ones behind D1's surface. */
export function shardBindings(): D1Database[] {
  const { config } = depsFor(env);
  return shardDatabases(env, config.storage, config.shardCount);
}

/** Row counts of every table, per shard: a snapshot to prove that a rejected request wrote nothing. */
export async function snapshot(): Promise<Record<Table, number[]>> {
  // One statement per shard (outside a request, a Postgres shard opens a connection per statement), as one row of
  // scalar subqueries: D1 refuses a UNION of this many terms.
  const query = `SELECT ${TABLES.map((table) => `(SELECT count(*) FROM ${table}) AS ${table}`).join(', ')}`;
  const rows = await Promise.all(shardBindings().map((db) => db.prepare(query).first<Record<Table, number>>()));
  const result = {} as Record<Table, number[]>;
  for (const table of TABLES) result[table] = rows.map((row) => row![table]);
  return result;
}

/**
 * Waits until no fan-out or follow is still in flight (their outbox rows are cleared once done), so that two
 * snapshots around a refused request differ only by what that request wrote.
 */
export async function settled(): Promise<void> {
  await vi.waitFor(
    async () => {
      const { post_outbox: posts, follow_outbox: follows } = await snapshot();
      expect([...posts, ...follows].every((n) => n === 0)).toBe(true);
    },
    { timeout: 10_000, interval: 50 },
  );
}

/**
 * The shards as the repositories see them: drizzle over each binding (or over `databases`, wrapped ones that fail
 * or count), placed by the configured map, in the configured backend's dialect.
 */
export function testShards(databases: readonly D1Database[] = shardBindings()): Shards {
  const { config } = depsFor(env);
  return createShards(databases, config.shardMap, dialectOf(config.storage));
}

/** Real D1 bindings whose statements matching `fails` throw before running: a write that never happened. */
export function failingWhen(fails: (query: string) => boolean, message = 'injected failure'): D1Database[] {
  return shardBindings().map(
    (db) =>
      new Proxy(db, {
        get(target, key) {
          const value: unknown = Reflect.get(target, key);
          if (key === 'prepare') {
            return (query: string) => {
              if (fails(query)) throw new Error(message);
              return target.prepare(query);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
  );
}
