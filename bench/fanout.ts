/**
 * Fan-out latency: the time from the 201 of `POST /v1/posts` until the post is in the timeline of every
 * follower, for authors with about 1,000 followers, small (pushed to all) and medium (pushed to those active in
 * the last 24 h, here all of them), posting one at a time and several authors at once. Baseline, same run: the
 * same deliveries made directly from one invocation, without queues (the floor that queueing adds to).
 */
import type { V4WorkerOptions } from 'miniflare';
import { mapLimit } from '../src/concurrency.ts';
import { classify, parseFanoutConfig } from '../src/fanout.ts';
import { createIdGenerator } from '../src/ids.ts';
import { expectStatus, signupUser, type Service } from './harness.ts';
import { formatMs, summarize, table, type Summary } from './stats.ts';

export const PROBE_WORKER = 'fanout-probe';

/**
 * A bench-only Worker beside the service, bound to the service's UserTimeline and AuthorFeed classes. It only
 * calls the objects' public methods: `size()` (read-only: counts entries) to see whether fan-out has arrived,
 * `insert()` for the no-queue baselines, `init()` and `follow()` to give bulk-loaded users the timelines that signup
 * and follows through the API would have left, and AuthorFeed's `readCounters()` (read-only) to count the feed reads
 * that got past the caches. Nothing of it is in the production bundle.
 */
const PROBE_SCRIPT = `
const timeline = (env, id) => env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(id));
async function eachLimit(items, limit, task) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]);
  }));
}
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const body = await request.json();
    if (pathname === '/below') {
      // For each group, the ids whose timelines hold fewer than min entries.
      const below = await Promise.all(body.groups.map(async ({ ids, min }) => {
        const short = [];
        await eachLimit(ids, 64, async (id) => { if ((await timeline(env, id).size()) < min) short.push(id); });
        return short;
      }));
      return Response.json({ below });
    }
    if (pathname === '/deliver') {
      await eachLimit(body.ids, body.concurrency, (id) => timeline(env, id).insert([body.entry]));
      return Response.json({ ok: true });
    }
    if (pathname === '/count') {
      // Entries held by all of these timelines together.
      let total = 0;
      await eachLimit(body.ids, 64, async (id) => {
        // Not \`total += await ...\`: that reads total before the await and loses concurrent additions.
        const size = await timeline(env, id).size();
        total += size;
      });
      return Response.json({ total });
    }
    if (pathname === '/init') {
      // What signup and follows through the API leave in the timelines of bulk-loaded users: ready, following
      // their owner, and each followed author in the mode the service would give it (no posts to backfill yet).
      await eachLimit(body.users, 32, async ({ id, follows }) => {
        const t = timeline(env, id);
        await t.init(id, body.now);
        for (const f of follows) await t.follow(f.authorId, f.mode, [], body.now);
      });
      return Response.json({ ok: true });
    }
    if (pathname === '/author-feed') {
      // Read-only: how many feed reads reached each author's AuthorFeed past the caches, and whether it is hot.
      const authors = await Promise.all(body.ids.map(async (id) => {
        const feed = env.AUTHOR_FEED.get(env.AUTHOR_FEED.idFromName(id));
        return { id, ...(await feed.readCounters()) };
      }));
      return Response.json({ authors });
    }
    return new Response('not found', { status: 404 });
  },
};
`;

export function fanoutProbeWorker(): V4WorkerOptions {
  return {
    name: PROBE_WORKER,
    modules: true,
    script: PROBE_SCRIPT,
    durableObjects: {
      USER_TIMELINE: { className: 'UserTimeline', scriptName: 'edge-feed' },
      AUTHOR_FEED: { className: 'AuthorFeed', scriptName: 'edge-feed' },
    },
  };
}

