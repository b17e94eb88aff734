import type { FolloweeChange } from '../db/repositories/graph.ts';
import { UnavailableError } from '../src/errors.ts';
import { BACKFILL_POSTS, crossedPullThreshold, followModeOf } from '../src/fanout.ts';
import type { Deps } from './composition.ts';

/**
 * A follow or unfollow, in order: the follower's edge (the source of truth, and the answer), then the
 * followee's edge, then the follower's timeline (backfill, or the pull set for celebrities). If a later
 * step fails, a repair message replays them all from the source of truth; if even that cannot be queued
 * the request fails, and the client's retry is safe because every step is idempotent.
 */
export async function setFollowing(
  deps: Deps,
  followerId: string,
  followeeId: string,
  following: boolean,
): Promise<void> {
  const at = deps.now();
  await (following
    ? deps.repos.graph.writeFollowerSide(followerId, followeeId, at)
    : deps.repos.graph.deleteFollowerSide(followerId, followeeId));
  try {
    await applyFollow(deps, followerId, followeeId, following, at);
  } catch (error) {
    console.warn('follow: completing inline failed, queueing repair', error);
    try {
      await deps.queues.fanout.send({ type: 'follow.repair', followerId, followeeId, at });
    } catch {
      throw new UnavailableError('the follow could not be completed, retry the request');
    }
  }
}

/** Replays a follow from the follower's edge, so a stale repair cannot undo a later change. */
export async function repairFollow(deps: Deps, followerId: string, followeeId: string, at: number) {
  const following = await deps.repos.graph.isFollowing(followerId, followeeId);
  await applyFollow(deps, followerId, followeeId, following, at);
}

async function applyFollow(
  deps: Deps,
  followerId: string,
  followeeId: string,
  following: boolean,
  at: number,
): Promise<void> {
  const config = deps.config.fanout;
  const change: FolloweeChange = following
    ? await deps.repos.graph.writeFolloweeSide(followerId, followeeId, at)
    : await deps.repos.graph.deleteFolloweeSide(followerId, followeeId);
  const timeline = deps.objects.timeline(followerId);
  if (following) {
    const mode = followModeOf(change.followers, config);
    const backfill =
      mode === 'push' ? await deps.objects.authorFeed(followeeId).recent(followeeId, BACKFILL_POSTS) : [];
    await timeline.follow(followeeId, mode, backfill, at);
  } else {
    await timeline.unfollow(followeeId, at);
  }
  if (change.changed && crossedPullThreshold(change.followers, following ? 1 : -1, config)) {
    await deps.queues.low.send({ type: 'author.reclassified', authorId: followeeId, after: null });
  }
}
