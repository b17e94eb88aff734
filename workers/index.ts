import { createApp } from './api/app.ts';
import { depsFor } from './api/context.ts';
import { dropIdleTimelines } from './cron.ts';
import { consumeBatch } from './queue/consumer.ts';

export { AuthorFeed } from '../durable-objects/author-feed.ts';
export { UserTimeline } from '../durable-objects/user-timeline.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(depsFor(env), env, batch);
  },
  async scheduled(controller, env) {
    const dropped = await dropIdleTimelines(depsFor(env), env, controller.scheduledTime);
    console.log(`cron: dropped ${dropped} idle timelines`);
  },
} satisfies ExportedHandler<Env>;
