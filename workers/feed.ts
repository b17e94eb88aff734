import type { RankingInputs, TimelineState } from '../durable-objects/user-timeline.ts';
import { CursorExpiredError } from '../src/errors.ts';
import { MAX_CANDIDATES, applyRules, mergeCandidates, type FeedItem } from '../src/feed.ts';
import { isLive, type GeoPoint, type PostRecord } from '../src/model.ts';
import { assignArm } from '../src/experiments.ts';
import { ENGAGEMENT_WINDOW_MS } from '../src/interest.ts';
import { RULE_FILTERS, applyFilters, runPipeline, type PipelineResult, type RulesContext } from '../src/pipeline.ts';
import { NO_RULES, hiddenBecause, postHiddenBecause, type ReaderRules } from '../src/social.ts';
import { categoriesOf, type Scored, type Weights } from '../src/ranking.ts';
import { feedKey, type Repost, type TimelineEntry } from '../src/timeline.ts';
import { decodeVector } from '../src/vectors.ts';
import { cachedAuthorRecent, cachedPosts, cachedPostsOf } from './cache/index.ts';
import type { Deps } from './composition.ts';
import { rulesFor } from './social.ts';
import { trendingTags } from './trending.ts';

/** Stage timings for the Server-Timing header, in milliseconds. */
export type Timings = Record<string, number>;

export interface Skeleton {
  state: TimelineState;
  candidates: TimelineEntry[];
  /** Asked for by the ranked feed. */
  ranking?: RankingInputs;
}

/**
 * Stage 1, candidates: the reader's pushed entries, the recent posts of followed authors who are pulled
 * (celebrities), and the reader's own recent posts, merged below the cursor, at most MAX_CANDIDATES.
 */
export async function skeleton(deps: Deps, userId: string, beforeId?: string, withRanking = false): Promise<Skeleton> {
  const timeline = await deps.objects.timeline(userId).read(userId, deps.now(), MAX_CANDIDATES, beforeId, withRanking);
  // Pulled authors' lists go through the caches (hot authors' also through the edge); the reader's own list
  // does not, for read-your-writes.
  const pulled = await Promise.all([
    deps.objects.authorFeed(userId).recent(userId),
    ...timeline.pullAuthors.map((authorId) => cachedAuthorRecent(deps, authorId)),
  ]);
  return {
    state: timeline.state,
    candidates: mergeCandidates([timeline.entries, ...pulled], beforeId, {
      hiddenReposts: new Set(timeline.hiddenReposts),
    }),
    ranking: timeline.ranking,
  };
}

/** Fill-page: at most this many candidate batches (of MAX_CANDIDATES) are read for one page. */
export const MAX_CANDIDATE_ROUNDS = 4;

/**
 * The reader's rule filters (src/pipeline.ts RULE_FILTERS) over hydrated items, counting what each dropped: the
 * post's author, its words, and for a repost its sharer.
 */
function visible(
  items: readonly FeedItem[],
  rules: ReaderRules,
  filtered?: Record<string, Record<string, number>>,
): FeedItem[] {
  type Checked = { post: PostRecord; repost?: Repost; item: FeedItem };
  const checked: Checked[] = items.map((item) => ({ post: item.post, repost: item.entry.repost, item }));
  return applyFilters<RulesContext, Checked>(checked, { rules }, RULE_FILTERS, filtered).map((c) => c.item);
}

/**
 * Stages 2 and 3, hydration and rules, lazily: posts are loaded in slices (one query per shard each)
 * until `want` survive the rules (tombstones, then the reader's blocks, mutes and muted words), so a page costs
 * about one slice however long the candidate list.
 */
export async function hydrate(
  deps: Deps,
  candidates: readonly TimelineEntry[],
  want: number,
  rules: ReaderRules = NO_RULES,
): Promise<FeedItem[]> {
  const kept: FeedItem[] = [];
  for (let i = 0; i < candidates.length && kept.length < want;) {
    const slice = candidates.slice(i, i + want - kept.length + 8);
    kept.push(...visible(applyRules(slice, await cachedPostsOf(deps, slice)), rules));
    i += slice.length;
  }
  return kept.slice(0, want);
}

export interface LatestPage {
  state: TimelineState;
  items: FeedItem[];
  /** The feed key (src/timeline.ts) to continue below, or null at the end. */
  nextBefore: string | null;
  timings: Timings;
}

/**
 * The reverse-chronological home feed: keyset-paged by post id, which orders by creation time. Fill-page
 * (Bluesky's): when the reader's rules leave fewer than `limit` of a full candidate batch, the next batch below it
 * is read, up to MAX_CANDIDATE_ROUNDS; a page cut short by that bound still has a cursor to continue from.
 */
