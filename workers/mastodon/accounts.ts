import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import { toAccount, toRelationship, type MastodonRelationship } from '../../src/mastodon-entities.ts';
import { linkHeader, pageOf } from '../../src/mastodon-pagination.ts';
import { isLive, type UserRecord } from '../../src/model.ts';
import type { EdgeKey, EdgePage } from '../../db/repositories/graph.ts';
import { HANDLE_PATTERN, normalizeHandle } from '../../src/text.ts';
import { cachedPosts } from '../cache/index.ts';
import { optionalTextField, validate } from '../api/validation.ts';
import { LIMITS } from '../../src/text.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { accountsOf, originOf, statusesOf } from './hydrate.ts';
import { params } from './params.ts';
import { flag, idPath, idValue, pageParams } from './query.ts';
import { callV1, type V1Fetch } from './v1.ts';

/** `alice`, `@alice` or `alice@this.host`: the local handle, or undefined for another server's account. */
function localHandle(acct: string, host: string): string | undefined {
  const [name, domain, ...rest] = acct.replace(/^@/, '').split('@');
  if (rest.length > 0 || !name || !HANDLE_PATTERN.test(name)) return undefined;
  if (domain !== undefined && domain.toLowerCase() !== host.toLowerCase()) return undefined;
  return normalizeHandle(name);
}

/** The account as its owner sees it: with `source` (what the profile editor and the composer's defaults read). */
function credentialAccount(user: UserRecord, origin: string) {
  return {
    ...toAccount(user, origin),
    source: { privacy: 'public', sensitive: false, language: null, note: '', fields: [], follow_requests_count: 0 },
  };
}

async function userOrNotFound(c: Context<MastodonEnv>, id: string) {
  const user = await c.var.deps.repos.users.get(id);
  if (!user) throw new NotFoundError('Record');
  return user;
}

/**
 * The viewer's relationship to each account: follows both ways, blocks both ways and the mute in force, each read
 * from the viewer's own shard (v1's relationship, which keeps mirrors of the other side's edges there).
 */
export async function relationshipsOf(
  c: Context<MastodonEnv>,
  viewerId: string,
  ids: readonly string[],
): Promise<MastodonRelationship[]> {
  const { deps } = c.var;
  return Promise.all(
    ids.map(async (id) => {
      const r = await deps.repos.social.relationship(viewerId, id, deps.now());
      return toRelationship(id, {
        following: r.following,
        followedBy: r.followedBy,
        showingReblogs: r.showReposts,
        blocking: r.blocking,
        blockedBy: r.blockedBy,
        muting: r.muting,
      });
    }),
  );
}

/** An edge page position in a Link (`max_id=<time>_<user id>`): follow lists are ordered by when, then who. */
const edgePosition = z
  .string()
  .regex(/^\d{1,15}_\d{1,20}$/, 'must be a position from a Link header')
  .transform((s) => {
    const [t, u] = s.split('_');
    return { createdAt: Number(t), userId: u! };
  });

const edgeParams = z.object({
  max_id: edgePosition.optional(),
  limit: z.coerce.number().int().min(1).max(80).default(40),
});

const statusesParams = pageParams.extend({
  exclude_replies: flag.optional(),
  exclude_reblogs: flag.optional(),
  only_media: flag.optional(),
  pinned: flag.optional(),
  tagged: z.string().max(100).optional(),
});

/** Only the display name can change here; the other profile fields Mastodon has (note, avatar, ...) do not exist. */
const updateParams = z.object({
  display_name: optionalTextField(LIMITS.displayName, { trim: true }),
});

const followParams = z.object({ reblogs: flag.optional(), notify: flag.optional(), languages: z.unknown().optional() });

/** Ten years, as v1 caps a mute; `duration` 0 (or left out) is until unmuted, as Mastodon has it. */
const muteParams = z.object({
  notifications: flag.optional(),
  duration: z.coerce
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 86_400)
    .optional(),
});

