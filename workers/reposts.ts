import { classify } from '../src/fanout.ts';
import { retry } from '../src/retry.ts';
import { featuresOf, type Repost, type TimelineEntry } from '../src/timeline.ts';
import { invalidateAuthorRecent } from './cache/index.ts';
import type { Deps } from './composition.ts';
import { fanoutPage } from './fanout.ts';

/**
 * A share or its undo, as intent then effects (as follows are, workers/follows.ts). The intent is the share row
 * with its outbox record (one batch on the post's shard, db/repositories/reposts.ts). The effects, in
 * `applyRepost`: the sharer's repost index, the sharer's AuthorFeed (what pulling readers merge) and own timeline,
 * and the fan-out of the repost entry through the same hybrid fan-out as a post, by the sharer's class: push to
 * every follower (small), to active followers (medium, low-priority queue), none (celebrity: followers pull the
 * sharer's AuthorFeed). The API queues a `repost` message once the intent is written; the consumer applies it and
 * clears the record; the outbox drainer re-sends it until then. Every step is idempotent.
 */
export async function publishRepost(deps: Deps, postId: string, userId: string, at: number): Promise<void> {
  try {
    await retry(() => deps.queues.fanout.send({ type: 'repost', postId, userId, at }), {
      attempts: 3,
      isRetryable: () => true,
    });
  } catch (error) {
    console.warn('repost: could not queue its effects, left to the outbox drainer', error);
  }
}

/**
 * Replays a share from the share row, so a stale message cannot undo a later change (a share after an undo, or
 * the reverse), then clears the outbox record up to `at`.
 */
export async function applyRepost(deps: Deps, postId: string, userId: string, at: number): Promise<void> {
  const [share, post] = await Promise.all([deps.repos.reposts.getShare(postId, userId), deps.repos.posts.get(postId)]);
  if (share && post && post.deletedAt === null) {
    const repost: Repost = { by: userId, id: share.repostId ?? postId, at: share.createdAt };
    const entry = { postId, authorId: post.authorId, createdAt: post.createdAt, repost, features: featuresOf(post) };
    await addRepost(deps, entry);
  } else {
    await removeRepost(deps, {
      postId,
      authorId: post?.authorId ?? userId,
      createdAt: post?.createdAt ?? at,
      repost: { by: userId, id: postId, at },
    });
  }
  await deps.repos.reposts.clearIntent(postId, userId, at);
}

/** An entry that is a repost. */
type RepostEntry = TimelineEntry & { repost: Repost };

async function addRepost(deps: Deps, entry: RepostEntry): Promise<void> {
  const sharer = entry.repost.by;
  await deps.repos.reposts.index(entry);
  await Promise.all([deps.objects.authorFeed(sharer).addRepost(entry), deps.objects.timeline(sharer).insert([entry])]);
  await invalidateAuthorRecent(deps, sharer);
  const user = await deps.repos.users.get(sharer);
  const sharerClass = classify(user?.followersCount ?? 0, deps.config.fanout);
  if (sharerClass === 'small') {
    await fanoutPage(deps, { type: 'fanout.page', op: 'insert', audience: 'all', entry, after: null });
  } else if (sharerClass === 'medium') {
    await deps.queues.low.send({ type: 'fanout.page', op: 'insert', audience: 'active', entry, after: null });
  }
}

/**
 * The undo leaves every follower's timeline, not only the active ones a medium sharer reached: activity changes,
 * and a removal where there is nothing to remove costs one RPC. Celebrity sharers' followers pulled it: leaving the
 * AuthorFeed (and the caches of it) is enough.
 */
async function removeRepost(deps: Deps, entry: RepostEntry): Promise<void> {
  const sharer = entry.repost.by;
  await deps.repos.reposts.unindex(sharer, entry.postId);
  await Promise.all([
    deps.objects.authorFeed(sharer).removeRepost(entry.postId),
    deps.objects.timeline(sharer).removeRepost(entry.postId, sharer),
  ]);
  await invalidateAuthorRecent(deps, sharer);
  const user = await deps.repos.users.get(sharer);
  const sharerClass = classify(user?.followersCount ?? 0, deps.config.fanout);
  if (sharerClass === 'small') {
    await fanoutPage(deps, { type: 'fanout.page', op: 'remove', audience: 'all', entry, after: null });
  } else if (sharerClass === 'medium') {
    await deps.queues.low.send({ type: 'fanout.page', op: 'remove', audience: 'all', entry, after: null });
  }
}