export interface FanoutBenchOptions {
  /** Posts per class made one at a time into warm timelines, each waited for until it is everywhere. */
  sequentialPosts: number;
  /** Posts per class made one at a time after evicting every follower's timeline object from memory. */
  coldPosts: number;
  /** Rounds per class in which every author of the class posts at the same moment. */
  bursts: number;
  /** Authors per class (each with their own followers); all of them post in a burst. */
  authorsPerClass: number;
  /** Delivery concurrency of the probe's concurrent baseline (what one fan-out page runs). */
  floorConcurrency: number;
  /** Runs of each baseline. */
  floorRuns: number;
  /**
   * Creates an author with `followers` followers of their own (`active`: who read their feed in the last 24 h);
   * through the API (signup, follow, feed read) unless given, e.g. bulk-loaded by the feed bench.
   */
  makeAudience?: (tag: string, followers: number, active: boolean) => Promise<Audience>;
  log: (line: string) => void;
}

export interface Series {
  /** What was measured, as the table shows it. */
  label: string;
  /** Fan-out through the queues, or the no-queue baseline. */
  kind: 'fanout' | 'baseline';
  /** Whether the followers' timeline objects were in memory (warm) or had been evicted first (cold). */
  timelines: 'warm' | 'cold';
  /** Milliseconds, in the order taken: for fan-out, from the 201 until every follower's timeline has the post. */
  samples: number[];
  summary: Summary;
}

export interface ClassResult {
  name: 'small' | 'medium';
  followers: number;
  authors: number;
  series: Series[];
  /** POST /v1/posts itself, as the author sees it. */
  post: Summary;
  /** How long one presence sweep over the outstanding followers took: the measurement's resolution. */
  sweep: Summary;
  /** Followers checked in storage (every one) and through the API (a sample) after the run. */
  verified: { timelines: number; feeds: number };
}

export interface FanoutResult {
  options: Omit<FanoutBenchOptions, 'log'>;
  vars: Record<string, string>;
  queueConsumers: Service['queueConsumers'];
  classes: ClassResult[];
}

export interface User {
  id: string;
  token: string;
}

export interface Audience {
  author: User;
  followers: User[];
}

