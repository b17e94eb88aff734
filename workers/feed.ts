import type { TimelineState } from '../durable-objects/user-timeline.ts';
import { MAX_CANDIDATES, applyRules, mergeCandidates } from '../src/feed.ts';
import type { PostRecord } from '../src/model.ts';
import type { TimelineEntry } from '../src/timeline.ts';
import type { Deps } from './api/context.ts';
import { authorFeedOf, timelineOf } from './stubs.ts';

/** Stage timings for the Server-Timing header, in milliseconds. */
export type Timings = Record<string, number>;

export interface Skeleton {
  state: TimelineState;
  candidates: TimelineEntry[];
}

/**
 * Stage 1, candidates: the reader's pushed entries, the recent posts of followed authors who are pulled
 * (celebrities), and the reader's own recent posts, merged below the cursor, at most MAX_CANDIDATES.
 */
export async function skeleton(env: Env, userId: string, now: number, beforeId?: string): Promise<Skeleton> {
  const timeline = await timelineOf(env, userId).read(userId, now, MAX_CANDIDATES, beforeId);
  const pulled = await Promise.all(
    [userId, ...timeline.pullAuthors].map((authorId) => authorFeedOf(env, authorId).recent(authorId)),
  );
  return { state: timeline.state, candidates: mergeCandidates([timeline.entries, ...pulled], beforeId) };
}

/**
 * Stages 2 and 3, hydration and rules, lazily: posts are loaded in slices (one query per shard each)
 * until `want` survive the rules, so a page costs about one slice however long the candidate list.
 */
export async function hydrate(deps: Deps, candidates: readonly TimelineEntry[], want: number): Promise<PostRecord[]> {
  const kept: PostRecord[] = [];
  for (let i = 0; i < candidates.length && kept.length < want;) {
    const slice = candidates.slice(i, i + want - kept.length + 8);
    kept.push(...applyRules(slice, await deps.repos.posts.getMany(slice.map((c) => c.postId))));
    i += slice.length;
  }
  return kept.slice(0, want);
}

export interface LatestPage {
  state: TimelineState;
  posts: PostRecord[];
  /** The id to continue below, or null at the end. */
  nextBefore: string | null;
  timings: Timings;
}

/** The reverse-chronological home feed: keyset-paged by post id, which orders by creation time. */
export async function latestFeed(
  deps: Deps,
  env: Env,
  userId: string,
  limit: number,
  beforeId?: string,
): Promise<LatestPage> {
  const t0 = performance.now();
  const { state, candidates } = await skeleton(env, userId, deps.now(), beforeId);
  const t1 = performance.now();
  const posts = await hydrate(deps, candidates, limit + 1);
  const t2 = performance.now();
  const page = posts.slice(0, limit);
  const more = posts.length > limit || (candidates.length === MAX_CANDIDATES && page.length > 0);
  return {
    state,
    posts: page,
    nextBefore: more ? page[page.length - 1]!.id : null,
    timings: { candidates: t1 - t0, hydrate: t2 - t1 },
  };
}

export function serverTiming(timings: Timings): string {
  return Object.entries(timings)
    .map(([stage, ms]) => `${stage};dur=${ms.toFixed(1)}`)
    .join(', ');
}
