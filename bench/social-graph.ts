/**
 * The data set of the feed bench, as rows for the bulk loader: a real follower graph from ../shared/data (SNAP
 * soc-Epinions1 or wiki-Vote; "A B" = A follows B) or, when that is absent, the seeded generator of
 * scripts/demo-data.ts; post texts from GoEmotions (or generated); plus synthetic celebrities, each followed by a
 * share of the real users and by synthetic fans up to the follower count asked for, since the real graphs top out
 * at a few thousand followers. The same options give the same rows on every run (seeded), ids aside.
 */
import { createIdGenerator } from '../src/ids.ts';
import { createRng } from '../src/random.ts';
import { generateGraph, generateTexts, loadGraph, loadTexts, type Edge } from '../scripts/demo-data.ts';
import type { BulkData, BulkFollow, BulkPost, BulkUser } from './bulk-load.ts';

export type GraphChoice = 'soc-Epinions1' | 'wiki-Vote';

export interface SocialGraphOptions {
  graph: GraphChoice;
  /** Users of the generated graph used when ../shared/data lacks the file. */
  generatedUsers: number;
  celebrities: number;
  /** Followers of each celebrity: a share of the real users, the rest synthetic fans who follow every celebrity. */
  celebrityFollowers: number;
  /** The share of real users who follow each celebrity (drawn independently per celebrity). */
  celebrityRealShare: number;
  /** Mean posts per real user (exponentially distributed, so some post a lot and many little). */
  postsPerUser: number;
  postsPerCelebrity: number;
  /** Posts are spread over this many days before `now`. */
  postDays: number;
  now: number;
  seed: number;
  /** ../shared/data, or elsewhere for a test. */
  dataDir?: string;
}

export interface SocialGraph {
  /** What was used: the named file or the generator, GoEmotions or generated texts. */
  source: { graph: string; texts: string; textPool: number };
  data: BulkData;
  /** The real graph's users, with their following and follower counts (celebrity follows included). */
  real: Array<{ id: string; following: number; followers: number; posts: number }>;
  /** Follows among the real users (the graph's edges, without the celebrities'). */
  realFollows: number;
  celebrities: string[];
  /** The synthetic followers who follow every celebrity. */
  fanIds: string[];
}

const DAY_MS = 24 * 3600 * 1000;

/** The edges with SNAP's node ids relabelled 0..n-1 in order of first appearance, self-loops and repeats dropped. */
function relabel(edges: readonly Edge[]): { users: number; edges: Edge[] } {
  const index = new Map<number, number>();
  const label = (node: number) => {
    let i = index.get(node);
    if (i === undefined) index.set(node, (i = index.size));
    return i;
  };
  const seen = new Set<number>();
  const out: Edge[] = [];
  for (const [from, to] of edges) {
    const a = label(from);
    const b = label(to);
    // Node labels stay below 2^26 in every graph we read, so a*2^26+b is an exact key.
    const key = a * 2 ** 26 + b;
    if (a === b || seen.has(key)) continue;
    seen.add(key);
    out.push([a, b]);
  }
  return { users: index.size, edges: out };
}

