import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../../src/cursor.ts';
import { NotFoundError, ValidationError } from '../../../src/errors.ts';
import { toUserView } from '../../../src/model.ts';
import type { EdgeKey, EdgePage } from '../../../db/repositories/graph.ts';
import type { Deps } from '../../composition.ts';
import { block, unblock } from '../../social.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { idParam, mintedIdSchema, pageQuery, validate } from '../validation.ts';

/** Ten years: longer is "until unmuted", which is what leaving the duration out (or 0) says. */
const MAX_MUTE_SECONDS = 10 * 365 * 86_400;
const muteBody = z.strictObject({ durationSeconds: z.number().int().min(0).max(MAX_MUTE_SECONDS).optional() });
const edgeCursor = z.strictObject({ t: z.number().int().nonnegative(), u: mintedIdSchema });

/** The other account must exist and not be the caller. */
async function other(deps: Deps, me: string, id: string, verb: string): Promise<void> {
  if (id === me) throw new ValidationError(`you cannot ${verb} yourself`);
  if (!(await deps.repos.users.get(id))) throw new NotFoundError('user');
}

async function relationship(deps: Deps, me: string, id: string) {
  return { relationship: await deps.repos.social.relationship(me, id, deps.now()) };
}

/** Blocks, mutes and the relationship between the caller and another account, under /v1/users. */
export const relationsRoutes = new Hono<AppEnv>()
  .get('/:id/relationship', requireUser, validate('param', idParam), async (c) => {
    const { id } = c.req.valid('param');
    if (id !== c.var.userId && !(await c.var.deps.repos.users.get(id))) throw new NotFoundError('user');
    return c.json(await relationship(c.var.deps, c.var.userId, id));
  })
  .put('/:id/block', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    await other(c.var.deps, c.var.userId, id, 'block');
    await block(c.var.deps, c.var.userId, id);
    return c.json(await relationship(c.var.deps, c.var.userId, id));
  })
  .delete('/:id/block', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    await other(c.var.deps, c.var.userId, id, 'unblock');
    await unblock(c.var.deps, c.var.userId, id);
    return c.json(await relationship(c.var.deps, c.var.userId, id));
  })
  .put(
    '/:id/mute',
    requireUser,
    validate('param', idParam),
    validate('json', muteBody),
    rateLimit('write'),
    async (c) => {
      const { id } = c.req.valid('param');
      const { durationSeconds } = c.req.valid('json');
      const { deps } = c.var;
      await other(deps, c.var.userId, id, 'mute');
      const at = deps.now();
      await deps.repos.social.mute(c.var.userId, id, at, durationSeconds ? at + durationSeconds * 1000 : null);
      return c.json(await relationship(deps, c.var.userId, id));
    },
  )
  .delete('/:id/mute', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    await other(c.var.deps, c.var.userId, id, 'unmute');
    await c.var.deps.repos.social.unmute(c.var.userId, id);
    return c.json(await relationship(c.var.deps, c.var.userId, id));
  });

/** A page of accounts as `{user}` items, from a keyset page of edges. */
async function accountPage(
  deps: Deps,
  kind: 'blocks' | 'mutes',
  userId: string,
  cursor: string | undefined,
  read: (after: EdgeKey | undefined) => Promise<EdgePage>,
) {
  const codec = createCursorCodec(`${kind}:${userId}`, deps.config.jwtSecret, edgeCursor);
  const after = cursor ? await codec.decode(cursor) : undefined;
  const page = await read(after && { createdAt: after.t, userId: after.u });
  const users = await deps.repos.users.getMany(page.items.map((edge) => edge.userId));
  return {
    items: page.items.flatMap((edge) => {
      const found = users.get(edge.userId);
      return found ? [{ user: toUserView(found) }] : [];
    }),
    nextCursor: page.next ? await codec.encode({ t: page.next.createdAt, u: page.next.userId }) : null,
  };
}

/** GET /v1/blocks: whom the caller blocks, newest first. */
export const blocksRoutes = new Hono<AppEnv>().get('/', requireUser, validate('query', pageQuery), async (c) => {
  const { deps } = c.var;
  const me = c.var.userId;
  return c.json(
    await accountPage(deps, 'blocks', me, c.req.valid('query').cursor, (after) =>
      deps.repos.social.blockPage(me, c.req.valid('query').limit, after),
    ),
  );
});

/** GET /v1/mutes: whom the caller mutes (mutes in force), newest first. */
export const mutesRoutes = new Hono<AppEnv>().get('/', requireUser, validate('query', pageQuery), async (c) => {
  const { deps } = c.var;
  const me = c.var.userId;
  return c.json(
    await accountPage(deps, 'mutes', me, c.req.valid('query').cursor, (after) =>
      deps.repos.social.mutePage(me, c.req.valid('query').limit, deps.now(), after),
    ),
  );
});
