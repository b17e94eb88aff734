import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../src/errors.ts';
import { toTag, type TagUse } from '../../src/mastodon-entities.ts';
import { linkHeader, pageOf } from '../../src/mastodon-pagination.ts';
import { isLive, type PostRecord } from '../../src/model.ts';
import { NO_RULES, postHiddenBecause } from '../../src/social.ts';
import { normalizeTag } from '../../src/tags.ts';
import { TRENDING_MAX_K } from '../../durable-objects/trending.ts';
import { cachedPosts } from '../cache/index.ts';
import { rulesFor } from '../social.ts';
import { tagPosts } from '../tags.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { accountsOf, originOf, statusesOf } from './hydrate.ts';
import { params } from './params.ts';
import { flag, pageParams } from './query.ts';
import { callV1, type V1Fetch } from './v1.ts';

const hashtag = z
  .string()
  .max(200)
  .transform((raw, ctx) => {
    const tag = normalizeTag(decodeURIComponent(raw));
    if (tag === null) {
      ctx.issues.push({ code: 'custom', message: 'must be a hashtag (letters, digits, underscores)', input: raw });
      return z.NEVER;
    }
    return tag;
  });

const tagList = z
  .union([z.string().max(200), z.array(z.string().max(200)).max(10)])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((t) => normalizeTag(t) ?? []));

const tagTimelineParams = pageParams.extend({
  any: tagList.optional(),
  all: tagList.optional(),
  none: tagList.optional(),
  local: flag.optional(),
  remote: flag.optional(),
  only_media: flag.optional(),
});

/** How many of a tag's newest posts `since_id`/`min_id` look through. */
const NEWER_WINDOW = 100;

/** Every post here is local: `remote=true` asks for none. */
const nothingRemote = (remote: boolean | undefined) => remote === true;

/**
 * GET /api/v1/timelines/tag/:hashtag: the tag's posts newest first (v1's tag page), with the reader's rules when
 * signed in (blocks, mutes, muted words); `all`, `none` and `only_media` narrow it. `any` (posts with other tags
 * too) is not merged: the page is the one tag's.
 */
export const tagTimeline = [
  params(tagTimelineParams),
  async (c: Context<MastodonEnv>) => {
    const tag = hashtag.safeParse(c.req.param('hashtag'));
    if (!tag.success) throw new NotFoundError('Record');
    const q = c.var.params as z.infer<typeof tagTimelineParams>;
    const { deps } = c.var;
    const viewer = c.var.caller?.userId ?? null;
    if (nothingRemote(q.remote)) return c.json([]);
    const rules = viewer ? await rulesFor(deps, viewer) : NO_RULES;
    const keep = (post: PostRecord) =>
      postHiddenBecause(rules, post) === null &&
      (q.all ?? []).every((t) => post.hashtags.includes(t)) &&
      !(q.none ?? []).some((t) => post.hashtags.includes(t)) &&
      (!q.only_media || post.media.length > 0);
    const windowed = q.since_id !== undefined || q.min_id !== undefined;
    const page = await tagPosts(deps, tag.data, windowed ? NEWER_WINDOW : q.limit, q.max_id, keep);
    const posts = windowed ? pageOf(page.posts, (p) => p.id, q) : page.posts;
    // Older pages continue below the last post read (v1's keyset), or below the window's last post.
    const next = windowed ? (posts.length === q.limit ? posts[posts.length - 1]?.id : undefined) : page.nextBefore;
    const link = linkHeader(c.req.url, { first: posts[0]?.id }, next ? { max_id: next } : undefined);
    if (link) c.header('Link', link);
    return c.json(
      await statusesOf(
        c,
        posts.map((post) => ({ post })),
        viewer,
      ),
    );
  },
] as const;

/** Trending tags, for a day bucket of today: uses (posts) and accounts (distinct authors) in the window. */
const trendsParams = z.object({
  limit: z.coerce.number().int().min(1).max(TRENDING_MAX_K).default(10),
  offset: z.coerce.number().int().min(0).max(TRENDING_MAX_K).default(0),
});

export const trendsRoutes = new Hono<MastodonEnv>().get('/tags', params(trendsParams), async (c) => {
  const { limit, offset } = c.var.params as z.infer<typeof trendsParams>;
  const { deps } = c.var;
  const now = deps.now();
  const top = await deps.objects.trending().top(now, Math.min(offset + limit, TRENDING_MAX_K));
  return c.json(
    top.slice(offset).map((t) => toTag(t.tag, originOf(c), { day: now, uses: t.posts, accounts: t.count })),
  );
});

/** GET /api/v1/tags/:name: the tag, with how many posts carry it (a count of all time, dated today). */
export const tagsRoutes = new Hono<MastodonEnv>().get('/:name', async (c) => {
  const tag = hashtag.safeParse(c.req.param('name'));
  if (!tag.success) throw new NotFoundError('Record');
  const { deps } = c.var;
  const found = (await deps.repos.tags.byPrefix(tag.data, 20)).find((t) => t.tag === tag.data);
  const use: TagUse | undefined = found ? { day: deps.now(), uses: found.uses, accounts: 0 } : undefined;
  return c.json(toTag(tag.data, originOf(c), use));
});

const SEARCH_TYPES = { accounts: 'accounts', hashtags: 'tags', statuses: 'posts' } as const;

const searchParams = z.object({
  q: z.string().min(1).max(300),
  type: z.enum(['accounts', 'hashtags', 'statuses']).optional(),
  resolve: flag.optional(),
  following: flag.optional(),
  account_id: z.string().max(20).optional(),
  exclude_unreviewed: flag.optional(),
  max_id: z.string().max(20).optional(),
  min_id: z.string().max(20).optional(),
  limit: z.coerce.number().int().min(1).max(40).default(20),
  offset: z.coerce.number().int().min(0).max(10_000).default(0),
});

interface V1Search {
  accounts: Array<{ id: string }>;
  tags: Array<{ tag: string; uses: number }>;
  posts: Array<{ id: string }>;
}

/**
 * GET /api/v2/search: v1's search (accounts by handle prefix, tags by prefix, posts by full text, the reader's rules
 * applied), asked in the reader's name and shown as Mastodon's entities. One page: `offset` past 0 is empty.
 */
export function searchRoutes(v1: V1Fetch) {
  return new Hono<MastodonEnv>()
    .use(identify)
    .get('/', requireScope('read:search'), params(searchParams), async (c: Context<MastodonEnv>) => {
      const me = actingUser(c.var.caller);
      const q = c.var.params as z.infer<typeof searchParams>;
      if (q.offset > 0) return c.json({ accounts: [], statuses: [], hashtags: [] });
      const query = new URLSearchParams({ q: q.q, limit: String(q.limit) });
      if (q.type) query.set('type', SEARCH_TYPES[q.type]);
      const found = await callV1<V1Search>(c, v1, 'GET', `/v1/search?${query.toString()}`, me);
      const posts = await cachedPosts(
        c.var.deps,
        found.posts.map((p) => p.id),
      );
      const live = found.posts.flatMap((p) => {
        const post = posts.get(p.id);
        return isLive(post) ? [{ post }] : [];
      });
      const [accounts, statuses] = await Promise.all([
        accountsOf(
          c,
          found.accounts.map((a) => a.id),
        ),
        statusesOf(c, live, me),
      ]);
      const day = c.var.deps.now();
      return c.json({
        accounts,
        statuses,
        hashtags: found.tags.map((t) => toTag(t.tag, originOf(c), { day, uses: t.uses, accounts: 0 })),
      });
    });
}
