import { Hono } from 'hono';
import { endTime, setMetric, startTime } from 'hono/timing';
import { z } from 'zod';
import {
  AppError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../../../src/errors.ts';
import { isIdempotencyKey, mintOnShardOf } from '../../../src/outbox.ts';
import type { PostRecord } from '../../../src/model.ts';
import { isLive, toPostView } from '../../../src/model.ts';
import { LIMITS, parseHashtags, parseMentions } from '../../../src/text.ts';
import { featuresOf } from '../../../src/timeline.ts';
import { requireUser } from '../auth.ts';
import { cachedPosts, invalidateAuthorRecent, invalidatePosts } from '../../cache/index.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import {
  conditionalGet,
  edgeCachedPost,
  publicReadFreshness,
  purgePublicAuthorPosts,
  purgePublicPost,
} from '../edge-cache.ts';
import { describeRoutes, type RouteDoc } from '../route-docs.ts';
import {
  commentSchema,
  idParam,
  idSchema,
  optionalTextField,
  postEnvelope,
  postSchema,
  textField,
  validate,
} from '../validation.ts';
import { noteEngagements, recordEngagements } from '../../interest.ts';
import { announceEdit, publishPost, reenrichPost, retractPost } from '../../posts.ts';
import { publishRepost } from '../../reposts.ts';
import { indexTags, unindexTags } from '../../tags.ts';
import { attachMedia, deleteMediaOf } from '../../media.ts';
import { notifyComment, notifyEngagementRow, refuseIfBlocked } from '../../social.ts';
import type { Deps } from '../../composition.ts';
import type { IdempotentPost } from '../../../db/repositories/outbox.ts';

const media = z.strictObject({
  url: z.url({ protocol: /^https$/ }).max(LIMITS.mediaUrl),
  kind: z.enum(['image', 'video', 'gif']),
  alt: optionalTextField(LIMITS.mediaAlt),
});

const location = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  name: optionalTextField(LIMITS.locationName, { trim: true }),
});

const createBody = z
  .strictObject({
    text: textField(LIMITS.postText),
    media: z.array(media).max(LIMITS.mediaPerPost).optional(),
    /** Uploads (POST /v1/media) of the author's, not used by another post. */
    mediaIds: z.array(idSchema).min(1).max(LIMITS.mediaPerPost).optional(),
    location: location.optional(),
  })
  .refine((b) => (b.media?.length ?? 0) + (b.mediaIds?.length ?? 0) <= LIMITS.mediaPerPost, {
    message: `at most ${LIMITS.mediaPerPost} media in all`,
    path: ['mediaIds'],
  });

const editBody = z.strictObject({ text: textField(LIMITS.postText) });
const commentBody = z.strictObject({ text: textField(LIMITS.commentText) });

/**
 * `If-Match: "3"` (or W/"3", or 3): the version the editor last saw. A read's ETag (`"3.10.2.1"`, see
 * representationTag) is accepted too: only its version matters to an edit.
 */
function expectedVersion(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})(?:\.\d{1,15}\.\d{1,15}\.\d{1,15})?"?\s*$/.exec(header);
  if (!match) throw new ValidationError('If-Match must be the post\'s version as an ETag, e.g. "3"');
  return Number(match[1]);
}

function etag(post: PostRecord): string {
  return `"${post.version}"`;
}

/**
 * The ETag of a read: the counts are part of what a read returns and change without a new version, so a
 * validator of the version alone would answer 304 over changed counts. Every other field changes only with
 * the version (or the post is gone), so version and counts identify the representation.
 */
function representationTag(post: PostRecord): string {
  return `"${post.version}.${post.likeCount}.${post.commentCount}.${post.shareCount}"`;
}

/** The `Idempotency-Key` header, checked; undefined when absent. */
function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!isIdempotencyKey(header)) {
    throw new ValidationError('Idempotency-Key must be 1-255 printable ASCII characters (a UUID, say)');
  }
  return header;
}

async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The post an earlier request with this key created, as it is now; the same key with another body is refused. */
async function firstPost(deps: Deps, first: IdempotentPost, requestHash: string): Promise<PostRecord> {
  if (first.requestHash !== requestHash) {
    throw new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request');
  }
  const post = await deps.repos.posts.get(first.postId);
  if (!post) throw new NotFoundError('post');
  return post;
}

/** The post an interaction is about, for its author (whose blocks may refuse it); 404 when there is none. */
async function postToActOn(deps: Deps, id: string): Promise<PostRecord> {
  return live((await cachedPosts(deps, [id])).get(id));
}

function live(post: PostRecord | undefined): PostRecord {
  if (!isLive(post)) throw new NotFoundError('post');
  return post;
}

