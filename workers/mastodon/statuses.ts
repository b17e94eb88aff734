import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { AppError, NotFoundError } from '../../src/errors.ts';
import { reblogStatus, type MastodonStatus } from '../../src/mastodon-entities.ts';
import { linkHeader } from '../../src/mastodon-pagination.ts';
import { isLive, type PostRecord } from '../../src/model.ts';
import { validate } from '../api/validation.ts';
import { LIMITS } from '../../src/text.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { accountsOf, commentStatuses, liveStatus, statusesOf } from './hydrate.ts';
import { params } from './params.ts';
import { flag, idPath, idValue } from './query.ts';
import { callV1, type V1Fetch } from './v1.ts';

/** Mastodon caps a thread's descendants in one answer; so does this. */
const CONTEXT_LIMIT = 60;

const createParams = z.object({
  status: z.string().max(100_000),
  in_reply_to_id: idValue.optional().nullable(),
  media_ids: z.array(idValue).max(LIMITS.mediaPerPost).optional(),
  sensitive: flag.optional(),
  spoiler_text: z.string().max(1000).optional().nullable(),
  // Every post here is public: other visibilities are accepted and served as public (README, "Mastodon API").
  visibility: z.enum(['public', 'unlisted', 'private', 'direct']).optional().nullable(),
  language: z.string().max(20).optional().nullable(),
  scheduled_at: z.null().optional(),
  poll: z.null().optional(),
});

const editParams = z.object({
  status: z.string().max(100_000),
  media_ids: z.array(idValue).max(LIMITS.mediaPerPost).optional(),
  sensitive: flag.optional(),
  spoiler_text: z.string().max(1000).optional().nullable(),
  language: z.string().max(20).optional().nullable(),
});

const reactionPage = z.object({
  max_id: z
    .string()
    .regex(/^\d{1,15}$/, 'must be a position from a Link header')
    .optional(),
  limit: z.coerce.number().int().min(1).max(80).default(40),
});

/** Replies are comments here, which carry no media. */
function noMedia(ids: readonly string[] | undefined) {
  if (ids && ids.length > 0) throw new AppError(422, 'unsupported', 'Replies cannot carry media attachments here');
}

/** An edit keeps the post's media (v1 edits text only): clients resend the same `media_ids`, anything else is refused. */
function sameMedia(post: PostRecord, ids: readonly string[] | undefined) {
  if (ids === undefined) return;
  const current = post.media.flatMap((m) => (m.id ? [m.id] : []));
  if (ids.length !== current.length || ids.some((id) => !current.includes(id))) {
    throw new AppError(422, 'unsupported', 'Media attachments cannot change in an edit here');
  }
}

async function postOf(c: Context<MastodonEnv>, id: string): Promise<PostRecord | undefined> {
  const post = await c.var.deps.repos.posts.get(id);
  return isLive(post) ? post : undefined;
}

/** A status id names a post or a comment (one id space); either as a status, or a 404. */
async function anyStatus(c: Context<MastodonEnv>, id: string, viewerId: string | null): Promise<MastodonStatus> {
  const post = await liveStatus(c, id, viewerId);
  if (post) return post;
  const comment = await c.var.deps.repos.reactions.comment(id);
  const parent = comment ? await postOf(c, comment.postId) : undefined;
  if (comment && parent) {
    const [status] = await commentStatuses(c, [comment], parent.authorId);
    if (status) return status;
  }
  throw new NotFoundError('Record');
}

