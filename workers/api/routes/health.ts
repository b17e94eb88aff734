import { Hono } from 'hono';
import { z } from 'zod';
import pkg from '../../../package.json' with { type: 'json' };
import { embedderHealth } from '../../embedding/index.ts';
import { cacheStats } from '../../cache/index.ts';
import { isAdmin } from '../auth.ts';
import { shardBindingName } from '../../composition.ts';
import type { AppEnv } from '../context.ts';
import { describeRoutes } from '../route-docs.ts';

/**
 * Liveness for everyone: `{status}`, 503 when a shard fails. The details (shards with their errors, bindings,
 * model, cache counters, thresholds) are for operators only (the admin token): they name internals an attacker
 * should not learn. The embedder's state is reported but does not degrade the status: without it, ranking goes
 * on with the other signals.
 */
export const healthRoutes = new Hono<AppEnv>().get('/', async (c) => {
  const { deps } = c.var;
  const shards = await deps.repos.probeShards();
  const status = shards.every((s) => s.ok) ? 'ok' : 'degraded';
  const code = status === 'ok' ? 200 : 503;
  if (!(await isAdmin(c))) return c.json({ status }, code);
  const { config } = deps;
  const owed = await deps.repos.outbox.pendingCounts().catch(() => null);
  return c.json(
    {
      status,
      version: pkg.version,
      shards: shards.map((s, i) => ({ binding: shardBindingName(config.storage, i), ...s })),
      embedder: await embedderHealth(deps),
      // This isolate's cache counters since it started (hit ratios, origin loads: the benchmark reads them).
      cache: { l2: deps.cache.l2 !== null, stats: cacheStats() },
      // Work still owed (outbox records) and messages that ran out of retries (dead letters not yet replayed).
      outbox: owed && { posts: owed.posts, follows: owed.follows },
      deadLetters: owed?.deadLetters ?? null,
      config: {
        shardCount: config.shardCount,
        fanoutPushMax: config.fanout.pushMax,
        fanoutPullMin: config.fanout.pullMin,
      },
    },
    code,
  );
});

const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string().optional().meta({ description: 'admin only, as every field below' }),
  shards: z.array(z.object({ binding: z.string(), ok: z.boolean(), error: z.string().optional() })).optional(),
  embedder: z.unknown().optional(),
  cache: z.unknown().optional(),
  outbox: z.unknown().optional(),
  deadLetters: z.number().int().nullable().optional(),
  config: z.unknown().optional(),
});

describeRoutes(healthRoutes, {
  'GET /': {
    summary: 'Health',
    description: 'Liveness for everyone; with the admin token, the details operators need.',
    security: 'optionalAdmin',
    responses: {
      200: { description: 'Every shard answers', schema: healthSchema, example: { status: 'ok' } },
      503: { description: 'A shard fails', schema: healthSchema, example: { status: 'degraded' } },
    },
  },
});
