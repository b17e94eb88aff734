/**
 * Demo and benchmark data: the real graphs and texts in ../shared/data when present (see its README: read them
 * there, never copy them into this repository), a small seeded generator when not, and the HTTP seeding that
 * `npm run dev` uses to fill a fresh local state through the public API.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LIMITS, codePointLength } from '../src/text.ts';
import { createRng } from '../src/random.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
export const SHARED_DATA_DIR = path.resolve(ROOT, '..', 'shared', 'data');
export const SEED_MARKER_PATH = path.join(ROOT, '.wrangler', 'demo-seed.json');

/** `[follower, followee]`: in the SNAP files "A B" means A follows (trusts, votes for) B. */
export type Edge = readonly [follower: number, followee: number];
export type GraphName = 'wiki-Vote' | 'soc-Epinions1';

// ---------------------------------------------------------------------------------------------------------------
// Loading the shared data

/** The file's text, or null when it does not exist: absent data selects the generator, anything else is a bug. */
function readOptional(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  }
}

/** Every edge of a SNAP graph in file order, or null when ../shared/data does not have it. */
export function loadGraph(name: GraphName, dataDir: string = SHARED_DATA_DIR): Edge[] | null {
  const file = path.join(dataDir, 'graphs', `${name}.txt`);
  const text = readOptional(file);
  if (text === null) return null;
  const edges: Edge[] = [];
  // The files have CRLF line ends; splitting on \n and trimming handles either.
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [from, to, extra] = line.split(/\s+/).map(Number);
    if (from === undefined || to === undefined || extra !== undefined || !Number.isInteger(from + to)) {
      throw new Error(`${file}:${index + 1}: expected "from<TAB>to", got ${JSON.stringify(line)}`);
    }
    edges.push([from, to]);
  }
  return edges;
}

/**
 * Up to `limit` GoEmotions comments usable as post text (non-empty, within the post limit), in file order so
 * every run gets the same ones; null when ../shared/data does not have them.
 */
export function loadTexts(limit: number, dataDir: string = SHARED_DATA_DIR): string[] | null {
  const text = readOptional(path.join(dataDir, 'texts', 'goemotions', 'train.tsv'));
  if (text === null) return null;
  const texts: string[] = [];
  for (const raw of text.split('\n').slice(1)) {
    if (texts.length >= limit) break;
    // Columns are `text label id`; only the last two are known to be free of tabs, so the text is the rest.
    const columns = raw.replace(/\r$/, '').split('\t');
    if (columns.length < 3) continue;
    const body = columns.slice(0, -2).join('\t').trim();
    if (body !== '' && codePointLength(body) <= LIMITS.postText) texts.push(body);
  }
  return texts;
}

/**
 * A small, connected-ish piece of a large graph: the first `users` distinct node ids in file order and the edges
 * among them, relabelled 0..users-1. SNAP files list edges grouped by source, so the early nodes are voters with
 * many edges among themselves: in wiki-Vote the first 40 hold 253 edges and none is isolated.
 */
