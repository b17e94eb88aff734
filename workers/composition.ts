/**
 * The composition root: the one module that reads the Worker's environment. It parses every setting once per
 * environment (a bad value fails loudly, naming its variable) and builds what every entry point receives
 * (HTTP handlers, the queue consumer, the cron, the Durable Objects): repositories, clock, ids, randomness,
 * caches, object stubs, queues and the parsed configuration. Nothing else reads `env` variables.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { z } from 'zod';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { dialectOf } from '../db/dialect.ts';
import { PgDatabase } from '../db/shards-pg.ts';
import { createShards } from '../db/shards.ts';
import { parseFanoutConfig, type FanoutConfig } from '../src/fanout.ts';
import { createIdGenerator, type IdGenerator } from '../src/ids.ts';
import type { QueueMessage } from '../src/messages.ts';
import { parseDuration } from '../src/duration.ts';
import { parseExperiments, type Experiments } from '../src/experiments.ts';
import { parseLimits, type Rule, type RuleName } from '../src/rate-limit.ts';
import { parseModel } from '../src/learned-model.ts';
import { parseWeights, type Weights } from '../src/ranking.ts';
import { createShardMap, type ShardMap } from '../src/sharding.ts';
import { parseFaultSpec, type FaultSpec } from '../src/outbox.ts';
import { cacheRedisClient, createL2, type L2 } from './cache/l2.ts';
import { readEmbeddingConfig, type EmbeddingConfig } from './embedding/config.ts';
import { createFaultInjector, faultyDatabase, faultyQueue, type FaultInjector } from './faults.ts';
import { withRuleNotices } from './rule-notices.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Everything configurable, parsed. Secrets included: they are configuration too, only not committed. */
export interface Config {
  jwtSecret: string;
  /** Null when unset: admin-only routes are then closed to everyone. */
  adminToken: string | null;
  allowSignup: boolean;
  tokenTtlSeconds: number;
  /** `*` or exact origins allowed to call the API from a browser. */
  corsOrigins: '*' | string[];
  /** Where the shards are: D1 databases `DB_SHARD_i`, or Postgres through Hyperdrive bindings `PG_SHARD_i`. */
  storage: 'd1' | 'postgres';
  shardCount: number;
  shardMap: ShardMap;
  fanout: FanoutConfig;
  /** `experiments` always has at least one arm ("default" when RANKING_EXPERIMENTS is unset). */
  ranking: { weights: Weights; impressionSampleRate: number; experiments: Experiments };
  embedding: EmbeddingConfig;
  rateLimits: Record<RuleName, Rule>;
  upstash: { url: string; token: string } | null;
  reliability: ReliabilityConfig;
}

/** Outboxes, their drainer, queue retries, timeline reconciliation, and the test-only fault injector. */
export interface ReliabilityConfig {
  /** `production` unless ENVIRONMENT says otherwise; the fault injector is refused there. */
  environment: string;
  /** How long an outbox record waits for its queue message before the drainer re-sends it (then doubling). */
  outboxDelayMs: number;
  /** How often a drainer alarm looks for due records; 0: never (the daily cron still drains). */
  drainIntervalMs: number;
  /** wrangler.toml's max_retries: a failure on attempt max_retries + 1 is the message's last. */
  queueMaxRetries: number;
  /** The longest delay between a failed message's retries, in seconds. */
  queueRetryMaxSeconds: number;
  /** How often a timeline checks its pushed authors' indexes for posts that never reached it. */
  reconcileIntervalMs: number;
  faults: FaultSpec | null;
}

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