export const postsRoutes = new Hono<AppEnv>()
  .post('/', requireUser, validate('json', createBody), rateLimit('post'), async (c) => {
    const { deps } = c.var;
    const { repos, newId, now, config } = deps;
    const body = c.req.valid('json');
    const key = idempotencyKey(c.req.header('Idempotency-Key'));
    const requestHash = key === undefined ? '' : await digest(JSON.stringify(body));
    const replay = (post: PostRecord) => {
      c.header('Idempotent-Replayed', 'true');
      c.header('ETag', etag(post));
      c.header('Location', `/v1/posts/${post.id}`);
      return c.json({ post: toPostView(post) }, 201);
    };
    if (key !== undefined) {
      const first = await repos.outbox.findIdempotent(c.var.userId, key);
      if (first) return replay(await firstPost(deps, first, requestHash));
    }
    const at = now();
    startTime(c, 'd1');
    // Minted on the author's shard: the post, its index entry and its outbox record are one transaction.
    const id = mintOnShardOf(newId, config.shardMap, c.var.userId);
    const uploads = body.mediaIds
      ? await attachMedia(deps, body.mediaIds, c.var.userId, id, new URL(c.req.url).origin)
      : undefined;
    const record = {
      id,
      authorId: c.var.userId,
      text: body.text,
      media: [...(body.media ?? []), ...(uploads?.media ?? [])],
      hashtags: parseHashtags(body.text),
      mentions: parseMentions(body.text),
      location: body.location ?? null,
      createdAt: at,
      updatedAt: at,
    };
    const created = await repos.outbox
      .createPost(record, at + config.reliability.outboxDelayMs, key === undefined ? undefined : { key, requestHash })
      .catch(async (error: unknown) => {
        await uploads?.release();
        throw error;
      });
    if (created.kind === 'key_taken') {
      await uploads?.release();
      // A concurrent request with the same key won: its post is the answer.
      const first = key === undefined ? undefined : await repos.outbox.findIdempotent(c.var.userId, key);
      if (!first) throw new AppError(409, 'conflict', 'a request with this Idempotency-Key is in progress; retry');
      return replay(await firstPost(deps, first, requestHash));
    }
    const post = created.post;
    endTime(c, 'd1');
    const entry = { postId: post.id, authorId: post.authorId, createdAt: post.createdAt, features: featuresOf(post) };
    // The caches are dropped beside the delivery, not after it: they wait on nothing it does.
    startTime(c, 'invalidate');
    const invalidated = Promise.all([
      invalidateAuthorRecent(deps, post.authorId),
      purgePublicAuthorPosts(post.authorId),
    ]).finally(() => endTime(c, 'invalidate'));
    await Promise.all([
      publishPost(deps, entry, (stage, ms) => setMetric(c, stage, ms)),
      invalidated,
      indexTags(deps, post),
    ]);
    c.header('ETag', etag(post));
    c.header('Location', `/v1/posts/${post.id}`);
    return c.json({ post: toPostView(post) }, 201);
  })
  .get('/:id', conditionalGet, edgeCachedPost, validate('param', idParam), async (c) => {
    const { id } = c.req.valid('param');
    const post = live(
      (await cachedPosts(c.var.deps, [id], publicReadFreshness(c.req.header('Authorization')))).get(id),
    );
    c.header('ETag', representationTag(post));
    return c.json({ post: toPostView(post) });
  })
  .patch('/:id', requireUser, validate('param', idParam), validate('json', editBody), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { text: newText } = c.req.valid('json');
    const version = expectedVersion(c.req.header('If-Match'));
    // The tags before the edit, so that the index can drop those the new text no longer has.
    const before = await c.var.deps.repos.posts.get(id);
    const outcome = await c.var.deps.repos.posts.edit(
      id,
      c.var.userId,
      {
        text: newText,
        hashtags: parseHashtags(newText),
        mentions: parseMentions(newText),
        updatedAt: c.var.deps.now(),
      },
      version,
    );
    switch (outcome.kind) {
      case 'not_found':
        throw new NotFoundError('post');
      case 'not_author':
        throw new ForbiddenError('only the author can edit a post');
      case 'version_mismatch':
        throw new PreconditionFailedError(`post is at version ${outcome.current}, not ${version}`);
      case 'edited':
        await Promise.all([
          invalidatePosts(c.var.deps, [id]),
          purgePublicPost(id),
          purgePublicAuthorPosts(outcome.post.authorId),
        ]);
        await Promise.all([
          unindexTags(
            c.var.deps,
            id,
            (before?.hashtags ?? []).filter((tag) => !outcome.post.hashtags.includes(tag)),
          ),
          indexTags(c.var.deps, outcome.post),
          reenrichPost(c.var.deps, id),
          announceEdit(c.var.deps, {
            postId: id,
            authorId: outcome.post.authorId,
            createdAt: outcome.post.createdAt,
          }),
        ]);
        c.header('ETag', etag(outcome.post));
        return c.json({ post: toPostView(outcome.post) });
    }
  })
  .delete('/:id', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { repos, now } = c.var.deps;
    const post = await repos.posts.get(id);
    if (!post) throw new NotFoundError('post');
    if (post.authorId !== c.var.userId) throw new ForbiddenError('only the author can delete a post');
    const tombstone = (await repos.posts.tombstone(id, now())) ?? post;
    await repos.posts.unindex(post.authorId, id);
    await Promise.all([unindexTags(c.var.deps, id, post.hashtags), deleteMediaOf(c.var.deps, post.media)]);
    await Promise.all([invalidatePosts(c.var.deps, [id]), purgePublicPost(id), purgePublicAuthorPosts(post.authorId)]);
    await retractPost(c.var.deps, { postId: id, authorId: post.authorId, createdAt: post.createdAt });
    return c.json({ post: toPostView(tombstone) });
  })
  .put('/:id/like', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { repos, now } = c.var.deps;
    const at = now();
    await refuseIfBlocked(c.var.deps, c.var.userId, (await postToActOn(c.var.deps, id)).authorId);
    const post = live(await repos.engagement.like(id, c.var.userId, at));
    await invalidatePosts(c.var.deps, [id]);
    const row = {
      userId: c.var.userId,
      kind: 'like',
      refId: id,
      postId: id,
      authorId: post.authorId,
      createdAt: at,
    } as const;
    await recordEngagements(c.var.deps, [row]);
    await notifyEngagementRow(c.var.deps, row);
    return c.json({ post: toPostView(post), liked: true });
  })
  .delete('/:id/like', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { repos, now } = c.var.deps;
    const post = live(await repos.engagement.unlike(id, c.var.userId));
    await invalidatePosts(c.var.deps, [id]);
    await repos.engagement.forget(c.var.userId, 'like', id);
    await repos.social.unnotify(post.authorId, [`like:${id}:${c.var.userId}`]);
    await noteEngagements(
      c.var.deps,
      [{ userId: c.var.userId, kind: 'like', refId: id, postId: id, authorId: post.authorId, createdAt: now() }],
      'remove',
    );
    return c.json({ post: toPostView(post), liked: false });
  })
  .post(
    '/:id/comments',
    requireUser,
    validate('param', idParam),
    validate('json', commentBody),
    rateLimit('write'),
    async (c) => {
      const { id } = c.req.valid('param');
      const { deps } = c.var;
      const { repos, newId, now, config } = deps;
      await refuseIfBlocked(deps, c.var.userId, (await postToActOn(deps, id)).authorId);
      // On the post's shard, so that DELETE /v1/comments/:id finds it from its id alone.
      const commentId = mintOnShardOf(newId, config.shardMap, id);
      const comment = { id: commentId, authorId: c.var.userId, text: c.req.valid('json').text, createdAt: now() };
      const post = live(await repos.engagement.comment(id, comment));
      await invalidatePosts(deps, [id]);
      const row = {
        userId: c.var.userId,
        kind: 'comment',
        refId: comment.id,
        postId: id,
        authorId: post.authorId,
        createdAt: comment.createdAt,
      } as const;
      await recordEngagements(deps, [row]);
      await notifyComment(deps, row, comment.text);
      return c.json(
        {
          comment: { ...comment, postId: id, createdAt: new Date(comment.createdAt).toISOString() },
          post: toPostView(post),
        },
        201,
      );
    },
  )
  .post('/:id/shares', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { repos, now, newId, config } = c.var.deps;
    const at = now();
    await refuseIfBlocked(c.var.deps, c.var.userId, (await postToActOn(c.var.deps, id)).authorId);
    // The share row and the record of its effects, in one transaction; a repeat keeps the first repost.
    const post = live(await repos.reposts.share(id, c.var.userId, at, newId(), at + config.reliability.outboxDelayMs));
    await invalidatePosts(c.var.deps, [id]);
    await publishRepost(c.var.deps, id, c.var.userId, at);
    const row = {
      userId: c.var.userId,
      kind: 'share',
      refId: id,
      postId: id,
      authorId: post.authorId,
      createdAt: at,
    } as const;
    await recordEngagements(c.var.deps, [row]);
    await notifyEngagementRow(c.var.deps, row);
    return c.json({ post: toPostView(post), shared: true }, 201);
  })
  .delete('/:id/shares', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const { id } = c.req.valid('param');
    const { repos, now, config } = c.var.deps;
    const at = now();
    const post = live(await repos.reposts.unshare(id, c.var.userId, at, at + config.reliability.outboxDelayMs));
    await invalidatePosts(c.var.deps, [id]);
    await publishRepost(c.var.deps, id, c.var.userId, at);
    await repos.engagement.forget(c.var.userId, 'share', id);
    // The undone repost's notification goes too (src/social.ts keys it by type, post and actor).
    await repos.social.unnotify(post.authorId, [`repost:${id}:${c.var.userId}`]);
    await noteEngagements(
      c.var.deps,
      [{ userId: c.var.userId, kind: 'share', refId: id, postId: id, authorId: post.authorId, createdAt: at }],
      'remove',
    );
    return c.json({ post: toPostView(post), shared: false });
  });

