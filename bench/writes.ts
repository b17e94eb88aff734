/**
 * `npm run bench -- --only writes`: `POST /v1/posts` under concurrency. p50/p99 of the post's latency (as the
 * client sees it) at 1 writer and at 16 writers in flight, without and with the embedder loaded, with the
 * per-stage figures the route reports in its Server-Timing header (rate-limit check and its celebrity lookup,
 * the D1 write, the author-side delivery, the queue send, cache invalidation), and the workerd process's CPU time.
 *
 * Each case runs on a fresh service (bench/harness.ts): authors, each with a few followers (the small class, so
 * the fan-out is pushed by the consumer), post through the API. "Without the embedder": the MODELS bucket is
 * empty, so the consumer's `post.enrich` finds no model and stores no vector (it still counts hashtags); "with":
 * an architecture-equivalent MiniLM-L3 fixture (scripts/make-fixture-model.ts) is in the bucket and the consumer
 * embeds every post. Locally the consumer runs in the same workerd process and isolate as the API, which
 * production does not do: the difference between the two cases is that artefact (docs/benchmarks.md).
 */
import { readFileSync } from 'node:fs';
import { mapLimit } from '../src/concurrency.ts';
import os from 'node:os';
import { ensureFixtureModel } from '../scripts/make-fixture-model.ts';
import { expectStatus, modelVars, signupUser, workerdPids, type Service, type ServiceOptions } from './harness.ts';
import { formatMs, summarize, table, type Summary } from './stats.ts';

export interface WritesSizes {
  /** Authors (one per writer at the widest concurrency). */
  authors: number;
  followersPerAuthor: number;
  /** Posts made one at a time by the single writer. */
  sequentialPosts: number;
  /** Posts per writer at each concurrency above 1. */
  postsPerWriter: number;
  concurrencies: number[];
}

export const WRITES_SIZES: WritesSizes = {
  authors: 16,
  followersPerAuthor: 3,
  sequentialPosts: 60,
  postsPerWriter: 12,
  concurrencies: [1, 16],
};

export const STAGES = ['auth', 'ratelimit', 'celebrity', 'd1', 'author', 'queue', 'invalidate'] as const;
export type Stage = (typeof STAGES)[number];

export interface WritesRun {
  embedder: boolean;
  writers: number;
  total: Summary;
  stages: Record<Stage, Summary>;
  /**
   * Per post, the total less the stages the route times (auth, rate limit, D1, author side, queue, invalidation;
   * run side by side, the longer of the last two): waiting to be dispatched, body parsing and validation, the
   * response's way back through Miniflare to this process.
   */
  outside: Summary;
  /**
   * The same writers making as many requests to an unknown route (a JSON 404 from the app, no I/O), just before
   * the posts: what dispatch through Miniflare to the isolate and back costs at this concurrency, on this machine.
   */
  floor: Summary;
  /** workerd CPU time per such request: the part of a post's CPU that is dispatch and the app's routing. */
  floorCpuMs: number;
  /**
   * A 404 request sent one at a time all through the posting: its wait is how long the isolate's thread is held
   * by other work (requests, the consumer's batches, inference) at a stretch. One every PROBE_GAP_MS.
   */
  probe: Summary;
  /** CPU time of this Node process (the load generator and Miniflare's side of every request), per post. */
  nodeCpuPerPostMs: number;
  /** Wall time from the first post sent to the last answer. */
  elapsedMs: number;
  /** workerd CPU time (user + system) while the posts were being made, per post. */
  cpuPerPostMs: number;
  /** Further workerd CPU time after the last answer until the process was idle (the consumer's backlog), per post. */
  backlogCpuPerPostMs: number;
  /** From the last answer until the process was idle. */
  drainMs: number;
}

export interface WritesResult {
  sizes: WritesSizes;
  cores: number;
  /** Load wall time of the model as the embedder reported it (loaded case). */
  modelLoadMs: number | null;
  runs: WritesRun[];
}

class WritesBenchError extends Error {
  override name = 'WritesBenchError';
}

interface User {
  id: string;
  token: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PROBE_GAP_MS = 20;

// ------------------------------------------------------------------------------------------------ workerd CPU

/** CPU time (user + system) of the processes, in milliseconds. */
function cpuMs(pids: readonly number[]): number {
  // The clock tick is 100 Hz on Linux x86-64 (sysconf(_SC_CLK_TCK)), which Node does not expose.
  const tick = 10;
  let total = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) * tick;
  }
  return total;
}

/** Waits until workerd uses under 5% of a core over 500 ms (the consumer's backlog is done); returns how long. */
async function waitIdle(pids: readonly number[], limitMs = 120_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = cpuMs(pids);
    await sleep(500);
    if (cpuMs(pids) - before <= 25) return performance.now() - started - 500;
    if (performance.now() - started > limitMs) throw new WritesBenchError('workerd did not go idle');
  }
}

// ------------------------------------------------------------------------------------------------ posting

/** `auth;dur=0.1, d1;dur=2.3` -> {auth: 0.1, d1: 2.3}. */
export function parseServerTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const match = /^\s*([\w-]+)(?:;[^,]*?)?;dur=([\d.]+)/.exec(part);
    if (match) out[match[1]!] = Number(match[2]);
  }
  return out;
}

