import { z } from 'zod';
import { isId } from './ids.ts';
import { NOTIFICATION_TYPES } from './social.ts';

/**
 * Queue messages. Every consumer action is idempotent, so a redelivered or replayed message changes
 * nothing the first delivery did not. Long audiences are processed a page per message: a page carries
 * the keyset position (`after`) from which the next page continues.
 */
const id = z.string().refine(isId);
const repost = z.object({ by: id, id, at: z.number().int() });
// An entry's light features (src/timeline.ts): bounded, since they are stored in every follower's timeline.
const features = z.object({
  length: z.number().int().min(0).max(100_000),
  media: z.number().int().min(0).max(100),
  tags: z.array(z.string().max(100)).max(50),
  geo: z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).optional(),
});
const entry = z.object({
  postId: id,
  authorId: id,
  createdAt: z.number().int(),
  repost: repost.optional(),
  features: features.optional(),
});

export const queueMessageSchema = z.discriminatedUnion('type', [
  /** Post written: re-assert the author index and author feeds, then fan out by the author's class. */
  z.object({ type: z.literal('post.created'), entry }),
  /** Post deleted: small and medium authors' followers have it removed from their timelines (and streams told). */
  z.object({ type: z.literal('post.deleted'), entry }),
  /** Post edited: open streams of readers who have it get the new version (workers/fanout.ts onPostEdited). */
  z.object({ type: z.literal('post.edited'), entry }),
  /**
   * A step of a fan-out (src/fanout.ts `planFanout`). With `followers`: a delivery page, insert into (or remove
   * from, or stream an edit to) exactly these followers' timelines (`after` is null). Without: a planning step, read the audience from
   * `after` (a follower id; null: from the start) and queue its delivery pages, then one more planning step.
   */
  z.object({
    type: z.literal('fanout.page'),
    op: z.enum(['insert', 'remove', 'edit']),
    audience: z.enum(['all', 'active']),
    entry,
    after: id.nullable(),
    followers: z.array(id).min(1).optional(),
  }),
  /**
   * The author crossed the pull threshold: every follower's timeline switches how it gets their posts.
   * The new mode is not in the message but read from the follower count when each page is processed:
   * queues do not keep order, and a stale mode applied late would be wrong, while the count is current.
   */
  z.object({ type: z.literal('author.reclassified'), authorId: id, after: id.nullable() }),
  /**
   * A share (`sharing`) or its undo: replayed from the share row (the source of truth), so a stale message cannot
   * undo a later change; then the sharer's index and feeds and the fan-out of the repost (an entry with `repost`),
   * by the sharer's class, and the outbox record is cleared up to `at`.
   */
  z.object({ type: z.literal('repost'), postId: id, userId: id, at: z.number().int() }),
  /** A follow or unfollow whose later steps failed inline: replayed from the source of truth. */
  z.object({ type: z.literal('follow.repair'), followerId: id, followeeId: id, at: z.number().int() }),
  /**
   * A post was created or edited: embed its current text and count its hashtags (low priority; the post is
   * read when the message is handled, so a late or repeated message works on the current version).
   */
  z.object({ type: z.literal('post.enrich'), postId: id }),
  /**
   * The reader engaged with a post (or took a like back): their timeline's affinity and interest vector
   * follow. `key` is the interaction log's key, which makes applying it idempotent.
   */
  z.object({
    type: z.literal('engagement'),
    op: z.enum(['add', 'remove']),
    userId: id,
    key: z.string().min(1).max(64),
    postId: id,
    authorId: id,
    weight: z.number().min(0).max(10),
    at: z.number().int(),
    /** For the reader's seen memory (absent in messages queued before it existed). */
    kind: z.enum(['view', 'dwell', 'like', 'comment', 'share']).optional(),
    dwellMs: z.number().int().min(0).optional(),
  }),
  /** A block whose mirror on the blocked account's shard failed inline: re-applied from the blocker's row. */
  z.object({ type: z.literal('block.repair'), blockerId: id, blockedId: id, at: z.number().int() }),
  /** Notifications that could not be written inline: written by the consumer (idempotent by recipient and key). */
  z.object({
    type: z.literal('notify'),
    notifications: z
      .array(
        z.object({
          recipientId: id,
          id,
          key: z.string().min(1).max(128),
          type: z.enum(NOTIFICATION_TYPES),
          actorId: id,
          postId: id.nullable().optional(),
          commentId: id.nullable().optional(),
          createdAt: z.number().int(),
        }),
      )
      .min(1)
      .max(100),
  }),
]);

export type QueueMessage = z.infer<typeof queueMessageSchema>;
export type FanoutPage = Extract<QueueMessage, { type: 'fanout.page' }>;
export type EngagementMessage = Extract<QueueMessage, { type: 'engagement' }>;