const ETAG_HEADER = { ETag: "the post's version, for `If-Match`" };
const likeAnswer = z.object({ post: postSchema, liked: z.boolean() });

function engagementDoc(summary: string, status: number, schema: z.ZodType, description: string): RouteDoc {
  return {
    summary,
    responses: { [status]: { description, schema } },
    errors: {
      403: { code: 'blocked', description: 'a block between you and the post’s author refuses it' },
      404: 'no such post, or it is deleted',
    },
  };
}

describeRoutes(postsRoutes, {
  'POST /': {
    summary: 'Publish a post',
    description:
      "Answers once the post is stored and in the author's own timeline; fan-out to followers follows. With `Idempotency-Key`, a retry answers the first request's post (`Idempotent-Replayed: true`).",
    headers: {
      'Idempotency-Key': {
        description: '1-255 printable ASCII characters (a UUID, say)',
        example: '5a3a9c4e-2f0b-4d7e-9a51-0c7d9f1e2b34',
      },
    },
    requestExample: {
      text: 'hello #edge @bob',
      media: [{ url: 'https://example.com/cat.jpg', kind: 'image', alt: 'a cat' }],
    },
    responses: {
      201: {
        description: 'The new post',
        schema: postEnvelope,
        headers: { ...ETAG_HEADER, Location: '`/v1/posts/{id}`', 'Idempotent-Replayed': '`true` on a replay' },
      },
    },
    errors: {
      409: 'a request with this Idempotency-Key is still in progress; retry',
      422: { code: 'idempotency_key_reused', description: 'this Idempotency-Key was used with a different body' },
    },
  },
  'GET /:id': {
    summary: 'A post',
    description:
      'Anonymous reads are public and edge-cached (`Cache-Control: public, s-maxage=15, stale-while-revalidate=30`).',
    security: 'optionalUser',
    responses: {
      200: {
        description: 'The post',
        schema: postEnvelope,
        headers: {
          ETag: 'version and counts, for `If-None-Match`',
          'X-Edge-Cache': '`hit` when the edge cache answered',
        },
      },
    },
    errors: { 404: 'no such post, or it is deleted' },
  },
  'PATCH /:id': {
    summary: 'Edit a post',
    description: 'Only by its author. With `If-Match`, only while the post is at that version.',
    headers: { 'If-Match': { description: 'the version last seen, as an ETag: `"3"`', example: '"1"' } },
    requestExample: { text: 'hello again #edge' },
    responses: {
      200: { description: 'The edited post (its version bumped)', schema: postEnvelope, headers: ETAG_HEADER },
    },
    errors: {
      400: 'an invalid body, id or `If-Match`',
      403: 'not the author',
      404: 'no such post',
      412: 'the post is no longer at the version `If-Match` names',
    },
  },
  'DELETE /:id': {
    summary: 'Delete a post',
    description: 'Only by its author. The answer is the tombstone: empty text, `deleted: true`.',
    responses: { 200: { description: 'The deleted post', schema: postEnvelope } },
    errors: { 403: 'not the author', 404: 'no such post' },
  },
  'PUT /:id/like': engagementDoc('Like a post', 200, likeAnswer, 'The post with its counts; idempotent'),
  'DELETE /:id/like': engagementDoc('Unlike a post', 200, likeAnswer, 'The post with its counts; idempotent'),
  'POST /:id/comments': engagementDoc(
    'Comment on a post',
    201,
    z.object({ comment: commentSchema, post: postSchema }),
    'The comment, and the post with its counts',
  ),
  'POST /:id/shares': engagementDoc(
    'Share (repost) a post',
    201,
    z.object({ post: postSchema, shared: z.literal(true) }),
    'The post with its counts',
  ),
  'DELETE /:id/shares': engagementDoc(
    'Undo a share',
    200,
    z.object({ post: postSchema, shared: z.literal(false) }),
    'The post with its counts; the repost leaves your followers’ feeds',
  ),
});
