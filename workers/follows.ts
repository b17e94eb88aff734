import type { FolloweeChange } from '../db/repositories/graph.ts';
import { BACKFILL_POSTS, crossedPullThreshold, followModeOf } from '../src/fanout.ts';
import type { Deps } from './composition.ts';
import { notify } from './social.ts';

/**
 * A follow or unfollow, as intent then effects. The intent is the follower's edge (the source of truth, and the
 * answer) written together with a record of what is still to do (follow_outbox, one transaction on the follower's
 * shard); the effects are the followee's edge and counts, then the follower's timeline (backfill, or the pull set
 * for celebrities), all idempotent. Done inline, they clear the record; if any fails, or the invocation dies, the
 * record stays and the outbox drainer re-applies the edge's current state until they are done (a repair message
 * is queued too, to be quicker than the drainer when the queue works).
 */
export async function setFollowing(
  deps: Deps,
  followerId: string,
  followeeId: string,
  following: boolean,
  showReposts?: boolean,
): Promise<void> {
  const at = deps.now();
  const { outbox, graph } = deps.repos;
  const dueAt = at + deps.config.reliability.outboxDelayMs;
  await outbox.recordFollow(followerId, followeeId, following, at, dueAt, showReposts);
  try {
    // The flag as the follower's edge now has it (an omitted one keeps what an existing follow had).
    const flag =
      following && showReposts === undefined ? (await graph.edge(followerId, followeeId))?.showReposts : showReposts;
    await applyFollow(deps, followerId, followeeId, following, at, flag ?? true);
    await outbox.clearFollow(followerId, followeeId, at);
  } catch (error) {
    console.warn('follow: completing inline failed, queueing repair (the outbox record stays)', error);
    try {
      await deps.queues.fanout.send({ type: 'follow.repair', followerId, followeeId, at });
    } catch (sendError) {
      console.warn('follow: repair not queued either; the outbox drainer will apply it', sendError);
    }
  }
}

/**
 * Replays a follow from the follower's edge, so a stale repair cannot undo a later change, then clears the
 * outbox record up to `at` (a record of a newer change stays for its own replay).
 */
export async function repairFollow(deps: Deps, followerId: string, followeeId: string, at: number) {
  const edge = await deps.repos.graph.edge(followerId, followeeId);
  await applyFollow(deps, followerId, followeeId, edge !== undefined, at, edge?.showReposts ?? true);
  await deps.repos.outbox.clearFollow(followerId, followeeId, at);
}

async function applyFollow(
  deps: Deps,
  followerId: string,
  followeeId: string,
  following: boolean,
  at: number,
  showReposts: boolean,
): Promise<void> {
  const config = deps.config.fanout;
  const change: FolloweeChange = following
    ? await deps.repos.graph.writeFolloweeSide(followerId, followeeId, at, showReposts)
    : await deps.repos.graph.deleteFolloweeSide(followerId, followeeId);
  const timeline = deps.objects.timeline(followerId);
  if (following) {
    const mode = followModeOf(change.followers, config);
    const backfill =
      mode === 'push' ? await deps.objects.authorFeed(followeeId).recent(followeeId, BACKFILL_POSTS) : [];
    await timeline.follow(followeeId, mode, backfill, at, showReposts);
  } else {
    await timeline.unfollow(followeeId, at);
  }
  if (following && change.changed) {
    // Keyed by the intent's time, which a repair replays: a follow notifies once, a later re-follow again.
    await notify(deps, [
      { type: 'follow', recipientId: followeeId, actorId: followerId, key: `follow:${followerId}:${at}`, at },
    ]);
  }
  if (change.changed && crossedPullThreshold(change.followers, following ? 1 : -1, config)) {
    await deps.queues.low.send({ type: 'author.reclassified', authorId: followeeId, after: null });
  }
}
