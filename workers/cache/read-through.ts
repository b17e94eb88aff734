import { waitUntil } from 'cloudflare:workers';
import {
  L2_LOCK,
  SINGLE_FLIGHT_ABANDON_MS,
  freshness,
  shouldRefreshEarly,
  stamp,
  type CachePolicy,
  type Stamp,
} from '../../src/cache-policy.ts';
import { createLru } from '../../src/lru.ts';
import { createSingleFlight } from '../../src/single-flight.ts';
import type { L2, StoredEntry } from './l2.ts';
import { countersFor } from './stats.ts';

/** What a loader returns for one key. `at` (when the origin produced it) is for copies from another cache. */
export interface Loaded<T> {
  value: T;
  at?: number;
  freshMs?: number;
  staleMs?: number;
}

/** Per call: the caller's clock (a test's, or the request's), the environment's L2, and how to keep work alive. */
export interface ReadContext {
  now: () => number;
  l2: L2 | null;
  /** Keeps a background refresh alive after the response; by default the current request's waitUntil. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /**
   * Only copies read from the origin at most this long before the call are used (0: only loads that start
   * with or after it, shared with concurrent readers). For answers another cache will keep (the edge), whose
   * age must start at the origin read.
   */
  maxAgeMs?: number;
}

/**
 * A read-through cache over L1 (this isolate), L2 (Redis, when on) and an origin the caller supplies per call.
 *
 * - **Single flight**: concurrent readers of a key that no level holds share one load; a batch read registers
 *   each of its keys, so single reads and batches of overlapping keys also share.
 * - **Across isolates** (L2 on): the first isolate to miss takes a Redis lock per key (SET NX PX); the others poll
 *   L2 briefly for its result, then load themselves rather than wait longer.
 * - **XFetch**: a fresh copy is refreshed early, in the background, with a probability that rises as its expiry
 *   nears (src/cache-policy.ts shouldRefreshEarly), so a hot key is reloaded before it expires, once.
 * - **Stale-while-revalidate**: after its fresh period a copy is served for `staleMs` more while one refresh runs.
 * - A Redis failure never fails a read: L2 steps aside (workers/cache/l2.ts) and the origin answers.
 */
export interface ReadThrough<T> {
  /** Many keys, one origin call for those no level holds. Keys the origin does not return are absent. */
  getMany(
    keys: readonly string[],
    load: (keys: string[]) => Promise<Map<string, T>>,
    ctx: ReadContext,
  ): Promise<Map<string, T>>;
  get(key: string, load: () => Promise<Loaded<T> | undefined>, ctx: ReadContext): Promise<T | undefined>;
  /** Drops the keys from L1 and from L2; loads already running for them will not store what they read. */
  invalidate(keys: readonly string[], l2: L2 | null): Promise<void>;
  /** Settles once no load, refresh or L2 write started by this cache is running (tests, benchmarks). */
  idle(): Promise<void>;
  /** Empties L1 (tests and benchmarks simulate a new isolate with it). */
  clear(): void;
}

export interface ReadThroughOptions {
  policy: CachePolicy;
  /** XFetch's uniform draws; injectable so tests are deterministic. */
  random?: () => number;
  /** Names the statistics and the Redis keys; the policy's name by default. */
  name?: string;
}

type Entry<T> = Stamp & { value: T };
type Outcome<T> = { ok: true; entry: Entry<T> | undefined } | { ok: false; error: unknown };
type Loader<T> = (keys: string[]) => Promise<Map<string, Loaded<T>>>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function keepAlive(ctx: ReadContext, promise: Promise<unknown>): void {
  if (ctx.waitUntil) {
    ctx.waitUntil(promise);
    return;
  }
  try {
    waitUntil(promise);
  } catch {
    // Outside a request (nothing to extend): the promise handles its own errors and idle() still tracks it.
  }
}

