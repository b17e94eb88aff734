import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../../src/cursor.ts';
import { toPostView } from '../../../src/model.ts';
import { latestFeed, serverTiming } from '../../feed.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { idSchema, pageQuery, validate } from '../validation.ts';

const feedQuery = pageQuery.extend({
  mode: z.enum(['latest']).default('latest'),
});

const latestCursor = z.strictObject({ before: idSchema });

/** How long a client should wait before reading a timeline that is being regenerated. */
const REGENERATION_RETRY_SECONDS = 2;

export const feedRoutes = new Hono<AppEnv>().get('/', requireUser, validate('query', feedQuery), async (c) => {
  const { limit, cursor } = c.req.valid('query');
  const codec = createCursorCodec('feed-latest', c.env.JWT_SECRET, latestCursor);
  const before = cursor ? (await codec.decode(cursor)).before : undefined;
  const page = await latestFeed(c.var.deps, c.env, c.var.userId, limit, before);
  c.header('Server-Timing', serverTiming(page.timings));
  c.header('Cache-Control', 'private, no-store');
  const body = {
    items: page.posts.map((post) => ({ post: toPostView(post) })),
    nextCursor: page.nextBefore ? await codec.encode({ before: page.nextBefore }) : null,
  };
  if (page.state === 'regenerating') {
    // Like Mastodon: the timeline is being rebuilt after a long absence; what is here is partial.
    c.header('Retry-After', String(REGENERATION_RETRY_SECONDS));
    return c.json({ ...body, timeline: { state: 'regenerating' } }, 206);
  }
  return c.json({ ...body, timeline: { state: 'ready' } });
});
