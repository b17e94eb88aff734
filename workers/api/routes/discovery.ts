import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../../src/cursor.ts';
import { toPostView, toUserView, type PostRecord } from '../../../src/model.ts';
import { blockedEitherWay, postHiddenBecause } from '../../../src/social.ts';
import { fullTextQuery, normalizeTag, tagPrefix } from '../../../src/tags.ts';
import { checkText } from '../../../src/text.ts';
import { TRENDING_MAX_K } from '../../../durable-objects/trending.ts';
import { rulesFor } from '../../social.ts';
import { tagPosts } from '../../tags.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { describeRoutes } from '../route-docs.ts';
import { mintedIdSchema, pageOf, pageQuery, postSchema, userSchema, validate } from '../validation.ts';

const tagParam = z.object({
  tag: z
    .string()
    .max(200)
    .transform((raw, ctx) => {
      const tag = normalizeTag(raw);
      if (tag === null) {
        ctx.issues.push({ code: 'custom', message: 'must be a hashtag (letters, digits, underscores)', input: raw });
        return z.NEVER;
      }
      return tag;
    }),
});
const tagCursor = z.strictObject({ before: mintedIdSchema });

const trendsQuery = z.object({ limit: z.coerce.number().int().min(1).max(TRENDING_MAX_K).default(10) });

const SEARCH_TYPES = ['accounts', 'tags', 'posts'] as const;
const searchQuery = z.object({
  q: z.string().transform((raw, ctx) => {
    const checked = checkText(raw, { max: 100, trim: true });
    if (!checked.ok) {
      ctx.issues.push({ code: 'custom', message: 'must be 1-100 characters of text', input: raw });
      return z.NEVER;
    }
    return checked.text;
  }),
  type: z.enum(SEARCH_TYPES).optional(),
  limit: z.coerce.number().int().min(1).max(40).default(20),
});

/** Tag pages, trending tags and search (DESIGN.md, "The social surface"). */
export const discoveryRoutes = new Hono<AppEnv>()
  .get('/tags/:tag/posts', requireUser, validate('param', tagParam), validate('query', pageQuery), async (c) => {
    const { tag } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const { deps } = c.var;
    const codec = createCursorCodec(`tag:${tag}`, deps.config.jwtSecret, tagCursor);
    const before = cursor ? (await codec.decode(cursor)).before : undefined;
    // The reader's rules apply here as in feeds: blocked (either way) and muted authors, muted words.
    const rules = await rulesFor(deps, c.var.userId);
    const page = await tagPosts(deps, tag, limit, before, (post) => postHiddenBecause(rules, post) === null);
    return c.json({
      items: page.posts.map((post) => ({ post: toPostView(post) })),
      nextCursor: page.nextBefore ? await codec.encode({ before: page.nextBefore }) : null,
    });
  })
  .get('/trends/tags', requireUser, validate('query', trendsQuery), async (c) => {
    const { limit } = c.req.valid('query');
    const { deps } = c.var;
    const top = await deps.objects.trending().top(deps.now(), limit);
    // `accounts`: distinct authors in the window (what trending ranks by); `uses`: posts carrying the tag.
    return c.json({ items: top.map((t) => ({ tag: t.tag, uses: t.posts, accounts: t.count })) });
  })
  .get('/search', requireUser, validate('query', searchQuery), async (c) => {
    const { q, type, limit } = c.req.valid('query');
    const { deps } = c.var;
    const want = (t: (typeof SEARCH_TYPES)[number]) => type === undefined || type === t;
    const handlePrefix = (q.startsWith('@') ? q.slice(1) : q).toLowerCase();
    const prefix = tagPrefix(q);
    const rules = await rulesFor(deps, c.var.userId);
    const shown = (post: PostRecord) => postHiddenBecause(rules, post) === null;
    const [accounts, tags, posts] = await Promise.all([
      want('accounts') && handlePrefix !== '' ? searchAccounts(handlePrefix, limit) : [],
      want('tags') && prefix !== null ? deps.repos.tags.byPrefix(prefix, limit) : [],
      want('posts') ? searchPosts(q, limit) : [],
    ]);
    return c.json({
      accounts: accounts.map((user) => toUserView(user)),
      tags: tags.map((t) => ({ tag: t.tag, uses: t.uses })),
      posts: posts.map((post) => toPostView(post)),
    });

    /** Accounts blocked either way are left out (a mute only quiets an account: it can still be found). */
    async function searchAccounts(accountPrefix: string, n: number) {
      const ids = (await deps.repos.search.accountIds(accountPrefix, n + rules.blocking.size + rules.blockedBy.size))
        .filter((id) => !blockedEitherWay(rules, id))
        .slice(0, n);
      const users = await deps.repos.users.getMany(ids);
      return ids.flatMap((id) => {
        const user = users.get(id);
        return user ? [user] : [];
      });
    }

    /**
     * Posts: a query that is a hashtag ("#rust") lists the tag's posts; any other, full text (FTS5 in every shard,
     * every word must match, the last also as a prefix), newest first.
     */
    async function searchPosts(query: string, n: number) {
      const tag = query.startsWith('#') ? normalizeTag(query) : null;
      if (tag !== null) return (await tagPosts(deps, tag, n, undefined, shown)).posts;
      const text = fullTextQuery(query);
      // Twice the page, so that the reader's rules leave a page in all but unusual cases.
      return text === null ? [] : (await deps.repos.search.postsMatching(text, 2 * n)).filter(shown).slice(0, n);
    }
  });

describeRoutes(discoveryRoutes, {
  'GET /tags/:tag/posts': {
    summary: 'Posts with a hashtag',
    description: 'Newest first; the tag without `#`, matched regardless of case.',
    responses: { 200: { description: 'A page of posts', schema: pageOf(z.object({ post: postSchema })) } },
    errors: { 400: 'not a hashtag, an invalid query, or a cursor from another listing' },
  },
  'GET /trends/tags': {
    summary: 'Trending hashtags',
    description: 'Ranked by distinct authors in the trending window.',
    responses: {
      200: {
        description: 'The top tags',
        schema: z.object({
          items: z.array(
            z.object({
              tag: z.string(),
              uses: z.number().int().meta({ description: 'posts carrying the tag' }),
              accounts: z.number().int().meta({ description: 'distinct authors' }),
            }),
          ),
        }),
      },
    },
  },
  'GET /search': {
    summary: 'Search accounts, tags and posts',
    description:
      'Accounts by handle prefix (`@` optional), tags by prefix, posts by full text (every word, the last also as a prefix) or, for `#tag`, by tag; newest first. `type` searches one kind only.',
    responses: {
      200: {
        description: 'What matched, by kind',
        schema: z.object({
          accounts: z.array(userSchema),
          tags: z.array(z.object({ tag: z.string(), uses: z.number().int() })),
          posts: z.array(postSchema),
        }),
      },
    },
  },
});
