import { Hono } from 'hono';
import { z } from 'zod';
import type { CommentRow } from '../../../db/repositories/engagement.ts';
import { createCursorCodec } from '../../../src/cursor.ts';
import { ForbiddenError, NotFoundError } from '../../../src/errors.ts';
import { isLive } from '../../../src/model.ts';
import { NO_RULES, blockedEitherWay, hiddenBecause } from '../../../src/social.ts';
import { cachedPosts, invalidatePosts } from '../../cache/index.ts';
import { noteEngagements } from '../../interest.ts';
import { rulesFor } from '../../social.ts';
import { optionalUser, requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { idParam, mintedIdSchema, pageQuery, validate } from '../validation.ts';

const cursorSchema = z.strictObject({ after: mintedIdSchema });
/** Fill-page: at most this many reads for one page when the reader's rules hide comments. */
const MAX_READS = 5;

export function commentView(row: CommentRow) {
  return {
    id: row.id,
    postId: row.postId,
    authorId: row.authorId,
    text: row.text,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

/** A post's comments as a thread (oldest first), and deleting a comment. Mounted at /v1. */
export const commentsRoutes = new Hono<AppEnv>()
  .get('/posts/:id/comments', optionalUser, validate('param', idParam), validate('query', pageQuery), async (c) => {
    const { id } = c.req.valid('param');
    const { limit, cursor } = c.req.valid('query');
    const { deps } = c.var;
    const viewer = c.get('viewerId');
    const codec = createCursorCodec(`comments:${id}`, deps.config.jwtSecret, cursorSchema);
    let after = cursor ? (await codec.decode(cursor)).after : undefined;
    const [posts, rules] = await Promise.all([
      cachedPosts(deps, [id]),
      viewer ? rulesFor(deps, viewer) : Promise.resolve(NO_RULES),
    ]);
    const post = posts.get(id);
    // A post whose author and the reader block each other is not there for the reader.
    if (!isLive(post) || blockedEitherWay(rules, post.authorId)) throw new NotFoundError('post');
    const items: CommentRow[] = [];
    let more = true;
    // Fill-page: comments of hidden accounts are skipped and more are read until `limit` survive or none are left
    // (at most MAX_READS reads; the cursor then continues after the last comment examined, so nothing repeats).
    for (let read = 0; read < MAX_READS && more && items.length < limit; read++) {
      const rows = await deps.repos.engagement.comments(id, limit + 1, after);
      more = rows.length > limit;
      for (const row of rows.slice(0, limit)) {
        if (items.length === limit) {
          more = true;
          break;
        }
        after = row.id;
        if (hiddenBecause(rules, row.authorId) === null) items.push(row);
      }
    }
    const nextCursor = more && after ? await codec.encode({ after }) : null;
    return c.json({ items: items.map((row) => ({ comment: commentView(row) })), nextCursor });
  })
  .delete('/comments/:id', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { deps } = c.var;
    const { engagement, social } = deps.repos;
    const comment = await engagement.getComment(id);
    if (!comment) throw new NotFoundError('comment');
    const post = (await deps.repos.posts.get(comment.postId)) ?? null;
    if (comment.authorId !== c.var.userId && post?.authorId !== c.var.userId) {
      throw new ForbiddenError("only the comment's author or the post's author can delete a comment");
    }
    const deleted = await engagement.deleteComment(comment);
    // Raced with another delete: the count moved once, for that one.
    if (!deleted) throw new NotFoundError('comment');
    await invalidatePosts(deps, [comment.postId]);
    await engagement.forget(comment.authorId, 'comment', comment.id);
    const notified = [post?.authorId].filter((r): r is string => r !== undefined);
    await Promise.all(
      notified.map((recipient) => social.unnotify(recipient, [`comment:${comment.id}:${comment.authorId}`])),
    );
    await noteEngagements(
      deps,
      [
        {
          userId: comment.authorId,
          kind: 'comment',
          refId: comment.id,
          postId: comment.postId,
          authorId: post?.authorId ?? comment.authorId,
          createdAt: deps.now(),
          durationMs: null,
        },
      ],
      'remove',
    );
    return c.json({ comment: commentView(deleted.comment) });
  });