export function subgraph(edges: readonly Edge[], users: number): Edge[] {
  const index = new Map<number, number>();
  for (const [from, to] of edges) {
    for (const node of [from, to]) if (index.size < users && !index.has(node)) index.set(node, index.size);
    if (index.size >= users) break;
  }
  const seen = new Set<string>();
  const result: Edge[] = [];
  for (const [from, to] of edges) {
    const a = index.get(from);
    const b = index.get(to);
    if (a === undefined || b === undefined || a === b || seen.has(`${a} ${b}`)) continue;
    seen.add(`${a} ${b}`);
    result.push([a, b]);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The generator used when ../shared/data is absent

function randomInt(rng: () => number, below: number): number {
  return Math.floor(rng() * below);
}

/**
 * A directed graph over 0..users-1 with about `avgFollows` follows per user. Followees are drawn in proportion
 * to followers already gained (plus one), so a few accounts become popular as in real networks. Linear in the
 * number of edges, so benchmarks can ask for large graphs.
 */
export function generateGraph(users: number, avgFollows: number, seed: number): Edge[] {
  const rng = createRng(seed);
  // Every user once, plus once more per follower gained: a uniform draw from it is preferential attachment.
  const ballot = Array.from({ length: users }, (_, i) => i);
  const edges: Edge[] = [];
  for (let follower = 0; follower < users; follower++) {
    // Between 1 and 2 * avgFollows - 1, averaging avgFollows, capped by who there is to follow.
    const want = Math.min(users - 1, 1 + randomInt(rng, Math.max(1, Math.round(2 * avgFollows - 1))));
    const chosen = new Set<number>();
    for (let attempts = 0; chosen.size < want && attempts < want * 20; attempts++) {
      const candidate = ballot[randomInt(rng, ballot.length)]!;
      if (candidate !== follower) chosen.add(candidate);
    }
    // Draws keep hitting taken users only when nearly everyone is followed; finish those in order.
    for (let candidate = 0; chosen.size < want; candidate++) if (candidate !== follower) chosen.add(candidate);
    for (const followee of chosen) {
      ballot.push(followee);
      edges.push([follower, followee]);
    }
  }
  return edges;
}

const OPENERS = ['Just', 'Finally', 'Honestly,', 'Today I', 'Anyone else', 'Still', 'So I', 'Weekend plan:'];
const VERBS = ['tried', 'finished', 'started', 'fixed', 'found', 'cooked', 'read', 'watched', 'broke', 'shipped'];
const OBJECTS = [
  'a new sourdough recipe',
  'the bike I have been repairing for weeks',
  'a book about deep sea creatures',
  'the garden fence',
  'a tiny side project',
  'the longest hike of the year',
  'a documentary on bridges',
  'my grandmother’s soup',
  'a board game with friends',
  'the bug that kept me up all night',
];
const ENDINGS = ['and it was great.', 'and I regret nothing.', 'not sure how I feel.', 'would do it again!', '...'];
const TAGS = ['#cooking', '#cycling', '#books', '#gardening', '#coding', '#hiking', '#music', '#weekend'];

/** `n` short, varied, deterministic posts, some with a hashtag so tag parsing has something to find. */
export function generateTexts(n: number, seed: number): string[] {
  const rng = createRng(seed);
  const pick = (words: readonly string[]) => words[randomInt(rng, words.length)]!;
  return Array.from({ length: n }, () => {
    const sentence = `${pick(OPENERS)} ${pick(VERBS)} ${pick(OBJECTS)} ${pick(ENDINGS)}`;
    return rng() < 0.4 ? `${sentence} ${pick(TAGS)}` : sentence;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The demo plan: who follows, posts, likes, comments and shares what (indices, no ids yet)

export interface DemoSource {
  graph: 'wiki-Vote' | 'generated';
  texts: 'goemotions' | 'generated';
}

export interface DemoSizes {
  users: number;
  postsPerUser: number;
  likes: number;
  comments: number;
  shares: number;
  /** Follows above this are dropped (deterministically) so a dense real subgraph stays demo-sized. */
  maxFollows: number;
}

export const DEFAULT_DEMO_SIZES: DemoSizes = {
  users: 40,
  postsPerUser: 5,
  likes: 300,
  comments: 50,
  shares: 30,
  maxFollows: 300,
};

export interface DemoPlan {
  source: DemoSource;
  users: Array<{ handle: string; displayName: string }>;
  follows: Edge[];
  posts: Array<{ author: number; text: string }>;
  likes: Array<{ user: number; post: number }>;
  comments: Array<{ user: number; post: number; text: string }>;
  shares: Array<{ user: number; post: number }>;
}

const NAMES = [
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy',
  'mallory', 'niaj', 'olivia', 'peggy', 'quentin', 'rupert', 'sybil', 'trent', 'ursula', 'victor',
  'walter', 'xavier', 'yvonne', 'zoe', 'amir', 'bianca', 'chen', 'dmitri', 'elena', 'farah',
  'gustav', 'hana', 'ines', 'jonas', 'kemal', 'lucia', 'mateo', 'nadia', 'oscar', 'priya',
]; // prettier-ignore

/** Readable handles (alice, bob, ...), then demo_41, demo_42, ... when more users are asked for. */
export function demoHandles(users: number): string[] {
  return Array.from({ length: users }, (_, i) => NAMES[i] ?? `demo_${String(i + 1).padStart(2, '0')}`);
}

const SEED = 20261124;

/**
 * Graph and texts from ../shared/data when there, else generated; the plan is the same on every run.
 * `dataDir` lets a test point elsewhere, e.g. at a missing directory to exercise the generator.
 */
export function buildDemoPlan(sizes: DemoSizes = DEFAULT_DEMO_SIZES, dataDir: string = SHARED_DATA_DIR): DemoPlan {
  const rng = createRng(SEED);
  const realGraph = loadGraph('wiki-Vote', dataDir);
  let follows = realGraph ? subgraph(realGraph, sizes.users) : generateGraph(sizes.users, 6, SEED);
  if (follows.length > sizes.maxFollows) follows = shuffle(follows, rng).slice(0, sizes.maxFollows);

  const postCount = sizes.users * sizes.postsPerUser;
  // Enough text for the posts plus a pool of shorter ones for comments.
  const realTexts = loadTexts(postCount + sizes.comments * 4, dataDir);
  const texts = realTexts ?? generateTexts(postCount + sizes.comments * 4, SEED + 1);
  const source: DemoSource = {
    graph: realGraph ? 'wiki-Vote' : 'generated',
    texts: realTexts ? 'goemotions' : 'generated',
  };

  const users = demoHandles(sizes.users).map((handle) => ({
    handle,
    displayName: handle.charAt(0).toUpperCase() + handle.slice(1),
  }));
  const posts = Array.from({ length: postCount }, (_, i) => ({ author: i % sizes.users, text: texts[i]! }));
  const commentTexts = texts.slice(postCount).filter((t) => codePointLength(t) <= LIMITS.commentText);

  // People mostly engage with whom they follow; strangers' posts fill in for users who follow no one.
  const followees = Array.from({ length: sizes.users }, () => [] as number[]);
  for (const [from, to] of follows) followees[from]!.push(to);
  const postsBy = Array.from({ length: sizes.users }, () => [] as number[]);
  posts.forEach((post, i) => postsBy[post.author]!.push(i));
  const pickPost = (user: number): number => {
    const authors = followees[user]!;
    if (authors.length > 0 && rng() < 0.8) {
      const own = postsBy[authors[randomInt(rng, authors.length)]!]!;
      return own[randomInt(rng, own.length)]!;
    }
    let post = randomInt(rng, posts.length);
    while (posts[post]!.author === user) post = randomInt(rng, posts.length);
    return post;
  };
  // Likes and shares are idempotent per (user, post) in the API, so draw distinct pairs to get the counts asked.
  const distinctPairs = (n: number) => {
    const seen = new Set<string>();
    const pairs: Array<{ user: number; post: number }> = [];
    for (let attempts = 0; pairs.length < n && attempts < n * 50; attempts++) {
      const user = randomInt(rng, sizes.users);
      const post = pickPost(user);
      if (seen.has(`${user} ${post}`)) continue;
      seen.add(`${user} ${post}`);
      pairs.push({ user, post });
    }
    return pairs;
  };
  const likes = distinctPairs(sizes.likes);
  const shares = distinctPairs(sizes.shares);
  const comments = Array.from({ length: Math.min(sizes.comments, commentTexts.length) }, (_, i) => {
    const user = randomInt(rng, sizes.users);
    return { user, post: pickPost(user), text: commentTexts[i]! };
  });
  return { source, users, follows, posts, likes, comments, shares };
}

function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------
// Seeding through the HTTP API

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value.a.b...` as a string, or an error that shows the unexpected body. */
function stringAt(value: unknown, keys: readonly string[], what: string): string {
  let node = value;
  for (const key of keys) node = isRecord(node) ? node[key] : undefined;
  if (typeof node !== 'string') throw new Error(`${what}: no ${keys.join('.')} in ${JSON.stringify(value)}`);
  return node;
}

export interface ApiClient {
  call(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<unknown>;
}

/** A JSON client that turns every non-2xx answer into an ApiError carrying the server's error body. */
export function createApiClient(baseUrl: string, signal?: AbortSignal): ApiClient {
  return {
    async call(method, urlPath, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(new URL(urlPath, baseUrl), {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: signal ?? null,
      });
      const text = await response.text();
      if (!response.ok) {
        throw new ApiError(`${method} ${urlPath} answered ${response.status}: ${text.slice(0, 500)}`, response.status);
      }
      return text === '' ? null : (JSON.parse(text) as unknown);
    },
  };
}

/**
 * `task` over `items` with at most `limit` in flight, results in input order. Unlike a plain pool it stops
 * starting new work at the first failure, so a broken server yields one clear error rather than hundreds.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = outcomes.find((outcome) => outcome.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}

export interface SeededUser {
  handle: string;
  id: string;
  token: string;
}

export interface SeedCounts {
  users: number;
  follows: number;
  posts: number;
  likes: number;
  comments: number;
  shares: number;
}

export interface SeedMarker {
  version: 1;
  createdAt: string;
  baseUrl: string;
  source: DemoSource;
  counts: SeedCounts;
  users: SeededUser[];
}

export interface SeedOptions {
  concurrency?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Creates the plan's users, follows, posts and engagement through the API; returns what the marker stores. */
export async function seedDemo(baseUrl: string, plan: DemoPlan, options: SeedOptions = {}): Promise<SeedMarker> {
  const api = createApiClient(baseUrl, options.signal);
  const limit = options.concurrency ?? 8;
  const log = options.log ?? (() => {});
  const step = async <T, R>(what: string, items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> => {
    const started = Date.now();
    try {
      const results = await mapLimit(items, limit, task);
      log(`${what}: ${items.length} in ${Date.now() - started} ms`);
      return results;
    } catch (error) {
      const hint =
        error instanceof ApiError && error.status === 409
          ? ' (the local state already has demo data the marker does not know: rm -rf .wrangler/state to start over)'
          : '';
      throw new Error(`seeding ${what} failed: ${error instanceof Error ? error.message : String(error)}${hint}`, {
        cause: error,
      });
    }
  };

  const users = await step('users', plan.users, async (user): Promise<SeededUser> => {
    const body = await api.call('POST', '/v1/users', { body: user });
    return {
      handle: user.handle,
      id: stringAt(body, ['user', 'id'], 'POST /v1/users'),
      token: stringAt(body, ['token'], 'POST /v1/users'),
    };
  });
  const as = (index: number) => ({ token: users[index]!.token });
  await step('follows', plan.follows, ([from, to]) => api.call('PUT', `/v1/users/${users[to]!.id}/follow`, as(from)));
  // Posts after follows, so they fan out into the followers' timelines the way live traffic would.
  const postIds = await step('posts', plan.posts, async (post) =>
    stringAt(
      await api.call('POST', '/v1/posts', { ...as(post.author), body: { text: post.text } }),
      ['post', 'id'],
      'POST /v1/posts',
    ),
  );
  const postPath = (index: number) => `/v1/posts/${postIds[index]!}`;
  await step('likes', plan.likes, (like) => api.call('PUT', `${postPath(like.post)}/like`, as(like.user)));
  await step('comments', plan.comments, (comment) =>
    api.call('POST', `${postPath(comment.post)}/comments`, { ...as(comment.user), body: { text: comment.text } }),
  );
  await step('shares', plan.shares, (share) => api.call('POST', `${postPath(share.post)}/shares`, as(share.user)));

  return {
    version: 1,
    createdAt: new Date().toISOString(),
    baseUrl,
    source: plan.source,
    counts: {
      users: users.length,
      follows: plan.follows.length,
      posts: postIds.length,
      likes: plan.likes.length,
      comments: plan.comments.length,
      shares: plan.shares.length,
    },
    users,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The marker file: written once seeding completed, read by `npm run dev` (to skip seeding) and `npm run token`

export function writeSeedMarker(marker: SeedMarker, file: string = SEED_MARKER_PATH): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(marker, null, 2)}\n`);
}

/** The marker, or null when there is none; a file that is not a marker is an error, not "absent". */
export function readSeedMarker(file: string = SEED_MARKER_PATH): SeedMarker | null {
  const text = readOptional(file);
  if (text === null) return null;
  const value: unknown = JSON.parse(text);
  if (!isRecord(value) || value.version !== 1 || !Array.isArray(value.users)) {
    throw new Error(`${file} is not a demo seed marker (version 1); delete it to seed again`);
  }
  const rawUsers: unknown[] = value.users;
  const users = rawUsers.map((user, i): SeededUser => {
    const fields = ['handle', 'id', 'token'] as const;
    if (!isRecord(user) || fields.some((field) => typeof user[field] !== 'string')) {
      throw new Error(`${file}: users[${i}] needs string handle, id and token`);
    }
    return { handle: String(user.handle), id: String(user.id), token: String(user.token) };
  });
  return { ...(value as unknown as SeedMarker), users };
}
