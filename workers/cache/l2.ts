import { Redis } from '@upstash/redis/cloudflare';
import { L2_LOCK, L2_RETRY_AFTER_MS, L2_TIMEOUT_MS } from '../../src/cache-policy.ts';

/** An entry as stored in Redis: the value and its stamp (src/cache-policy.ts), short keys to keep it small. */
export interface StoredEntry<T> {
  v: T;
  at: number;
  f: number;
  s: number;
  d: number;
}

/**
 * L2: Redis through Upstash's REST API, used as a cache. Every operation degrades instead of failing: an
 * error or a timeout is logged, turns L2 off for L2_RETRY_AFTER_MS (reads then go to L1 and the origin), and is
 * reported to the caller as "no answer" (null / false), never thrown.
 */
export interface L2 {
  /** False while L2 is off after a failure. */
  usable(): boolean;
  /** The stored entries in key order, null for absent ones; null altogether if Redis failed. */
  getMany<T>(keys: readonly string[]): Promise<(StoredEntry<T> | null)[] | null>;
  /** Each entry expires in Redis when it can no longer be served (its stale limit). */
  setMany<T>(entries: readonly { key: string; entry: StoredEntry<T>; ttlMs: number }[]): Promise<boolean>;
  delete(keys: readonly string[]): Promise<boolean>;
  /** SET NX PX per key: which locks were taken; null if Redis failed (the caller then loads unlocked). */
  lock(keys: readonly string[], token: string): Promise<boolean[] | null>;
  /** Releases only the locks still holding `token` (one that expired and was taken by another stays). */
  unlock(keys: readonly string[], token: string): Promise<boolean>;
}

// Compare-and-delete in one step; only declared keys are touched, as Upstash requires of scripts.
const UNLOCK_SCRIPT = `for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0`;

function isStoredEntry(value: unknown): value is StoredEntry<unknown> {
  if (typeof value !== 'object' || value === null || !('v' in value)) return false;
  const e = value as Record<string, unknown>;
  return typeof e.at === 'number' && typeof e.f === 'number' && typeof e.s === 'number' && typeof e.d === 'number';
}

/**
 * A client for cache traffic. The rate limiter's client (workers/composition.ts) retries a failed call five times with
 * exponential backoff, about 4 s in all, which suits rate limits; a cache read must fail fast instead, so
 * this one tries once and gives up after L2_TIMEOUT_MS.
 */
export function cacheRedisClient(url: string, token: string): Redis {
  return new Redis({
    url,
    token,
    enableTelemetry: false,
    retry: { retries: 0 },
    signal: () => AbortSignal.timeout(L2_TIMEOUT_MS),
    // Batching is explicit here (MGET, pipelines); the implicit kind can leave a failed batch's rejection unhandled.
    enableAutoPipelining: false,
  });
}

export function createL2(redis: Redis, label = 'cache'): L2 {
  let offUntil = 0;

  const fail = (operation: string, error: unknown) => {
    const wasOn = Date.now() >= offUntil;
    offUntil = Date.now() + L2_RETRY_AFTER_MS;
    // One line per outage, not one per read.
    if (wasOn) {
      console.warn(
        `${label}: Redis ${operation} failed; serving from L1 and the origin for ${L2_RETRY_AFTER_MS} ms`,
        error instanceof Error ? error.message : error,
      );
    }
  };

  const attempt = async <R>(operation: string, run: () => Promise<R>): Promise<R | null> => {
    if (Date.now() < offUntil) return null;
    try {
      return await run();
    } catch (error) {
      fail(operation, error);
      return null;
    }
  };

  return {
    usable: () => Date.now() >= offUntil,

    async getMany<T>(keys: readonly string[]) {
      if (keys.length === 0) return [];
      const values = await attempt('MGET', () => redis.mget<unknown[]>(...keys));
      if (values === null) return null;
      return keys.map((_, i) => {
        const value = values[i];
        return isStoredEntry(value) ? (value as StoredEntry<T>) : null;
      });
    },

    async setMany(entries) {
      const live = entries.filter((e) => e.ttlMs > 0);
      if (live.length === 0) return true;
      const done = await attempt('SET', async () => {
        const pipe = redis.pipeline();
        for (const { key, entry, ttlMs } of live) pipe.set(key, entry, { px: Math.ceil(ttlMs) });
        await pipe.exec();
        return true;
      });
      return done === true;
    },

    async delete(keys) {
      if (keys.length === 0) return true;
      return (await attempt('DEL', () => redis.del(...keys))) !== null;
    },

    async lock(keys, token) {
      if (keys.length === 0) return [];
      return attempt('SET NX', async () => {
        const pipe = redis.pipeline();
        for (const key of keys) pipe.set(key, token, { nx: true, px: L2_LOCK.ttlMs });
        const results = await pipe.exec<unknown[]>();
        return results.map((r) => r === 'OK');
      });
    },

    async unlock(keys, token) {
      if (keys.length === 0) return true;
      return (await attempt('EVAL', () => redis.eval(UNLOCK_SCRIPT, [...keys], [token]))) !== null;
    },
  };
}