/** An edge listing (followers, following, blocks, mutes): Account[], older pages by `max_id=<time>_<user id>`. */
async function edgeListing(
  c: Context<MastodonEnv>,
  read: (limit: number, after: EdgeKey | undefined) => Promise<EdgePage>,
) {
  const q = edgeParams.safeParse(Object.fromEntries(new URL(c.req.url).searchParams));
  if (!q.success) throw new ValidationError(`Validation failed: ${q.error.issues[0]?.message ?? 'bad parameters'}`);
  const page = await read(q.data.limit, q.data.max_id);
  const link = page.next
    ? linkHeader(c.req.url, {}, { max_id: `${page.next.createdAt}_${page.next.userId}` })
    : undefined;
  if (link) c.header('Link', link);
  return c.json(
    await accountsOf(
      c,
      page.items.map((edge) => edge.userId),
    ),
  );
}

/** GET /api/v1/blocks and /api/v1/mutes: whom the caller blocks or mutes (mutes in force), newest first. */
export const blocksRoutes = new Hono<MastodonEnv>()
  .use(identify)
  .get('/', requireScope('read:blocks'), (c) =>
    edgeListing(c, (limit, after) => c.var.deps.repos.social.blockPage(actingUser(c.var.caller), limit, after)),
  );

export const mutesRoutes = new Hono<MastodonEnv>()
  .use(identify)
  .get('/', requireScope('read:mutes'), (c) =>
    edgeListing(c, (limit, after) =>
      c.var.deps.repos.social.mutePage(actingUser(c.var.caller), limit, c.var.deps.now(), after),
    ),
  );

