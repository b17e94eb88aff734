/**
 * The ranking-quality bench (issue 11): a replay through the real API of a simulated world whose ground truth the
 * service never sees (bench/ranking-world.ts). Three replays, each on a fresh service:
 *
 * 1. world A (the seed) with the default weights and every ranked page logged (IMPRESSION_SAMPLE_RATE=1);
 * 2. a refit on those impressions, as `npm run refit` does (scripts/refit.ts `refitExamples`);
 * 3. world B (seed + 1, held out) twice: with the default weights and with the refitted ones (RANKING_WEIGHTS).
 *
 * In each round every author posts its round's posts; then every reader reads `mode=latest` (all pages: the
 * candidate set, and the latest order) until this round's posts of the authors it follows are there, then the
 * ranked first page (`limit=10&explain=1`), which is what it is shown: it sends views, dwell for what it reads,
 * and likes, comments or shares drawn from the hidden p. Each order (ranked, latest, random = the candidates
 * shuffled, oracle = sorted by the hidden p) is scored on what it would have shown at that moment.
 */
import { MAX_CANDIDATES } from '../src/feed.ts';
import { forEachLimit } from '../src/concurrency.ts';
import { DEFAULT_WEIGHTS, type Weights } from '../src/ranking.ts';
import type { LearnedModel } from '../src/learned-model.ts';
import { LABEL_WINDOW_MS } from '../src/refit.ts';
import { generateTexts, loadTexts } from '../scripts/demo-data.ts';
import {
  EXAMPLES_SQL,
  refitExamples,
  renderReport,
  toExample,
  type ExampleRow,
  type LabelledExample,
} from '../scripts/refit.ts';
import { expectStatus as expectServiceStatus, type BenchModel, type Service } from './harness.ts';
import {
  TOP_K,
  auc,
  buildWorld,
  engagementProbability,
  mean,
  meanInterval,
  oracleOrder,
  pageMetrics,
  reaction,
  uniform,
  type History,
  type PageMetrics,
  type ShownItem,
  type World,
  type WorldOptions,
} from './ranking-world.ts';
import { table } from './stats.ts';

export interface RankingBenchSizes extends Omit<WorldOptions, 'seed'> {
  seed: number;
  /** Readers (and authors) driven at once. */
  concurrency: number;
  /** The hidden p from which a post counts as relevant, for precision@10. */
  relevance: number;
}

export const FULL_RANKING_SIZES: RankingBenchSizes = {
  readers: 60,
  authors: 80,
  topics: 8,
  rounds: 10,
  seed: 11,
  concurrency: 6,
  relevance: 0.2,
};

export const QUICK_RANKING_SIZES: RankingBenchSizes = {
  ...FULL_RANKING_SIZES,
  readers: 24,
  authors: 40,
  topics: 6,
  rounds: 8,
};

export const ORDERS = ['oracle', 'ranked', 'latest', 'random'] as const;
export type Order = (typeof ORDERS)[number];

/**
 * Starts a fresh service with these vars on top of the bench's (rate limits raised), and with `model` in its
 * MODELS bucket when there is one.
 */
export type StartService = (vars: Record<string, string>, model: BenchModel | null) => Promise<Service>;

/** The text model the replays embed with (scripts/train-model.ts), as the report names it. */
export interface RankingModel extends BenchModel {
  /** The corpus it was trained on: `goemotions`, or `builtin` (the stand-in without ../shared). */
  source: string;
  dims: number;
}

/** How long a round waits for its posts' vectors (post.enrich in the queue consumer) before reading anyway. */
const ENRICH_TIMEOUT_MS = 60_000;

class RankingBenchError extends Error {
  override name = 'RankingBenchError';
}

interface FeedItem {
  post: { id: string; createdAt: string };
  score?: number;
  reasons?: { arm?: unknown; signals?: { similarity?: number } };
}

interface FeedBody {
  items: FeedItem[];
  nextCursor: string | null;
  experiment?: unknown;
  arm?: unknown;
}

/** One reader's read in one round: each order's metrics on what it would have shown. */
interface ReadRecord {
  reader: number;
  round: number;
  arm: string;
  candidates: number;
  /** Candidates whose post had a vector in D1 (`post_embeddings`) when the round's reads began. */
  withVector: number;
  metrics: Record<Order, PageMetrics>;
}

/** A served ranked item: whether the reader engaged with it, and each order's sort key for it (for AUC). */
interface ServedRecord {
  arm: string;
  engaged: boolean;
  keys: Record<Order, number>;
  /** `reasons.signals.similarity` of the served item (0 when absent). */
  similarity: number;
}

export interface OrderSummary {
  arm: string;
  order: Order;
  reads: number;
  ndcg: number;
  precision: number;
  engaged: number;
  chance: number;
  auc: number;
}

