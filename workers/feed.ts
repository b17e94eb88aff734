import type {
  RankedRead,
  RankingInputs,
  SnapshotMeta,
  SnapshotPage,
  TimelineState,
} from '../durable-objects/user-timeline.ts';
import { CursorExpiredError } from '../src/errors.ts';
import { MAX_CANDIDATES, applyRules, digestOf, mergeCandidates, type FeedItem } from '../src/feed.ts';
import { isLive, type GeoPoint, type PostRecord } from '../src/model.ts';
import { assignArm, type Arm } from '../src/experiments.ts';
import {
  FULL_FILTERS,
  RULE_FILTERS,
  applyFilters,
  blockFilter,
  byScore,
  lightRank,
  muteFilter,
  repostByFilter,
  runPipeline,
  type IdRef,
  type LightCandidate,
  type PipelineContext,
  type PipelineItem,
  type PipelineResult,
  type RulesContext,
} from '../src/pipeline.ts';
import { NO_RULES, hiddenBecause, postHiddenBecause, readerRules, type ReaderRules } from '../src/social.ts';
import { categoriesOf, type Candidate, type Scored, type SnapshotItem, type Weights } from '../src/ranking.ts';
import { feedKey, type Repost, type TimelineEntry } from '../src/timeline.ts';
import { decodeVector } from '../src/vectors.ts';
import {
  cachedAuthorRecent,
  cachedPosts,
  cachedPostsOf,
  followerCount,
  noteFollowerCounts,
  postCounters,
} from './cache/index.ts';
import type { Deps } from './composition.ts';
import { trendingTags } from './trending.ts';

/** Stage timings for the Server-Timing header, in milliseconds. */
export type Timings = Record<string, number>;

export interface Skeleton {
  state: TimelineState;
  candidates: TimelineEntry[];
  /** The reader's blocks, mutes and filters in force, kept by their timeline object. */
  rules: ReaderRules;
  /** Asked for by the ranked feed, with the live snapshots' digests. */
  ranking?: RankingInputs;
  snapshots?: SnapshotMeta[];
}

/**
 * Stage 1, candidates: the reader's pushed entries, the recent posts of followed authors who are pulled
 * (celebrities), and the reader's own recent posts, merged below the cursor, at most MAX_CANDIDATES.
 */