export async function latestFeed(deps: Deps, userId: string, limit: number, beforeId?: string): Promise<LatestPage> {
  const t0 = performance.now();
  const [{ state, candidates: first }, rules] = await Promise.all([
    skeleton(deps, userId, beforeId),
    rulesFor(deps, userId),
  ]);
  const t1 = performance.now();
  const items: FeedItem[] = [];
  let candidates = first;
  let lastExamined: string | null = null;
  let more: boolean;
  for (let round = 1; ; round++) {
    items.push(...(await hydrate(deps, candidates, limit + 1 - items.length, rules)));
    more = candidates.length === MAX_CANDIDATES;
    if (items.length > limit || !more) break;
    lastExamined = feedKey(candidates[candidates.length - 1]!);
    if (round === MAX_CANDIDATE_ROUNDS) break;
    candidates = (await skeleton(deps, userId, lastExamined)).candidates;
  }
  const t2 = performance.now();
  const page = items.slice(0, limit);
  // A full page continues below its last item; a short one (the rounds ran out) below the last candidate examined.
  // Both are feed keys (src/timeline.ts): a repost sorts where it was shared.
  const nextBefore =
    items.length > limit || (more && page.length === limit)
      ? feedKey(page[page.length - 1]!.entry)
      : more
        ? lastExamined
        : null;
  return {
    state,
    items: page,
    nextBefore,
    timings: { candidates: t1 - t0, hydrate: t2 - t1 },
  };
}

export interface RankedItem extends Scored {
  post: PostRecord;
}

export interface RankedPage {
  state: TimelineState;
  items: RankedItem[];
  weights: Weights;
  /** The reader's experiment arm (src/experiments.ts); "default" without experiments. */
  arm: string;
  /** How many candidates each filter dropped (first pages only). */
  filtered: PipelineResult['filtered'];
  /** Where the next page continues: the snapshot and the position in it; null at the end. */
  next: { snapshot: string; offset: number } | null;
  timings: Timings;
}

/**
 * The ranked home feed's first page. Stage 1 gathers the candidates (as `latest` does, up to MAX_CANDIDATES);
 * stage 2 hydrates all of them with what the scoring function needs (posts, the authors' follower counts,
 * post vectors, the reader's affinities, interest vector, seen memory and feedback, the weak ties through
 * followed accounts, the trending tags); then the pipeline of src/pipeline.ts filters, scores and selects, with
 * the weights and parameters of the reader's experiment arm. The whole order is kept as a snapshot in the
 * reader's timeline object, and later pages read it back (rankedFeedPage), so a page sequence neither repeats
 * nor skips items while new posts arrive. The page served is written to the seen memory.
 */
export async function rankedFeed(
  deps: Deps,
  userId: string,
  limit: number,
  location: GeoPoint | null,
): Promise<RankedPage> {
  const now = deps.now();
  const arm = assignArm(deps.config.ranking.experiments, userId);
  const t0 = performance.now();
  const [{ state, candidates: first, ranking }, trending, rules] = await Promise.all([
    skeleton(deps, userId, undefined, true),
    trendingTags(deps, now),
    rulesFor(deps, userId),
  ]);
  const candidates = await fillCandidates(deps, userId, first, limit, rules);
  const inputs = ranking ?? {
    affinity: {},
    interest: null,
    seen: { posts: {}, byAuthor: {}, byCategory: {}, overall: { seen: 0, engaged: 0, dwellMs: 0 } },
    feedback: {},
    following: [],
  };
  const t1 = performance.now();
  const postIds = candidates.map((c) => c.postId);
  const [postsById, authors, vectors, network, sharers] = await Promise.all([
    cachedPosts(deps, postIds),
    deps.repos.users.getMany([...new Set(candidates.map((c) => c.authorId))]),
    inputs.interest ? deps.repos.embeddings.getMany(postIds, inputs.interest.model) : new Map<string, Uint8Array>(),
    deps.repos.engagement.authorCountsBy(inputs.following, now - ENGAGEMENT_WINDOW_MS),
    socialProof(deps, userId, candidates, inputs.following),
  ]);
  const kept = applyRules(candidates, postsById);
  const posts = kept.map((k) => k.post);
  const t2 = performance.now();
  const result = runPipeline(
    // Candidates are newest first, so a post's index is how many newer ones the reader has.
    kept.map(({ post, entry }, newer) => {
      const vector = vectors.get(post.id);
      return {
        post,
        authorFollowers: authors.get(post.authorId)?.followersCount ?? 0,
        vector: vector ? decodeVector(vector) : null,
        newer,
        ...(entry.repost ? { repost: entry.repost } : {}),
        sharers: sharers.get(post.id) ?? 0,
      };
    }),
    {
      now,
      weights: arm.weights,
      params: arm.params,
      model: arm.model,
      affinity: new Map(Object.entries(inputs.affinity)),
      trending,
      location,
      interest: inputs.interest?.vector ?? null,
      exposure: {
        byAuthor: new Map(Object.entries(inputs.seen.byAuthor)),
        byCategory: new Map(Object.entries(inputs.seen.byCategory)),
        overall: inputs.seen.overall,
      },
      feedback: new Map(Object.entries(inputs.feedback)),
      impressions: new Map(Object.entries(inputs.seen.posts).map(([id, p]) => [id, p.impressions])),
      network,
      seen: new Map(Object.entries(inputs.seen.posts)),
      rules,
    },
  );
  const scored: Scored[] = result.items.map((item) => ({
    postId: item.candidate.post.id,
    authorId: item.candidate.post.authorId,
    score: item.score,
    signals: item.signals,
    base: item.base,
    stages: item.stages,
    ...(item.candidate.repost ? { repost: item.candidate.repost } : {}),
  }));
  const t3 = performance.now();
  const byId = new Map(posts.map((p) => [p.id, p]));
  const items = scored.slice(0, limit).map((s) => ({ ...s, post: byId.get(s.postId)! }));
  const timeline = deps.objects.timeline(userId);
  const [snapshot] = await Promise.all([
    scored.length > limit ? timeline.saveSnapshot(scored, now) : null,
    timeline.recordServed(servedOf(items), now),
  ]);
  const t4 = performance.now();
  return {
    state,
    items,
    weights: arm.weights,
    arm: arm.name,
    filtered: result.filtered,
    next: snapshot ? { snapshot, offset: limit } : null,
    timings: { candidates: t1 - t0, hydrate: t2 - t1, rank: t3 - t2, snapshot: t4 - t3 },
  };
}

