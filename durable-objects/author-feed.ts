import { DurableObject } from 'cloudflare:workers';
import { CACHE_POLICIES, HOT_AUTHOR } from '../src/cache-policy.ts';
import { createSlidingCounter, isHot, readsInWindow, recordReads } from '../src/hot-keys.ts';
import { createSingleFlight } from '../src/single-flight.ts';
import { forEachLimit } from '../src/concurrency.ts';
import { newestFirst, type TimelineEntry } from '../src/timeline.ts';
import { depsFor } from '../workers/composition.ts';
import { migrateStorage, sqlMigration, type StorageSchema } from './schema.ts';

/** How many recent posts an author's feed keeps: enough for pull readers' pages and follow backfills. */
export const AUTHOR_FEED_CAP = 200;

type EntryRow = { post_id: string; author_id: string; created_at: number };
type RepostRow = EntryRow & { repost_id: string; at: number };

/** What feed readers get: the list, and how long they may cache it (longer, and at the edge, when hot). */
export interface RecentAnswer {
  entries: TimelineEntry[];
  hot: boolean;
  ttlMs: number;
}

/** The most reads one call may report: a bound on what a misbehaving caller can do to the counter. */
const MAX_REPORTED_READS = 1_000_000;

/**
 * The storage schema, oldest step first (durable-objects/schema.ts). Version 1 is the tables as every
 * constructor created them before schemas had versions, hence IF NOT EXISTS: objects stored then adopt the stamp.
 */
export const AUTHOR_FEED_SCHEMA: StorageSchema = {
  name: 'AuthorFeed',
  migrations: [
    sqlMigration(
      'recent, meta',
      `
      CREATE TABLE IF NOT EXISTS recent (
        post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
      `,
    ),
    // Readers with an open stream who pull this author (src/streaming.ts WATCH_TTL_MS): told of new, edited and
    // deleted posts, since a celebrity's posts reach nobody by fan-out.
    sqlMigration('watchers', 'CREATE TABLE watchers (user_id TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID'),
    // The author's recent reposts, beside their posts: what readers who pull them merge (src/timeline.ts).
    sqlMigration(
      'reposts',
      `
      CREATE TABLE reposts (
        post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, created_at INTEGER NOT NULL, repost_id TEXT NOT NULL,
        at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX reposts_recent ON reposts (repost_id);
      `,
    ),
  ],
};

/** Timeline RPCs in flight at once when the watchers are told of a post. */
const NOTIFY_CONCURRENCY = 32;

/**
 * One per author (name = author id): the author's recent post ids, newest first. It is a cache of the
 * author's post index in D1 (user_posts), filled from there on first use, so it can be dropped or
 * bulk-loaded around without losing anything.
 *
 * Hot keys: a Durable Object handles one event at a time and keeps this list in memory, so however many
 * followers of a celebrity read concurrently, storage is read once per object lifetime, and the first
 * D1 warm-up is shared by every caller that arrives while it runs (single flight). On top of that, feed readers
 * (`readRecent`) report how many reads they served from their own caches since they last asked; a sliding
 * window of those reads tells whether the author is hot, and a hot author's answer says so, so callers keep
 * it longer and in the edge cache, and this one object is not read once per follower (workers/cache).
 */
