import { DurableObject } from 'cloudflare:workers';
import { createRepositories, type Repositories } from '../db/repositories/index.ts';
import { shardsFromEnv } from '../db/shards.ts';
import {
  ACTIVE_WINDOW_MS,
  ACTIVITY_WRITE_INTERVAL_MS,
  followModeOf,
  parseFanoutConfig,
  type FollowMode,
} from '../src/fanout.ts';
import { minIdAt } from '../src/ids.ts';
import { TIMELINE_CAP, type TimelineEntry } from '../src/timeline.ts';

export type TimelineState = 'cold' | 'regenerating' | 'ready';

export interface TimelineRead {
  state: TimelineState;
  entries: TimelineEntry[];
  /** Followed authors whose posts are never pushed: the reader merges their recent posts. */
  pullAuthors: string[];
}

interface Meta {
  owner: string;
  /** When the timeline was (re)built; absent while cold. */
  generated_at: number;
  /** Set while a regeneration is pending: the time it was requested. */
  regenerate_at: number;
  /** The last activity written to D1 (users.last_active_at). */
  activity_written_at: number;
}

type EntryRow = { post_id: string; author_id: string; created_at: number };

// Recorded activity this old means medium authors' fan-out may have started skipping this reader
// (it sees activity older than ACTIVE_WINDOW_MS as inactive): catch up. One write interval of margin.
const CATCH_UP_AFTER_MS = ACTIVE_WINDOW_MS - ACTIVITY_WRITE_INTERVAL_MS;

/**
 * One per user (name = user id). Holds the pushed home-timeline entries (ids only, capped at
 * TIMELINE_CAP, keyset-paged), the accounts the user follows with how each reaches them (pushed or
 * pulled), and the timeline's lifecycle:
 *   cold         never built, or dropped after 7 idle days: pushes are ignored, the next read regenerates;
 *   regenerating an alarm rebuilds it from D1; reads meanwhile get what exists (and are told so);
 *   ready        kept fresh by fan-out; a reader back after a day away first catches up.
 * Every write is idempotent (INSERT OR IGNORE by post id, upserts by author), so queue redelivery and
 * retried RPCs are harmless. Time comes from the caller, so tests can move it.
 */
