import { createApp } from './api/app.ts';
import { depsFor } from './composition.ts';
import { dropIdleTimelines } from './cron.ts';
import { IMPRESSION_RETENTION_MS } from '../src/refit.ts';
import { recomputeInterests } from './interest.ts';
import { consumeBatch } from './queue/consumer.ts';
import { consumeDeadLetters } from './dead-letters.ts';
import { armDrainersOnce, drainAll } from './outbox.ts';
import { IDEMPOTENCY_TTL_MS } from '../src/outbox.ts';
import { withRequestConnections } from '../db/shards-pg.ts';

/** wrangler.toml's dead-letter queue, which has a consumer of its own. */
const DEAD_LETTER_QUEUE = 'edge-feed-dlq';

export { AuthorFeed } from '../durable-objects/author-feed.ts';
export { OutboxDrainer } from '../durable-objects/outbox-drainer.ts';
export { RateLimiter } from '../durable-objects/rate-limiter.ts';
export { Trending } from '../durable-objects/trending.ts';
export { UserTimeline } from '../durable-objects/user-timeline.ts';

const app = createApp();

export default {
  // A request's statements to a Postgres shard share one connection (db/shards-pg.ts); nothing to do on D1.
  fetch: (request, env, ctx) => withRequestConnections(ctx, async () => app.fetch(request, env, ctx)),
  async queue(batch, env, ctx) {
    const deps = depsFor(env);
    armDrainersOnce(deps, (p) => ctx.waitUntil(p));
    await withRequestConnections(ctx, () =>
      batch.queue === DEAD_LETTER_QUEUE ? consumeDeadLetters(deps, batch) : consumeBatch(deps, batch),
    );
  },
  async scheduled(controller, env, ctx) {
    const deps = depsFor(env);
    armDrainersOnce(deps, (p) => ctx.waitUntil(p));
    // The drainers' alarms do this every few seconds; the cron is the backstop should an alarm be lost.
    const drained = await drainAll(deps, controller.scheduledTime);
    console.log(`cron: outbox re-sent ${drained.postsResent} fan-outs, applied ${drained.followsApplied} follows`);
    await deps.repos.outbox.pruneIdempotency(controller.scheduledTime - IDEMPOTENCY_TTL_MS);
    const dropped = await dropIdleTimelines(deps, controller.scheduledTime);
    console.log(`cron: dropped ${dropped} idle timelines`);
    const recomputed = await recomputeInterests(deps, controller.scheduledTime);
    console.log(`cron: recomputed ${recomputed} users' affinities and interest vectors`);
    await deps.repos.impressions.pruneBefore(controller.scheduledTime - IMPRESSION_RETENTION_MS);
  },
} satisfies ExportedHandler<Env>;
