import { createApp } from './api/app.ts';
import { depsFor } from './composition.ts';
import { dropIdleTimelines } from './cron.ts';
import { IMPRESSION_RETENTION_MS } from '../src/refit.ts';
import { recomputeInterests } from './interest.ts';
import { consumeBatch } from './queue/consumer.ts';

export { AuthorFeed } from '../durable-objects/author-feed.ts';
export { RateLimiter } from '../durable-objects/rate-limiter.ts';
export { Trending } from '../durable-objects/trending.ts';
export { UserTimeline } from '../durable-objects/user-timeline.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(depsFor(env), batch);
  },
  async scheduled(controller, env) {
    const deps = depsFor(env);
    const dropped = await dropIdleTimelines(deps, controller.scheduledTime);
    console.log(`cron: dropped ${dropped} idle timelines`);
    const recomputed = await recomputeInterests(deps, controller.scheduledTime);
    console.log(`cron: recomputed ${recomputed} users' affinities and interest vectors`);
    await deps.repos.impressions.pruneBefore(controller.scheduledTime - IMPRESSION_RETENTION_MS);
  },
} satisfies ExportedHandler<Env>;
