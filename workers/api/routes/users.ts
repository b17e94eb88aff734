import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../../src/cursor.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../../../src/errors.ts';
import { isLive, toPostView, toUserView } from '../../../src/model.ts';
import { HANDLE_PATTERN, LIMITS, normalizeHandle } from '../../../src/text.ts';
import { hashPassword } from '../../../src/password.ts';
import { isAdmin, issueToken, optionalUser, requireUser } from '../auth.ts';
import { cachedPosts } from '../../cache/index.ts';
import type { Deps } from '../../composition.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { conditionalGet, edgeCachedAuthorPosts, publicReadFreshness } from '../edge-cache.ts';
import { idParam, mintedIdSchema, optionalTextField, pageQuery, passwordSchema, validate } from '../validation.ts';
import { setFollowing } from '../../follows.ts';
import { refuseIfBlocked, rulesFor } from '../../social.ts';
import { NO_RULES, blockedEitherWay } from '../../../src/social.ts';

const signupBody = z.strictObject({
  handle: z.string().regex(HANDLE_PATTERN, `3-30 letters, digits or underscores`),
  displayName: optionalTextField(LIMITS.displayName, { trim: true }),
  password: passwordSchema.optional(),
});

/** PUT /v1/users/:id/follow: `reposts: false` hides the account's reposts (left out: a new follow shows them). */
const followBody = z.strictObject({ reposts: z.boolean().optional() });

const edgeCursor = z.strictObject({ t: z.number().int().nonnegative(), u: mintedIdSchema });
const postsCursor = z.strictObject({ before: mintedIdSchema });

export const usersRoutes = new Hono<AppEnv>()
  .post('/', validate('json', signupBody), rateLimit('signup'), async (c) => {
    const { config, repos, newId, now } = c.var.deps;
    if (!config.allowSignup && !(await isAdmin(c))) {
      throw new ForbiddenError('signups are closed; an admin token is required');
    }
    const body = c.req.valid('json');
    const at = now();
    const user = await repos.users.create({
      id: newId(),
      handle: normalizeHandle(body.handle),
      displayName: body.displayName ?? body.handle,
      createdAt: at,
      ...(body.password === undefined ? {} : { passwordHash: await hashPassword(body.password) }),
    });
    // A ready, empty timeline, so the first feed read needs no regeneration. Only an optimisation: if it
    // fails, that first read regenerates instead, and the signup must not fail (a retry would find the handle taken).
    await c.var.deps.objects
      .timeline(user.id)
      .init(user.id, at)
      .catch((error: unknown) => console.warn('signup: timeline init failed, first read will regenerate', error));
    return c.json({ user: toUserView(user), token: await issueToken(config, user.id, at) }, 201);
  })
  .get('/:id', validate('param', idParam), async (c) => {
    const user = await c.var.deps.repos.users.get(c.req.valid('param').id);
    if (!user) throw new NotFoundError('user');
    return c.json({ user: toUserView(user) });
  })
  .put(
    '/:id/follow',
    requireUser,
    validate('param', idParam),
    validate('json', followBody),
    rateLimit('write'),
    async (c) =>
      c.json(await follow(c.var.deps, c.var.userId, c.req.valid('param').id, true, c.req.valid('json').reposts)),
  )
  .delete('/:id/follow', requireUser, validate('param', idParam), rateLimit('write'), async (c) =>
    c.json(await follow(c.var.deps, c.var.userId, c.req.valid('param').id, false)),
  )
  .get('/:id/followers', validate('param', idParam), validate('query', pageQuery), async (c) =>
    c.json(await edges(c.var.deps, 'followers', c.req.valid('param').id, c.req.valid('query'))),
  )
  .get('/:id/following', validate('param', idParam), validate('query', pageQuery), async (c) =>
    c.json(await edges(c.var.deps, 'following', c.req.valid('param').id, c.req.valid('query'))),
  )
  .get(
    '/:id/posts',
    conditionalGet,
    edgeCachedAuthorPosts,
    optionalUser,
    validate('param', idParam),
    validate('query', pageQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      const { limit, cursor } = c.req.valid('query');
      const { deps } = c.var;
      const { repos } = deps;
      const codec = createCursorCodec('user-posts', deps.config.jwtSecret, postsCursor);
      const before = cursor ? (await codec.decode(cursor)).before : undefined;
      const viewer = c.get('viewerId');
      const [user, ids, rules] = await Promise.all([
        repos.users.get(id),
        repos.posts.idsByAuthor(id, limit + 1, before),
        viewer && viewer !== id ? rulesFor(deps, viewer) : NO_RULES,
      ]);
      if (!user) throw new NotFoundError('user');
      // Between blocked accounts (either way) the listing is empty: the account is there, its posts are not.
      if (blockedEitherWay(rules, id)) return c.json({ items: [], nextCursor: null });
      const page = ids.slice(0, limit);
      const records = await cachedPosts(deps, page, publicReadFreshness(c.req.header('Authorization')));
      const items = page.flatMap((postId) => {
        const post = records.get(postId);
        return isLive(post) ? [toPostView(post)] : [];
      });
      const last = page[page.length - 1];
      const nextCursor = ids.length > limit && last ? await codec.encode({ before: last }) : null;
      return c.json({ items, nextCursor });
    },
  );

async function follow(deps: Deps, followerId: string, followeeId: string, following: boolean, reposts?: boolean) {
  if (followeeId === followerId) throw new ValidationError('you cannot follow yourself');
  const followee = await deps.repos.users.get(followeeId);
  if (!followee) throw new NotFoundError('user');
  // An unfollow is always allowed (a block makes one); a follow across a block is refused.
  if (following) await refuseIfBlocked(deps, followerId, followeeId);
  await setFollowing(deps, followerId, followeeId, following, reposts);
  return { relationship: { following } };
}

async function edges(
  deps: Deps,
  direction: 'followers' | 'following',
  userId: string,
  { limit, cursor }: z.infer<typeof pageQuery>,
) {
  const codec = createCursorCodec(direction, deps.config.jwtSecret, edgeCursor);
  const after = cursor ? await codec.decode(cursor) : undefined;
  const { repos } = deps;
  const [user, page] = await Promise.all([
    repos.users.get(userId),
    repos.graph[direction](userId, limit, after && { createdAt: after.t, userId: after.u }),
  ]);
  if (!user) throw new NotFoundError('user');
  const users = await repos.users.getMany(page.items.map((edge) => edge.userId));
  return {
    items: page.items.flatMap((edge) => {
      const found = users.get(edge.userId);
      return found ? [toUserView(found)] : [];
    }),
    nextCursor: page.next ? await codec.encode({ t: page.next.createdAt, u: page.next.userId }) : null,
  };
}
