import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import pkg from '../../../package.json' with { type: 'json' };
import { shardsFromEnv } from '../../../db/shards.ts';
import { embedderHealth } from '../../embedding/index.ts';
import { cacheStats } from '../../cache/index.ts';
import type { AppEnv } from '../context.ts';

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await check();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Liveness plus what is bound: a failing shard shows here, with the reason, and turns the status to 503. The
 * embedder's state is reported but does not: without it, ranking goes on with the other signals.
 */
export const healthRoutes = new Hono<AppEnv>().get('/', async (c) => {
  const shards = shardsFromEnv(c.env);
  const [shardStatus, embedder] = await Promise.all([
    Promise.all(shards.all.map((db) => probe(() => db.run(sql`SELECT 1`)))),
    embedderHealth(c.env),
  ]);
  const ok = shardStatus.every((s) => s.ok);
  return c.json(
    {
      status: ok ? 'ok' : 'degraded',
      version: pkg.version,
      bindings: {
        shards: shardStatus.map((s, i) => ({ binding: `DB_SHARD_${i}`, ...s })),
        durableObjects: {
          USER_TIMELINE: Boolean(c.env.USER_TIMELINE),
          AUTHOR_FEED: Boolean(c.env.AUTHOR_FEED),
          TRENDING: Boolean(c.env.TRENDING),
        },
        queues: { FANOUT_QUEUE: Boolean(c.env.FANOUT_QUEUE), FANOUT_LOW_QUEUE: Boolean(c.env.FANOUT_LOW_QUEUE) },
      },
      embedder,
      // This isolate's cache counters since it started (hit ratios, origin loads: the benchmark reads them).
      cache: { l2: Boolean(c.var.deps.cache?.l2), stats: cacheStats() },
      config: {
        shardCount: shards.map.shardCount,
        fanoutPushMax: Number(c.env.FANOUT_PUSH_MAX),
        fanoutPullMin: Number(c.env.FANOUT_PULL_MIN),
      },
    },
    ok ? 200 : 503,
  );
});
