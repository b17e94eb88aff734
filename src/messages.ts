import { z } from 'zod';
import { isId } from './ids.ts';

/**
 * Queue messages. Every consumer action is idempotent, so a redelivered or replayed message changes
 * nothing the first delivery did not.
 */
const id = z.string().refine(isId);

export const queueMessageSchema = z.discriminatedUnion('type', [
  /** Post written; the consumer re-asserts the author index and fans out. */
  z.object({ type: z.literal('post.created'), postId: id, authorId: id, createdAt: z.number().int() }),
  /** A follow or unfollow whose second half failed inline: replayed until both halves agree. */
  z.object({
    type: z.literal('follow.repair'),
    followerId: id,
    followeeId: id,
    following: z.boolean(),
    at: z.number().int(),
  }),
]);

export type QueueMessage = z.infer<typeof queueMessageSchema>;