export function statusesRoutes(v1: V1Fetch) {
  const react = (method: 'PUT' | 'DELETE', what: 'like' | 'shares') => async (c: Context<MastodonEnv>) => {
    const me = actingUser(c.var.caller);
    const { id } = c.req.param() as { id: string };
    await callV1(c, v1, method === 'PUT' && what === 'shares' ? 'POST' : method, `/v1/posts/${id}/${what}`, me);
    const status = await liveStatus(c, id, me, { maxAgeMs: 0 });
    if (!status) throw new NotFoundError('Record');
    if (what === 'shares' && method === 'PUT') {
      const sharedAt = (await c.var.deps.repos.reactions.sharedBy(me, [id])).get(id) ?? c.var.deps.now();
      const sharer = await c.var.deps.repos.users.get(me);
      if (!sharer) throw new NotFoundError('Record');
      return c.json(reblogStatus(status, sharer, sharedAt, { base: new URL(c.req.url).origin, accounts: new Map() }));
    }
    return c.json(status);
  };

  const reactors = (kind: 'likers' | 'sharers') => async (c: Context<MastodonEnv>) => {
    const { id } = c.req.param() as { id: string };
    const q = c.var.params as z.infer<typeof reactionPage>;
    if (!(await postOf(c, id))) throw new NotFoundError('Record');
    const page = await c.var.deps.repos.reactions[kind](
      id,
      q.limit,
      q.max_id === undefined ? undefined : Number(q.max_id),
    );
    const link = page.next === null ? undefined : linkHeader(c.req.url, {}, { max_id: String(page.next) });
    if (link) c.header('Link', link);
    return c.json(
      await accountsOf(
        c,
        page.items.map((r) => r.userId),
      ),
    );
  };

  return new Hono<MastodonEnv>()
    .use(identify)
    .post('/', requireScope('write:statuses'), params(createParams), async (c) => {
      const me = actingUser(c.var.caller);
      const body = c.var.params as z.infer<typeof createParams>;
      // A content warning has no field of its own here: it leads the text, as it would be read.
      const text = body.spoiler_text ? `${body.spoiler_text}\n\n${body.status}` : body.status;
      if (body.in_reply_to_id) {
        noMedia(body.media_ids);
        // A reply is a comment on the post; a reply to a comment comments on that comment's post (threads are flat).
        const comment = (await postOf(c, body.in_reply_to_id))
          ? undefined
          : await c.var.deps.repos.reactions.comment(body.in_reply_to_id);
        const postId = comment?.postId ?? body.in_reply_to_id;
        const created = await callV1<{ comment: { id: string } }>(c, v1, 'POST', `/v1/posts/${postId}/comments`, me, {
          text,
        });
        return c.json(await anyStatus(c, created.comment.id, me));
      }
      // Mastodon clients send Idempotency-Key on a new status, as v1 takes it: a retried post is not posted twice.
      const mediaIds = body.media_ids && body.media_ids.length > 0 ? { mediaIds: body.media_ids } : {};
      const created = await callV1<{ post: { id: string } }>(c, v1, 'POST', '/v1/posts', me, { text, ...mediaIds }, [
        'Idempotency-Key',
      ]);
      const status = await liveStatus(c, created.post.id, me, { maxAgeMs: 0 });
      if (!status) throw new NotFoundError('Record');
      return c.json(status);
    })
    .get('/:id', validate('param', idPath), async (c) =>
      c.json(await anyStatus(c, c.req.valid('param').id, c.var.caller?.userId ?? null)),
    )
    .put('/:id', validate('param', idPath), requireScope('write:statuses'), params(editParams), async (c) => {
      const me = actingUser(c.var.caller);
      const { id } = c.req.valid('param');
      const body = c.var.params as z.infer<typeof editParams>;
      const post = await postOf(c, id);
      if (post) sameMedia(post, body.media_ids);
      else noMedia(body.media_ids);
      const text = body.spoiler_text ? `${body.spoiler_text}\n\n${body.status}` : body.status;
      await callV1(c, v1, 'PATCH', `/v1/posts/${id}`, me, { text });
      const status = await liveStatus(c, id, me, { maxAgeMs: 0 });
      if (!status) throw new NotFoundError('Record');
      return c.json(status);
    })
    .delete('/:id', validate('param', idPath), requireScope('write:statuses'), async (c) => {
      const me = actingUser(c.var.caller);
      const { id } = c.req.valid('param');
      // Mastodon answers a delete with the status as it was, and its source text (clients offer "delete & redraft").
      const post = await postOf(c, id);
      if (!post) {
        const before = await anyStatus(c, id, me);
        await callV1(c, v1, 'DELETE', `/v1/comments/${id}`, me);
        return c.json(before);
      }
      const [before] = await statusesOf(c, [{ post }], me);
      await callV1(c, v1, 'DELETE', `/v1/posts/${id}`, me);
      return c.json({ ...before, text: post.text });
    })
    .get('/:id/context', validate('param', idPath), async (c) => {
      const { id } = c.req.valid('param');
      const viewer = c.var.caller?.userId ?? null;
      const post = await postOf(c, id);
      if (post) {
        const comments = await c.var.deps.repos.reactions.commentsOf(id, CONTEXT_LIMIT);
        return c.json({ ancestors: [], descendants: await commentStatuses(c, comments, post.authorId) });
      }
      const comment = await c.var.deps.repos.reactions.comment(id);
      const parent = comment ? await liveStatus(c, comment.postId, viewer) : undefined;
      if (!parent) throw new NotFoundError('Record');
      return c.json({ ancestors: [parent], descendants: [] });
    })
    .get('/:id/history', validate('param', idPath), async (c) => {
      // Earlier versions are not kept: the history is the current version, dated by its last change.
      const status = await anyStatus(c, c.req.valid('param').id, null);
      return c.json([
        {
          content: status.content,
          spoiler_text: '',
          sensitive: false,
          created_at: status.edited_at ?? status.created_at,
          account: status.account,
          media_attachments: status.media_attachments,
          emojis: [],
        },
      ]);
    })
    .get('/:id/source', validate('param', idPath), requireScope('read:statuses'), async (c) => {
      const { id } = c.req.valid('param');
      const post = await postOf(c, id);
      if (!post) throw new NotFoundError('Record');
      return c.json({ id, text: post.text, spoiler_text: '' });
    })
    .post('/:id/favourite', validate('param', idPath), requireScope('write:favourites'), react('PUT', 'like'))
    .post('/:id/unfavourite', validate('param', idPath), requireScope('write:favourites'), react('DELETE', 'like'))
    .post('/:id/reblog', validate('param', idPath), requireScope('write:statuses'), react('PUT', 'shares'))
    .post('/:id/unreblog', validate('param', idPath), requireScope('write:statuses'), react('DELETE', 'shares'))
    .get('/:id/favourited_by', validate('param', idPath), params(reactionPage), reactors('likers'))
    .get('/:id/reblogged_by', validate('param', idPath), params(reactionPage), reactors('sharers'));
}