interface Sample {
  ms: number;
  stages: Record<string, number>;
}

let textCounter = 0;
/** Short posts of 8 to 30 words with a hashtag, so that enrichment counts one and embeds a realistic text. */
function postText(): string {
  const i = textCounter++;
  const words = 8 + ((i * 7) % 23);
  const vocabulary = ['edge', 'feed', 'worker', 'queue', 'timeline', 'post', 'reader', 'shard', 'cache', 'model'];
  return `${Array.from({ length: words }, (_, w) => vocabulary[(i + w * 3) % vocabulary.length]).join(' ')} #t${i % 13}`;
}

async function post(service: Service, author: User): Promise<Sample> {
  const started = performance.now();
  const res = await service.fetch('/v1/posts', {
    method: 'POST',
    headers: { authorization: `Bearer ${author.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text: postText() }),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 201) throw new WritesBenchError(`POST /v1/posts: ${res.status} ${text}`);
  return { ms, stages: parseServerTiming(res.headers.get('server-timing')) };
}

async function unknownRoute(service: Service): Promise<number> {
  const started = performance.now();
  const res = await service.fetch('/v1/no-such-route');
  await res.text();
  if (res.status !== 404) throw new WritesBenchError(`GET /v1/no-such-route: ${res.status}`);
  return performance.now() - started;
}

async function measure(
  service: Service,
  authors: User[],
  writers: number,
  posts: number,
  embedder: boolean,
): Promise<WritesRun> {
  const pids = workerdPids();
  const floorBefore = cpuMs(pids);
  const floor = (
    await Promise.all(
      authors.slice(0, writers).map(async () => {
        const mine: number[] = [];
        for (let i = 0; i < posts; i++) mine.push(await unknownRoute(service));
        return mine;
      }),
    )
  ).flat();
  const cpuBefore = cpuMs(pids);
  const floorCpuMs = (cpuBefore - floorBefore) / floor.length;
  const nodeBefore = process.cpuUsage();
  const started = performance.now();
  let posting = true;
  const probing = (async () => {
    const waits: number[] = [];
    // Spaced out, so that the probe itself adds little load (a 1-writer run stays a 1-writer run).
    while (posting) {
      waits.push(await unknownRoute(service));
      await sleep(PROBE_GAP_MS);
    }
    return waits;
  })();
  const samples = (
    await Promise.all(
      authors.slice(0, writers).map(async (author) => {
        const mine: Sample[] = [];
        for (let i = 0; i < posts; i++) mine.push(await post(service, author));
        return mine;
      }),
    )
  ).flat();
  const elapsedMs = performance.now() - started;
  posting = false;
  const probe = summarize(await probing);
  const cpuAnswered = cpuMs(pids);
  const node = process.cpuUsage(nodeBefore);
  const drainMs = await waitIdle(pids);
  const cpuDrained = cpuMs(pids);
  const stages = Object.fromEntries(
    STAGES.map((stage) => [
      stage,
      summarize(samples.map((s) => s.stages[stage] ?? Number.NaN).filter(Number.isFinite)),
    ]),
  ) as Record<Stage, Summary>;
  const timed = (s: Sample) =>
    ['auth', 'ratelimit', 'd1'].reduce((sum, stage) => sum + (s.stages[stage] ?? 0), 0) +
    Math.max((s.stages.author ?? 0) + (s.stages.queue ?? 0), s.stages.invalidate ?? 0);
  return {
    embedder,
    writers,
    total: summarize(samples.map((s) => s.ms)),
    stages,
    outside: summarize(samples.map((s) => s.ms - timed(s))),
    floor: summarize(floor),
    floorCpuMs,
    probe,
    nodeCpuPerPostMs: (node.user + node.system) / 1000 / samples.length,
    elapsedMs,
    cpuPerPostMs: (cpuAnswered - cpuBefore) / samples.length,
    backlogCpuPerPostMs: (cpuDrained - cpuAnswered) / samples.length,
    drainMs,
  };
}

// ------------------------------------------------------------------------------------------------ run

interface HealthBody {
  embedder?: { status: string; loadMs?: number; reason?: string };
}

/** Waits until the isolate that answers reports the model ready (the consumer loads it on its first post). */
async function waitForEmbedder(service: Service, author: User): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (let nudged = 0; Date.now() < deadline;) {
    const health = await expectStatus<HealthBody>(service, 200, 'GET', '/v1/health', { token: service.adminToken });
    if (health.embedder?.status === 'ready') return health.embedder.loadMs ?? Number.NaN;
    if (health.embedder?.status === 'unavailable') {
      throw new WritesBenchError(`embedder unavailable: ${health.embedder.reason}`);
    }
    // A post's enrichment is what loads the model; one more now and then in case the first went elsewhere.
    if (nudged++ % 20 === 0) await post(service, author);
    await sleep(100);
  }
  throw new WritesBenchError('the embedder did not become ready within 2 minutes');
}

export async function runWritesBench(
  start: (options: ServiceOptions) => Promise<Service>,
  vars: Record<string, string>,
  sizes: WritesSizes,
  log: (line: string) => void,
): Promise<WritesResult> {
  const fixture = await ensureFixtureModel('minilm-l3');
  const runs: WritesRun[] = [];
  let modelLoadMs: number | null = null;
  for (const embedder of [false, true]) {
    log(`${embedder ? 'with' : 'without'} the embedder: building the bundle and starting workerd`);
    // Without the embedder the vars still name the model, but its bucket is empty: the consumer finds no model.
    const service = await start(embedder ? { vars, model: fixture } : { vars: { ...vars, ...modelVars(fixture) } });
    try {
      const tag = Date.now().toString(36);
      const authors = await mapLimit(sizes.authors, 8, (i) => signupUser(service, `w${tag}_a${i}`));
      await mapLimit(sizes.authors * sizes.followersPerAuthor, 8, async (i) => {
        const follower = await signupUser(service, `w${tag}_f${i}`);
        const author = authors[i % sizes.authors]!;
        await expectStatus(service, 200, 'PUT', `/v1/users/${author.id}/follow`, { token: follower.token });
      });
      // One post each first: every author's objects exist and the isolate is warm before anything is measured.
      await mapLimit(authors.length, 4, (i) => post(service, authors[i]!));
      if (embedder) {
        modelLoadMs = await waitForEmbedder(service, authors[0]!);
        log(`model ready (${Math.round(modelLoadMs)} ms)`);
      }
      await waitIdle(workerdPids());
      for (const writers of sizes.concurrencies) {
        const posts = writers === 1 ? sizes.sequentialPosts : sizes.postsPerWriter;
        log(`${writers} writer(s) x ${posts} posts`);
        const run = await measure(service, authors, writers, posts, embedder);
        log(
          `  p50 ${formatMs(run.total.p50)}, p99 ${formatMs(run.total.p99)}; ` +
            `cpu/post ${run.cpuPerPostMs.toFixed(1)} + ${run.backlogCpuPerPostMs.toFixed(1)} ms, drain ${formatMs(run.drainMs)}`,
        );
        runs.push(run);
      }
    } finally {
      await service.dispose();
    }
  }
  return { sizes, cores: os.cpus().length, modelLoadMs, runs };
}

// ------------------------------------------------------------------------------------------------ render

export function renderWrites(result: WritesResult): string {
  const { sizes, runs } = result;
  const pair = (s: Summary) => (s.n === 0 ? 'n/a' : `${formatMs(s.p50)} / ${formatMs(s.p99)}`);
  const rows = runs.map((r) => [
    r.embedder ? 'loaded' : 'absent',
    String(r.writers),
    String(r.total.n),
    `**${pair(r.total)}**`,
    ...STAGES.map((stage) => pair(r.stages[stage])),
    pair(r.outside),
    `${pair(r.floor)} (${r.floorCpuMs.toFixed(1)} ms CPU)`,
    `${pair(r.probe)} / ${formatMs(r.probe.max)}`,
    `${r.cpuPerPostMs.toFixed(1)} + ${r.backlogCpuPerPostMs.toFixed(1)} ms`,
    `${r.nodeCpuPerPostMs.toFixed(1)} ms`,
    formatMs(r.drainMs),
  ]);
  const aims = [false, true].map((embedder) => {
    const one = runs.find((r) => r.embedder === embedder && r.writers === 1);
    const wide = runs.find((r) => r.embedder === embedder && r.writers === Math.max(...sizes.concurrencies));
    if (!one || !wide) return '';
    const ratio = wide.total.p99 / one.total.p50;
    return (
      `- ${embedder ? 'With' : 'Without'} the embedder: ${wide.writers}-writer p99 ${formatMs(wide.total.p99)} = ` +
      `${ratio.toFixed(1)}x the 1-writer p50 (${formatMs(one.total.p50)}): aim (<= 5x) ${ratio <= 5 ? 'met' : 'missed'}.`
    );
  });
  return [
    `${sizes.authors} authors with ${sizes.followersPerAuthor} followers each (small class: the consumer pushes the ` +
      `fan-out); 1 writer makes ${sizes.sequentialPosts} posts one after another, ${Math.max(...sizes.concurrencies)} ` +
      `writers (one author each) ${sizes.postsPerWriter} posts each, one in flight per writer. Embedder: absent (empty ` +
      `MODELS bucket) or loaded (MiniLM-L3 fixture, load ${result.modelLoadMs === null ? 'n/a' : formatMs(result.modelLoadMs)}). ` +
      `Stages from the route's Server-Timing; CPU is workerd's user+system time per post while posting + after the last ` +
      `answer until idle (the consumer's backlog).`,
    '',
    table(
      [
        'embedder',
        'writers',
        'posts',
        'total p50 / p99',
        ...STAGES.map((s) => `${s} p50 / p99`),
        'outside p50 / p99',
        '404 floor p50 / p99 (workerd CPU)',
        '404 probe during posting p50 / p99 / max',
        'workerd CPU / post',
        'Node CPU / post',
        'drain',
      ],
      rows,
    ),
    '',
    ...aims.filter(Boolean),
  ].join('\n');
}