/** A number in [min, max] (an integer when `integer`), `fallback` when unset. */
const numberVar = (min: number, max: number, fallback: number, integer = false) =>
  optionalText.transform((raw, ctx) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      ctx.addIssue({ code: 'custom', message: `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

const flag = optionalText.pipe(z.enum(['true', 'false']).optional()).transform((v) => v === 'true');

const varsSchema = z.object({
  JWT_SECRET: z.string({ error: 'is required' }).min(16, 'must be at least 16 characters'),
  ADMIN_TOKEN: optionalText,
  ALLOW_SIGNUP: flag,
  TOKEN_TTL: optionalText,
  CORS_ORIGINS: optionalText,
  STORAGE: z.enum(['d1', 'postgres'], { error: 'must be "d1" or "postgres"' }).default('d1'),
  SHARD_COUNT: numberVar(1, 1024, 1, true),
  SHARD_MAP: optionalText,
  FANOUT_PUSH_MAX: optionalText,
  FANOUT_PULL_MIN: optionalText,
  FANOUT_PAGE_SIZE: optionalText,
  RANKING_WEIGHTS: optionalText,
  RANKING_MODEL: optionalText,
  RANKING_EXPERIMENTS: optionalText,
  IMPRESSION_SAMPLE_RATE: numberVar(0, 1, 0),
  EMBEDDING_MODEL: optionalText,
  EMBEDDING_REVISION: optionalText,
  EMBEDDING_DTYPE: optionalText,
  EMBEDDING_SOURCE: optionalText,
  RATE_LIMIT_POSTS: optionalText,
  RATE_LIMIT_POSTS_CELEBRITY: optionalText,
  RATE_LIMIT_WRITES: optionalText,
  RATE_LIMIT_SIGNUPS_PER_IP: optionalText,
  RATE_LIMIT_SESSIONS_PER_IP: optionalText,
  UPSTASH_REDIS_REST_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  UPSTASH_REDIS_REST_TOKEN: optionalText,
  ENVIRONMENT: optionalText,
  FAULTS: optionalText,
  OUTBOX_DELAY: optionalText,
  OUTBOX_DRAIN_INTERVAL: optionalText,
  QUEUE_MAX_RETRIES: numberVar(0, 100, 5, true),
  QUEUE_RETRY_MAX_SECONDS: numberVar(0, 43_200, 60, true),
  RECONCILE_INTERVAL: optionalText,
});

const DEFAULT_TOKEN_TTL = '30d';

/** Parses the environment's variables; the first bad one is named in the error. */
export function parseConfig(env: unknown): Config {
  const parsed = varsSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${String(issue?.path[0] ?? 'configuration')} ${issue?.message ?? 'is invalid'}`);
  }
  const v = parsed.data;
  // The domain parsers name the variable in their own messages.
  try {
    return {
      jwtSecret: v.JWT_SECRET,
      adminToken: v.ADMIN_TOKEN ?? null,
      allowSignup: v.ALLOW_SIGNUP,
      tokenTtlSeconds: parseDuration(v.TOKEN_TTL ?? DEFAULT_TOKEN_TTL, 'TOKEN_TTL') / 1000,
      corsOrigins: parseOrigins(v.CORS_ORIGINS),
      storage: v.STORAGE,
      shardCount: v.SHARD_COUNT,
      shardMap: createShardMap(v.SHARD_COUNT, v.SHARD_MAP),
      fanout: parseFanoutConfig(v),
      ranking: rankingConfig(v.RANKING_WEIGHTS, v.RANKING_MODEL, v.RANKING_EXPERIMENTS, v.IMPRESSION_SAMPLE_RATE),
      embedding: readEmbeddingConfig(v),
      rateLimits: parseLimits({
        posts: v.RATE_LIMIT_POSTS,
        celebrityPosts: v.RATE_LIMIT_POSTS_CELEBRITY,
        writes: v.RATE_LIMIT_WRITES,
        signups: v.RATE_LIMIT_SIGNUPS_PER_IP,
        sessions: v.RATE_LIMIT_SESSIONS_PER_IP,
      }),
      upstash: v.UPSTASH_REDIS_REST_URL
        ? { url: v.UPSTASH_REDIS_REST_URL, token: v.UPSTASH_REDIS_REST_TOKEN ?? '' }
        : null,
      reliability: parseReliability(v),
    };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

function parseReliability(v: z.infer<typeof varsSchema>): ReliabilityConfig {
  const environment = v.ENVIRONMENT ?? 'production';
  const faults = v.FAULTS ? parseFaultSpec(v.FAULTS) : null;
  if (faults && environment === 'production') {
    throw new ConfigError('FAULTS is for tests only and is refused when ENVIRONMENT is production');
  }
  return {
    environment,
    outboxDelayMs: parseDuration(v.OUTBOX_DELAY ?? '30s', 'OUTBOX_DELAY'),
    drainIntervalMs:
      v.OUTBOX_DRAIN_INTERVAL === 'off' ? 0 : parseDuration(v.OUTBOX_DRAIN_INTERVAL ?? '15s', 'OUTBOX_DRAIN_INTERVAL'),
    queueMaxRetries: v.QUEUE_MAX_RETRIES,
    queueRetryMaxSeconds: v.QUEUE_RETRY_MAX_SECONDS,
    reconcileIntervalMs: parseDuration(v.RECONCILE_INTERVAL ?? '10m', 'RECONCILE_INTERVAL'),
    faults,
  };
}

function rankingConfig(
  weightsJson: string | undefined,
  modelJson: string | undefined,
  experimentsJson: string | undefined,
  sampleRate: number,
) {
  const weights = parseWeights(weightsJson);
  const model = parseModel(modelJson);
  return { weights, impressionSampleRate: sampleRate, experiments: parseExperiments(experimentsJson, weights, model) };
}

function parseOrigins(raw: string | undefined): '*' | string[] {
  if (raw === undefined || raw === '*') return '*';
  return raw.split(',').map((part) => {
    const origin = part.trim();
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin such as https://app.example`);
    }
    if (url.origin !== origin) throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin (no path)`);
    return origin;
  });
}

type Stub<K extends keyof Env> = Env[K] extends DurableObjectNamespace<infer T> ? DurableObjectStub<T> : never;

/** Durable Object stubs by the name they are addressed by. */
export interface Objects {
  timeline(userId: string): Stub<'USER_TIMELINE'>;
  authorFeed(authorId: string): Stub<'AUTHOR_FEED'>;
  /** The one Trending object, for now (durable-objects/trending.ts notes how it would shard). */
  trending(): Stub<'TRENDING'>;
  rateLimiter(key: string): Stub<'RATE_LIMITER'>;
  /** The outbox drainer of one D1 shard (durable-objects/outbox-drainer.ts). */
  drainer(shard: number): Stub<'OUTBOX_DRAINER'>;
}

export interface Queues {
  /** Small accounts' fan-out and graph repairs. */
  fanout: Queue<QueueMessage>;
  /** Medium authors' fan-out, enrichment, engagement notes, reclassification. */
  low: Queue<QueueMessage>;
}

/** What every entry point shares: built once per isolate and environment. */
export interface Deps {
  config: Config;
  repos: Repositories;
  now: () => number;
  newId: IdGenerator;
  /** Uniform draws in [0, 1): sampling and cache early-refresh decisions. */
  random: () => number;
  /** L2 for the read caches, null when Redis is off. L1 is per isolate. */
  cache: { l2: L2 | null };
  objects: Objects;
  queues: Queues;
  /** The rate limiter's Redis client (with retries), null when Redis is off. */
  redis: Redis | null;
  /** The embedding model files (EMBEDDING_SOURCE = r2); absent where no bucket is bound. */
  models: R2Bucket | undefined;
  /** Uploaded media (POST /v1/media); absent where no bucket is bound (uploads then answer 503). */
  media: R2Bucket | undefined;
  /** The test-only fault injector; null unless FAULTS is set (never in production). */
  faults: FaultInjector | null;
}

const TRENDING_INSTANCE = 'global';

function isDatabase(binding: unknown): binding is D1Database {
  return typeof binding === 'object' && binding !== null && 'prepare' in binding && 'batch' in binding;
}

function isHyperdrive(binding: unknown): binding is Hyperdrive {
  return typeof binding === 'object' && binding !== null && 'connectionString' in binding;
}

/**
 * The shard bindings are `DB_SHARD_0..SHARD_COUNT-1` (D1) or `PG_SHARD_0..SHARD_COUNT-1` (Hyperdrive, whose
 * databases db/shards-pg.ts drives through D1's surface): their number is configuration, not a type.
 */
/** The binding of shard `i`: `DB_SHARD_i` on D1, `PG_SHARD_i` (Hyperdrive) on Postgres. */
export function shardBindingName(storage: Config['storage'], i: number): string {
  return `${storage === 'postgres' ? 'PG' : 'DB'}_SHARD_${i}`;
}

export function shardDatabases(env: Env, storage: Config['storage'], count: number): D1Database[] {
  return Array.from({ length: count }, (_, i) => {
    const name = shardBindingName(storage, i);
    const binding: unknown = Reflect.get(env, name);
    if (storage === 'postgres' && isHyperdrive(binding)) return new PgDatabase(binding.connectionString);
    if (storage === 'd1' && isDatabase(binding)) return binding;
    throw new ConfigError(`SHARD_COUNT is ${count} but binding ${name} is missing (STORAGE is ${storage})`);
  });
}

function build(env: Env): Deps {
  const config = parseConfig(env);
  const faults = config.reliability.faults ? createFaultInjector(config.reliability.faults) : null;
  const databases = shardDatabases(env, config.storage, config.shardCount);
  const shards = createShards(
    faults ? databases.map((db) => faultyDatabase(db, faults)) : databases,
    config.shardMap,
    dialectOf(config.storage),
  );
  const queue = (q: Queue<QueueMessage>) => (faults ? faultyQueue(q, faults) : q);
  const objects: Objects = {
    timeline: (userId) => env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(userId)),
    authorFeed: (authorId) => env.AUTHOR_FEED.get(env.AUTHOR_FEED.idFromName(authorId)),
    trending: () => env.TRENDING.get(env.TRENDING.idFromName(TRENDING_INSTANCE)),
    rateLimiter: (key) => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key)),
    drainer: (shard) => env.OUTBOX_DRAINER.get(env.OUTBOX_DRAINER.idFromName(`shard-${shard}`)),
  };
  return {
    config,
    repos: withRuleNotices(createRepositories(shards), async (userId) => {
      try {
        await objects.timeline(userId).rulesChanged();
      } catch (error) {
        console.warn(`rules: ${userId}'s timeline not told; its feed keeps the old rules for up to a minute`, error);
      }
    }),
    now: () => Date.now(),
    newId: createIdGenerator(),
    random: Math.random,
    cache: { l2: config.upstash ? createL2(cacheRedisClient(config.upstash.url, config.upstash.token)) : null },
    objects,
    queues: { fanout: queue(env.FANOUT_QUEUE), low: queue(env.FANOUT_LOW_QUEUE) },
    redis: config.upstash ? new Redis({ ...config.upstash, enableTelemetry: false }) : null,
    models: env.MODELS,
    media: env.MEDIA,
    faults,
  };
}

/**
 * Only what the embedder needs, for a Worker that runs nothing else (workers/embedding/probe.ts, a benchmark's):
 * it has no shards or secrets to parse.
 */
export function embedderDepsFor(env: Env): Pick<Deps, 'models'> & { config: Pick<Config, 'embedding'> } {
  const vars = varsSchema.pick({
    EMBEDDING_MODEL: true,
    EMBEDDING_REVISION: true,
    EMBEDDING_DTYPE: true,
    EMBEDDING_SOURCE: true,
  });
  try {
    return { config: { embedding: readEmbeddingConfig(vars.parse(env)) }, models: env.MODELS };
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

const built = new WeakMap<Env, Deps>();

/**
 * The dependencies for an environment, built on first use and kept for the isolate's life. `overrides` let
 * tests run the real code on a clock (or ids, or randomness) they control.
 */
export function depsFor(env: Env, overrides?: Partial<Deps>): Deps {
  let deps = built.get(env);
  if (!deps) {
    deps = build(env);
    built.set(env, deps);
  }
  return overrides ? { ...deps, ...overrides } : deps;
}