export class UserTimeline extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private repos: Repositories | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS entries (
        post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS entries_author ON entries (author_id);
      CREATE TABLE IF NOT EXISTS follows (
        author_id TEXT PRIMARY KEY, mode TEXT NOT NULL, changed_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    `);
  }

  /** At signup: an empty, ready timeline that follows only its owner. */
  init(ownerId: string, now: number): void {
    if (this.meta('owner') !== null) return;
    this.ctx.storage.transactionSync(() => {
      this.setMeta('owner', ownerId);
      this.setMeta('generated_at', now);
      this.upsertFollow(ownerId, 'push', now);
    });
  }

  /**
   * The feed read. Records activity in D1 first (hourly at most), so that medium authors' fan-out
   * sees this reader as active from then on; then, if that activity had lapsed, catches up on what
   * fan-out skipped; a cold timeline starts regenerating. Returns a page of entries and the pull set.
   */
  async read(ownerId: string, now: number, limit: number, beforeId?: string): Promise<TimelineRead> {
    if (this.meta('owner') === null) this.setMeta('owner', ownerId);
    const written = this.meta('activity_written_at');
    if (written === null || now - written >= ACTIVITY_WRITE_INTERVAL_MS) {
      await this.repositories().users.recordActivity(ownerId, now);
      this.setMeta('activity_written_at', now);
    }
    let state = this.state();
    if (state === 'cold') {
      this.setMeta('regenerate_at', now);
      await this.ctx.storage.setAlarm(Date.now());
      state = 'regenerating';
    } else if (state === 'ready' && (written === null || now - written > CATCH_UP_AFTER_MS)) {
      await this.catchUp(written ?? this.meta('generated_at') ?? 0);
    }
    return { state, entries: this.page(limit, beforeId), pullAuthors: this.pullAuthors() };
  }

  /** Fan-out delivery. Entries of authors this user does not follow (any more) are ignored. */
  insert(entries: TimelineEntry[]): number {
    if (this.state() === 'cold') return 0;
    let added = 0;
    for (const e of entries) {
      // RETURNING yields a row only for a real insert (rowsWritten would also count index writes).
      added += this.sql
        .exec(
          `INSERT OR IGNORE INTO entries (post_id, author_id, created_at)
           SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM follows WHERE author_id = ?2 AND mode != 'none')
           RETURNING post_id`,
          e.postId,
          e.authorId,
          e.createdAt,
        )
        .toArray().length;
    }
    if (added > 0) this.trim();
    return added;
  }

  removePost(postId: string): void {
    this.sql.exec('DELETE FROM entries WHERE post_id = ?', postId);
  }

  /** A new follow: pushed authors bring their recent posts along (backfill); pulled ones are merged on read. */
  follow(authorId: string, mode: FollowMode, backfill: TimelineEntry[], now: number): void {
    this.upsertFollow(authorId, mode, now);
    if (mode === 'push') this.insert(backfill.filter((e) => e.authorId === authorId));
  }

  unfollow(authorId: string, now: number): void {
    this.ctx.storage.transactionSync(() => {
      // The row stays as 'none' so a regeneration already in flight cannot bring the author back.
      this.upsertFollow(authorId, 'none', now);
      this.sql.exec('DELETE FROM entries WHERE author_id = ?', authorId);
    });
  }

  /** The author crossed the pull threshold. Back to push: copy their recent posts in, as pulling stops. */
  setMode(authorId: string, mode: FollowMode, backfill: TimelineEntry[]): void {
    const updated = this.sql
      .exec(
        "UPDATE follows SET mode = ? WHERE author_id = ? AND mode NOT IN ('none', ?) RETURNING author_id",
        mode,
        authorId,
        mode,
      )
      .toArray().length;
    if (updated > 0 && mode === 'push') this.insert(backfill.filter((e) => e.authorId === authorId));
  }

  /** Cron, after 7 idle days: frees the storage; the owner's next read regenerates. */
  drop(): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM entries');
      this.sql.exec('DELETE FROM follows');
      for (const key of ['generated_at', 'regenerate_at', 'activity_written_at']) {
        this.sql.exec('DELETE FROM meta WHERE key = ?', key);
      }
    });
  }

  size(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM entries').one().n;
  }

  state(): TimelineState {
    if (this.meta('regenerate_at') !== null) return 'regenerating';
    return this.meta('generated_at') === null ? 'cold' : 'ready';
  }

  /** Regeneration from D1: whom the owner follows, how each reaches them now, and their recent posts. */
  override async alarm(): Promise<void> {
    const owner = this.meta('owner');
    const startedAt = this.meta('regenerate_at');
    if (owner === null || startedAt === null) return;
    const repos = this.repositories();
    const config = parseFanoutConfig(this.env);
    const following = await repos.graph.allFollowing(owner);
    const authors = await repos.users.getMany(following);
    const modes = new Map<string, FollowMode>(
      following.map((id) => [id, followModeOf(authors.get(id)?.followersCount ?? 0, config)]),
    );
    modes.set(owner, 'push');
    const pushed = [...modes].filter(([, mode]) => mode === 'push').map(([id]) => id);
    const recent = await repos.posts.recentByAuthors(pushed, TIMELINE_CAP);
    // A throw above leaves the state as it was; the alarm is retried with backoff.
    this.ctx.storage.transactionSync(() => {
      for (const [authorId, mode] of modes) {
        // Follows and unfollows that happened while D1 was being read are newer than what we read.
        this.sql.exec(
          `INSERT INTO follows (author_id, mode, changed_at) VALUES (?, ?, ?)
           ON CONFLICT (author_id) DO UPDATE SET mode = excluded.mode, changed_at = excluded.changed_at
           WHERE follows.changed_at < excluded.changed_at`,
          authorId,
          mode,
          startedAt,
        );
      }
      this.setMeta('generated_at', startedAt);
      this.sql.exec("DELETE FROM meta WHERE key = 'regenerate_at'");
      this.insert(recent);
    });
  }

  private async catchUp(since: number): Promise<void> {
    const pushed = this.sql
      .exec<{ author_id: string }>("SELECT author_id FROM follows WHERE mode = 'push'")
      .toArray()
      .map((r) => r.author_id);
    const missed = await this.repositories().posts.recentByAuthors(pushed, TIMELINE_CAP, minIdAt(since));
    this.insert(missed);
  }

  private page(limit: number, beforeId?: string): TimelineEntry[] {
    const rows = beforeId
      ? this.sql.exec<EntryRow>(
          'SELECT post_id, author_id, created_at FROM entries WHERE post_id < ? ORDER BY post_id DESC LIMIT ?',
          beforeId,
          limit,
        )
      : this.sql.exec<EntryRow>(
          'SELECT post_id, author_id, created_at FROM entries ORDER BY post_id DESC LIMIT ?',
          limit,
        );
    return rows.toArray().map((r) => ({ postId: r.post_id, authorId: r.author_id, createdAt: r.created_at }));
  }

  private pullAuthors(): string[] {
    return this.sql
      .exec<{ author_id: string }>("SELECT author_id FROM follows WHERE mode = 'pull'")
      .toArray()
      .map((r) => r.author_id);
  }

  private upsertFollow(authorId: string, mode: FollowMode | 'none', now: number): void {
    this.sql.exec(
      `INSERT INTO follows (author_id, mode, changed_at) VALUES (?, ?, ?)
       ON CONFLICT (author_id) DO UPDATE SET mode = excluded.mode, changed_at = max(follows.changed_at, excluded.changed_at)`,
      authorId,
      mode,
      now,
    );
  }

  private trim(): void {
    this.sql.exec(
      'DELETE FROM entries WHERE post_id < (SELECT post_id FROM entries ORDER BY post_id DESC LIMIT 1 OFFSET ?)',
      TIMELINE_CAP - 1,
    );
  }

  private meta<K extends keyof Meta>(key: K): Meta[K] | null {
    const row = this.sql.exec<{ value: Meta[K] }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0];
    return row ? row.value : null;
  }

  private setMeta<K extends keyof Meta>(key: K, value: Meta[K]): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }

  private repositories(): Repositories {
    return (this.repos ??= createRepositories(shardsFromEnv(this.env)));
  }
}
