import { DurableObject } from 'cloudflare:workers';
import { TIMELINE_CAP, type TimelineEntry } from '../src/timeline.ts';

/**
 * One per user (name = user id): the pushed home-timeline entries, capped at TIMELINE_CAP and paged by
 * keyset. Entries are ids only; posts are hydrated at read time, so an edit needs no timeline write.
 * Inserts are INSERT OR IGNORE on the post id: a redelivered fan-out message adds nothing twice.
 */
export class UserTimeline extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS entries (
      post_id TEXT PRIMARY KEY,
      author_id TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) WITHOUT ROWID`);
    this.sql.exec('CREATE INDEX IF NOT EXISTS entries_author ON entries (author_id)');
  }

  /** Adds entries, returns how many were new, and trims the oldest beyond the cap. */
  insert(entries: TimelineEntry[]): number {
    let added = 0;
    for (const e of entries) {
      added += this.sql.exec(
        'INSERT OR IGNORE INTO entries (post_id, author_id, created_at) VALUES (?, ?, ?)',
        e.postId,
        e.authorId,
        e.createdAt,
      ).rowsWritten;
    }
    if (added > 0) {
      this.sql.exec(
        `DELETE FROM entries WHERE post_id < (
           SELECT post_id FROM entries ORDER BY post_id DESC LIMIT 1 OFFSET ?)`,
        TIMELINE_CAP - 1,
      );
    }
    return added;
  }

  removePost(postId: string): void {
    this.sql.exec('DELETE FROM entries WHERE post_id = ?', postId);
  }

  removeAuthor(authorId: string): void {
    this.sql.exec('DELETE FROM entries WHERE author_id = ?', authorId);
  }

  /** Newest first, strictly older than `beforeId` when given. */
  page(limit: number, beforeId?: string): TimelineEntry[] {
    const rows = beforeId
      ? this.sql.exec<{ post_id: string; author_id: string; created_at: number }>(
          'SELECT post_id, author_id, created_at FROM entries WHERE post_id < ? ORDER BY post_id DESC LIMIT ?',
          beforeId,
          limit,
        )
      : this.sql.exec<{ post_id: string; author_id: string; created_at: number }>(
          'SELECT post_id, author_id, created_at FROM entries ORDER BY post_id DESC LIMIT ?',
          limit,
        );
    return rows.toArray().map((r) => ({ postId: r.post_id, authorId: r.author_id, createdAt: r.created_at }));
  }

  size(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM entries').one().n;
  }
}
