import { queueMessageSchema, type QueueMessage } from '../../src/messages.ts';
import { isLive } from '../../src/model.ts';
import type { Deps } from '../composition.ts';
import { noteLastFailure } from '../dead-letters.ts';
import { enrichPost } from '../enrich.ts';
import { fanoutPage, onPostCreated, onPostDeleted, onPostEdited, reclassify } from '../fanout.ts';
import { repairFollow } from '../follows.ts';
import { applyRepost } from '../reposts.ts';
import { applyEngagement } from '../interest.ts';
import { forgetTrending } from '../trending.ts';
import { notifyEngagement, notifyPostMentions, repairBlock, writeNotifications } from '../social.ts';

/** Handles one message; every branch is idempotent, so redelivery is harmless. */
export async function handleMessage(deps: Deps, message: QueueMessage): Promise<void> {
  switch (message.type) {
    case 'post.created': {
      const { entry } = message;
      // The outbox re-sends until this clears it, so the message may arrive after a delete: nothing to fan out.
      const post = await deps.repos.posts.get(entry.postId);
      const live = isLive(post);
      // The tag index is repaired here too: this message is what the post outbox guarantees.
      if (live)
        await Promise.all([onPostCreated(deps, entry), deps.repos.tags.add(post), notifyPostMentions(deps, post)]);
      // Every delivery page is now queued or done: the record of the owed fan-out can go.
      await deps.repos.outbox.clearPost(entry.authorId, entry.postId);
      // Embedding is CPU-heavy and can wait: it leaves the high-priority queue to fan-out.
      if (live) await deps.queues.low.send({ type: 'post.enrich', postId: entry.postId });
      return;
    }
    case 'post.deleted':
      await onPostDeleted(deps, message.entry);
      return forgetTrending(deps, message.entry.postId);
    case 'post.edited': {
      // A late message after a delete has nothing to show: the delete event went out already.
      const post = await deps.repos.posts.get(message.entry.postId);
      if (isLive(post)) await onPostEdited(deps, message.entry);
      return;
    }
    case 'fanout.page':
      return fanoutPage(deps, message);
    case 'author.reclassified':
      return reclassify(deps, message);
    case 'repost':
      return applyRepost(deps, message.postId, message.userId, message.at);
    case 'follow.repair':
      return repairFollow(deps, message.followerId, message.followeeId, message.at);
    case 'post.enrich':
      return enrichPost(deps, message.postId);
    case 'engagement':
      await applyEngagement(deps, message);
      // The queued copy of what the route notified inline: the same key, so it adds nothing when that worked.
      return notifyEngagement(deps, message);
    case 'block.repair':
      return repairBlock(deps, message.blockerId, message.blockedId, message.at);
    case 'notify':
      return writeNotifications(deps, message.notifications);
  }
}

/**
 * Acks each message on success and retries it alone on failure (after max_retries it goes to the dead-letter
 * queue, and its last error is recorded for the dead letter). A message that does not parse can never succeed: it
 * is logged and acked rather than retried. The test-only fault injector fails deliveries here.
 */
export async function consumeBatch(deps: Deps, batch: MessageBatch<unknown>): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      const parsed = queueMessageSchema.safeParse(msg.body);
      if (!parsed.success) {
        console.error('queue: dropping malformed message', msg.id, parsed.error.message);
        msg.ack();
        return;
      }
      try {
        deps.faults?.maybeFail('delivery');
        await handleMessage(deps, parsed.data);
        msg.ack();
      } catch (error) {
        const { queueMaxRetries, queueRetryMaxSeconds } = deps.config.reliability;
        if (msg.attempts > queueMaxRetries) await noteLastFailure(deps, msg.body, error, msg.attempts);
        console.warn('queue: retrying message', msg.id, parsed.data.type, error);
        msg.retry({ delaySeconds: Math.min(2 ** msg.attempts, queueRetryMaxSeconds) });
      }
    }),
  );
}
