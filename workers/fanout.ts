import {
  BACKFILL_POSTS,
  PLAN_PAGES,
  classify,
  followModeOf,
  isActive,
  planFanout,
  sendBatches,
} from '../src/fanout.ts';
import { forEachLimit } from '../src/concurrency.ts';
import type { FanoutPage, QueueMessage } from '../src/messages.ts';
import { sourceOf, type TimelineEntry } from '../src/timeline.ts';
import type { Deps } from './composition.ts';

/** Timeline RPCs in flight at once per page; the pages of one batch run side by side (see wrangler.toml). */
const DELIVERY_CONCURRENCY = 32;

/**
 * Consumer side of a new post: makes sure the author index and both author-side DOs have it (the API
 * did this inline; after a failure there, this is the repair), then starts the fan-out its class calls for.
 * Small authors' fan-out is planned here, on the high-priority queue (up to one page of followers is delivered
 * right here); medium authors' is planned and delivered on the low-priority queue; celebrities get none: their
 * followers pull.
 */
export async function onPostCreated(deps: Deps, entry: TimelineEntry): Promise<void> {
  await deps.repos.posts.index(entry.authorId, entry.postId, entry.createdAt);
  await Promise.all([
    deps.objects.authorFeed(entry.authorId).add(entry),
    deps.objects.timeline(entry.authorId).insert([entry]),
  ]);
  const author = await deps.repos.users.get(entry.authorId);
  const authorClass = classify(author?.followersCount ?? 0, deps.config.fanout);
  if (authorClass === 'small') {
    await fanoutPage(deps, { type: 'fanout.page', op: 'insert', audience: 'all', entry, after: null });
  } else if (authorClass === 'medium') {
    await deps.queues.low.send({ type: 'fanout.page', op: 'insert', audience: 'active', entry, after: null });
  }
}

/**
 * Deleted posts leave the timelines they were pushed to: every follower's for small authors, active followers' for
 * medium ones (on the low-priority queue), and open streams there hear of it; reads filter the tombstone whatever
 * happens. Celebrities' posts are in no follower's timeline: their AuthorFeed tells the streams that watch it.
 */
export async function onPostDeleted(deps: Deps, entry: TimelineEntry): Promise<void> {
  await Promise.all([
    deps.objects.authorFeed(entry.authorId).remove(entry.postId, entry),
    deps.objects.timeline(entry.authorId).removePost(entry.postId),
  ]);
  await fanOutChange(deps, 'remove', entry);
}

/**
 * An edit reaches open streams the way the post did: by fan-out for small and medium authors (each timeline that
 * has the post and a socket open streams the new version; one without sockets does nothing), through the
 * AuthorFeed's watchers for celebrities. Timelines hold ids only, so nothing else needs to change.
 */
export async function onPostEdited(deps: Deps, entry: TimelineEntry): Promise<void> {
  await Promise.all([
    deps.objects.authorFeed(entry.authorId).edited(entry),
    deps.objects.timeline(entry.authorId).noteEdit(entry),
  ]);
  await fanOutChange(deps, 'edit', entry);
}

async function fanOutChange(deps: Deps, op: 'remove' | 'edit', entry: TimelineEntry): Promise<void> {
  const author = await deps.repos.users.get(entry.authorId);
  const authorClass = classify(author?.followersCount ?? 0, deps.config.fanout);
  if (authorClass === 'small') {
    await fanoutPage(deps, { type: 'fanout.page', op, audience: 'all', entry, after: null });
  } else if (authorClass === 'medium') {
    await deps.queues.low.send({ type: 'fanout.page', op, audience: 'active', entry, after: null });
  }
}

/**
 * One step of a fan-out. A delivery page (it lists its followers) delivers to them. A planning step reads the
 * next PLAN_PAGES pages of follower ids (ids only: the followee's primary key) and either delivers a lone last
 * page itself or queues all the pages at once, so that they are delivered in parallel rather than one hop after
 * another, together with one continuation that plans the next step. Everything is queued before anything is
 * delivered and every delivery is idempotent, so a retry of any step repeats work but loses and doubles nothing.
 */
export async function fanoutPage(deps: Deps, page: FanoutPage): Promise<void> {
  if (page.followers) return deliver(deps, page, page.followers);
  const config = deps.config.fanout;
  // A repost reaches the sharer's followers.
  const { ids, next } = await deps.repos.graph.followerIds(
    sourceOf(page.entry),
    config.pageSize * PLAN_PAGES,
    page.after ?? undefined,
    // Followers who hide the sharer's reposts are not asked (their timelines would refuse it anyway); an undo
    // still reaches every follower, in case the flag changed since.
    { showingReposts: page.entry.repost !== undefined && page.op === 'insert' },
  );
  const plan = planFanout(ids, next, config.pageSize);
  if (plan.kind === 'inline') return deliver(deps, page, plan.followers);
  const messages: FanoutPage[] = plan.pages.map((followers) => ({ ...page, after: null, followers }));
  if (plan.continueAfter !== null) messages.push({ ...page, after: plan.continueAfter });
  const queue = page.audience === 'all' ? deps.queues.fanout : deps.queues.low;
  for (const batch of sendBatches(messages)) await queue.sendBatch(batch.map((body) => ({ body })));
}

/**
 * Medium authors reach only followers active in the last 24 h: one users read per page, not per follower.
 * A repost's page first reads the share row (once per page): queues do not keep order, so an insert page of a share
 * since undone, or a removal page older than a new share, must not act on what is now current.
 */
async function deliver(deps: Deps, page: FanoutPage, followers: string[]): Promise<void> {
  const { repost } = page.entry;
  let current: string | undefined;
  if (repost) {
    const share = await deps.repos.reposts.getShare(page.entry.postId, repost.by);
    // Shares older than repost ids sort by their post's id (workers/reposts.ts).
    current = share ? (share.repostId ?? share.postId) : undefined;
    if (page.op === 'insert' && current !== repost.id) return;
  }
  let audience = followers;
  if (page.audience === 'active') {
    const users = await deps.repos.users.getMany(followers);
    const now = deps.now();
    audience = followers.filter((id) => isActive(users.get(id)?.lastActiveAt ?? null, now));
  }
  await forEachLimit(audience, DELIVERY_CONCURRENCY, (id) => {
    const timeline = deps.objects.timeline(id);
    switch (page.op) {
      case 'insert':
        return timeline.deliver([page.entry], deps.now());
      case 'remove':
        return page.entry.repost
          ? timeline.removeRepost(page.entry.postId, page.entry.repost.by, current)
          : timeline.removePost(page.entry.postId);
      case 'edit':
        return timeline.noteEdit(page.entry);
    }
  });
}

/** Every follower's timeline switches the author to the mode their current follower count calls for. */
export async function reclassify(
  deps: Deps,
  message: Extract<QueueMessage, { type: 'author.reclassified' }>,
): Promise<void> {
  const config = deps.config.fanout;
  const [author, { ids, next }] = await Promise.all([
    deps.repos.users.get(message.authorId),
    deps.repos.graph.followerIds(message.authorId, config.pageSize, message.after ?? undefined),
  ]);
  if (next) await deps.queues.low.send({ ...message, after: next });
  const mode = followModeOf(author?.followersCount ?? 0, config);
  const backfill =
    mode === 'push' ? await deps.objects.authorFeed(message.authorId).recent(message.authorId, BACKFILL_POSTS) : [];
  await forEachLimit(ids, DELIVERY_CONCURRENCY, (id) =>
    deps.objects.timeline(id).setMode(message.authorId, mode, backfill),
  );
}
