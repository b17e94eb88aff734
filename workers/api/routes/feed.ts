import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../../src/cursor.ts';
import { reasonOf } from '../../../src/feed.ts';
import type { GeoPoint } from '../../../src/model.ts';
import { toPostView } from '../../../src/model.ts';
import type { TimelineState } from '../../../durable-objects/user-timeline.ts';
import { setMetric } from 'hono/timing';
import { latestFeed, rankedFeed, rankedFeedPage, type RankedPage, type Timings } from '../../feed.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { describeRoutes } from '../route-docs.ts';
import { feedItemSchema, mintedIdSchema, pageQuery, validate } from '../validation.ts';

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');

const feedQuery = pageQuery
  .extend({
    mode: z.enum(['ranked', 'latest']).default('ranked').meta({ description: '`latest`: newest first, unranked' }),
    explain: flag.default(false).meta({ description: "each item's signal breakdown (`reasons`)" }),
    // The reader's position for the "nearby" context signal; by default the edge's estimate of it.
    lat: z.coerce.number().min(-90).max(90).optional(),
    lon: z.coerce.number().min(-180).max(180).optional(),
  })
  .refine((q) => (q.lat === undefined) === (q.lon === undefined), {
    message: 'lat and lon go together',
    path: ['lat'],
  });

const latestCursor = z.strictObject({ before: mintedIdSchema });
const rankedCursor = z.strictObject({ snapshot: z.uuid(), offset: z.number().int().min(1).max(10_000) });

/** How long a client should wait before reading a timeline that is being regenerated. */
const REGENERATION_RETRY_SECONDS = 2;

function readerLocation(c: Context<AppEnv>, lat?: number, lon?: number): GeoPoint | null {
  if (lat !== undefined && lon !== undefined) return { lat, lon };
  const cf = c.req.raw.cf;
  const [cfLat, cfLon] = [Number(cf?.latitude), Number(cf?.longitude)];
  return cf?.latitude !== undefined && Number.isFinite(cfLat) && Number.isFinite(cfLon)
    ? { lat: cfLat, lon: cfLon }
    : null;
}

function respond(
  c: Context<AppEnv>,
  state: TimelineState,
  timings: Timings,
  body: { items: unknown[]; nextCursor: string | null; explain?: unknown },
) {
  for (const [stage, ms] of Object.entries(timings)) setMetric(c, stage, ms);
  c.header('Cache-Control', 'private, no-store');
  if (state === 'regenerating') {
    // Like Mastodon: the timeline is being rebuilt after a long absence; what is here is partial.
    c.header('Retry-After', String(REGENERATION_RETRY_SECONDS));
    return c.json({ ...body, timeline: { state: 'regenerating' } }, 206);
  }
  return c.json({ ...body, timeline: { state: 'ready' } });
}

/**
 * With `explain`: per item every signal, the arm's weights, the weighted sum (`base`), what each later scorer did
 * (`stages`: its factor and why) and the final score (`total`); per page the arm and what the filters dropped.
 */
function rankedItems(page: RankedPage, explain: boolean) {
  return page.items.map((item) => ({
    post: toPostView(item.post),
    ...withReason(item),
    score: item.score,
    ...(explain
      ? {
          reasons: {
            arm: page.arm,
            signals: item.signals,
            weights: page.weights,
            base: item.base ?? item.score,
            stages: item.stages ?? {},
            total: item.score,
          },
        }
      : {}),
  }));
}

/** `reason` only on reposts, so a plain post's item is as it always was. */
function withReason(entry: { repost?: { by: string; at: number } }) {
  const reason = reasonOf(entry);
  return reason ? { reason } : {};
}

export const feedRoutes = new Hono<AppEnv>().get('/', requireUser, validate('query', feedQuery), async (c) => {
  const { limit, cursor, mode, explain, lat, lon } = c.req.valid('query');
  const { deps } = c.var;
  if (mode === 'latest') {
    const codec = createCursorCodec(`feed-latest:${c.var.userId}`, deps.config.jwtSecret, latestCursor);
    const before = cursor ? (await codec.decode(cursor)).before : undefined;
    const page = await latestFeed(deps, c.var.userId, limit, before);
    return respond(c, page.state, page.timings, {
      items: page.items.map(({ post, entry }) => ({ post: toPostView(post), ...withReason(entry) })),
      nextCursor: page.nextBefore ? await codec.encode({ before: page.nextBefore }) : null,
    });
  }
  const codec = createCursorCodec(`feed-ranked:${c.var.userId}`, deps.config.jwtSecret, rankedCursor);
  const position = cursor ? await codec.decode(cursor) : null;
  const location = readerLocation(c, lat, lon);
  const page = position
    ? await rankedFeedPage(deps, c.var.userId, limit, position, location)
    : await rankedFeed(deps, c.var.userId, limit, location);
  if (deps.random() < deps.config.ranking.impressionSampleRate) {
    const impressions = page.items.map((item, i) => ({
      userId: c.var.userId,
      postId: item.postId,
      servedAt: deps.now(),
      position: (position?.offset ?? 0) + i,
      signals: { ...item.signals },
      arm: page.arm,
    }));
    // After the response: a lost sample costs the refit one data point, never the reader anything.
    c.executionCtx.waitUntil(
      deps.repos.impressions
        .record(impressions)
        .catch((error: unknown) => console.warn('impressions: not logged', error)),
    );
  }
  return respond(c, page.state, page.timings, {
    items: rankedItems(page, explain),
    nextCursor: page.next ? await codec.encode(page.next) : null,
    ...(explain ? { explain: { arm: page.arm, filtered: page.filtered } } : {}),
  });
});

const feedPage = z.object({
  items: z.array(feedItemSchema),
  nextCursor: z.string().nullable(),
  timeline: z.object({ state: z.enum(['ready', 'regenerating']) }),
  explain: z
    .object({ arm: z.string(), filtered: z.record(z.string(), z.number()) })
    .optional()
    .meta({ description: "with `explain`: the reader's experiment arm and what each filter dropped" }),
});

describeRoutes(feedRoutes, {
  'GET /': {
    summary: 'The home feed',
    description:
      "Ranked (a snapshot: paging never repeats or skips an item while posts arrive) or latest first. `Server-Timing` reports each stage's time.",
    responses: {
      200: { description: 'A page of the feed', schema: feedPage, headers: { 'Server-Timing': 'per stage' } },
      206: {
        description: 'Partial: the timeline is being regenerated after a long absence; retry after `Retry-After`',
        schema: feedPage,
        headers: { 'Retry-After': 'seconds' },
      },
    },
    errors: {
      400: 'an invalid query, or a cursor that is malformed or from another listing (`invalid_cursor`)',
      410: { code: 'cursor_expired', description: 'the ranked snapshot of the cursor has expired: start again' },
    },
  },
});