export function createReadThrough<T>(options: ReadThroughOptions): ReadThrough<T> {
  const { policy } = options;
  const name = options.name ?? policy.name;
  const random = options.random ?? Math.random;
  const useL2 = policy.levels.includes('l2');
  const l1 = createLru<Entry<T>>(policy.l1Capacity);
  // Misses being loaded, joinable by later misses; and keys being refreshed in the background.
  const inflight = createSingleFlight<string, Outcome<T>>({ abandonAfterMs: SINGLE_FLIGHT_ABANDON_MS });
  const refreshing = new Set<string>();
  const running = new Set<Promise<unknown>>();
  // Invalidation marks, by key: a load that started before the mark must not store what it read. Only needed
  // while loads run, so they are dropped whenever none does.
  const marks = new Map<string, number>();
  let activeFills = 0;
  let seq = 0;
  const stats = countersFor(name);
  const l2Stats = countersFor(`${name}.l2`);
  // The version changes with the stored shape, so a deployment never reads its predecessor's entries.
  const dataKey = (key: string) => `edge-feed:cache:v1:${name}:${key}`;
  const lockKey = (key: string) => `edge-feed:lock:${name}:${key}`;

  const track = <P>(promise: Promise<P>): Promise<P> => {
    running.add(promise);
    void promise.finally(() => running.delete(promise)).catch(() => undefined);
    return promise;
  };

  /** Work the reader does not wait for (L2 writes, lock releases): kept alive, tracked, its failure logged. */
  const background = (ctx: ReadContext, work: Promise<unknown>) => {
    const settled = work.then(
      () => undefined,
      (error: unknown) => console.warn(`cache ${name}: background work failed`, error),
    );
    keepAlive(ctx, track(settled));
  };

  const storeL1 = (key: string, entry: Entry<T>, gen: number) => {
    if ((marks.get(key) ?? -1) > gen) return false;
    l1.set(key, entry, entry.staleUntil);
    return true;
  };

  /** Origin read for `keys`, stamped; stored in L1, and in L2 in the background. */
  const loadFromOrigin = async (keys: string[], loader: Loader<T>, ctx: ReadContext, l2: L2 | null, gen: number) => {
    const startedAt = ctx.now();
    const loaded = await loader(keys);
    const computeMs = Math.max(0, ctx.now() - startedAt);
    stats.loads += keys.length;
    const out = new Map<string, Entry<T>>();
    const writes: { key: string; entry: StoredEntry<T>; ttlMs: number }[] = [];
    const now = ctx.now();
    for (const [key, l] of loaded) {
      const entry: Entry<T> = { value: l.value, ...stamp(policy, l.at ?? startedAt, computeMs, l) };
      out.set(key, entry);
      if (storeL1(key, entry, gen) && l2) {
        const stored = { v: entry.value, at: entry.at, f: entry.freshUntil, s: entry.staleUntil, d: entry.computeMs };
        writes.push({ key: dataKey(key), entry: stored, ttlMs: entry.staleUntil - now });
      }
    }
    return { out, writes };
  };

  /**
   * L2 copies usable at `now` and read from the origin no earlier than `notBefore`, stored into L1; with
   * `newerThan`, only copies fresher than what L1 holds.
   */
  const adoptFromL2 = async (
    keys: string[],
    l2: L2,
    ctx: ReadContext,
    gen: number,
    notBefore: number,
    newerThan?: Map<string, number>,
  ) => {
    const stored = await l2.getMany<T>(keys.map(dataKey));
    if (stored === null) return null;
    const now = ctx.now();
    const found = new Map<string, Entry<T>>();
    keys.forEach((key, i) => {
      const s = stored[i];
      if (!s) return;
      const entry: Entry<T> = { value: s.v, at: s.at, freshUntil: s.f, staleUntil: s.s, computeMs: s.d };
      const state = freshness(entry, now);
      if (state === 'expired' || entry.at < notBefore) return;
      const floor = newerThan?.get(key);
      if (floor !== undefined && (state !== 'fresh' || entry.freshUntil <= floor)) return;
      storeL1(key, entry, gen);
      found.set(key, entry);
    });
    l2Stats.hits += found.size;
    l2Stats.misses += keys.length - found.size;
    return found;
  };

  /**
   * Fills `keys` from L2 or the origin. A miss waits for the result; a refresh runs in the background and
   * gives up on keys another isolate is already refreshing (this one keeps serving its stale copy meanwhile).
   */
  const fillLevels = async (
    keys: string[],
    loader: Loader<T>,
    ctx: ReadContext,
    gen: number,
    notBefore: number,
    refreshOf?: Map<string, number>,
  ): Promise<Map<string, Entry<T>>> => {
    const l2 = useL2 && ctx.l2?.usable() ? ctx.l2 : null;
    if (!l2) return (await loadFromOrigin(keys, loader, ctx, null, gen)).out;
    const out = new Map<string, Entry<T>>();
    const fromL2 = await adoptFromL2(keys, l2, ctx, gen, notBefore, refreshOf);
    if (fromL2 === null) return (await loadFromOrigin(keys, loader, ctx, null, gen)).out;
    for (const [k, e] of fromL2) out.set(k, e);
    const absent = keys.filter((k) => !fromL2.has(k));
    if (absent.length === 0) return out;

    const token = crypto.randomUUID();
    const won = await l2.lock(absent.map(lockKey), token);
    const mine = won === null ? absent : absent.filter((_, i) => won[i]);
    const theirs = won === null ? [] : absent.filter((_, i) => !won[i]);
    const waitForTheirs = async () => {
      // A refresh leaves keys being refreshed elsewhere to that isolate; a miss waits a little for its result.
      if (refreshOf || theirs.length === 0) return [];
      let pending = theirs;
      for (let waited = 0; waited < L2_LOCK.waitMs && pending.length > 0; waited += L2_LOCK.pollMs) {
        await sleep(L2_LOCK.pollMs);
        const got = await adoptFromL2(pending, l2, ctx, gen, notBefore);
        if (got === null) break;
        for (const [k, e] of got) out.set(k, e);
        pending = pending.filter((k) => !got.has(k));
      }
      return pending;
    };
    const ownLoad =
      mine.length > 0
        ? loadFromOrigin(mine, loader, ctx, l2, gen).catch((error: unknown) => {
            background(ctx, l2.unlock(mine.map(lockKey), token));
            throw error;
          })
        : undefined;
    const [own, unanswered] = await Promise.all([ownLoad, waitForTheirs()]);
    if (own) {
      for (const [k, e] of own.out) out.set(k, e);
      const { writes } = own;
      // Write, then release: released first, another isolate could miss, lock and load the key once more.
      background(
        ctx,
        (async () => {
          await l2.setMany(writes);
          await l2.unlock(mine.map(lockKey), token);
        })(),
      );
    }
    if (unanswered.length > 0) {
      const late = await loadFromOrigin(unanswered, loader, ctx, l2, gen);
      for (const [k, e] of late.out) out.set(k, e);
      background(ctx, l2.setMany(late.writes));
    }
    return out;
  };

  /**
   * Starts one fill for `keys`. A miss registers it as the keys' single flight until it settles; a refresh
   * only marks the keys as refreshing (a refresh may give up on a key, which a waiting miss could not use).
   */
  const fill = (
    keys: string[],
    loader: Loader<T>,
    ctx: ReadContext,
    notBefore: number,
    refreshOf?: Map<string, number>,
  ) => {
    const gen = ++seq;
    activeFills++;
    const batch = track(
      (async () => {
        try {
          return await fillLevels(keys, loader, ctx, gen, notBefore, refreshOf);
        } finally {
          if (refreshOf) for (const key of keys) refreshing.delete(key);
          if (--activeFills === 0) marks.clear();
        }
      })(),
    );
    if (refreshOf) {
      for (const key of keys) refreshing.add(key);
      return batch;
    }
    const outcome = batch.then(
      (entries) => ({ ok: true as const, entries }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    for (const key of keys) {
      inflight.register(
        key,
        outcome.then((o): Outcome<T> => (o.ok ? { ok: true, entry: o.entries.get(key) } : o)),
      );
    }
    return batch;
  };

  const refresh = (current: Map<string, number>, loader: Loader<T>, ctx: ReadContext) => {
    const due = [...current.keys()].filter((k) => !refreshing.has(k) && !inflight.current(k));
    if (due.length === 0) return;
    const work = fill(due, loader, ctx, Number.NEGATIVE_INFINITY, current).then(
      () => undefined,
      (error: unknown) => console.warn(`cache ${name}: background refresh failed; serving the stale copy`, error),
    );
    keepAlive(ctx, track(work));
  };

  const resolve = async (keys: readonly string[], loader: Loader<T>, ctx: ReadContext): Promise<Map<string, T>> => {
    const now = ctx.now();
    const notBefore = ctx.maxAgeMs === undefined ? Number.NEGATIVE_INFINITY : now - ctx.maxAgeMs;
    const out = new Map<string, T>();
    const joined: Promise<void>[] = [];
    const missing: string[] = [];
    const due = new Map<string, number>();
    for (const key of new Set(keys)) {
      const entry = l1.get(key, now);
      const state = entry ? freshness(entry, now) : 'expired';
      if (entry && state !== 'expired' && entry.at >= notBefore) {
        stats.hits++;
        out.set(key, entry.value);
        if (state === 'stale') {
          stats.stale++;
          due.set(key, entry.freshUntil);
        } else if (shouldRefreshEarly(now, entry.freshUntil, entry.computeMs, policy.beta, random())) {
          due.set(key, entry.freshUntil);
        }
        continue;
      }
      stats.misses++;
      const flight = inflight.current(key);
      if (flight) {
        joined.push(
          flight.then((o) => {
            if (!o.ok) throw o.error;
            if (o.entry) out.set(key, o.entry.value);
          }),
        );
      } else {
        missing.push(key);
      }
    }
    if (due.size > 0) refresh(due, loader, ctx);
    if (missing.length > 0) {
      const filled = fill(missing, loader, ctx, notBefore);
      joined.push(
        filled.then((entries) => {
          const later = ctx.now();
          const staleNow = new Map<string, number>();
          for (const [key, entry] of entries) {
            out.set(key, entry.value);
            // A stale copy adopted from L2 is served, and refreshed like a stale L1 copy.
            if (freshness(entry, later) === 'stale') staleNow.set(key, entry.freshUntil);
          }
          if (staleNow.size > 0) {
            stats.stale += staleNow.size;
            refresh(staleNow, loader, ctx);
          }
        }),
      );
    }
    await Promise.all(joined);
    return out;
  };

  return {
    getMany(keys, load, ctx) {
      const loader: Loader<T> = async (ks) => new Map([...(await load(ks))].map(([k, value]) => [k, { value }]));
      return resolve(keys, loader, ctx);
    },

    async get(key, load, ctx) {
      const loader: Loader<T> = async () => {
        const l = await load();
        return l ? new Map([[key, l]]) : new Map();
      };
      return (await resolve([key], loader, ctx)).get(key);
    },

    async invalidate(keys, l2) {
      const mark = ++seq;
      for (const key of keys) {
        l1.delete(key);
        inflight.forget(key);
        if (activeFills > 0) marks.set(key, mark);
      }
      if (useL2 && l2) await l2.delete(keys.map(dataKey));
    },

    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },

    clear() {
      l1.clear();
    },
  };
}