export function accountsRoutes(v1: V1Fetch) {
  const edges = (direction: 'followers' | 'following') => async (c: Context<MastodonEnv>) => {
    const { id } = c.req.param() as { id: string };
    await userOrNotFound(c, id);
    return edgeListing(c, (limit, after) => c.var.deps.repos.graph[direction](id, limit, after));
  };

  /** Block, unblock, mute, unmute: v1's writes (which refuse yourself and unknown accounts), then the Relationship. */
  const relation = (method: 'PUT' | 'DELETE', what: 'block' | 'mute') => async (c: Context<MastodonEnv>) => {
    const me = actingUser(c.var.caller);
    const { id } = c.req.param() as { id: string };
    const duration =
      what === 'mute' && method === 'PUT' ? (c.var.params as z.infer<typeof muteParams>).duration : undefined;
    const body = what === 'mute' && method === 'PUT' ? (duration ? { durationSeconds: duration } : {}) : undefined;
    await callV1(c, v1, method, `/v1/users/${id}/${what}`, me, body);
    return c.json((await relationshipsOf(c, me, [id]))[0]);
  };

  const follow = (following: boolean) => async (c: Context<MastodonEnv>) => {
    const me = actingUser(c.var.caller);
    const { id } = c.req.param() as { id: string };
    const body = c.var.params as z.infer<typeof followParams>;
    if (following) {
      await callV1(
        c,
        v1,
        'PUT',
        `/v1/users/${id}/follow`,
        me,
        body.reblogs === undefined ? {} : { reposts: body.reblogs },
      );
    } else {
      await callV1(c, v1, 'DELETE', `/v1/users/${id}/follow`, me);
    }
    return c.json((await relationshipsOf(c, me, [id]))[0]);
  };

  return new Hono<MastodonEnv>()
    .use(identify)
    .get('/verify_credentials', requireScope('read:accounts'), async (c) => {
      const user = await userOrNotFound(c, actingUser(c.var.caller));
      return c.json(credentialAccount(user, originOf(c)));
    })
    .patch('/update_credentials', requireScope('write:accounts'), params(updateParams), async (c) => {
      const me = actingUser(c.var.caller);
      const { display_name: name } = c.var.params as z.infer<typeof updateParams>;
      const user = name === undefined ? await userOrNotFound(c, me) : await c.var.deps.repos.users.rename(me, name);
      if (!user) throw new NotFoundError('Record');
      return c.json(credentialAccount(user, originOf(c)));
    })
    .get(
      '/relationships',
      requireScope('read:follows'),
      params(z.object({ id: z.union([idValue, z.array(idValue).max(40)]).optional() })),
      async (c) => {
        const me = actingUser(c.var.caller);
        const raw = (c.var.params as { id?: string | string[] }).id;
        const ids = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
        const known = await c.var.deps.repos.users.getMany(ids);
        return c.json(
          await relationshipsOf(
            c,
            me,
            ids.filter((id) => known.has(id)),
          ),
        );
      },
    )
    .get('/lookup', params(z.object({ acct: z.string().min(1).max(300) })), async (c) => {
      const handle = localHandle((c.var.params as { acct: string }).acct, new URL(c.req.url).host);
      const credentials = handle ? await c.var.deps.repos.users.credentials(handle) : undefined;
      const user = credentials ? await c.var.deps.repos.users.get(credentials.userId) : undefined;
      if (!user) throw new NotFoundError('Record');
      return c.json(toAccount(user, originOf(c)));
    })
    .get(
      '/search',
      requireScope('read:accounts'),
      params(z.object({ q: z.string().min(1).max(300), limit: z.coerce.number().int().min(1).max(80).default(40) })),
      async (c) => {
        // Without a search index, an account is found by its exact handle (as `lookup` does).
        const handle = localHandle((c.var.params as { q: string }).q, new URL(c.req.url).host);
        const credentials = handle ? await c.var.deps.repos.users.credentials(handle) : undefined;
        return c.json(credentials ? await accountsOf(c, [credentials.userId]) : []);
      },
    )
    .get('/:id', validate('param', idPath), async (c) =>
      c.json(toAccount(await userOrNotFound(c, c.req.valid('param').id), originOf(c))),
    )
    .get('/:id/statuses', validate('param', idPath), params(statusesParams), async (c) => {
      const { id } = c.req.valid('param');
      const q = c.var.params as z.infer<typeof statusesParams>;
      const { deps } = c.var;
      await userOrNotFound(c, id);
      // This service has no pinned posts, and replies are comments, not among an author's posts.
      if (q.pinned) return c.json([]);
      const windowed = q.since_id !== undefined || q.min_id !== undefined;
      const ids = await deps.repos.posts.idsByAuthor(id, windowed ? 100 : q.limit + 1, q.max_id);
      const pageIds = pageOf(ids, (x) => x, q);
      const records = await cachedPosts(deps, pageIds);
      const posts = pageIds.flatMap((postId) => {
        const post = records.get(postId);
        return isLive(post) ? [{ post }] : [];
      });
      const statuses = await statusesOf(
        c,
        q.only_media ? posts.filter((p) => p.post.media.length > 0) : posts,
        c.var.caller?.userId ?? null,
      );
      const more = windowed ? pageIds.length === q.limit : ids.length > q.limit;
      const link = linkHeader(c.req.url, { first: pageIds[0], last: more ? pageIds[pageIds.length - 1] : undefined });
      if (link) c.header('Link', link);
      return c.json(statuses);
    })
    .get('/:id/followers', validate('param', idPath), edges('followers'))
    .get('/:id/following', validate('param', idPath), edges('following'))
    .post('/:id/follow', validate('param', idPath), requireScope('write:follows'), params(followParams), follow(true))
    .post(
      '/:id/unfollow',
      validate('param', idPath),
      requireScope('write:follows'),
      params(followParams),
      follow(false),
    )
    .post('/:id/block', validate('param', idPath), requireScope('write:blocks'), relation('PUT', 'block'))
    .post('/:id/unblock', validate('param', idPath), requireScope('write:blocks'), relation('DELETE', 'block'))
    .post(
      '/:id/mute',
      validate('param', idPath),
      requireScope('write:mutes'),
      params(muteParams),
      relation('PUT', 'mute'),
    )
    .post('/:id/unmute', validate('param', idPath), requireScope('write:mutes'), relation('DELETE', 'mute'));
}
