import { DurableObject } from 'cloudflare:workers';
import type { TimelineEntry } from '../src/timeline.ts';

/** How many recent posts an author's feed keeps: enough for pull readers' first pages. */
export const AUTHOR_FEED_CAP = 200;

/**
 * One per author (name = author id): the author's recent post ids. A Durable Object runs one request at a
 * time against state it keeps in memory, so however many followers read a hot author concurrently, the
 * list is read from storage once per object lifetime and then served from memory.
 */
export class AuthorFeed extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private recentCache: TimelineEntry[] | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS recent (
      post_id TEXT PRIMARY KEY,
      author_id TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) WITHOUT ROWID`);
  }

  add(entry: TimelineEntry): void {
    const written = this.sql.exec(
      'INSERT OR IGNORE INTO recent (post_id, author_id, created_at) VALUES (?, ?, ?)',
      entry.postId,
      entry.authorId,
      entry.createdAt,
    ).rowsWritten;
    if (written === 0) return;
    this.sql.exec(
      'DELETE FROM recent WHERE post_id < (SELECT post_id FROM recent ORDER BY post_id DESC LIMIT 1 OFFSET ?)',
      AUTHOR_FEED_CAP - 1,
    );
    this.recentCache = undefined;
  }

  remove(postId: string): void {
    if (this.sql.exec('DELETE FROM recent WHERE post_id = ?', postId).rowsWritten > 0) this.recentCache = undefined;
  }

  recent(limit: number = AUTHOR_FEED_CAP): TimelineEntry[] {
    this.recentCache ??= this.sql
      .exec<{ post_id: string; author_id: string; created_at: number }>(
        'SELECT post_id, author_id, created_at FROM recent ORDER BY post_id DESC',
      )
      .toArray()
      .map((r) => ({ postId: r.post_id, authorId: r.author_id, createdAt: r.created_at }));
    return this.recentCache.slice(0, limit);
  }
}
