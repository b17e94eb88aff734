/**
 * `npm run bench [-- --only feed,fanout,identity,embedding,writes,ranking,streaming --posts N --cold-posts N --bursts N --authors N --no-doc]`: runs
 * the benches, prints their tables, writes raw results to bench/results/ (git-ignored) and replaces each bench's
 * generated block of docs/benchmarks.md, between `<!-- bench:<id>:start -->` and `<!-- bench:<id>:end -->`.
 * `--quick` (`npm run bench:quick`) runs the feed bench, on wiki-Vote and smaller samples, the ranking bench at a
 * smaller size and the streaming bench with fewer rounds, into their own blocks (`feed-quick`, `ranking-quick`,
 * `streaming-quick`; `--only` picks one), and leaves the chart alone.
 * `--storage postgres` runs the feed and writes benches (quick: the feed bench) with the shards in fresh databases on
 * the machine's PostgreSQL (PG_URL, else 127.0.0.1:5432; bench/harness.ts), into blocks of their own (`feed-pg`,
 * `feed-quick-pg`, `writes-pg`) beside D1's; `--only` takes either name (`feed-quick` or `feed-quick-pg`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { fanoutOnReadWorker } from './fanout-on-read.ts';
import { FULL_SIZES, QUICK_SIZES, feedChart, renderFeed, runFeedBench } from './feed.ts';
import { fanoutProbeWorker, renderFanout, runFanoutBench } from './fanout.ts';
import { ensureTrainedModel } from '../scripts/train-model.ts';
import { ROOT, machineInfo, startService, type ServiceOptions, type Storage } from './harness.ts';
import { renderIdentity, runIdentityBench } from './identity.ts';
import { FULL_RANKING_SIZES, QUICK_RANKING_SIZES, renderRanking, runRankingBench } from './ranking.ts';
import { renderReconcile, runReconcileBench } from './reconcile.ts';
import { FULL_STREAMING_SIZES, QUICK_STREAMING_SIZES, renderStreaming, runStreamingBench } from './streaming.ts';

const DOC = path.join(ROOT, 'docs/benchmarks.md');
const CHART = path.join(ROOT, 'docs/bench-feed-latency.svg');

/**
 * The rate limits (src/rate-limit.ts) raised out of the way: benches create thousands of users and posts from
 * one client, which the defaults rightly refuse. They are raised through configuration; nothing skips them.
 */
export const BENCH_VARS: Record<string, string> = {
  RATE_LIMIT_POSTS: '100000000/1h',
  RATE_LIMIT_POSTS_CELEBRITY: '100000000/1h',
  RATE_LIMIT_WRITES: '100000000/1h',
  RATE_LIMIT_SIGNUPS_PER_IP: '100000000/1h',
  RATE_LIMIT_SESSIONS_PER_IP: '100000000/1h',
};

type Args = Record<string, string | undefined>;

interface BenchOutput {
  markdown: string;
  raw: unknown;
  /** Further files the bench writes next to the doc (paths from the repository root), unless --no-doc. */
  files?: Record<string, string>;
}

interface Bench {
  id: string;
  /** `vars`: the repeatable `--ranking-var KEY=VALUE` flags, which only the ranking bench reads. */
  run(args: Args, log: (line: string) => void, vars?: readonly string[]): Promise<BenchOutput>;
}

/** A bench's doc block on Postgres: its own, so that D1's stays. */
const storageId = (id: string, storage: Storage) => (storage === 'postgres' ? `${id}-pg` : id);

function feedBench(quick: boolean, storage: Storage = 'd1'): Bench {
  // Baseline (a) reads the D1 bindings directly (bench/fanout-on-read.ts): only on D1.
  const baseline = storage === 'd1';
  return {
    id: storageId(quick ? 'feed-quick' : 'feed', storage),
    async run(_args, log) {
      log(`building the bundle and starting workerd (storage: ${storage})`);
      const service = await startService({
        storage,
        vars: BENCH_VARS,
        extraWorkers: [fanoutProbeWorker(), ...(baseline ? [fanoutOnReadWorker(BENCH_VARS)] : [])],
      });
      try {
        const raw = await runFeedBench(service, quick ? QUICK_SIZES : FULL_SIZES, log, { baseline });
        return {
          markdown: renderFeed(raw),
          raw,
          // The chart shows the baselines, so it is D1's.
          files: quick || !baseline ? {} : { [path.relative(ROOT, CHART)]: feedChart(raw) },
        };
      } finally {
        await service.dispose();
      }
    },
  };
}