export async function skeleton(deps: Deps, userId: string, beforeId?: string, ranked?: RankedRead): Promise<Skeleton> {
  const now = deps.now();
  const timeline = await deps.objects.timeline(userId).read(userId, now, MAX_CANDIDATES, beforeId, ranked);
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
    rules: readerRules(timeline.rules, now),
    ranking: timeline.ranking,
    snapshots: timeline.snapshots,
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
  const { state, candidates: first, rules } = await skeleton(deps, userId, beforeId);
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

/** Stage 2 scores exactly this many of stage 1's best, or twice the page if that is more. */
export const STAGE2_MIN = 50;
/** A first page asked for again this soon, from the same inputs, is served from the snapshot it made. */
export const SNAPSHOT_REUSE_MS = 15_000;
/** Stage 1's stand-in for a post whose length no cache knows: a length whose content signal is neutral. */
const PRIOR_LENGTH = 50;
/** What marks a snapshot item ranked by stage 1 only: a later page scores it exactly before showing it. */
export const LIGHT_STAGE = 'light-rank';

const NO_INPUTS: RankingInputs = {
  affinity: {},
  interest: null,
  seen: { posts: {}, byAuthor: {}, byCategory: {}, overall: { seen: 0, engaged: 0, dwellMs: 0 } },
  feedback: {},
  following: [],
  network: {},
  digest: 'none',
};

/** Everything ranking reads of the reader, for one page (the pipeline's context). */
interface Reader {
  userId: string;
  arm: Arm;
  inputs: RankingInputs;
  context: PipelineContext;
}

function readerOf(
  userId: string,
  arm: Arm,
  inputs: RankingInputs,
  trending: ReadonlySet<string>,
  location: GeoPoint | null,
  rules: ReaderRules,
  now: number,
): Reader {
  const context: PipelineContext = {
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
    network: new Map(Object.entries(inputs.network)),
    seen: new Map(Object.entries(inputs.seen.posts)),
    rules,
  };
  return { userId, arm, inputs, context };
}

/**
 * What a ranked first page is computed from, as a digest: the candidates, the arm, place and trends, and the
 * reader's inputs, impressions included (their digest, which the timeline object computes once per change). A first
 * serve is an impression that sinks the posts it showed, so the next read ranks again; a reload whose page changed
 * nothing (the same posts, served within SERVED_DEDUPE_MS, src/seen.ts) has the same digest, and within
 * SNAPSHOT_REUSE_MS is served from the snapshot.
 */
function inputsDigest(
  arm: Arm,
  location: GeoPoint | null,
  trending: ReadonlySet<string>,
  inputs: RankingInputs,
  candidates: readonly TimelineEntry[],
): string {
  return digestOf(JSON.stringify([arm.name, location, [...trending], candidates.map(feedKey), inputs.digest]));
}

/** A snapshot ranked within SNAPSHOT_REUSE_MS from the same inputs: a reload of the first page is served from it. */
function reusableSnapshot(snapshots: readonly SnapshotMeta[], digest: string, now: number): SnapshotMeta | undefined {
  return snapshots.find((s) => s.inputs === digest && s.createdAt <= now && now - s.createdAt < SNAPSHOT_REUSE_MS);
}

/** Stage 1's view of the candidates: each entry with its features and the counter cache's counts, or priors. */
function lightCandidates(candidates: readonly TimelineEntry[], now: number): LightCandidate[] {
  // Candidates are newest first, so a post's index is how many newer ones the reader has.
  return candidates.map((entry, newer) => {
    const cached = postCounters(entry.postId, now);
    const features = entry.features ?? cached?.features;
    return {
      entry,
      post: { id: entry.postId, authorId: entry.authorId },
      ...(entry.repost ? { repost: entry.repost } : {}),
      newer,
      authorFollowers: followerCount(entry.authorId, now) ?? 0,
      inputs: {
        id: entry.postId,
        authorId: entry.authorId,
        createdAt: entry.createdAt,
        length: features?.length ?? PRIOR_LENGTH,
        mediaCount: features?.media ?? 0,
        hashtags: features?.tags ?? [],
        location: features?.geo ?? null,
        likes: cached?.likes ?? 0,
        comments: cached?.comments ?? 0,
        shares: cached?.shares ?? 0,
      },
    };
  });
}

/**
 * Stage 2 for some of stage 1's best: their posts, authors' follower counts, vectors and social proof are read
 * (the only reads for ranking a page), tombstones and the text filters drop, and the full pipeline scores them.
 */
async function fullRank(
  deps: Deps,
  reader: Reader,
  batch: readonly LightCandidate[],
): Promise<{ result: PipelineResult; posts: Map<string, PostRecord>; hydrateMs: number }> {
  const t0 = performance.now();
  const { inputs } = reader;
  const entries = batch.map((c) => c.entry);
  const postIds = entries.map((e) => e.postId);
  const now = deps.now();
  // Follower counts the counter cache has (read within minutes) are not read again: they move slowly.
  const followers = new Map<string, number>();
  for (const { authorId } of entries) {
    const known = followerCount(authorId, now);
    if (known !== undefined) followers.set(authorId, known);
  }
  const reading = cachedPosts(deps, postIds);
  const [posts, authors, vectors, sharers] = await Promise.all([
    reading,
    deps.repos.users.getMany([...new Set(entries.map((e) => e.authorId))].filter((id) => !followers.has(id))),
    inputs.interest ? deps.repos.embeddings.getMany(postIds, inputs.interest.model) : new Map<string, Uint8Array>(),
    socialProof(deps, reader.userId, entries, inputs.following, reading, now),
  ]);
  noteFollowerCounts(authors, now);
  for (const [id, user] of authors) followers.set(id, user.followersCount);
  const hydrateMs = performance.now() - t0;
  const candidates: Candidate[] = [];
  for (const c of batch) {
    const post = posts.get(c.entry.postId);
    if (!isLive(post)) continue;
    const vector = vectors.get(post.id);
    candidates.push({
      post,
      authorFollowers: followers.get(post.authorId) ?? 0,
      vector: vector ? decodeVector(vector) : null,
      newer: c.newer,
      ...(c.repost ? { repost: c.repost } : {}),
      sharers: sharers.get(post.id) ?? 0,
    });
  }
  return { result: runPipeline(candidates, reader.context, FULL_FILTERS), posts, hydrateMs };
}

function scoredOf(item: PipelineItem): Scored {
  return {
    postId: item.candidate.post.id,
    authorId: item.candidate.post.authorId,
    score: item.score,
    signals: item.signals,
    base: item.base,
    stages: item.stages,
    ...(item.candidate.repost ? { repost: item.candidate.repost } : {}),
  };
}

function addCounts(into: PipelineResult['filtered'], from: PipelineResult['filtered']): void {
  for (const [name, reasons] of Object.entries(from)) {
    const counts = (into[name] ??= {});
    for (const [reason, n] of Object.entries(reasons)) counts[reason] = (counts[reason] ?? 0) + n;
  }
}

/**
 * The ranked home feed's first page, in two stages (docs/architecture.md, "Ranked feed"). Candidates: as `latest`
 * gathers them (up to MAX_CANDIDATES a batch), with the reader's inputs (affinities, interest, seen memory,
 * feedback, weak ties) from the same timeline read. Stage 1 (`lightRank`) filters by ids and scores every
 * candidate from the entries' features and the isolate's counter cache, reading nothing. Stage 2 reads the posts,
 * authors, vectors and social proof of the best max(STAGE2_MIN, 2 × limit), drops tombstones and muted words
 * (refilling from stage 1's order if the page would be short), and scores them with the full pipeline; the page is
 * its best, with exact signals. The order (stage 2's, then the rest of stage 1's) is kept as a snapshot for later
 * pages, written only if it changed; a reload within SNAPSHOT_REUSE_MS from the same inputs is served from it.
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
  const [{ state, candidates: first, ranking, snapshots, rules }, trending] = await Promise.all([
    skeleton(deps, userId, undefined, { head: limit, headSince: now - SNAPSHOT_REUSE_MS }),
    trendingTags(deps, now),
  ]);
  const candidates = await fillCandidates(deps, userId, first, limit, rules);
  const inputs = ranking ?? NO_INPUTS;
  const timeline = deps.objects.timeline(userId);
  const digest = inputsDigest(arm, location, trending, inputs, candidates);
  const reusable = state === 'ready' ? reusableSnapshot(snapshots ?? [], digest, now) : undefined;
  const t1 = performance.now();
  if (reusable !== undefined) {
    const page = await snapshotItems(deps, userId, rules, { snapshot: reusable.id, offset: 0 }, limit, reusable.head);
    const { items } = await scoreExactly(deps, page.items, () =>
      Promise.resolve(readerOf(userId, arm, inputs, trending, location, rules, now)),
    );
    // A reload of what was just served records nothing; the head told whether that is so.
    const head = new Set(reusable.head?.served === true ? reusable.head.items.map((i) => i.postId) : []);
    if (!items.every((i) => head.has(i.postId))) await timeline.recordServed(servedOf(items), now);
    return {
      state,
      items,
      weights: arm.weights,
      arm: arm.name,
      filtered: {},
      next: page.next,
      timings: { candidates: t1 - t0, snapshot: performance.now() - t1 },
    };
  }
  const reader = readerOf(userId, arm, inputs, trending, location, rules, now);
  const light = lightRank(lightCandidates(candidates, now), reader.context);
  const t2 = performance.now();
  const filtered = light.filtered;
  const pool = Math.max(STAGE2_MIN, 2 * limit);
  const exact: PipelineItem[] = [];
  const posts = new Map<string, PostRecord>();
  let taken = 0;
  let hydrateMs = 0;
  // Fill-page: a batch whose posts were deleted or hold muted words may leave the page short; the next of stage 1's
  // order is scored too, up to MAX_CANDIDATE_ROUNDS batches.
  for (let round = 0; round < MAX_CANDIDATE_ROUNDS && exact.length < limit && taken < light.items.length; round++) {
    const batch = light.items.slice(taken, taken + pool).map((item) => item.candidate);
    taken += batch.length;
    const full = await fullRank(deps, reader, batch);
    hydrateMs += full.hydrateMs;
    addCounts(filtered, full.result.filtered);
    exact.push(...full.result.items);
    for (const [id, post] of full.posts) posts.set(id, post);
  }
  const t3 = performance.now();
  const ranked = exact.sort(byScore).map(scoredOf);
  // Stage 1's tail is kept without its signals: a later page scores it exactly before showing it, and the
  // snapshot, written on most first pages, is a third of the size.
  const order: SnapshotItem[] = [
    ...ranked,
    ...light.items.slice(taken).map(({ candidate, score }) => ({
      postId: candidate.post.id,
      authorId: candidate.post.authorId,
      score,
      stages: { [LIGHT_STAGE]: { factor: 1, newer: candidate.newer } },
      ...(candidate.repost ? { repost: candidate.repost } : {}),
    })),
  ];
  const items = ranked.slice(0, limit).map((s) => ({ ...s, post: posts.get(s.postId)! }));
  const orderDigest = digestOf(order.map((s) => `${s.postId}:${s.repost?.id ?? ''}`).join(' '));
  const snapshot = await timeline.finishRankedPage(
    order.length > items.length ? order : null,
    { inputs: digest, order: orderDigest },
    servedOf(items),
    now,
  );
  const t4 = performance.now();
  return {
    state,
    items,
    weights: arm.weights,
    arm: arm.name,
    filtered,
    next: snapshot ? { snapshot, offset: items.length } : null,
    timings: {
      candidates: t1 - t0,
      stage1: t2 - t1,
      stage2: t3 - t2 - hydrateMs,
      hydrate: hydrateMs,
      snapshot: t4 - t3,
    },
  };
}

/**
 * Social proof: per candidate post, how many of the accounts the reader follows (the ranking sample, plus the
 * sharers its repost entries name) shared it. One query per post shard, for the posts that may have been shared:
 * most never are, and those the counter cache knows as unshared are asked about only if their bodies, read
 * alongside, show a share after all. A failure costs the boost, not the page.
 */
async function socialProof(
  deps: Deps,
  userId: string,
  candidates: readonly TimelineEntry[],
  following: readonly string[],
  bodies: Promise<Map<string, PostRecord>>,
  now: number,
): Promise<Map<string, number>> {
  const sharers = new Set(following);
  for (const c of candidates) if (c.repost) sharers.add(c.repost.by);
  sharers.delete(userId);
  const unshared = new Set(
    candidates.filter((c) => !c.repost && postCounters(c.postId, now)?.shares === 0).map((c) => c.postId),
  );
  const among = (postIds: string[]) => deps.repos.reposts.sharersAmong(postIds, [...sharers]);
  try {
    const [counts, posts] = await Promise.all([
      among(candidates.map((c) => c.postId).filter((id) => !unshared.has(id))),
      bodies,
    ]);
    const shared = [...unshared].filter((id) => (posts.get(id)?.shareCount ?? 0) > 0);
    for (const [id, n] of await among(shared)) counts.set(id, n);
    return counts;
  } catch (error) {
    console.warn('feed: social proof unavailable for this page', error);
    return new Map();
  }
}

/** The reader's id-only rules (blocks, mutes, hidden sharers) over entries: what stage 1 will keep of them. */
function survivorsOf(entries: readonly TimelineEntry[], rules: ReaderRules): number {
  const refs = entries.map((e) => ({ post: { id: e.postId, authorId: e.authorId }, repost: e.repost }));
  return applyFilters<RulesContext, IdRef>(refs, { rules }, [blockFilter, muteFilter, repostByFilter]).length;
}

/**
 * Fill-page for the ranked feed: while the reader's blocks and mutes leave fewer than `limit` of a full candidate
 * batch, the batch below it joins the candidates (up to MAX_CANDIDATE_ROUNDS batches), so the ranking has a page to
 * fill. Counted on ids, reading no post: stage 2 refills for what only the posts can rule out.
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
  let survivors = survivorsOf(first, rules);
  for (let round = 1; round < MAX_CANDIDATE_ROUNDS && survivors < limit && batch.length === MAX_CANDIDATES; round++) {
    batch = (await skeleton(deps, userId, feedKey(batch[batch.length - 1]!))).candidates;
    all.push(...batch);
    survivors += survivorsOf(batch, rules);
  }
  return all;
}

function servedOf(items: readonly RankedItem[]) {
  return items.map((i) => ({ postId: i.postId, authorId: i.authorId, categories: categoriesOf(i.post) }));
}

/**
 * Items of a snapshot from `cursor`, with posts re-read (edits show, deletes drop out) and today's rules, not the
 * snapshot's: a block or mute placed since hides the author's posts at once, and further snapshot items fill the
 * page (a bounded number of reads; the cursor continues after the last one read).
 */
async function snapshotItems(
  deps: Deps,
  userId: string,
  rules: ReaderRules,
  cursor: { snapshot: string; offset: number },
  limit: number,
  head?: SnapshotPage,
): Promise<{ items: SnapshotRead[]; next: RankedPage['next'] }> {
  const timeline = deps.objects.timeline(userId);
  const items: SnapshotRead[] = [];
  let end = cursor.offset;
  let total = 0;
  for (let round = 0; round < MAX_CANDIDATE_ROUNDS && items.length < limit; round++) {
    const want = limit - items.length;
    // The first page of a reused snapshot came with the timeline read.
    const page =
      round === 0 && head !== undefined && cursor.offset === 0
        ? head
        : await timeline.snapshotPage(cursor.snapshot, end, want, deps.now());
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
  return { items, next: end < total ? { snapshot: cursor.snapshot, offset: end } : null };
}

/** A snapshot item with its post, re-read. */
type SnapshotRead = SnapshotItem & { post: PostRecord };

/** Scored exactly: by stage 2, with its signals (stage 1's tail has none). */
function isExact(item: SnapshotRead): item is RankedItem {
  return item.signals !== undefined && item.stages?.[LIGHT_STAGE] === undefined;
}

/**
 * Items of the snapshot that only stage 1 ranked are scored by stage 2 before they are shown, so `explain` is
 * exact on every page; they keep their place in the snapshot's order, so pages neither repeat nor skip. One that
 * stage 2's filters drop is not shown. `reader` is called only when there is such an item.
 */
async function scoreExactly(
  deps: Deps,
  items: readonly SnapshotRead[],
  reader: () => Promise<Reader>,
): Promise<{ items: RankedItem[]; hydrateMs: number }> {
  const light = items.filter((item) => !isExact(item));
  if (light.length === 0) return { items: items.filter(isExact), hydrateMs: 0 };
  const now = deps.now();
  const batch = lightCandidates(
    light.map(({ post, repost }) => ({
      postId: post.id,
      authorId: post.authorId,
      createdAt: post.createdAt,
      ...(repost ? { repost } : {}),
    })),
    now,
  ).map((c, i) => ({ ...c, newer: light[i]!.stages?.[LIGHT_STAGE]?.newer ?? 0 }));
  const full = await fullRank(deps, await reader(), batch);
  const exact = new Map(full.result.items.map((item) => [item.candidate.post.id, scoredOf(item)]));
  return {
    items: items.flatMap((item): RankedItem[] => {
      if (isExact(item)) return [item];
      const scored = exact.get(item.postId);
      return scored ? [{ ...scored, post: item.post }] : [];
    }),
    hydrateMs: full.hydrateMs,
  };
}

/** A later page of a ranked sequence: the snapshot's order, scored exactly where only stage 1 had scored it. */
export async function rankedFeedPage(
  deps: Deps,
  userId: string,
  limit: number,
  cursor: { snapshot: string; offset: number },
  location: GeoPoint | null = null,
): Promise<RankedPage> {
  const t0 = performance.now();
  const timeline = deps.objects.timeline(userId);
  const arm = assignArm(deps.config.ranking.experiments, userId);
  const asOf = deps.now();
  const rules = readerRules(await timeline.rules(userId, asOf), asOf);
  const page = await snapshotItems(deps, userId, rules, cursor, limit);
  const t1 = performance.now();
  const { items, hydrateMs } = await scoreExactly(deps, page.items, async () => {
    const now = deps.now();
    const [read, trending] = await Promise.all([
      timeline.read(userId, now, 0, undefined, { head: 0, headSince: now }),
      trendingTags(deps, now),
    ]);
    return readerOf(userId, arm, read.ranking ?? NO_INPUTS, trending, location, rules, now);
  });
  const t2 = performance.now();
  await timeline.recordServed(servedOf(items), deps.now());
  const t3 = performance.now();
  return {
    state: 'ready',
    items,
    weights: arm.weights,
    arm: arm.name,
    filtered: {},
    next: page.next,
    timings: { snapshot: t1 - t0 + (t3 - t2), stage2: t2 - t1 - hydrateMs, hydrate: hydrateMs },
  };
}