class FanoutBenchError extends Error {
  override name = 'FanoutBenchError';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SETUP_CONCURRENCY = 8;
const WAIT_LIMIT_MS = 120_000;

/** One author and `count` followers of their own, through the API: signup, follow, and for medium a feed read. */
async function audience(service: Service, tag: string, count: number, active: boolean): Promise<Audience> {
  const author = await signupUser(service, `${tag}_author`);
  const followers = await mapLimit(count, SETUP_CONCURRENCY, async (i) => {
    const user = await signupUser(service, `${tag}_f${i}`);
    await expectStatus(service, 200, 'PUT', `/v1/users/${author.id}/follow`, { token: user.token });
    // A feed read is what records a user as active (users.last_active_at), which medium fan-out requires.
    if (active) await expectStatus(service, 200, 'GET', '/v1/feed?mode=latest', { token: user.token });
    return user;
  });
  const { user } = await expectStatus<{ user: { counts: { followers: number } } }>(
    service,
    200,
    'GET',
    `/v1/users/${author.id}`,
  );
  if (user.counts.followers !== count) {
    throw new FanoutBenchError(`${tag}: author has ${user.counts.followers} followers, expected ${count}`);
  }
  return { author, followers };
}

interface Group {
  ids: string[];
  /** The entry count every timeline of the group must reach. */
  min: number;
}

/**
 * Waits until every group's timelines hold `min` entries; returns, per group, when that was seen (the end of
 * the sweep that found none short). A few followers are watched first, so that full sweeps, which compete with
 * fan-out for the same two cores, start only once deliveries are landing.
 */
async function waitForGroups(service: Service, groups: Group[], sweeps: number[]): Promise<number[]> {
  const deadline = performance.now() + WAIT_LIMIT_MS;
  const below = (gs: Group[]) =>
    service.callWorker<{ below: string[][] }>(PROBE_WORKER, '/below', { groups: gs }).then((r) => r.below);
  const samples = groups.map((g) => ({ ids: [g.ids[0]!, g.ids[g.ids.length - 1]!], min: g.min }));
  while ((await below(samples)).some((ids) => ids.length > 0)) {
    if (performance.now() > deadline) throw new FanoutBenchError('no delivery seen within the time limit');
    await sleep(5);
  }
  const remaining = groups.map((g) => g.ids);
  const doneAt = groups.map(() => Number.NaN);
  while (remaining.some((ids) => ids.length > 0)) {
    const started = performance.now();
    const short = await below(remaining.map((ids, i) => ({ ids, min: groups[i]!.min })));
    const ended = performance.now();
    sweeps.push(ended - started);
    short.forEach((ids, i) => {
      if (ids.length === 0 && Number.isNaN(doneAt[i])) doneAt[i] = ended;
      remaining[i] = ids;
    });
    if (ended > deadline) {
      const left = remaining.reduce((n, ids) => n + ids.length, 0);
      throw new FanoutBenchError(`${left} timelines still lack the post after ${WAIT_LIMIT_MS} ms`);
    }
  }
  return doneAt;
}

async function post(service: Service, author: User, text: string): Promise<{ id: string; sent: number; at: number }> {
  const sent = performance.now();
  const body = await expectStatus<{ post: { id: string } }>(service, 201, 'POST', '/v1/posts', {
    token: author.token,
    body: { text },
  });
  return { id: body.post.id, sent, at: performance.now() };
}

/** Every follower's timeline holds exactly the author's posts (storage), and sampled feeds show them (API). */
async function verify(service: Service, author: User, followers: User[], postIds: string[]) {
  const ids = JSON.stringify(postIds);
  await mapLimit(followers.length, SETUP_CONCURRENCY, async (i) => {
    const storage = await service.objectStorage('UserTimeline', followers[i]!.id);
    const [row] = await storage.exec<{ n: number }>(
      'SELECT count(*) AS n FROM entries WHERE post_id IN (SELECT value FROM json_each(?))',
      ids,
    );
    if (row?.n !== postIds.length) {
      throw new FanoutBenchError(`follower ${followers[i]!.id} has ${row?.n} of ${postIds.length} posts`);
    }
  });
  const sample = [followers[0]!, followers[Math.floor(followers.length / 2)]!, followers[followers.length - 1]!];
  for (const follower of sample) {
    const feed = await expectStatus<{ items: { post: { id: string } }[] }>(
      service,
      200,
      'GET',
      '/v1/feed?mode=latest&limit=100',
      { token: follower.token },
    );
    const seen = new Set(feed.items.map((item) => item.post.id));
    const missing = postIds.slice(-100).filter((id) => !seen.has(id));
    if (missing.length > 0) throw new FanoutBenchError(`feed of ${follower.id} lacks ${missing.length} posts`);
  }
  return { timelines: followers.length, feeds: sample.length };
}

export async function evictAll(service: Service, users: ReadonlyArray<{ id: string }>): Promise<void> {
  await mapLimit(users.length, SETUP_CONCURRENCY, (i) => service.evictObject('UserTimeline', users[i]!.id));
}

/** The no-queue baseline: one post delivered to every follower by the probe, in one invocation. */
async function floor(service: Service, author: User, followers: User[], concurrency: number, cold: boolean) {
  const entry = { postId: newId(), authorId: author.id, createdAt: Date.now() };
  if (cold) await evictAll(service, followers);
  return deliverDirectly(
    service,
    followers.map((f) => f.id),
    entry,
    concurrency,
  );
}

const newId = createIdGenerator();

/** Entries held by all of these timelines together (the probe asks each one's `size()`). */
export async function countEntries(service: Service, ids: readonly string[]): Promise<number> {
  return (await service.callWorker<{ total: number }>(PROBE_WORKER, '/count', { ids })).total;
}

/** An AuthorFeed's counters as the object reports them (`readCounters()`): feed reads that reached it, hot or not. */
export interface AuthorFeedCounters {
  id: string;
  feedReads: number;
  hot: boolean;
}

/** The AuthorFeed counters of these authors, read through the probe (starting an object that is not in memory). */
export async function authorFeedCounters(service: Service, ids: readonly string[]): Promise<AuthorFeedCounters[]> {
  return (await service.callWorker<{ authors: AuthorFeedCounters[] }>(PROBE_WORKER, '/author-feed', { ids })).authors;
}

/** Gives users ready timelines that follow the given authors, as signup and API follows would. */
export async function initTimelines(
  service: Service,
  users: ReadonlyArray<{ id: string; follows: ReadonlyArray<{ authorId: string; mode: 'push' | 'pull' }> }>,
  now: number = Date.now(),
): Promise<void> {
  // A few hundred per call keeps each invocation short.
  for (let i = 0; i < users.length; i += 500) {
    await service.callWorker(PROBE_WORKER, '/init', { users: users.slice(i, i + 500), now });
  }
}

/** The probe's baseline delivery: `entry` inserted into each timeline directly, `concurrency` at a time. */
export async function deliverDirectly(
  service: Service,
  ids: readonly string[],
  entry: { postId: string; authorId: string; createdAt: number },
  concurrency: number,
): Promise<number> {
  const started = performance.now();
  await service.callWorker(PROBE_WORKER, '/deliver', { ids, entry, concurrency });
  return performance.now() - started;
}

function series(label: string, kind: Series['kind'], timelines: Series['timelines'], samples: number[]): Series {
  return { label, kind, timelines, samples, summary: summarize(samples) };
}

export async function runFanoutBench(service: Service, options: FanoutBenchOptions): Promise<FanoutResult> {
  const config = parseFanoutConfig(service.vars);
  const sizes = {
    // "A 1,000-follower author": the largest small author under the configured threshold, and a medium one.
    small: Math.min(1000, config.pushMax - 1),
    medium: Math.max(1000, config.pushMax),
  };
  const classes: ClassResult[] = [];
  for (const name of ['small', 'medium'] as const) {
    const followers = sizes[name];
    if (classify(followers, config) !== name) {
      throw new FanoutBenchError(`${followers} followers is not a ${name} author under ${JSON.stringify(config)}`);
    }
    options.log(`${name}: creating ${options.authorsPerClass} authors with ${followers} followers each`);
    const makeAudience = options.makeAudience ?? ((tag, n, active) => audience(service, tag, n, active));
    const audiences: Audience[] = [];
    for (let k = 0; k < options.authorsPerClass; k++) {
      audiences.push(await makeAudience(`${name.slice(0, 3)}${k}`, followers, name === 'medium'));
    }
    const posted = audiences.map(() => [] as string[]);
    const postTimes: number[] = [];
    const sweeps: number[] = [];
    const first = audiences[0]!;
    const firstIds = first.followers.map((f) => f.id);
    const oneAtATime = async (count: number, cold: boolean) => {
      const latencies: number[] = [];
      for (let i = 0; i < count; i++) {
        if (cold) await evictAll(service, first.followers);
        const p = await post(service, first.author, `${name} ${cold ? 'cold' : 'warm'} ${i}`);
        posted[0]!.push(p.id);
        const [done] = await waitForGroups(service, [{ ids: firstIds, min: posted[0]!.length }], sweeps);
        latencies.push(done! - p.at);
        postTimes.push(p.at - p.sent);
      }
      return latencies;
    };
    const burst = async () => {
      const ps = await Promise.all(audiences.map((a, k) => post(service, a.author, `${name} burst by ${k}`)));
      ps.forEach((p, k) => posted[k]!.push(p.id));
      const groups = audiences.map((a, k) => ({ ids: a.followers.map((f) => f.id), min: posted[k]!.length }));
      const done = await waitForGroups(service, groups, sweeps);
      ps.forEach((p) => postTimes.push(p.at - p.sent));
      return ps.map((p, k) => done[k]! - p.at);
    };
    options.log(`${name}: ${options.coldPosts} posts one at a time, timelines evicted before each`);
    const cold = await oneAtATime(options.coldPosts, true);
    options.log(`${name}: ${options.sequentialPosts} posts one at a time`);
    const warm = await oneAtATime(options.sequentialPosts, false);
    options.log(`${name}: ${options.bursts} bursts of ${audiences.length} authors at once (after one unmeasured)`);
    await burst();
    const bursts: number[] = [];
    for (let b = 0; b < options.bursts; b++) bursts.push(...(await burst()));
    options.log(`${name}: verifying every timeline and a sample of feeds`);
    let verified = { timelines: 0, feeds: 0 };
    for (const [k, a] of audiences.entries()) {
      const v = await verify(service, a.author, a.followers, posted[k]!);
      verified = { timelines: verified.timelines + v.timelines, feeds: verified.feeds + v.feeds };
    }
    options.log(`${name}: baselines, direct deliveries without queues`);
    const floors = { warm1: [] as number[], warmN: [] as number[], cold1: [] as number[], coldN: [] as number[] };
    for (let run = 0; run < options.floorRuns; run++) {
      floors.warm1.push(await floor(service, first.author, first.followers, 1, false));
      floors.warmN.push(await floor(service, first.author, first.followers, options.floorConcurrency, false));
      floors.cold1.push(await floor(service, first.author, first.followers, 1, true));
      floors.coldN.push(await floor(service, first.author, first.followers, options.floorConcurrency, true));
    }
    const n = options.floorConcurrency;
    classes.push({
      name,
      followers,
      authors: audiences.length,
      series: [
        series('one post at a time', 'fanout', 'warm', warm),
        series(`${audiences.length} authors at once`, 'fanout', 'warm', bursts),
        series('baseline: direct, one at a time', 'baseline', 'warm', floors.warm1),
        series(`baseline: direct, ${n} in flight`, 'baseline', 'warm', floors.warmN),
        series('one post at a time', 'fanout', 'cold', cold),
        series('baseline: direct, one at a time', 'baseline', 'cold', floors.cold1),
        series(`baseline: direct, ${n} in flight`, 'baseline', 'cold', floors.coldN),
      ],
      post: summarize(postTimes),
      sweep: summarize(sweeps),
      verified,
    });
  }
  const { log: _log, makeAudience: _make, ...rest } = options;
  return { options: rest, vars: service.vars, queueConsumers: service.queueConsumers, classes };
}

const ratio = (value: number, base: number) => `${formatMs(value)} (${(value / base).toFixed(1)}×)`;

/** The results as markdown: the table, the baseline it is compared with, and the settings it ran with. */
export function renderFanout(result: FanoutResult): string {
  const rows: string[][] = [];
  for (const c of result.classes) {
    for (const s of c.series) {
      const base = c.series.find((b) => b.kind === 'baseline' && b.timelines === s.timelines)!.summary.p50;
      const { n, p50, p95, p99, max } = s.summary;
      rows.push([
        c.name,
        String(c.followers),
        s.timelines,
        s.label,
        String(n),
        ...[p50, p95, p99, max].map((v) => ratio(v, base)),
      ]);
    }
  }
  const side = result.classes.map((c) => [
    c.name,
    `${formatMs(c.post.p50)} / ${formatMs(c.post.p99)}`,
    `${formatMs(c.sweep.p50)} / ${formatMs(c.sweep.max)}`,
    `${c.verified.timelines} timelines, ${c.verified.feeds} feeds`,
  ]);
  const consumers = Object.entries(result.queueConsumers)
    .map(([queue, s]) => `\`${queue}\`: max_batch_size ${s.maxBatchSize}, max_batch_timeout ${s.maxBatchTimeout} s`)
    .join('; ');
  const vars = ['FANOUT_PUSH_MAX', 'FANOUT_PULL_MIN', 'FANOUT_PAGE_SIZE']
    .map((k) => `${k}=${result.vars[k]}`)
    .join(', ');
  return [
    'Time from the 201 of `POST /v1/posts` until the post is in every follower timeline; for the baselines, the ' +
      'time to make the same deliveries directly. In brackets: the ratio to the direct one-at-a-time baseline ' +
      '(p50) of the same class and timeline temperature.',
    '',
    table(['class', 'followers', 'timelines', 'posting', 'n', 'p50', 'p95', 'p99', 'max'], rows),
    '',
    table(['class', 'POST /v1/posts p50 / p99', 'presence sweep p50 / max', 'verified after the run'], side),
    '',
    `Settings: ${vars}; ${consumers}.`,
  ].join('\n');
}
