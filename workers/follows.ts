import type { Repositories } from '../db/repositories/index.ts';
import { UnavailableError } from '../src/errors.ts';
import type { QueueMessage } from '../src/messages.ts';

/**
 * Both halves of a follow edge, in order: the follower's side decides the answer, the followee's side is
 * written next; if it fails, a repair message replays both, and if even that cannot be queued the request
 * fails so the client retries (every step is idempotent).
 */
export async function setFollowing(
  repos: Repositories,
  queue: Queue<QueueMessage>,
  followerId: string,
  followeeId: string,
  following: boolean,
  at: number,
): Promise<void> {
  await (following
    ? repos.graph.writeFollowerSide(followerId, followeeId, at)
    : repos.graph.deleteFollowerSide(followerId, followeeId));
  try {
    await applyFolloweeSide(repos, followerId, followeeId, following, at);
  } catch (error) {
    console.warn('follow: followee side failed, queueing repair', error);
    try {
      await queue.send({ type: 'follow.repair', followerId, followeeId, following, at });
    } catch {
      throw new UnavailableError('the follow could not be completed, retry the request');
    }
  }
}

export async function applyFolloweeSide(
  repos: Repositories,
  followerId: string,
  followeeId: string,
  following: boolean,
  at: number,
): Promise<void> {
  await (following
    ? repos.graph.writeFolloweeSide(followerId, followeeId, at)
    : repos.graph.deleteFolloweeSide(followerId, followeeId));
}

/** Replays a follow from the source of truth, so a stale repair message cannot undo a later change. */
export async function repairFollow(repos: Repositories, followerId: string, followeeId: string, at: number) {
  const following = await repos.graph.isFollowing(followerId, followeeId);
  await applyFolloweeSide(repos, followerId, followeeId, following, at);
}
