import { DurableObject } from 'cloudflare:workers';
import { idTimestamp, isId } from '../src/ids.ts';
import { LIMITS } from '../src/text.ts';
import {
  bucketOf,
  createWindow,
  dropPost,
  evictOverflow,
  putPost,
  slide,
  topTags,
  type TrendingTag,
  type TrendingWindow,
} from '../src/trending.ts';
import { migrateStorage, sqlMigration, type StorageSchema } from './schema.ts';

/** Most tags `top` returns in one call. */
export const TRENDING_MAX_K = 100;

type PostRow = { post_id: string; author_id: string; bucket: number; tags: string };

/**
 * The storage schema, oldest step first (durable-objects/schema.ts). Version 1 is the table as every
 * constructor created it before schemas had versions, hence IF NOT EXISTS: objects stored then adopt the stamp.
 */
export const TRENDING_SCHEMA: StorageSchema = {
  name: 'Trending',
  migrations: [
    sqlMigration(
      'posts, posts_bucket',
      `
      CREATE TABLE IF NOT EXISTS posts (
        post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, bucket INTEGER NOT NULL, version INTEGER NOT NULL,
        tags TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS posts_bucket ON posts (bucket);
      `,
    ),
  ],
};

/**
 * The trending-hashtag counter (src/trending.ts): one instance, named "global", fed by the queue consumer and
 * read by the feed (through a per-isolate cache, workers/trending.ts). Time always comes from the caller.
 *
 * Storage holds one row per post inside the window: its author, bucket, current tags and version, or a
 * tombstone once deleted. The counts live in memory and are rebuilt from those rows when the object starts
 * (bounded by TRENDING.maxSize pairs). Rows leave storage when their bucket leaves the window: one indexed
 * range delete each time the window moves to a new bucket, not a scan per call.
 *
 * Scaling: every tagged post writes here, so this object bounds the write rate (a few hundred to a thousand
 * RPCs per second). Past that, shard by tag: N objects named "tags-<i>", a post's tags grouped by
 * hash(tag) mod N and each group recorded in its shard (a record per shard, so edits and deletes stay exact),
 * and `top` asks every shard for its top K and merges them, which is exact because a tag lives in one shard.
 */
export class Trending extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly window: TrendingWindow = createWindow();
  /** Rows in buckets below this one have been deleted from storage. */
  private prunedBelow = Number.NEGATIVE_INFINITY;
  /** The newest bucket any caller's time has reached. */
  private latest = Number.NEGATIVE_INFINITY;
  /** The last answer of `top`, until the counts change. */
  private memo: { k: number; tags: TrendingTag[] } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrateStorage(ctx.storage, TRENDING_SCHEMA);
    const rows = this.sql.exec<PostRow>(
      'SELECT post_id, author_id, bucket, tags FROM posts WHERE deleted = 0 ORDER BY bucket, post_id',
    );
    for (const row of rows) {
      const tags = JSON.parse(row.tags) as string[];
      putPost(this.window, { postId: row.post_id, authorId: row.author_id, bucket: row.bucket, tags });
      this.latest = Math.max(this.latest, row.bucket);
    }
    this.deleteRows(evictOverflow(this.window));
  }

  /**
   * Makes `tags` the post's whole contribution, counted at `at` (its creation time, also for edits, so an
   * edit never makes an old post count as new). Redelivery changes nothing; a later edit with other tags
   * replaces the earlier ones. `version` (the post's) orders deliveries that queues may swap: a record older
   * than the one stored is ignored, and nothing is recorded for a post once forgotten.
   */
  record(postId: string, authorId: string, tags: string[], at: number, version = 0): void {
    assertTime(at);
    this.advance(at);
    const bucket = bucketOf(at);
    if (bucket < this.window.start) return;
    const current = this.sql
      .exec<{ version: number; deleted: number }>('SELECT version, deleted FROM posts WHERE post_id = ?', postId)
      .toArray()[0];
    if (current && (current.deleted === 1 || current.version > version)) return;
    const unique = [...new Set(tags)].slice(0, LIMITS.hashtagsPerPost);
    this.sql.exec(
      `INSERT INTO posts (post_id, author_id, bucket, version, tags) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (post_id) DO UPDATE SET
         author_id = excluded.author_id, bucket = excluded.bucket, version = excluded.version, tags = excluded.tags`,
      postId,
      authorId,
      bucket,
      version,
      JSON.stringify(unique),
    );
    if (putPost(this.window, { postId, authorId, bucket, tags: unique })) this.memo = undefined;
    this.deleteRows(evictOverflow(this.window));
  }

  /**
   * A deleted post stops counting. The tombstone stays until the post's bucket leaves the window, so a
   * redelivered `record` cannot bring it back; past that, such a record would be outside the window anyway.
   */
  forget(postId: string): void {
    const known = this.sql.exec<{ bucket: number }>('SELECT bucket FROM posts WHERE post_id = ?', postId).toArray()[0];
    // Unknown post (its record not delivered yet): the id carries its creation time, which is never before
    // the post's `at`, so the tombstone outlives any record that could still count.
    const bucket = known?.bucket ?? (isId(postId) ? bucketOf(idTimestamp(postId)) : this.latest);
    if (dropPost(this.window, postId)) this.memo = undefined;
    if (!Number.isFinite(bucket) || bucket < this.window.start) {
      this.sql.exec('DELETE FROM posts WHERE post_id = ?', postId);
      return;
    }
    this.sql.exec(
      `INSERT INTO posts (post_id, author_id, bucket, version, tags, deleted) VALUES (?, '', ?, 0, '[]', 1)
       ON CONFLICT (post_id) DO UPDATE SET tags = '[]', deleted = 1`,
      postId,
      bucket,
    );
  }

  /** The tags trending at `now`, best first, at most `k` (src/trending.ts decides which). */
  top(now: number, k: number): TrendingTag[] {
    assertTime(now);
    this.advance(now);
    const limit = Math.min(Math.max(Math.trunc(k), 0), TRENDING_MAX_K);
    if (!this.memo || this.memo.k < limit) this.memo = { k: limit, tags: topTags(this.window, limit) };
    return this.memo.tags.slice(0, limit);
  }

  private advance(now: number): void {
    this.latest = Math.max(this.latest, bucketOf(now));
    if (slide(this.window, now) > 0) this.memo = undefined;
    if (this.window.start > this.prunedBelow) {
      this.sql.exec('DELETE FROM posts WHERE bucket < ?', this.window.start);
      this.prunedBelow = this.window.start;
    }
  }

  private deleteRows(postIds: readonly string[]): void {
    if (postIds.length === 0) return;
    this.sql.exec('DELETE FROM posts WHERE post_id IN (SELECT value FROM json_each(?))', JSON.stringify(postIds));
    this.memo = undefined;
  }
}

function assertTime(ms: number): void {
  if (!Number.isFinite(ms)) throw new RangeError(`trending: time must be epoch milliseconds, got ${ms}`);
}