export interface ReplayResult {
  label: string;
  seed: number;
  weights: Weights;
  minutes: number;
  posts: number;
  follows: number;
  favouritesFollowed: number;
  reads: number;
  /** Reads whose round's posts had not all arrived in 30 s (then scored on what had). */
  lateReads: number;
  meanCandidates: number;
  served: number;
  /** Shown items whose similarity signal was not 0: whether a text model took part. */
  withSimilarity: number;
  /** Per arm: AUC of the similarity signal over the served ranked items, engaged against not. */
  similarityAuc: Record<string, number>;
  /** Posts with a vector in D1 at the end, of `posts`. */
  embeddedPosts: number;
  /** Of all candidates over all reads, the share whose post had a vector when read. */
  candidatesWithVector: number;
  /** Reads of rounds whose posts were not all embedded within ENRICH_TIMEOUT_MS. */
  unembeddedRounds: number;
  /** Time until the embedder reported ready (null without a model). */
  modelLoadMs: number | null;
  actions: { views: number; dwells: number; like: number; comment: number; share: number };
  orders: OrderSummary[];
  /** Per arm and reader: mean chance of a new engagement under ranked and latest, for paired comparisons. */
  perReader: Record<string, Array<{ reader: number; ranked: number; latest: number; ndcg: number }>>;
  impressions: number;
  examples: LabelledExample[];
}