export function buildSocialGraph(options: SocialGraphOptions): SocialGraph {
  const rng = createRng(options.seed);
  const realEdges = loadGraph(options.graph, options.dataDir);
  const { users: realCount, edges } = relabel(realEdges ?? generateGraph(options.generatedUsers, 7, options.seed));
  const textPool = loadTexts(50_000, options.dataDir);
  const texts = textPool ?? generateTexts(5_000, options.seed + 1);

  const joined = options.now - 60 * DAY_MS;
  const newUserId = createIdGenerator({ now: () => joined });
  const user = (handle: string): BulkUser => ({
    id: newUserId(),
    handle,
    displayName: handle,
    createdAt: joined,
    lastActiveAt: null,
  });
  const real = Array.from({ length: realCount }, (_, i) => user(`user_${i}`));
  const celebrities = Array.from({ length: options.celebrities }, (_, i) => user(`celebrity_${i}`));

  const following = new Array<number>(realCount).fill(0);
  const followers = new Array<number>(realCount).fill(0);
  const follows: BulkFollow[] = [];
  const followedAt = () => joined + Math.floor(rng() * 30 * DAY_MS);
  for (const [a, b] of edges) {
    follows.push({ followerId: real[a]!.id, followeeId: real[b]!.id, createdAt: followedAt() });
    following[a]!++;
    followers[b]!++;
  }
  let fewestReal = options.celebrities > 0 ? Infinity : 0;
  for (const celebrity of celebrities) {
    let n = 0;
    for (let i = 0; i < realCount; i++) {
      if (rng() >= options.celebrityRealShare) continue;
      follows.push({ followerId: real[i]!.id, followeeId: celebrity.id, createdAt: followedAt() });
      following[i]!++;
      n++;
    }
    fewestReal = Math.min(fewestReal, n);
  }
  const fanCount = Math.max(0, options.celebrityFollowers - fewestReal);
  const fans = Array.from({ length: fanCount }, (_, i) => user(`fan_${i}`));
  for (const fan of fans) {
    for (const celebrity of celebrities) {
      follows.push({ followerId: fan.id, followeeId: celebrity.id, createdAt: followedAt() });
    }
  }

  // Post times first, then ids minted in time order, so that ids sort by creation time as the API's do.
  const drafts: Array<{ author: string; at: number }> = [];
  const postCounts = new Array<number>(realCount).fill(0);
  const spread = options.postDays * DAY_MS;
  const postAt = () => options.now - 60_000 - Math.floor(rng() * spread);
  real.forEach((u, i) => {
    const n = Math.floor(-Math.log(1 - rng()) * options.postsPerUser);
    postCounts[i] = n;
    for (let k = 0; k < n; k++) drafts.push({ author: u.id, at: postAt() });
  });
  for (const celebrity of celebrities) {
    for (let k = 0; k < options.postsPerCelebrity; k++) drafts.push({ author: celebrity.id, at: postAt() });
  }
  drafts.sort((x, y) => x.at - y.at);
  let clock = 0;
  const newPostId = createIdGenerator({ now: () => clock });
  const posts: BulkPost[] = drafts.map((d) => {
    clock = d.at;
    return { id: newPostId(), authorId: d.author, text: texts[Math.floor(rng() * texts.length)]!, createdAt: d.at };
  });

  return {
    source: {
      graph: realEdges ? options.graph : `generated (${options.generatedUsers} users)`,
      texts: textPool ? 'goemotions' : 'generated',
      textPool: texts.length,
    },
    data: { users: [...real, ...celebrities, ...fans], follows, posts },
    real: real.map((u, i) => ({
      id: u.id,
      following: following[i]!,
      followers: followers[i]!,
      posts: postCounts[i]!,
    })),
    realFollows: edges.length,
    celebrities: celebrities.map((c) => c.id),
    fanIds: fans.map((f) => f.id),
  };
}

/**
 * Synthetic audiences for the fan-out figures: an author and `followers` users who follow only that author and
 * post nothing, so a follower's timeline holds the author's k-th post exactly when it holds k entries (what
 * bench/fanout.ts's presence probe counts). `active` followers have read their feed just now (medium fan-out
 * pushes only to those).
 */
export function buildAudience(
  tag: string,
  followers: number,
  active: boolean,
  now: number,
): { author: BulkUser; followers: BulkUser[]; data: BulkData } {
  const newId = createIdGenerator({ now: () => now - DAY_MS });
  const make = (handle: string, lastActiveAt: number | null): BulkUser => ({
    id: newId(),
    handle,
    displayName: handle,
    createdAt: now - DAY_MS,
    lastActiveAt,
  });
  const author = make(`${tag}_author`, null);
  const audience = Array.from({ length: followers }, (_, i) => make(`${tag}_f${i}`, active ? now : null));
  return {
    author,
    followers: audience,
    data: {
      users: [author, ...audience],
      follows: audience.map((f) => ({ followerId: f.id, followeeId: author.id, createdAt: now - DAY_MS })),
      posts: [],
    },
  };
}