/**
 * Social proof: per candidate post, how many of the accounts the reader follows (the ranking sample, plus the
 * sharers its repost entries name) shared it. One query per post shard; a failure costs the boost, not the page.
 */
async function socialProof(
  deps: Deps,
  userId: string,
  candidates: readonly TimelineEntry[],
  following: readonly string[],
): Promise<Map<string, number>> {
  const sharers = new Set(following);
  for (const c of candidates) if (c.repost) sharers.add(c.repost.by);
  sharers.delete(userId);
  try {
    return await deps.repos.reposts.sharersAmong(
      candidates.map((c) => c.postId),
      [...sharers],
    );
  } catch (error) {
    console.warn('feed: social proof unavailable for this page', error);
    return new Map();
  }
}

/**
 * Fill-page for the ranked feed: while the reader's rules leave fewer than `limit` of a full candidate batch,
 * the batch below it joins the candidates (up to MAX_CANDIDATE_ROUNDS batches), so the ranking has a page to fill.
 */
async function fillCandidates(
  deps: Deps,
  userId: string,
  first: TimelineEntry[],
  limit: number,
  rules: ReaderRules,
): Promise<TimelineEntry[]> {
  const all = [...first];
  let batch = first;
  let survivors = visible(applyRules(first, await cachedPostsOf(deps, first)), rules).length;
  for (let round = 1; round < MAX_CANDIDATE_ROUNDS && survivors < limit && batch.length === MAX_CANDIDATES; round++) {
    batch = (await skeleton(deps, userId, feedKey(batch[batch.length - 1]!))).candidates;
    all.push(...batch);
    survivors += visible(applyRules(batch, await cachedPostsOf(deps, batch)), rules).length;
  }
  return all;
}

function servedOf(items: readonly RankedItem[]) {
  return items.map((i) => ({ postId: i.postId, authorId: i.authorId, categories: categoriesOf(i.post) }));
}

/** A later page of a ranked sequence: the snapshot's order, with posts re-read (edits show, deletes drop out). */
export async function rankedFeedPage(
  deps: Deps,
  userId: string,
  limit: number,
  cursor: { snapshot: string; offset: number },
): Promise<RankedPage> {
  const t0 = performance.now();
  const timeline = deps.objects.timeline(userId);
  const rules = await rulesFor(deps, userId);
  const items: RankedItem[] = [];
  let end = cursor.offset;
  let total = 0;
  // The rules are today's, not the snapshot's: a block or mute placed since hides the author's posts at once, and
  // further snapshot items fill the page (a bounded number of reads; the cursor continues after the last one read).
  for (let round = 0; round < MAX_CANDIDATE_ROUNDS && items.length < limit; round++) {
    const want = limit - items.length;
    const page = await timeline.snapshotPage(cursor.snapshot, end, want, deps.now());
    if (!page) throw new CursorExpiredError();
    total = page.total;
    const posts = await cachedPostsOf(deps, page.items);
    for (const s of page.items) {
      const post = posts.get(s.postId);
      // A repost by an account hidden from the reader goes too (its sharer blocked either way, or muted).
      const sharerHidden = s.repost !== undefined && hiddenBecause(rules, s.repost.by) !== null;
      if (isLive(post) && postHiddenBecause(rules, post) === null && !sharerHidden) items.push({ ...s, post });
    }
    end += want;
    if (end >= total) break;
  }
  const t1 = performance.now();
  await timeline.recordServed(servedOf(items), deps.now());
  const t2 = performance.now();
  const arm = assignArm(deps.config.ranking.experiments, userId);
  return {
    state: 'ready',
    items,
    weights: arm.weights,
    arm: arm.name,
    filtered: {},
    next: end < total ? { snapshot: cursor.snapshot, offset: end } : null,
    timings: { snapshot: t1 - t0, hydrate: t2 - t1 },
  };
}
