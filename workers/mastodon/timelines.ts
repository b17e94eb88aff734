import { feedKey } from '../../src/timeline.ts';
import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../src/cursor.ts';
import { linkHeader, pageOf } from '../../src/mastodon-pagination.ts';
import { latestFeed, rankedFeed, rankedFeedPage } from '../feed.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { tagTimeline } from './discovery.ts';
import { statusesOf } from './hydrate.ts';
import { params } from './params.ts';
import { flag, pageParams } from './query.ts';

const homeParams = pageParams.extend({
  /** The ranked feed instead of the chronological one (this server's extension; clients ignore it). */
  ranked: flag.optional(),
  cursor: z.string().min(1).max(1024).optional(),
  local: flag.optional(),
  remote: flag.optional(),
  only_media: flag.optional(),
});

/** Where a ranked page sequence continues: the snapshot in the reader's timeline object (as v1's ranked cursor). */
const rankedCursor = z.strictObject({ snapshot: z.uuid(), offset: z.number().int().min(1).max(10_000) });

/** How many of the newest entries `since_id`/`min_id` look through (the chronological feed reads newest first). */
const NEWER_WINDOW = 100;

export const timelinesRoutes = new Hono<MastodonEnv>()
  .use(identify)
  .get('/tag/:hashtag', ...tagTimeline)
  .get('/home', requireScope('read:statuses'), params(homeParams), async (c) => {
    const me = actingUser(c.var.caller);
    const q = c.var.params as z.infer<typeof homeParams>;
    const { deps } = c.var;
    c.header('Cache-Control', 'private, no-store');
    if (q.ranked) {
      // The ranked feed's order is not by id, so it pages by an opaque cursor in the Link, not by max_id.
      const codec = createCursorCodec(`feed-ranked:${me}`, deps.config.jwtSecret, rankedCursor);
      const page = q.cursor
        ? await rankedFeedPage(deps, me, q.limit, await codec.decode(q.cursor))
        : await rankedFeed(deps, me, q.limit, null);
      const statuses = await statusesOf(
        c,
        page.items.map((item) => ({ post: item.post })),
        me,
      );
      if (page.next) {
        const url = new URL(c.req.url);
        url.searchParams.set('ranked', 'true');
        url.searchParams.set('cursor', await codec.encode(page.next));
        c.header('Link', `<${url.toString()}>; rel="next"`);
      }
      return c.json(statuses, page.state === 'regenerating' ? 206 : 200);
    }
    const windowed = q.since_id !== undefined || q.min_id !== undefined;
    const page = await latestFeed(deps, me, windowed ? NEWER_WINDOW : q.limit, q.max_id);
    // Pages are keyed by feed key (a post's id, or a repost's own id), as the engine orders them.
    const items = windowed ? pageOf(page.items, (item) => feedKey(item.entry), q) : page.items;
    const statuses = await statusesOf(
      c,
      items.map(({ post, entry }) =>
        entry.repost ? { post, reblog: { by: entry.repost.by, at: entry.repost.at } } : { post },
      ),
      me,
    );
    const more = windowed ? items.length === q.limit : page.nextBefore !== null;
    const keys = items.map((item) => feedKey(item.entry));
    const link = linkHeader(c.req.url, { first: keys[0], last: more ? keys[keys.length - 1] : undefined });
    if (link) c.header('Link', link);
    // 206 while the timeline is being rebuilt after a long absence, as Mastodon answers.
    return c.json(statuses, page.state === 'regenerating' ? 206 : 200);
  });