/**
 * The ranking-quality bench (bench/ranking.ts): three replays, each on a fresh service. `--ranking-readers`,
 * `--ranking-authors`, `--ranking-topics`, `--ranking-rounds`, `--ranking-seed` change the world's size;
 * `--ranking-var KEY=VALUE` (repeatable) sets a var in every replay, e.g. RANKING_EXPERIMENTS (or, with
 * `--ranking-no-model`, the EMBEDDING_* ones). Posts are embedded
 * with the locally trained text model (`npm run train-model`; trained on first use), unless `--ranking-no-model`.
 */
function rankingBench(quick: boolean): Bench {
  return {
    id: quick ? 'ranking-quick' : 'ranking',
    async run(args, log, vars = []) {
      const base = quick ? QUICK_RANKING_SIZES : FULL_RANKING_SIZES;
      const size = (flag: string, fallback: number) => {
        const value = args[flag] === undefined ? fallback : Number(args[flag]);
        if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} wants a whole number, got ${args[flag]}`);
        return value;
      };
      const sizes = {
        ...base,
        readers: size('ranking-readers', base.readers),
        authors: size('ranking-authors', base.authors),
        topics: size('ranking-topics', base.topics),
        rounds: size('ranking-rounds', base.rounds),
        seed: size('ranking-seed', base.seed),
      };
      const extra = Object.fromEntries(
        vars.map((kv) => {
          const at = kv.indexOf('=');
          if (at < 1) throw new Error(`--ranking-var wants KEY=VALUE, got ${JSON.stringify(kv)}`);
          return [kv.slice(0, at), kv.slice(at + 1)];
        }),
      );
      // The locally trained model (trained here on first use, then cached), unless --ranking-no-model.
      const model = args['ranking-no-model'] === 'true' ? null : await ensureTrainedModel({ log });
      if (model) log(`text model ${model.model}@${model.revision} (${model.trained ? 'trained now' : 'cached'})`);
      const raw = await runRankingBench(
        sizes,
        (vars, m) => startService({ vars: { ...BENCH_VARS, ...vars }, ...(m ? { model: m } : {}) }),
        log,
        extra,
        model,
      );
      return { markdown: renderRanking(raw), raw };
    },
  };
}

/** Live updates (bench/streaming.ts): POST to event on open streams, memory per idle connection. */
function streamingBench(quick: boolean): Bench {
  return {
    id: quick ? 'streaming-quick' : 'streaming',
    async run(_args, log) {
      const sizes = quick ? QUICK_STREAMING_SIZES : FULL_STREAMING_SIZES;
      const raw = await runStreamingBench(startService, BENCH_VARS, sizes, log);
      return { markdown: renderStreaming(raw), raw };
    },
  };
}

/** Post writes under concurrency (bench/writes.ts). */
function writesBench(storage: Storage): Bench {
  return {
    id: storageId('writes', storage),
    async run(_args, log) {
      const { WRITES_SIZES, renderWrites, runWritesBench } = await import('./writes.ts');
      const start = (options: ServiceOptions) => startService({ ...options, storage });
      const raw = await runWritesBench(start, BENCH_VARS, WRITES_SIZES, log);
      return { markdown: renderWrites(raw), raw };
    },
  };
}

const BENCHES: Bench[] = [
  feedBench(false),
  {
    id: 'fanout',
    async run(args, log) {
      log('building the bundle and starting workerd');
      const service = await startService({ vars: BENCH_VARS, extraWorkers: [fanoutProbeWorker()] });
      try {
        const raw = await runFanoutBench(service, {
          sequentialPosts: Number(args.posts),
          coldPosts: Number(args['cold-posts']),
          bursts: Number(args.bursts),
          authorsPerClass: Number(args.authors),
          floorConcurrency: 32,
          floorRuns: 3,
          log,
        });
        return { markdown: renderFanout(raw), raw };
      } finally {
        await service.dispose();
      }
    },
  },
  {
    id: 'identity',
    async run(_args, log) {
      log('building the bundle and starting workerd');
      const service = await startService({ vars: BENCH_VARS });
      try {
        const raw = await runIdentityBench(service, { users: 200, samples: 30 }, log);
        return { markdown: renderIdentity(raw), raw };
      } finally {
        await service.dispose();
      }
    },
  },
  {
    id: 'reconcile',
    async run(_args, log) {
      log('building the bundle and starting workerd');
      const service = await startService({ vars: { ...BENCH_VARS, RECONCILE_INTERVAL: '1s' } });
      try {
        const raw = await runReconcileBench(service, { authors: 100, postsPerAuthor: 10, readers: 10, rounds: 6 }, log);
        return { markdown: renderReconcile(raw), raw };
      } finally {
        await service.dispose();
      }
    },
  },
  {
    id: 'embedding',
    async run(_args, log) {
      // Loaded only when it runs, so that one bench's trouble does not stop the others.
      const { renderEmbedding, runEmbeddingBench } = await import('./embedding.ts');
      const raw = await runEmbeddingBench({ log });
      return { markdown: renderEmbedding(raw), raw };
    },
  },
  writesBench('d1'),
  rankingBench(false),
  streamingBench(false),
];

/** Replaces the generated block of one section of the doc, leaving everything else as written. */
export function replaceSection(doc: string, id: string, body: string): string {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const block = `${start}\n${body.trim()}\n${end}`;
  if (from === -1 || to < from) return `${doc.trimEnd()}\n\n${block}\n`;
  return doc.slice(0, from) + block + doc.slice(to + end.length);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      posts: { type: 'string', default: '30' },
      'cold-posts': { type: 'string', default: '10' },
      bursts: { type: 'string', default: '5' },
      authors: { type: 'string', default: '3' },
      'no-doc': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      storage: { type: 'string', default: 'd1' },
      'ranking-readers': { type: 'string' },
      'ranking-authors': { type: 'string' },
      'ranking-topics': { type: 'string' },
      'ranking-rounds': { type: 'string' },
      'ranking-seed': { type: 'string' },
      'ranking-var': { type: 'string', multiple: true },
      'ranking-no-model': { type: 'boolean', default: false },
    },
  });
  const {
    only,
    'no-doc': noDoc,
    quick,
    'ranking-var': rankingVars = [],
    'ranking-no-model': noModel,
    storage,
    ...others
  } = values;
  if (storage !== 'd1' && storage !== 'postgres') throw new Error(`--storage wants d1 or postgres, got ${storage}`);
  const args: Args = { ...others, 'ranking-no-model': String(noModel) };
  // On Postgres, the benches whose every step goes through the service's storage: feed and writes.
  const benches =
    storage === 'postgres'
      ? quick
        ? [feedBench(true, storage)]
        : [feedBench(false, storage), writesBench(storage)]
      : quick
        ? [feedBench(true), rankingBench(true), streamingBench(true)]
        : BENCHES;
  // --quick runs both quick benches unless --only names some of them (e.g. `--only ranking-quick`).
  const wanted = (only?.split(',') ?? benches.map((b) => b.id)).map((id) =>
    id.endsWith('-pg') ? id : storageId(id, storage),
  );
  const unknown = wanted.filter((id) => !benches.some((b) => b.id === id));
  if (unknown.length > 0)
    throw new Error(`unknown bench ${unknown.join(', ')}; known: ${benches.map((b) => b.id).join(', ')}`);
  const rest = process.argv.slice(2).filter((a) => a !== '--quick');
  const command = quick
    ? `npm run bench:quick${rest.length > 0 ? ` -- ${rest.join(' ')}` : ''}`
    : `npm run bench -- ${rest.join(' ')}`.trim().replace(/ --$/, '');
  for (const bench of benches.filter((b) => wanted.includes(b.id))) {
    const started = new Date();
    // Seconds since the bench started, so that a run's log shows what takes the time.
    const log = (line: string) =>
      console.error(`[bench:${bench.id} ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s] ${line}`);
    const machine = machineInfo();
    let output: BenchOutput;
    try {
      output = await bench.run(args, log, rankingVars);
    } catch (error) {
      // One bench's failure is reported and fails the run, but does not stop the others.
      log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exitCode = 1;
      continue;
    }
    const { markdown, raw, files = {} } = output;
    const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
    log(`done in ${minutes} min`);
    console.log(markdown);
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    writeFileSync(
      path.join(ROOT, 'bench/results', `${bench.id}-${stamp}.json`),
      JSON.stringify({ started, command, machine, result: raw }, null, 2),
    );
    if (noDoc) continue;
    for (const [file, content] of Object.entries(files)) {
      writeFileSync(path.join(ROOT, file), content);
      log(`wrote ${file}`);
    }
    const header = [
      `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\` (${minutes} min).`,
      '',
      `Machine: ${machine.cpu}, ${machine.memory}, ${machine.os}; Node ${machine.node}, workerd ${machine.workerd}, ` +
        `miniflare ${machine.miniflare}, wrangler ${machine.wrangler}; load average at start ${machine.loadAverage}.`,
      '',
      '',
    ].join('\n');
    // Formatted as `npm run format` would, so that CI's format check passes on a freshly written doc.
    const doc = replaceSection(readFileSync(DOC, 'utf8'), bench.id, header + markdown);
    writeFileSync(DOC, await format(doc, { ...(await resolveConfig(DOC)), filepath: DOC }));
    log(`wrote its section of ${path.relative(ROOT, DOC)}`);
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
