import { z } from 'zod';
import { isId } from './ids.ts';

/**
 * Queue messages. Every consumer action is idempotent, so a redelivered or replayed message changes
 * nothing the first delivery did not. Long audiences are processed a page per message: a page carries
 * the keyset position (`after`) from which the next page continues.
 */
const id = z.string().refine(isId);
const entry = z.object({ postId: id, authorId: id, createdAt: z.number().int() });

export const queueMessageSchema = z.discriminatedUnion('type', [
  /** Post written: re-assert the author index and author feeds, then fan out by the author's class. */
  z.object({ type: z.literal('post.created'), entry }),
  /** Post deleted: small authors' followers have it removed from their timelines. */
  z.object({ type: z.literal('post.deleted'), entry }),
  /** One page of a fan-out: insert into (or remove from) followers' timelines, then continue. */
  z.object({
    type: z.literal('fanout.page'),
    op: z.enum(['insert', 'remove']),
    audience: z.enum(['all', 'active']),
    entry,
    after: id.nullable(),
  }),
  /**
   * The author crossed the pull threshold: every follower's timeline switches how it gets their posts.
   * The new mode is not in the message but read from the follower count when each page is processed:
   * queues do not keep order, and a stale mode applied late would be wrong, while the count is current.
   */
  z.object({ type: z.literal('author.reclassified'), authorId: id, after: id.nullable() }),
  /** A follow or unfollow whose later steps failed inline: replayed from the source of truth. */
  z.object({ type: z.literal('follow.repair'), followerId: id, followeeId: id, at: z.number().int() }),
]);

export type QueueMessage = z.infer<typeof queueMessageSchema>;
export type FanoutPage = Extract<QueueMessage, { type: 'fanout.page' }>;