export class AuthorFeed extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private cache: TimelineEntry[] | undefined;
  private readonly warming = createSingleFlight<'warm', void>();
  private readonly reads = createSlidingCounter(HOT_AUTHOR.windowMs, HOT_AUTHOR.buckets);
  /** Whether the author is hot now, and how many readRecent calls reached the object past the caches (tests, benchmarks). */
  hot = false;
  feedReads = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrateStorage(ctx.storage, AUTHOR_FEED_SCHEMA);
  }

  /**
   * A new post. Called twice for each (inline, then by the consumer): only the call that adds it tells the watchers.
   * A cold feed warms up from D1, which already has the post: then that first call is the one that added it.
   */
  async add(entry: TimelineEntry): Promise<void> {
    const wasWarm = this.isWarm();
    await this.warm(entry.authorId);
    if (this.insert([entry]) > 0 || !wasWarm) this.notifyWatchers('update', entry);
  }

  /** A deleted post. `entry` (not only the id) so that watchers, which know the author by id, can be told. */
  remove(postId: string, entry?: TimelineEntry): void {
    if (this.sql.exec('DELETE FROM recent WHERE post_id = ? RETURNING post_id', postId).toArray().length > 0) {
      this.cache = undefined;
    }
    if (entry) this.notifyWatchers('delete', entry);
  }

  /** An edited post: the watchers' streams get the new version. */
  edited(entry: TimelineEntry): void {
    this.notifyWatchers('edit', entry);
  }

  /** A reader with an open stream pulls this author: report its posts to them until `until` (renewed while open). */
  watch(userId: string, until: number, now: number): void {
    this.sql.exec(
      'INSERT INTO watchers (user_id, until) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET until = excluded.until',
      userId,
      until,
    );
    this.sql.exec('DELETE FROM watchers WHERE until <= ?', now);
  }

  unwatch(userId: string): void {
    this.sql.exec('DELETE FROM watchers WHERE user_id = ?', userId);
  }

  watcherCount(now: number): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM watchers WHERE until > ?', now).one().n;
  }

  /**
   * Tells every current watcher's timeline, after this call returns: the author's request (a POST, the consumer)
   * does not wait on the streams. A failed notification costs that stream one event; the feed read still has it.
   */
  private notifyWatchers(kind: 'update' | 'edit' | 'delete', entry: TimelineEntry): void {
    const now = Date.now();
    const watchers = this.sql
      .exec<{ user_id: string }>('SELECT user_id FROM watchers WHERE until > ?', now)
      .toArray()
      .map((r) => r.user_id);
    if (watchers.length === 0) return;
    const { objects } = depsFor(this.env);
    this.ctx.waitUntil(
      forEachLimit(watchers, NOTIFY_CONCURRENCY, (userId) => objects.timeline(userId).streamPulled(kind, entry)).catch(
        (error: unknown) => console.warn('author feed: a watcher could not be told of a post', error),
      ),
    );
  }

  /** A repost by this object's user (`entry.repost.by`); idempotent. */
  async addRepost(entry: TimelineEntry): Promise<void> {
    await this.warm(entry.repost?.by ?? entry.authorId);
    this.insertReposts([entry]);
  }

  /** An undone repost of `postId` by this object's user. */
  removeRepost(postId: string): void {
    if (this.sql.exec('DELETE FROM reposts WHERE post_id = ? RETURNING post_id', postId).toArray().length > 0) {
      this.cache = undefined;
    }
  }

  /**
   * Newest first by feed key: the author's posts and reposts together (at most AUTHOR_FEED_CAP of each are kept).
   * `authorId` is this object's name, needed once to warm up from D1.
   */
  async recent(authorId: string, limit: number = AUTHOR_FEED_CAP): Promise<TimelineEntry[]> {
    await this.warm(authorId);
    this.cache ??= [
      ...this.sql
        .exec<EntryRow>('SELECT post_id, author_id, created_at FROM recent')
        .toArray()
        .map((r) => ({ postId: r.post_id, authorId: r.author_id, createdAt: r.created_at })),
      ...this.sql
        .exec<RepostRow>('SELECT post_id, author_id, created_at, repost_id, at FROM reposts')
        .toArray()
        .map((r) => ({
          postId: r.post_id,
          authorId: r.author_id,
          createdAt: r.created_at,
          repost: { by: authorId, id: r.repost_id, at: r.at },
        })),
    ].sort(newestFirst);
    return this.cache.slice(0, limit);
  }

  /**
   * The recent list for feed readers, who cache it. `reads` is how many reads the caller served since its last
   * call (this one included); `now` comes from the caller, as every time in these objects.
   */
  async readRecent(authorId: string, now: number, reads = 1): Promise<RecentAnswer> {
    this.feedReads++;
    recordReads(this.reads, now, Math.min(MAX_REPORTED_READS, Math.max(1, Math.floor(reads) || 1)));
    this.hot = isHot(HOT_AUTHOR, readsInWindow(this.reads, now), this.hot);
    const policy = this.hot ? CACHE_POLICIES.authorRecentHot : CACHE_POLICIES.authorRecent;
    return { entries: await this.recent(authorId), hot: this.hot, ttlMs: policy.freshMs };
  }

  /**
   * Read-only: the counters above, for callers outside the object (the benchmark's probe Worker), since RPC does not
   * expose instance fields. `hot` is as of the last feed read: the window only moves when reads arrive.
   */
  readCounters(): { feedReads: number; hot: boolean } {
    return { feedReads: this.feedReads, hot: this.hot };
  }

  private isWarm(): boolean {
    return this.cache !== undefined || this.sql.exec("SELECT 1 FROM meta WHERE key = 'warm'").toArray().length > 0;
  }

  private warm(authorId: string): Promise<void> {
    if (this.isWarm()) return Promise.resolve();
    return this.warming.run('warm', async () => {
      const { repos } = depsFor(this.env);
      const [posts, reposts] = await Promise.all([
        repos.posts.recentByAuthors([authorId], AUTHOR_FEED_CAP),
        repos.reposts.recentBy([authorId], AUTHOR_FEED_CAP),
      ]);
      this.insert(posts);
      this.insertReposts(reposts);
      this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('warm', 1)");
    });
  }

  private insertReposts(entries: readonly TimelineEntry[]): void {
    let written = 0;
    for (const e of entries) {
      if (!e.repost) continue;
      written += this.sql
        .exec(
          `INSERT OR IGNORE INTO reposts (post_id, author_id, created_at, repost_id, at) VALUES (?, ?, ?, ?, ?)
           RETURNING post_id`,
          e.postId,
          e.authorId,
          e.createdAt,
          e.repost.id,
          e.repost.at,
        )
        .toArray().length;
    }
    if (written === 0) return;
    this.sql.exec(
      'DELETE FROM reposts WHERE repost_id < (SELECT repost_id FROM reposts ORDER BY repost_id DESC LIMIT 1 OFFSET ?)',
      AUTHOR_FEED_CAP - 1,
    );
    this.cache = undefined;
  }

  private insert(entries: readonly TimelineEntry[]): number {
    let written = 0;
    for (const e of entries) {
      written += this.sql
        .exec(
          'INSERT OR IGNORE INTO recent (post_id, author_id, created_at) VALUES (?, ?, ?) RETURNING post_id',
          e.postId,
          e.authorId,
          e.createdAt,
        )
        .toArray().length;
    }
    if (written === 0) return 0;
    this.sql.exec(
      'DELETE FROM recent WHERE post_id < (SELECT post_id FROM recent ORDER BY post_id DESC LIMIT 1 OFFSET ?)',
      AUTHOR_FEED_CAP - 1,
    );
    this.cache = undefined;
    return written;
  }
}
