import { createApp } from './api/app.ts';
import { depsFor } from './api/context.ts';
import { consumeBatch } from './queue/consumer.ts';

export { AuthorFeed } from '../durable-objects/author-feed.ts';
export { UserTimeline } from '../durable-objects/user-timeline.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(depsFor(env), batch);
  },
} satisfies ExportedHandler<Env>;