export interface RankingResult {
  sizes: RankingBenchSizes;
  texts: 'goemotions' | 'generated';
  topics: string[];
  /** The text model every replay embedded posts with, or null (`--ranking-no-model`: similarity is 0). */
  model: Omit<RankingModel, 'dir' | 'files'> | null;
  /** The `--ranking-var` settings every replay ran with. */
  vars: Record<string, string>;
  train: ReplayResult;
  refit: {
    impressions: number;
    engaged: number;
    current: number;
    fitted: number;
    weights: Weights;
    /** Held-out AUC of the learned model, and the model (RANKING_MODEL). */
    modelAuc: number;
    model: LearnedModel;
  } | null;
  heldOutDefault: ReplayResult;
  heldOutRefitted: ReplayResult | null;
  /** World B ranked by the learned model (RANKING_MODEL). */
  heldOutModel: ReplayResult | null;
  /** `npm run refit -- --report` on each replay's impressions: engagement rate per arm with intervals. */
  armReports: Array<{ label: string; report: string }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function expectStatus<T>(what: string, call: Promise<{ status: number; body: T }>, status: number): Promise<T> {
  const r = await call;
  if (r.status !== status)
    throw new RankingBenchError(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/**
 * The experiment arm the feed reports, if any: `reasons.arm` of an item or a top-level `experiment`/`arm`
 * (a name, or an object with one); "default" when the service has no experiments.
 */
export function armOf(body: FeedBody): string {
  const found = body.experiment ?? body.arm ?? body.items.find((i) => i.reasons?.arm !== undefined)?.reasons?.arm;
  if (typeof found === 'string') return found;
  if (typeof found === 'object' && found !== null) {
    for (const key of ['arm', 'name', 'id'] as const) {
      const value: unknown = (found as Record<string, unknown>)[key];
      if (typeof value === 'string') return value;
    }
  }
  return 'default';
}

const COMMENTS = ['Love this!', 'So true.', 'Great post.', 'Ha, same here.', 'Thanks for sharing this.'];

/** Texts for the world: GoEmotions when ../shared has it, else the small generator (hashtags removed). */
export function worldTexts(seed: number): { texts: string[]; source: 'goemotions' | 'generated' } {
  const real = loadTexts(20_000);
  if (real && real.length > 0) return { texts: real, source: 'goemotions' };
  return {
    texts: generateTexts(2_000, seed).map((t) => t.replace(/\s*#\w+/g, '').trim()),
    source: 'generated',
  };
}

/** Impressions logged so far, on every shard (their writes finish after the responses). */
async function impressionRows(service: Service): Promise<LabelledExample[]> {
  const examples: LabelledExample[] = [];
  for (let shard = 0; shard < Number(service.vars.SHARD_COUNT ?? '1'); shard++) {
    const db = await service.shard(shard);
    examples.push(...(await db.query<ExampleRow>(EXAMPLES_SQL, [LABEL_WINDOW_MS])).map(toExample));
  }
  return examples;
}

/** Every page of the reader's `latest` feed, newest first, as far as the ranked feed's candidates reach. */
async function latestCandidates(service: Service, token: string): Promise<FeedItem[]> {
  const items: FeedItem[] = [];
  let cursor: string | null = null;
  do {
    const route: string = `/v1/feed?mode=latest&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await service.api<FeedBody>('GET', route, { token });
    if (r.status !== 200 && r.status !== 206)
      throw new RankingBenchError(`latest feed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor && items.length < MAX_CANDIDATES);
  return items.slice(0, MAX_CANDIDATES);
}

/** Ids of the posts with a vector, on every shard. */
async function embeddedPostIds(service: Service): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let shard = 0; shard < Number(service.vars.SHARD_COUNT ?? '1'); shard++) {
    const db = await service.shard(shard);
    for (const row of await db.query<{ post_id: string }>('SELECT post_id FROM post_embeddings')) ids.add(row.post_id);
  }
  return ids;
}

interface HealthBody {
  embedder?: { status: string; loadMs?: number; reason?: string };
}

/** Polls the admin health report until the embedder is ready (the consumer loads it on its first post). */
async function waitForEmbedder(service: Service): Promise<number> {
  const deadline = performance.now() + 120_000;
  while (performance.now() < deadline) {
    const health = await expectServiceStatus<HealthBody>(service, 200, 'GET', '/v1/health', {
      token: service.adminToken,
    });
    if (health.embedder?.status === 'ready') return health.embedder.loadMs ?? Number.NaN;
    if (health.embedder?.status === 'unavailable')
      throw new RankingBenchError(`embedder unavailable: ${health.embedder.reason ?? 'no reason given'}`);
    await sleep(200);
  }
  throw new RankingBenchError('the embedder did not become ready within 2 minutes');
}

async function replay(
  service: Service,
  world: World,
  label: string,
  sizes: RankingBenchSizes,
  log: (line: string) => void,
  withModel: boolean,
): Promise<ReplayResult> {
  const started = performance.now();
  const seed = world.options.seed;
  const { concurrency, relevance } = sizes;

  // Accounts and follows.
  const authorIds: string[] = [];
  const tokens: string[] = [];
  const signup = async (handle: string) =>
    expectStatus<{ user: { id: string }; token: string }>(
      `signup ${handle}`,
      service.api('POST', '/v1/users', { body: { handle } }),
      201,
    );
  const authorTokens: string[] = [];
  await forEachLimit(world.authors, concurrency, async (a) => {
    const r = await signup(a.handle);
    authorIds[a.index] = r.user.id;
    authorTokens[a.index] = r.token;
  });
  await forEachLimit(world.readers, concurrency, async (reader) => {
    const r = await signup(reader.handle);
    tokens[reader.index] = r.token;
    for (const a of reader.follows) {
      await expectStatus('follow', service.api('PUT', `/v1/users/${authorIds[a]!}/follow`, { token: r.token }), 200);
    }
  });
  const follows = world.readers.reduce((s, r) => s + r.follows.length, 0);
  const favourites = world.readers.reduce((s, r) => s + r.favourites.length, 0);
  const favouritesFollowed = world.readers.reduce(
    (s, r) => s + r.favourites.filter((f) => r.follows.includes(f)).length,
    0,
  );

  const postIndexById = new Map<string, number>();
  const postIdByIndex = new Map<number, string>();
  const history = world.readers.map(() => new Map<number, History>());
  const reads: ReadRecord[] = [];
  const served: ServedRecord[] = [];
  const actions = { views: 0, dwells: 0, like: 0, comment: 0, share: 0 };
  let lateReads = 0;
  let withSimilarity = 0;
  let unembeddedRounds = 0;
  let modelLoadMs: number | null = null;
  let embedded = new Set<string>();

  for (let round = 0; round < world.options.rounds; round++) {
    const roundPosts = world.posts.filter((p) => p.round === round);
    await forEachLimit(roundPosts, concurrency, async (post) => {
      const r = await expectStatus<{ post: { id: string } }>(
        'post',
        service.api('POST', '/v1/posts', { token: authorTokens[post.author]!, body: { text: post.text } }),
        201,
      );
      postIndexById.set(r.post.id, post.index);
      postIdByIndex.set(post.index, r.post.id);
    });

    if (withModel) {
      // The first posts are what loads the model (the consumer embeds on post.enrich); then every round waits
      // for its posts' vectors, so that similarity is scored on embedded candidates, not on enrichment's lag.
      if (modelLoadMs === null) {
        modelLoadMs = await waitForEmbedder(service);
        log(`${label}: embedder ready (load ${Math.round(modelLoadMs)} ms)`);
      }
      const deadline = performance.now() + ENRICH_TIMEOUT_MS;
      embedded = await embeddedPostIds(service);
      while ([...postIdByIndex.values()].some((id) => !embedded.has(id))) {
        if (performance.now() > deadline) {
          unembeddedRounds++;
          log(`${label}: round ${round + 1}: ${embedded.size} of ${postIdByIndex.size} posts embedded after 60 s`);
          break;
        }
        await sleep(200);
        embedded = await embeddedPostIds(service);
      }
    }

    await forEachLimit(world.readers, concurrency, async (reader) => {
      const token = tokens[reader.index]!;
      const expected = roundPosts
        .filter((p) => reader.follows.includes(p.author))
        .map((p) => postIdByIndex.get(p.index)!);

      // The candidate set and the latest order: every page of `latest`, once this round's posts have arrived.
      const deadline = performance.now() + 30_000;
      let latest = await latestCandidates(service, token);
      while (!expected.every((id) => latest.some((i) => i.post.id === id))) {
        if (performance.now() > deadline) {
          lateReads++;
          break;
        }
        await sleep(100);
        latest = await latestCandidates(service, token);
      }

      // What the reader is shown: the ranked first page.
      let ranked: FeedBody | null = null;
      for (let attempt = 0; attempt < 100 && !ranked; attempt++) {
        const r = await service.api<FeedBody>('GET', `/v1/feed?limit=${TOP_K}&explain=1`, { token });
        if (r.status === 200) ranked = r.body;
        else if (r.status === 206) await sleep(200);
        else throw new RankingBenchError(`ranked feed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      }
      if (!ranked) throw new RankingBenchError(`ranked feed of ${reader.handle}: still regenerating`);
      const arm = armOf(ranked);
      withSimilarity += ranked.items.filter((i) => (i.reasons?.signals?.similarity ?? 0) !== 0).length;

      const seen = history[reader.index]!;
      const candidateOf = (item: FeedItem) => {
        const index = postIndexById.get(item.post.id);
        if (index === undefined) throw new RankingBenchError(`the feed showed a post the world never wrote`);
        const h = seen.get(index) ?? { engaged: false, views: 0 };
        return {
          id: item.post.id,
          index,
          p: engagementProbability(reader, world.posts[index]!, round, h),
          engagedBefore: h.engaged,
          createdAt: Date.parse(item.post.createdAt),
          // The random order's key: a draw per reader, post and round.
          randomKey: uniform(seed, reader.index, index, round, 3),
        };
      };
      const candidates = latest.map(candidateOf);
      const byId = new Map(candidates.map((c) => [c.id, c]));
      const shownRanked = ranked.items.map((item) => ({
        ...(byId.get(item.post.id) ?? candidateOf(item)),
        score: item.score ?? Number.NaN,
        similarity: item.reasons?.signals?.similarity ?? 0,
      }));
      const gains = candidates.map((c) => c.p);
      const shown: Record<Order, ShownItem[]> = {
        oracle: oracleOrder(candidates).slice(0, TOP_K),
        ranked: shownRanked,
        latest: candidates.slice(0, TOP_K),
        random: [...candidates].sort((a, b) => a.randomKey - b.randomKey).slice(0, TOP_K),
      };
      reads.push({
        reader: reader.index,
        round,
        arm,
        candidates: candidates.length,
        withVector: candidates.filter((c) => embedded.has(c.id)).length,
        metrics: Object.fromEntries(ORDERS.map((o) => [o, pageMetrics(shown[o], gains, relevance)])) as Record<
          Order,
          PageMetrics
        >,
      });

      // The reader's reactions to what it was shown.
      const events: Array<{ type: 'view'; postId: string } | { type: 'dwell'; postId: string; ms: number }> = [];
      for (const item of shownRanked) {
        const r = reaction(
          item.p,
          uniform(seed, reader.index, item.index, round, 1),
          uniform(seed, reader.index, item.index, round, 2),
        );
        events.push({ type: 'view', postId: item.id });
        actions.views++;
        if (r.read) {
          events.push({ type: 'dwell', postId: item.id, ms: r.dwellMs });
          actions.dwells++;
        }
        if (r.engagement === 'like') {
          await expectStatus('like', service.api('PUT', `/v1/posts/${item.id}/like`, { token }), 200);
        } else if (r.engagement === 'comment') {
          const text = COMMENTS[Math.floor(uniform(seed, reader.index, item.index, round, 4) * COMMENTS.length)]!;
          await expectStatus(
            'comment',
            service.api('POST', `/v1/posts/${item.id}/comments`, { token, body: { text } }),
            201,
          );
        } else if (r.engagement === 'share') {
          await expectStatus('share', service.api('POST', `/v1/posts/${item.id}/shares`, { token }), 201);
        }
        if (r.engagement) actions[r.engagement]++;
        const h = seen.get(item.index) ?? { engaged: false, views: 0 };
        seen.set(item.index, { engaged: h.engaged || r.engagement !== null, views: h.views + 1 });
        served.push({
          arm,
          engaged: r.engagement !== null,
          keys: { ranked: item.score, latest: item.createdAt, random: item.randomKey, oracle: item.p },
          similarity: item.similarity,
        });
      }
      if (events.length > 0)
        await expectStatus('events', service.api('POST', '/v1/events', { token, body: { events } }), 202);
    });
    log(`${label}: round ${round + 1}/${world.options.rounds}, ${roundPosts.length} posts`);
  }

  // Impressions are written after each response (waitUntil): wait until all of the served items are there.
  let examples = await impressionRows(service);
  for (let i = 0; i < 50 && examples.length < served.length; i++) {
    await sleep(200);
    examples = await impressionRows(service);
  }

  const arms = [...new Set(reads.map((r) => r.arm))].sort();
  const orders: OrderSummary[] = arms.flatMap((arm) => {
    const armReads = reads.filter((r) => r.arm === arm);
    const armServed = served.filter((s) => s.arm === arm);
    return ORDERS.map((order) => {
      const ms = armReads.map((r) => r.metrics[order]);
      return {
        arm,
        order,
        reads: ms.length,
        ndcg: mean(ms.flatMap((m) => (m.ndcg === null ? [] : [m.ndcg]))),
        precision: mean(ms.map((m) => m.precision)),
        engaged: mean(ms.map((m) => m.engaged)),
        chance: mean(ms.map((m) => m.chance)),
        auc: auc(
          armServed.map((s) => s.keys[order]),
          armServed.map((s) => s.engaged),
        ),
      };
    });
  });
  const perReader = Object.fromEntries(
    arms.map((arm) => {
      const rows = world.readers.flatMap((reader) => {
        const mine = reads.filter((r) => r.arm === arm && r.reader === reader.index);
        if (mine.length === 0) return [];
        return [
          {
            reader: reader.index,
            ranked: mean(mine.map((r) => r.metrics.ranked.chance)),
            latest: mean(mine.map((r) => r.metrics.latest.chance)),
            ndcg: mean(mine.flatMap((r) => (r.metrics.ranked.ndcg === null ? [] : [r.metrics.ranked.ndcg]))),
          },
        ];
      });
      return [arm, rows];
    }),
  );
  return {
    label,
    seed,
    weights: { ...DEFAULT_WEIGHTS },
    minutes: (performance.now() - started) / 60_000,
    posts: world.posts.length,
    follows,
    favouritesFollowed: favouritesFollowed / Math.max(favourites, 1),
    reads: reads.length,
    lateReads,
    meanCandidates: mean(reads.map((r) => r.candidates)),
    served: served.length,
    withSimilarity,
    similarityAuc: Object.fromEntries(
      arms.map((arm) => {
        const armServed = served.filter((s) => s.arm === arm);
        return [
          arm,
          auc(
            armServed.map((s) => s.similarity),
            armServed.map((s) => s.engaged),
          ),
        ];
      }),
    ),
    embeddedPosts: withModel ? (await embeddedPostIds(service)).size : 0,
    candidatesWithVector:
      reads.reduce((s, r) => s + r.withVector, 0) /
      Math.max(
        reads.reduce((s, r) => s + r.candidates, 0),
        1,
      ),
    unembeddedRounds,
    modelLoadMs,
    actions,
    orders,
    perReader,
    impressions: examples.length,
    examples,
  };
}

export async function runRankingBench(
  sizes: RankingBenchSizes,
  start: StartService,
  log: (line: string) => void,
  extraVars: Record<string, string> = {},
  model: RankingModel | null = null,
): Promise<RankingResult> {
  const { texts, source } = worldTexts(sizes.seed);
  log(`texts: ${source === 'goemotions' ? 'GoEmotions train.tsv' : 'the built-in generator'}`);
  const worldA = buildWorld({ ...sizes, seed: sizes.seed }, texts);
  const worldB = buildWorld({ ...sizes, seed: sizes.seed + 1 }, texts);

  const run = async (world: World, label: string, weights: Weights | null, learned: LearnedModel | null = null) => {
    log(`${label}: starting a fresh service`);
    const service = await start(
      {
        ...extraVars,
        IMPRESSION_SAMPLE_RATE: '1',
        ...(weights ? { RANKING_WEIGHTS: JSON.stringify(weights) } : {}),
        ...(learned ? { RANKING_MODEL: JSON.stringify(learned) } : {}),
      },
      model,
    );
    try {
      const result = await replay(service, world, label, sizes, log, model !== null);
      return { ...result, weights: weights ?? { ...DEFAULT_WEIGHTS } };
    } finally {
      await service.dispose();
    }
  };

  const train = await run(worldA, `world ${sizes.seed}, default weights`, null);
  const fit = refitExamples(train.examples);
  log(
    `refit: ${train.examples.length} impressions, ${fit.engaged} engaged` +
      (fit.result
        ? `; held-out AUC ${fit.result.current.toFixed(3)} -> ${fit.result.fitted.toFixed(3)}, ` +
          `model ${fit.result.modelAuc.toFixed(3)}`
        : '; too few'),
  );
  const refitted = fit.result ? (fit.rounded as unknown as Weights) : null;
  const heldOutDefault = await run(worldB, `world ${sizes.seed + 1}, default weights`, null);
  const heldOutRefitted = refitted ? await run(worldB, `world ${sizes.seed + 1}, refitted weights`, refitted) : null;
  const heldOutModel = fit.model ? await run(worldB, `world ${sizes.seed + 1}, learned model`, null, fit.model) : null;
  const strip = (r: ReplayResult): ReplayResult => ({ ...r, examples: [] });
  const armReports = [
    train,
    heldOutDefault,
    ...(heldOutRefitted ? [heldOutRefitted] : []),
    ...(heldOutModel ? [heldOutModel] : []),
  ].map((r) => ({
    label: r.label,
    report: renderReport(r.examples),
  }));
  return {
    sizes,
    texts: source,
    topics: worldA.topics.map((t) => t.name),
    model: model
      ? { model: model.model, revision: model.revision, dtype: model.dtype, source: model.source, dims: model.dims }
      : null,
    vars: extraVars,
    train: strip(train),
    refit: fit.result
      ? {
          impressions: train.examples.length,
          engaged: fit.engaged,
          current: fit.result.current,
          fitted: fit.result.fitted,
          weights: refitted!,
          modelAuc: fit.result.modelAuc,
          model: fit.model!,
        }
      : null,
    heldOutDefault: strip(heldOutDefault),
    heldOutRefitted: heldOutRefitted ? strip(heldOutRefitted) : null,
    heldOutModel: heldOutModel ? strip(heldOutModel) : null,
    armReports,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const signed = (x: number) => (x >= 0 ? `+${f3(x)}` : f3(x));

function orderTable(results: ReadonlyArray<{ weights: string; replay: ReplayResult }>, relevance: number): string {
  const multiArm = results.some((r) => new Set(r.replay.orders.map((o) => o.arm)).size > 1);
  const multiWeights = results.length > 1;
  const header = [
    ...(multiWeights ? ['weights'] : []),
    ...(multiArm ? ['arm'] : []),
    'order',
    'NDCG@10',
    `precision@10 (p ≥ ${relevance})`,
    'top 10 already engaged',
    'chance of a new engagement',
    'vs latest',
    'AUC on served items',
  ];
  const rows = results.flatMap(({ weights, replay }) =>
    replay.orders.map((o) => {
      const latest = replay.orders.find((x) => x.arm === o.arm && x.order === 'latest')!;
      return [
        ...(multiWeights ? [weights] : []),
        ...(multiArm ? [o.arm] : []),
        o.order === 'ranked' ? '**ranked**' : o.order,
        f2(o.ndcg),
        f2(o.precision),
        f2(o.engaged),
        f3(o.chance),
        o.order === 'latest' ? '1.00×' : `${f2(o.chance / latest.chance)}×`,
        f2(o.auc),
      ];
    }),
  );
  return table(header, rows);
}

function replayLine(r: ReplayResult): string {
  const engagements = r.actions.like + r.actions.comment + r.actions.share;
  const ranked = r.orders.filter((o) => o.order === 'ranked');
  const predicted = mean(ranked.map((o) => o.chance));
  return (
    `${r.reads} reads (${r.lateReads} with posts still in flight after 30 s), ${r.meanCandidates.toFixed(0)} ` +
    `candidates per read on average, ${r.served} ranked items shown: ${r.actions.dwells} read (dwell), ` +
    `${r.actions.like} likes, ${r.actions.comment} comments, ${r.actions.share} shares, so ` +
    `${f3(engagements / Math.max(r.served, 1))} engagements per shown item (the chance column predicted ${f3(predicted)}). ` +
    `${r.impressions} impressions logged. ${r.minutes.toFixed(1)} min.` +
    (r.modelLoadMs === null
      ? ''
      : ` Text model: ${r.embeddedPosts} of ${r.posts} posts embedded, ` +
        `${Math.round(100 * r.candidatesWithVector)}% of the candidates had a vector when read` +
        (r.unembeddedRounds > 0 ? ` (${r.unembeddedRounds} rounds read before all were embedded)` : '') +
        `; similarity non-zero on ${r.withSimilarity} of ${r.served} shown items.`) +
    ` AUC on served items, engaged against not: ${similarityAucs(r).join('; ')}.`
  );
}

/** The similarity signal's AUC beside the score's, per arm. */
function similarityAucs(r: ReplayResult): string[] {
  return Object.entries(r.similarityAuc).map(([arm, value]) => {
    const score = r.orders.find((o) => o.arm === arm && o.order === 'ranked')?.auc ?? Number.NaN;
    return `${arm === 'default' ? '' : `arm ${arm}: `}similarity signal ${f2(value)}, score ${f2(score)}`;
  });
}

/** Paired over readers: the ratio of the means, and the mean of (a − b) per reader with its 95% interval. */
function pairedStats(a: readonly number[], b: readonly number[]) {
  return { ratio: mean(a) / mean(b), ...meanInterval(a.map((x, i) => x - b[i]!)) };
}

function paired(a: readonly number[], b: readonly number[]): string {
  const d = pairedStats(a, b);
  return `${f2(d.ratio)}× (per-reader difference ${signed(d.mean)} ± ${f3(d.half)})`;
}

function vsLatest(r: ReplayResult): string[] {
  return Object.entries(r.perReader).map(
    ([arm, rows]) =>
      `${arm === 'default' ? '' : `arm ${arm}: `}${paired(
        rows.map((x) => x.ranked),
        rows.map((x) => x.latest),
      )}`,
  );
}

export function renderRanking(result: RankingResult): string {
  const { sizes, train, refit, heldOutDefault: def, heldOutRefitted: fitted, heldOutModel: learned } = result;
  const out: string[] = [];
  const follows = (r: ReplayResult) => (r.follows / sizes.readers).toFixed(1);
  out.push(
    `World: ${sizes.readers} readers, ${sizes.authors} authors, ${sizes.topics} topics (${result.topics.join(', ')}), ` +
      `${sizes.rounds} rounds; post texts from ` +
      (result.texts === 'goemotions'
        ? 'GoEmotions (`../shared/data/texts/goemotions/train.tsv`)'
        : 'the built-in generator (`../shared` absent)') +
      ` with topic words and hashtags appended. Readers follow ${follows(train)} authors on average ` +
      `(world ${train.seed}; ${Math.round(100 * train.favouritesFollowed)}% of their favourites). ` +
      (result.model
        ? `Posts embedded with the locally trained text model \`${result.model.model}@${result.model.revision}\` ` +
          `(${result.model.dims} dims, ${result.model.dtype}, trained on ${result.model.source}; ` +
          "`npm run train-model`), put into each service's MODELS bucket; each round reads once its posts have " +
          'vectors. '
        : 'No text model (`--ranking-no-model`). ') +
      (train.withSimilarity === 0
        ? 'The similarity signal was 0 on every shown item: no text model took part.'
        : `The similarity signal was non-zero on ${train.withSimilarity} of ${train.served} shown items.`) +
      (Object.keys(result.vars).length > 0
        ? ` Vars: ${Object.entries(result.vars)
            .map(([k, v]) => `\`${k}=${v}\``)
            .join(', ')}.`
        : ''),
    '',
    `#### World ${train.seed}, default weights (the refit's training replay)`,
    '',
    orderTable([{ weights: 'default', replay: train }], sizes.relevance),
    '',
    replayLine(train),
    `Ranked against latest, chance of a new engagement: ${vsLatest(train).join('; ')}.`,
    '',
  );
  if (refit) {
    const keys = Object.keys(DEFAULT_WEIGHTS) as (keyof Weights)[];
    out.push(
      `#### Refit on the logged impressions (\`refitExamples\` of \`scripts/refit.ts\`, as \`npm run refit\`)`,
      '',
      `${refit.impressions} impressions, ${refit.engaged} labelled engaged (a like, comment, share or dwell within ` +
        `24 h of the impression). AUC on the held-out third of the readers: ${f3(refit.current)} with the default ` +
        `weights, ${f3(refit.fitted)} refitted, ${f3(refit.modelAuc)} with the learned model (RANKING_MODEL: a ` +
        `logistic regression on every signal raw and logged; ${refit.model.terms.length} terms, below).`,
      '',
      table(
        ['weights', ...keys],
        [
          ['default', ...keys.map((k) => String(DEFAULT_WEIGHTS[k]))],
          ['refitted', ...keys.map((k) => String(refit.weights[k]))],
          ...(['raw', 'log'] as const).map((transform) => [
            `model, ${transform === 'raw' ? 'raw' : 'log'}`,
            ...keys.map((k) => {
              const term = refit.model.terms.find((t) => t.signal === k && t.transform === transform);
              return term ? term.weight.toFixed(2) : '0';
            }),
          ]),
        ],
      ),
      '',
      `Model bias ${refit.model.bias.toFixed(2)}; its score is the probability 1 / (1 + e^−z), z = bias + Σ weight × ` +
        'term, a log term being ln(max(signal, 0.01)).',
      '',
    );
  } else {
    out.push(`#### Refit`, '', `Not run: too few engaged or ignored impressions (${train.impressions} logged).`, '');
  }
  out.push(
    `#### Held-out world ${def.seed}: default weights, refitted weights, learned model`,
    '',
    `The same world (readers, follows, posts, draws) replayed on ${learned && fitted ? 'three' : fitted ? 'two' : 'one'} ` +
      'fresh services; the orders other than ' +
      'ranked differ between the two only because the readers saw, and so engaged with, different posts.',
    '',
    orderTable(
      [
        { weights: 'default', replay: def },
        ...(fitted ? [{ weights: 'refitted', replay: fitted }] : []),
        ...(learned ? [{ weights: 'model', replay: learned }] : []),
      ],
      sizes.relevance,
    ),
    '',
    `Default: ${replayLine(def)}`,
    '',
    ...(fitted ? [`Refitted: ${replayLine(fitted)}`, ''] : []),
    ...(learned ? [`Learned model: ${replayLine(learned)}`, ''] : []),
  );

  out.push(
    '#### Per arm, as `npm run refit -- --report` prints it',
    '',
    "Engagement rate per eligible impression (the refit's labels: posts not engaged with before serving; a like, " +
      'comment, share or dwell before the next impression or 24 h), with 95% Wilson intervals; the difference from ' +
      "`control` with Newcombe's interval when there are arms.",
    '',
    ...result.armReports.flatMap((r) => [`${r.label}:`, '', '```', r.report, '```', '']),
  );

  // Aims. Each is "met" only when the per-reader interval agrees, so noise does not pass for a win.
  const verdict = (d: { ratio: number; mean: number; half: number }, ratio: number) =>
    d.ratio >= ratio && d.mean - d.half > 0 ? 'met' : d.ratio >= ratio ? 'within noise' : 'not met';
  const rankedVsLatest = (r: ReplayResult) => {
    const rows = Object.values(r.perReader).flat();
    return pairedStats(
      rows.map((x) => x.ranked),
      rows.map((x) => x.latest),
    );
  };
  const rows: string[][] = [
    [
      'ranked beats latest on the chance of a new engagement by ≥ 25% (default weights)',
      `world ${train.seed}: ${vsLatest(train).join('; ')}; world ${def.seed}: ${vsLatest(def).join('; ')}`,
      verdict(rankedVsLatest(def), 1.25),
    ],
  ];
  const byReader = (r: ReplayResult) =>
    new Map(
      Object.values(r.perReader)
        .flat()
        .map((x) => [x.reader, x]),
    );
  /** `a` against `b` on the held-out world, paired by reader: chance of a new engagement and NDCG@10. */
  const versus = (a: ReplayResult, b: ReplayResult) => {
    const before = byReader(b);
    const after = Object.values(a.perReader)
      .flat()
      .filter((x) => before.has(x.reader));
    const pair = (key: 'ranked' | 'ndcg') => [after.map((x) => x[key]), after.map((x) => before.get(x.reader)![key])];
    const [ca, cb] = pair('ranked');
    const [na, nb] = pair('ndcg');
    return {
      text: `chance of a new engagement ${paired(ca!, cb!)}; NDCG@10 ${paired(na!, nb!)}`,
      verdict: verdict(pairedStats(ca!, cb!), 1),
    };
  };
  for (const [name, beat, replayed] of [
    ['refitted weights', 'beat', fitted],
    ['the learned model', 'beats', learned],
  ] as const) {
    if (!replayed) continue;
    const vs = versus(replayed, def);
    rows.push(
      [
        `ranked beats latest by ≥ 25% with ${name}`,
        `world ${replayed.seed}: ${vsLatest(replayed).join('; ')}`,
        verdict(rankedVsLatest(replayed), 1.25),
      ],
      [`${name} ${beat} the default weights (ranked, held-out world, paired by reader)`, vs.text, vs.verdict],
    );
  }
  if (fitted && learned) {
    const vs = versus(learned, fitted);
    rows.push(['the learned model beats the refitted weights (the same)', vs.text, vs.verdict]);
  }
  out.push(
    `#### Aims (issue 11), reported, not asserted`,
    '',
    'Ratios of means over reads; ± is the 95% normal interval of the mean per-reader difference. "Met" needs ' +
      'the ratio and an interval above zero; "within noise" is the ratio without the interval.',
    '',
    table(['aim', 'measured', 'verdict'], rows),
  );
  return out.join('\n');
}
