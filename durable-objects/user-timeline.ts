import { DurableObject } from 'cloudflare:workers';
import type { Repositories } from '../db/repositories/index.ts';
import type { LoadedRules } from '../db/repositories/social.ts';
import { forEachLimit } from '../src/concurrency.ts';
import { ACTIVE_WINDOW_MS, ACTIVITY_WRITE_INTERVAL_MS, followModeOf, type FollowMode } from '../src/fanout.ts';
import { digestOf } from '../src/feed.ts';
import { minIdAt } from '../src/ids.ts';
import {
  ENGAGEMENT_WINDOW_MS,
  FEEDBACK_WEIGHT,
  addEngagement,
  addFeedback,
  interestVector,
  type Interest,
} from '../src/interest.ts';
import type { SnapshotItem } from '../src/ranking.ts';
import { SEEN_CAP, SEEN_TTL_MS, SERVED_DEDUPE_MS, summarizeSeen, type SeenRow, type SeenSummary } from '../src/seen.ts';
import { isLive, toPostView } from '../src/model.ts';
import {
  MAX_SOCKETS_PER_READER,
  MAX_WATCHED_AUTHORS,
  WATCH_RENEW_MS,
  WATCH_TTL_MS,
  applySubscription,
  encodeError,
  encodeEvent,
  parseClientMessage,
  parseStream,
  type SocketState,
  type StreamEvent,
  type StreamName,
  type StreamNotification,
  type StreamProtocol,
} from '../src/streaming.ts';
import { TIMELINE_CAP, sourceOf, type EntryFeatures, type TimelineEntry } from '../src/timeline.ts';
import { depsFor } from '../workers/composition.ts';
import { hydrateNotifications, hydrateStatuses, type Rendered } from '../workers/mastodon/hydrate.ts';
import { migrateStorage, sqlMigration, type StorageSchema } from './schema.ts';

export type TimelineState = 'cold' | 'regenerating' | 'ready';

export interface TimelineRead {
  state: TimelineState;
  entries: TimelineEntry[];
  /** Followed authors whose posts are never pushed: the reader merges their recent posts (and reposts). */
  pullAuthors: string[];
  /** Followed accounts whose reposts the reader does not want (a follow with `reposts: false`). */
  hiddenReposts: string[];
  /** The owner's blocks, mutes and filters (see `rules`): every feed read applies them. */
  rules: LoadedRules;
  /** With `ranked`: the reader's affinities and interest vector. */
  ranking?: RankingInputs;
  /** With `ranked`: the live snapshots, newest first, so a reload can reuse one without another round trip. */
  snapshots?: SnapshotMeta[];
}

/** What a ranked read wants besides the entries. */
export interface RankedRead {
  /** The newest snapshot's first `head` items come along if it was made after `headSince` (it may be reused). */
  head: number;
  headSince: number;
}

/** A page of a snapshot: positions are the snapshot's, `total` its length. */
export interface SnapshotPage {
  items: SnapshotItem[];
  total: number;
  /** On a ranked read's head: every item was served so recently that serving it again would record nothing. */
  served?: boolean;
}

/** A kept ranked order, without its items. */
export interface SnapshotMeta {
  id: string;
  createdAt: number;
  /** The digest of what it was ranked from (workers/feed.ts), null if not recorded. */
  inputs: string | null;
  /** Its first page, on the newest snapshot of a ranked read that asked for it (RankedRead). */
  head?: SnapshotPage;
}

interface Meta {
  owner: string;
  /** When the timeline was (re)built; absent while cold. */
  generated_at: number;
  /** Set while a regeneration is pending: the time it was requested. */
  regenerate_at: number;
  /** The last activity written to D1 (users.last_active_at). */
  activity_written_at: number;
  /** Reconciliation's high-water mark: pushed authors' posts up to this time have been checked for (see reconcile). */
  reconciled_at: number;
  /** The interest vector (src/interest.ts): the model, the running sum as float32 bytes, its weight and time. */
  interest_model: string;
  interest_sum: ArrayBuffer;
  interest_weight: number;
  interest_at: number;
  /** While sockets are open: when the pulled authors were last asked to report new posts (see renewWatches). */
  watched_at: number;
  /** Weak ties (see weakTies): engagements with each author by followed accounts, as JSON, and when read. */
  network: string;
  network_at: number;
}

/** An engagement as the timeline keeps it: enough for affinity counts and to apply it exactly once. */
export interface EngagementNote {
  /** `kind:refId`, the interaction log's key: a redelivered note changes nothing. */
  key: string;
  authorId: string;
  at: number;
  weight: number;
  /** The post's vector and its model, when the post has one. */
  vector?: { model: string; values: Float32Array };
  /** For the seen memory: the post, what kind of interaction, and the post's categories. */
  seen?: {
    postId: string;
    kind: 'view' | 'dwell' | 'like' | 'comment' | 'share';
    dwellMs: number;
    categories: string[];
  };
}

/** A post served in a ranked page, for the seen memory. */
export interface ServedPost {
  postId: string;
  authorId: string;
  categories: string[];
}

export interface FeedbackNote {
  postId: string;
  authorId: string;
  categories: string[];
  kind: 'less' | 'more';
  at: number;
  vector?: { model: string; values: Float32Array };
}

export interface RankingInputs {
  /** Engagements with each author (by id) within ENGAGEMENT_WINDOW_MS. */
  affinity: Record<string, number>;
  interest: { model: string; vector: Float32Array } | null;
  /** The seen memory, summarised. */
  seen: SeenSummary;
  /** Net "more" minus "less" per author. */
  feedback: Record<string, number>;
  /** Up to NETWORK_SAMPLE followed accounts (not pulled celebrities, not the owner): whose engagements are weak ties. */
  following: string[];
  /** Weak ties: engagements with each author (by id) by those accounts within ENGAGEMENT_WINDOW_MS. */
  network: Record<string, number>;
  /** Of everything above, computed once per change: a reload's reuse check compares it rather than the inputs. */
  digest: string;
}

/** The weak ties are read from D1 at most this often per reader; a friend's like is slow news. */
export const WEAK_TIES_REFRESH_MS = 10 * 60_000;

/** A snapshot's digests (workers/feed.ts): of what it was ranked from, and of its order; null: not compared. */
export interface SnapshotDigests {
  inputs: string | null;
  order: string | null;
}

/** How many followed accounts the weak-tie signal asks about (the most recently followed). */
export const NETWORK_SAMPLE = 50;
/** Feedback on an author saturates here, either way. */
const FEEDBACK_MAX = 4;

const INTEREST_KEYS = ['interest_model', 'interest_sum', 'interest_weight', 'interest_at'] as const;

/**
 * The owner's rules are kept in memory at most this long. Every write to them tells the object at once
 * (workers/rule-notices.ts); this bounds how long a notice that was lost leaves the feed with old rules.
 */
export const RULES_TTL_MS = 60_000;

/** How long a ranked page sequence stays valid, and how many a user keeps at once (several open tabs). */
export const SNAPSHOT_TTL_MS = 5 * 60_000;
const SNAPSHOTS_KEPT = 4;
/**
 * A post served again within this is not written again (its serve time stays a few seconds old): a reload of a
 * ranked page then writes nothing, so its answer does not wait for storage. Far inside SERVED_DEDUPE_MS, which
 * decides whether a serve counts as a new impression.
 */
const SERVED_REWRITE_MS = 5_000;
/** Ranking inputs computed this recently, with storage unchanged since, are used again (memoizedRankingInputs). */
const RANKING_INPUTS_REUSE_MS = 10_000;
/** Interaction keys already applied to the seen memory are kept this long: queue redelivery is far quicker. */
const SEEN_KEYS_TTL_MS = 2 * 86_400_000;

type EntryRow = {
  post_id: string;
  author_id: string;
  created_at: number;
  sort_id: string;
  repost_by: string | null;
  repost_at: number | null;
  features: string | null;
};

const ENTRY_COLUMNS = 'post_id, author_id, created_at, sort_id, repost_by, repost_at, features';

function toEntry(r: EntryRow): TimelineEntry {
  const entry: TimelineEntry = { postId: r.post_id, authorId: r.author_id, createdAt: r.created_at };
  if (r.repost_by !== null) entry.repost = { by: r.repost_by, id: r.sort_id, at: r.repost_at ?? r.created_at };
  if (r.features !== null) entry.features = JSON.parse(r.features) as EntryFeatures;
  return entry;
}

// Recorded activity this old means medium authors' fan-out may have started skipping this reader
// (it sees activity older than ACTIVE_WINDOW_MS as inactive): catch up. One write interval of margin.
const CATCH_UP_AFTER_MS = ACTIVE_WINDOW_MS - ACTIVITY_WRITE_INTERVAL_MS;

/** A post committed this long after its id was minted is still found by the next reconciliation. */
const RECONCILE_LAG_MS = 5 * 60_000;
/** The most index rows one reconciliation reads (per shard; newest first). */
const RECONCILE_MAX_ROWS = 200;
/** Watch and unwatch RPCs in flight at once when a stream opens or closes. */
const WATCH_CONCURRENCY = 16;

/**
 * The storage schema, oldest step first (durable-objects/schema.ts). Version 1 is the tables as every
 * constructor created them before schemas had versions, hence IF NOT EXISTS: objects stored then adopt the stamp.
 */
export const USER_TIMELINE_SCHEMA: StorageSchema = {
  name: 'UserTimeline',
  migrations: [
    sqlMigration(
      'entries, follows, meta, engagements, snapshots',
      `
      CREATE TABLE IF NOT EXISTS entries (
        post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS entries_author ON entries (author_id);
      CREATE TABLE IF NOT EXISTS follows (
        author_id TEXT PRIMARY KEY, mode TEXT NOT NULL, changed_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS engagements (
        key TEXT PRIMARY KEY, author_id TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS engagements_at ON engagements (at);
      CREATE TABLE IF NOT EXISTS snapshots (
        id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, items TEXT NOT NULL) WITHOUT ROWID;
    `,
    ),
    // Ranking's memory of the reader (src/seen.ts): what it was shown and did, applied views, feedback by author.
    sqlMigration(
      'seen, seen_keys, author_feedback',
      `
      CREATE TABLE seen (
        post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, categories TEXT NOT NULL DEFAULT '',
        served INTEGER NOT NULL DEFAULT 0, served_at INTEGER NOT NULL DEFAULT 0, viewed INTEGER NOT NULL DEFAULT 0,
        dwell_ms INTEGER NOT NULL DEFAULT 0, engaged INTEGER NOT NULL DEFAULT 0, feedback INTEGER NOT NULL DEFAULT 0,
        at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE seen_keys (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE author_feedback (
        author_id TEXT PRIMARY KEY, score INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
    `,
    ),
    // Reposts (src/timeline.ts): an entry sorts by sort_id (the post's id, or the repost's), names its sharer, and
    // a follow may hide the followee's reposts. One entry per post still (the primary key): the reblog fall-off.
    sqlMigration(
      'entries.sort_id, entries.repost_by, follows.reposts',
      `
      ALTER TABLE entries ADD COLUMN sort_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE entries ADD COLUMN repost_by TEXT;
      ALTER TABLE entries ADD COLUMN repost_at INTEGER;
      UPDATE entries SET sort_id = post_id;
      CREATE INDEX entries_sort ON entries (sort_id);
      CREATE INDEX entries_repost_by ON entries (repost_by) WHERE repost_by IS NOT NULL;
      ALTER TABLE follows ADD COLUMN reposts INTEGER NOT NULL DEFAULT 1;
    `,
    ),
    // The ranked feed's light stage (src/pipeline.ts lightRank): entries carry their post's light features (JSON,
    // written once at delivery; NULL on older rows, which rank from the caches or priors), and a snapshot its
    // order's digest (so an unchanged order is not written again) and its inputs' (so a reload reuses it).
    sqlMigration(
      'entries.features, snapshots.inputs_digest, snapshots.order_digest',
      `
      ALTER TABLE entries ADD COLUMN features TEXT;
      ALTER TABLE snapshots ADD COLUMN inputs_digest TEXT;
      ALTER TABLE snapshots ADD COLUMN order_digest TEXT;
    `,
    ),
  ],
};

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
  /** The owner's rules as D1 last answered, and when (see `rules`). */
  private cachedRules: { loaded: LoadedRules; at: number } | null = null;
  /** The D1 read in flight, shared by concurrent feed reads. */
  private loadingRules: Promise<LoadedRules> | null = null;
  /** Bumped by every notice of a change: a read begun before it must not keep its answer. */
  private rulesGeneration = 0;
  /** Snapshots' orders as saved, by id, so a page or a reload does not parse the stored copy (newest few). */
  private readonly snapshotOrders = new Map<string, SnapshotItem[]>();
  /** The last ranking inputs, valid while storage is unchanged (`total_changes()`) and the clock close. */
  private inputsMemo: { value: RankingInputs; changes: number; at: number } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrateStorage(ctx.storage, USER_TIMELINE_SCHEMA);
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
  async read(
    ownerId: string,
    now: number,
    limit: number,
    beforeId?: string,
    ranked?: RankedRead,
  ): Promise<TimelineRead> {
    const [state, rules] = await Promise.all([this.wake(ownerId, now), this.rules(ownerId, now)]);
    const read: TimelineRead = {
      state,
      entries: this.page(limit, beforeId),
      pullAuthors: this.pullAuthors(),
      hiddenReposts: this.hiddenReposts(),
      rules,
    };
    // The ranked feed's reader-side inputs come along, and a reload's page, rather than in more round trips.
    if (ranked) {
      read.ranking = await this.memoizedRankingInputs(now);
      read.snapshots = this.snapshotMetas(now);
      const newest = read.snapshots[0];
      if (newest && ranked.head > 0 && newest.createdAt > ranked.headSince) {
        const head = this.snapshotPage(newest.id, 0, ranked.head, now);
        if (head)
          newest.head = { ...head, served: this.notServedSince(head.items, now - SERVED_REWRITE_MS).length === 0 };
      }
    }
    return read;
  }

  /**
   * The owner's blocks (both ways), mutes and phrase filters, as loaded from their shard (src/social.ts readerRules
   * applies expiry at read time). Kept in memory: a reader's feed reads far outnumber changes to their rules, and
   * the D1 batch was the slowest part of a feed's candidates stage.
   */
  async rules(ownerId: string, now: number): Promise<LoadedRules> {
    if (this.cachedRules && now - this.cachedRules.at < RULES_TTL_MS) return this.cachedRules.loaded;
    if (this.loadingRules) return this.loadingRules;
    const generation = this.rulesGeneration;
    const loading = this.repositories()
      .social.rulesOf(ownerId, now)
      .then((loaded) => {
        if (generation === this.rulesGeneration) this.cachedRules = { loaded, at: now };
        return loaded;
      })
      .finally(() => {
        if (this.loadingRules === loading) this.loadingRules = null;
      });
    this.loadingRules = loading;
    return loading;
  }

  /** Told after a write to the owner's rules (workers/rule-notices.ts): the next read asks their shard again. */
  rulesChanged(): void {
    this.rulesGeneration++;
    this.cachedRules = null;
    this.loadingRules = null;
  }

  /**
   * The owner is here (a feed read, a stream opening): activity is recorded; a cold timeline starts regenerating,
   * a ready one catches up if that activity had lapsed, or reconciles when due.
   */
  private async wake(ownerId: string, now: number): Promise<TimelineState> {
    if (this.meta('owner') === null) this.setMeta('owner', ownerId);
    const written = await this.recordActivity(ownerId, now);
    const state = this.state();
    if (state === 'cold') {
      this.setMeta('regenerate_at', now);
      await this.ctx.storage.setAlarm(Date.now());
      return 'regenerating';
    }
    if (state === 'ready' && (written === null || now - written > CATCH_UP_AFTER_MS)) {
      await this.catchUp(written ?? this.meta('generated_at') ?? 0);
      this.setMeta('reconciled_at', now);
    } else if (state === 'ready') {
      await this.reconcileIfDue(now);
    }
    return state;
  }

  /**
   * Fan-out delivery. Entries of authors this user does not follow (any more) are ignored; so are reposts by
   * accounts it does not follow or whose reposts it hides. A post is here at most once (the primary key): a repost
   * of a post already among the entries adds nothing (Mastodon's reblog fall-off), whoever shared it. What is new
   * here goes out to open streams as `update` events (a redelivered entry adds nothing, so it is not streamed twice).
   */
  async insert(entries: TimelineEntry[]): Promise<number> {
    const added = this.store(entries);
    await this.streamPosts('update', added);
    return added.length;
  }

  /** The insert itself: the entries that were new. */
  private store(entries: TimelineEntry[]): TimelineEntry[] {
    if (this.state() === 'cold') return [];
    const added: TimelineEntry[] = [];
    for (const e of entries) {
      const features = e.features ? JSON.stringify(e.features) : null;
      // RETURNING yields a row only for a real insert (rowsWritten would also count index writes).
      const row = e.repost
        ? this.sql.exec(
            `INSERT OR IGNORE INTO entries (post_id, author_id, created_at, sort_id, repost_by, repost_at, features)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
             WHERE EXISTS (SELECT 1 FROM follows WHERE author_id = ?5 AND mode != 'none' AND reposts = 1)
             RETURNING post_id`,
            e.postId,
            e.authorId,
            e.createdAt,
            e.repost.id,
            e.repost.by,
            e.repost.at,
            features,
          )
        : this.sql.exec(
            `INSERT OR IGNORE INTO entries (post_id, author_id, created_at, sort_id, features)
             SELECT ?1, ?2, ?3, ?1, ?4 WHERE EXISTS (SELECT 1 FROM follows WHERE author_id = ?2 AND mode != 'none')
             RETURNING post_id`,
            e.postId,
            e.authorId,
            e.createdAt,
            features,
          );
      if (row.toArray().length > 0) added.push(e);
    }
    if (added.length > 0) this.trim();
    return added;
  }

  /**
   * An undone repost leaves: only an entry that the sharer's repost brought (the post itself, or another sharer's
   * repost, stays), and not the sharer's current repost (`keep`, its id) should the post have been shared again.
   */
  removeRepost(postId: string, by: string, keep?: string): void {
    this.sql.exec('DELETE FROM entries WHERE post_id = ? AND repost_by = ? AND sort_id != ?', postId, by, keep ?? '');
  }

  /**
   * Whether the followee's reposts reach this timeline (`PUT /v1/users/:id/follow {reposts}`). Hiding drops the
   * reposts already here; showing again applies to reposts from then on (and to regeneration).
   */
  setShowReposts(authorId: string, show: boolean): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('UPDATE follows SET reposts = ? WHERE author_id = ?', show ? 1 : 0, authorId);
      if (!show) this.sql.exec('DELETE FROM entries WHERE repost_by = ?', authorId);
    });
  }

  /**
   * Fan-out delivery, for entries that came through the queue. An entry from an author this timeline has no row for
   * (a follow whose timeline step has not run yet, or was lost) is not dropped: the graph is asked, and a follow
   * found there is recorded (mode by the author's current class) before the insert; a non-follow is remembered as
   * `none`, so later entries of that author cost no further lookup.
   */
  async deliver(entries: TimelineEntry[], now: number): Promise<number> {
    const owner = this.meta('owner');
    if (this.state() === 'cold' || owner === null) return 0;
    const unknown = [...new Set(entries.map(sourceOf))].filter(
      (authorId) => this.sql.exec('SELECT 1 FROM follows WHERE author_id = ?', authorId).toArray().length === 0,
    );
    if (unknown.length > 0) {
      const deps = depsFor(this.env);
      for (const authorId of unknown) {
        const edge = await deps.repos.graph.edge(owner, authorId);
        const author = edge ? await deps.repos.users.get(authorId) : undefined;
        const mode = edge ? followModeOf(author?.followersCount ?? 0, deps.config.fanout) : 'none';
        console.warn('timeline: entry from an author without a follow row; the graph says', owner, authorId, mode);
        // Only if still unknown: a follow or unfollow that arrived during the lookup is newer.
        this.sql.exec(
          'INSERT OR IGNORE INTO follows (author_id, mode, changed_at, reposts) VALUES (?, ?, ?, ?)',
          authorId,
          mode,
          now,
          edge?.showReposts === false ? 0 : 1,
        );
      }
    }
    return this.insert(entries);
  }

  /**
   * Reconciliation, on read, at most once per RECONCILE_INTERVAL: pushed authors' posts created since the high-water
   * mark (less a lag that covers fan-out in flight) are read from their author indexes, one query per D1 shard, and
   * whatever a lost delivery never brought is inserted (INSERT OR IGNORE: nothing is doubled). Bounded by
   * RECONCILE_MAX_ROWS rows per shard; the mark then moves to `now`. Returns the entries added.
   */
  private async reconcileIfDue(now: number): Promise<number> {
    const mark = this.meta('reconciled_at') ?? this.meta('generated_at') ?? now;
    const { reconcileIntervalMs } = depsFor(this.env).config.reliability;
    if (now - mark < reconcileIntervalMs) return 0;
    const pushed = this.sql
      .exec<{ author_id: string }>("SELECT author_id FROM follows WHERE mode = 'push'")
      .toArray()
      .map((r) => r.author_id);
    const since = minIdAt(mark - RECONCILE_LAG_MS);
    const found = await this.repositories().posts.recentByAuthors(pushed, RECONCILE_MAX_ROWS, since);
    this.setMeta('reconciled_at', now);
    return this.store(found).length;
  }

  /** A deleted post leaves the timeline; open streams that could have shown it are told (`delete`). */
  removePost(postId: string): void {
    const removed = this.sql.exec('DELETE FROM entries WHERE post_id = ? RETURNING post_id', postId).toArray().length;
    if (removed > 0) this.broadcast({ kind: 'delete', postId });
  }

  /**
   * A new follow: pushed authors bring their recent posts along (backfill); pulled ones are merged on read, and an
   * open stream starts watching them at once rather than at the next renewal.
   */
  async follow(
    authorId: string,
    mode: FollowMode,
    backfill: TimelineEntry[],
    now: number,
    showReposts = true,
  ): Promise<void> {
    this.upsertFollow(authorId, mode, now);
    this.sql.exec('UPDATE follows SET reposts = ? WHERE author_id = ?', showReposts ? 1 : 0, authorId);
    if (!showReposts) this.sql.exec('DELETE FROM entries WHERE repost_by = ?', authorId);
    if (mode === 'push') this.store(backfill.filter((e) => sourceOf(e) === authorId));
    if (mode === 'pull' && this.openSockets().length > 0) await this.watchAuthors([authorId], now);
  }

  unfollow(authorId: string, now: number): void {
    this.ctx.storage.transactionSync(() => {
      // The row stays as 'none' so a regeneration already in flight cannot bring the author back.
      this.upsertFollow(authorId, 'none', now);
      // Their posts, unless a still-followed account's repost brought them; and their reposts.
      this.sql.exec('DELETE FROM entries WHERE (author_id = ?1 AND repost_by IS NULL) OR repost_by = ?1', authorId);
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
    if (updated > 0 && mode === 'push') this.store(backfill.filter((e) => sourceOf(e) === authorId));
  }

  /** Cron, after 7 idle days: frees the storage; the owner's next read regenerates. */
  drop(): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM entries');
      this.sql.exec('DELETE FROM follows');
      // Engagements and the interest vector stay: they are small, and ranking needs them on return.
      for (const key of ['generated_at', 'regenerate_at', 'activity_written_at'] as const) this.deleteMeta(key);
    });
  }

  /**
   * An engagement, applied once: it counts towards affinity with the author for ENGAGEMENT_WINDOW_MS, and
   * its post's vector is folded into the interest vector. Returns whether it was new.
   */
  noteEngagement(note: EngagementNote): boolean {
    return this.ctx.storage.transactionSync(() => {
      if (note.seen) this.noteSeen(note.key, note.authorId, note.at, note.seen);
      // A view is exposure, not interest: it feeds the seen memory only.
      if (note.seen?.kind === 'view') return true;
      const fresh =
        this.sql
          .exec(
            'INSERT OR IGNORE INTO engagements (key, author_id, at) VALUES (?, ?, ?) RETURNING key',
            note.key,
            note.authorId,
            note.at,
          )
          .toArray().length > 0;
      if (fresh && note.vector) {
        const { model, values } = note.vector;
        this.setInterest(addEngagement(this.interest(), { model, vector: values, weight: note.weight, at: note.at }));
      }
      this.sql.exec('DELETE FROM engagements WHERE at < ?', note.at - ENGAGEMENT_WINDOW_MS);
      return fresh;
    });
  }

  /** Once per interaction key (queues redeliver): counts a view or dwell, or marks the post engaged. */
  private noteSeen(key: string, authorId: string, at: number, seen: NonNullable<EngagementNote['seen']>): void {
    const fresh =
      this.sql.exec('INSERT OR IGNORE INTO seen_keys (key, at) VALUES (?, ?) RETURNING key', key, at).toArray().length >
      0;
    if (!fresh) return;
    const [viewed, dwell, engaged] = [
      seen.kind === 'view' ? 1 : 0,
      seen.kind === 'dwell' ? seen.dwellMs : 0,
      seen.kind === 'like' || seen.kind === 'comment' || seen.kind === 'share' ? 1 : 0,
    ];
    this.sql.exec(
      `INSERT INTO seen (post_id, author_id, categories, viewed, dwell_ms, engaged, at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (post_id) DO UPDATE SET viewed = viewed + excluded.viewed, dwell_ms = dwell_ms + excluded.dwell_ms,
         engaged = max(engaged, excluded.engaged), at = max(at, excluded.at),
         categories = CASE WHEN excluded.categories != '' THEN excluded.categories ELSE categories END`,
      seen.postId,
      authorId,
      seen.categories.join(' '),
      viewed,
      dwell,
      engaged,
      at,
    );
    this.trimSeen(at);
  }

  /** Posts the owner just liked, commented on or shared leave the ranked feed (see recordEngagements). */
  markEngaged(posts: Array<{ postId: string; authorId: string; at: number }>): void {
    this.ctx.storage.transactionSync(() => {
      for (const p of posts) {
        this.sql.exec(
          `INSERT INTO seen (post_id, author_id, engaged, at) VALUES (?, ?, 1, ?)
           ON CONFLICT (post_id) DO UPDATE SET engaged = 1, at = max(at, excluded.at)`,
          p.postId,
          p.authorId,
          p.at,
        );
      }
    });
  }

  /** The ranked pages served: each counts as an impression of its posts, unless the same post was just served. */
  recordServed(posts: ServedPost[], now: number): void {
    const due = this.notServedSince(posts, now - SERVED_REWRITE_MS);
    if (due.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const p of due) {
        this.sql.exec(
          `INSERT INTO seen (post_id, author_id, categories, served, served_at, at) VALUES (?, ?, ?, 1, ?, ?)
           ON CONFLICT (post_id) DO UPDATE SET
             served = served + (CASE WHEN served_at <= excluded.served_at - ? THEN 1 ELSE 0 END),
             served_at = excluded.served_at, at = max(at, excluded.at), categories = excluded.categories`,
          p.postId,
          p.authorId,
          p.categories.join(' '),
          now,
          now,
          SERVED_DEDUPE_MS,
        );
      }
      this.trimSeen(now);
    });
  }

  /** Those of `posts` not served after `since`: a post served that recently would only have its time moved. */
  private notServedSince<T extends { postId: string }>(posts: readonly T[], since: number): T[] {
    if (posts.length === 0) return [];
    const recent = new Set(
      this.sql
        .exec<{ post_id: string }>(
          `SELECT post_id FROM seen WHERE served_at > ? AND post_id IN (${posts.map(() => '?').join(', ')})`,
          since,
          ...posts.map((p) => p.postId),
        )
        .toArray()
        .map((r) => r.post_id),
    );
    return posts.filter((p) => !recent.has(p.postId));
  }

  /**
   * "Show more/less like this": moves affinity to the author (FEEDBACK_MAX either way), marks the post (a "less"
   * leaves the ranked feed) and folds its vector into the interest vector, towards it or away from it.
   */
  noteFeedback(note: FeedbackNote): void {
    const sign = note.kind === 'more' ? 1 : -1;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO author_feedback (author_id, score, at) VALUES (?, ?, ?)
         ON CONFLICT (author_id) DO UPDATE SET score = max(?, min(?, score + excluded.score)), at = excluded.at`,
        note.authorId,
        sign,
        note.at,
        -FEEDBACK_MAX,
        FEEDBACK_MAX,
      );
      this.sql.exec(
        `INSERT INTO seen (post_id, author_id, categories, feedback, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (post_id) DO UPDATE SET feedback = excluded.feedback, at = max(at, excluded.at)`,
        note.postId,
        note.authorId,
        note.categories.join(' '),
        sign,
        note.at,
      );
      if (note.vector) {
        const { model, values } = note.vector;
        this.setInterest(
          addFeedback(this.interest(), { model, vector: values, weight: FEEDBACK_WEIGHT * sign, at: note.at }),
        );
      }
      this.trimSeen(note.at);
    });
  }

  /** Keeps the seen memory bounded: SEEN_CAP rows, none older than SEEN_TTL_MS. */
  private trimSeen(now: number): void {
    this.sql.exec('DELETE FROM seen WHERE at < ?', now - SEEN_TTL_MS);
    this.sql.exec(
      'DELETE FROM seen WHERE post_id IN (SELECT post_id FROM seen ORDER BY at DESC LIMIT -1 OFFSET ?)',
      SEEN_CAP,
    );
    this.sql.exec('DELETE FROM seen_keys WHERE at < ?', now - SEEN_KEYS_TTL_MS);
  }

  /** An unlike: the author's affinity drops now; the interest vector sheds it at the daily recomputation. */
  forgetEngagement(key: string): void {
    this.sql.exec('DELETE FROM engagements WHERE key = ?', key);
  }

  /** The daily recomputation from the interaction log: replaces what incremental updates built. */
  replaceEngagements(notes: Array<Pick<EngagementNote, 'key' | 'authorId' | 'at'>>, interest: Interest | null): void {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('DELETE FROM engagements');
      for (const n of notes) {
        this.sql.exec(
          'INSERT OR IGNORE INTO engagements (key, author_id, at) VALUES (?, ?, ?)',
          n.key,
          n.authorId,
          n.at,
        );
      }
      if (interest) this.setInterest(interest);
      else for (const key of INTEREST_KEYS) this.deleteMeta(key);
    });
  }

  /**
   * The ranking inputs, computed again only when any of this object's storage changed (an engagement, an
   * impression, feedback, a follow, the weak ties read) or RANKING_INPUTS_REUSE_MS passed: reloads and the pages
   * after a first one cost no queries or summaries. Time moves the inputs only slowly (engagement and seen windows
   * of hours and days).
   */
  private async memoizedRankingInputs(now: number): Promise<RankingInputs> {
    const memo = this.inputsMemo;
    if (memo && memo.changes === this.storageChanges() && Math.abs(now - memo.at) < RANKING_INPUTS_REUSE_MS) {
      return memo.value;
    }
    const inputs = await this.rankingInputs(now);
    const interest = inputs.interest ? [inputs.interest.model, ...inputs.interest.vector] : null;
    const value = { ...inputs, digest: digestOf(JSON.stringify({ ...inputs, interest })) };
    // Taken after the weak ties' write, if there was one, so that write does not undo the memo at once.
    this.inputsMemo = { value, changes: this.storageChanges(), at: now };
    return value;
  }

  /** Rows changed by this object's storage so far: any write moves it. */
  private storageChanges(): number {
    return this.sql.exec<{ n: number }>('SELECT total_changes() AS n').one().n;
  }

  private async rankingInputs(now: number): Promise<Omit<RankingInputs, 'digest'>> {
    const affinity: Record<string, number> = {};
    for (const row of this.sql.exec<{ author_id: string; n: number }>(
      'SELECT author_id, count(*) AS n FROM engagements WHERE at > ? GROUP BY author_id',
      now - ENGAGEMENT_WINDOW_MS,
    )) {
      affinity[row.author_id] = row.n;
    }
    const interest = this.interest();
    const vector = interestVector(interest);
    const seen = summarizeSeen(
      this.sql
        .exec<{
          post_id: string;
          author_id: string;
          categories: string;
          served: number;
          viewed: number;
          dwell_ms: number;
          engaged: number;
          feedback: number;
        }>(
          `SELECT post_id, author_id, categories, served, viewed, dwell_ms, engaged, feedback FROM seen WHERE at > ?`,
          now - SEEN_TTL_MS,
        )
        .toArray()
        .map((r): SeenRow => ({
          postId: r.post_id,
          authorId: r.author_id,
          categories: r.categories,
          served: r.served,
          viewed: r.viewed,
          dwellMs: r.dwell_ms,
          engaged: r.engaged === 1,
          feedback: r.feedback,
        })),
    );
    const feedback: Record<string, number> = {};
    for (const row of this.sql.exec<{ author_id: string; score: number }>(
      'SELECT author_id, score FROM author_feedback',
    )) {
      feedback[row.author_id] = row.score;
    }
    const owner = this.meta('owner');
    const following = this.sql
      .exec<{ author_id: string }>(
        "SELECT author_id FROM follows WHERE mode = 'push' AND author_id != ? ORDER BY changed_at DESC LIMIT ?",
        owner ?? '',
        NETWORK_SAMPLE,
      )
      .toArray()
      .map((r) => r.author_id);
    return {
      affinity,
      interest: interest && vector ? { model: interest.model, vector } : null,
      seen,
      feedback,
      following,
      network: await this.weakTies(following, now),
    };
  }

  /**
   * Weak ties, kept here and read again from D1 every WEAK_TIES_REFRESH_MS (one query per shard), so a ranked read
   * costs no D1 read for them. A failed read keeps the last counts (or none): the signal is worth less than the page.
   */
  private async weakTies(following: readonly string[], now: number): Promise<Record<string, number>> {
    const [kept, at] = [this.meta('network'), this.meta('network_at')];
    if (kept !== null && at !== null && now - at < WEAK_TIES_REFRESH_MS && now >= at) {
      return JSON.parse(kept) as Record<string, number>;
    }
    try {
      const counts = await this.repositories().engagement.authorCountsBy(following, now - ENGAGEMENT_WINDOW_MS);
      const network = Object.fromEntries(counts);
      this.setMeta('network', JSON.stringify(network));
      this.setMeta('network_at', now);
      return network;
    } catch (error) {
      console.warn('timeline: weak ties unavailable, using the last counts', error);
      return kept === null ? {} : (JSON.parse(kept) as Record<string, number>);
    }
  }

  /**
   * Keeps a ranked order for SNAPSHOT_TTL_MS so that its pages neither repeat nor skip items. When a live snapshot
   * has the same order (`digests.order`), only its time and inputs digest are written: one small row update
   * instead of the whole order again.
   */
  saveSnapshot(items: SnapshotItem[], now: number, digests: SnapshotDigests = { inputs: null, order: null }): string {
    const same =
      digests.order === null
        ? undefined
        : this.sql
            .exec<{ id: string }>(
              'SELECT id FROM snapshots WHERE order_digest = ? AND created_at > ? LIMIT 1',
              digests.order,
              now - SNAPSHOT_TTL_MS,
            )
            .toArray()[0];
    if (same) {
      this.sql.exec(
        'UPDATE snapshots SET created_at = ?, inputs_digest = ? WHERE id = ?',
        now,
        digests.inputs,
        same.id,
      );
      return same.id;
    }
    const id = crypto.randomUUID();
    this.snapshotOrders.set(id, items);
    for (const kept of this.snapshotOrders.keys()) {
      if (this.snapshotOrders.size <= SNAPSHOTS_KEPT) break;
      this.snapshotOrders.delete(kept);
    }
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        'INSERT INTO snapshots (id, created_at, items, inputs_digest, order_digest) VALUES (?, ?, ?, ?, ?)',
        id,
        now,
        JSON.stringify(items),
        digests.inputs,
        digests.order,
      );
      this.sql.exec(
        `DELETE FROM snapshots WHERE created_at <= ? OR id NOT IN
           (SELECT id FROM snapshots ORDER BY created_at DESC LIMIT ?)`,
        now - SNAPSHOT_TTL_MS,
        SNAPSHOTS_KEPT,
      );
    });
    return id;
  }

  private snapshotMetas(now: number): SnapshotMeta[] {
    return this.sql
      .exec<{ id: string; created_at: number; inputs_digest: string | null }>(
        'SELECT id, created_at, inputs_digest FROM snapshots WHERE created_at > ? ORDER BY created_at DESC',
        now - SNAPSHOT_TTL_MS,
      )
      .toArray()
      .map((r) => ({ id: r.id, createdAt: r.created_at, inputs: r.inputs_digest }));
  }

  /**
   * A ranked first page's writes in one call: the order kept as a snapshot (`order` null: the page was all of it)
   * and the page's impressions. Returns the snapshot's id, or null without one.
   */
  finishRankedPage(
    order: SnapshotItem[] | null,
    digests: SnapshotDigests,
    served: ServedPost[],
    now: number,
  ): string | null {
    const id = order === null ? null : this.saveSnapshot(order, now, digests);
    this.recordServed(served, now);
    return id;
  }

  /**
   * Items [offset, offset + limit) of a snapshot, or null once it has expired (or never existed here).
   * Positions are those of the snapshot as taken, so pages stay aligned; authors unfollowed since then drop
   * out of the page, as they drop out of the timeline. `total` is the snapshot's length.
   */
  snapshotPage(id: string, offset: number, limit: number, now: number): SnapshotPage | null {
    const order = this.snapshotOrder(id, now);
    if (!order) return null;
    const gone = new Set(
      this.sql
        .exec<{ author_id: string }>("SELECT author_id FROM follows WHERE mode = 'none'")
        .toArray()
        .map((r) => r.author_id),
    );
    const hidden = new Set(this.hiddenReposts());
    const items = order.slice(offset, offset + limit).filter((item) => {
      const by = item.repost?.by;
      if (by !== undefined) return !gone.has(by) && !hidden.has(by);
      return !gone.has(item.authorId);
    });
    return { items, total: order.length };
  }

  /** A live snapshot's order: the copy kept in memory if there is one, else the stored one, parsed. */
  private snapshotOrder(id: string, now: number): SnapshotItem[] | null {
    const kept = this.snapshotOrders.get(id);
    const since = now - SNAPSHOT_TTL_MS;
    if (kept) {
      const live = this.sql.exec('SELECT 1 FROM snapshots WHERE id = ? AND created_at > ?', id, since).toArray();
      return live.length > 0 ? kept : null;
    }
    const row = this.sql
      .exec<{ items: string }>('SELECT items FROM snapshots WHERE id = ? AND created_at > ?', id, since)
      .toArray()[0];
    return row ? (JSON.parse(row.items) as SnapshotItem[]) : null;
  }

  // ---- Live updates (src/streaming.ts has the wire formats; docs/architecture.md "Streaming") ----

  /**
   * A WebSocket upgrade, forwarded by the Worker once it has authenticated the reader (this object is reachable
   * only through it): the query names the protocol, the streams and the origin the client connected to. The socket
   * is accepted with the hibernation API, so an idle connection costs no memory here: the object may be evicted
   * and is woken by the next event or message; what each socket needs survives in its attachment.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket') {
      return new Response('expected a WebSocket upgrade', { status: 426 });
    }
    const url = new URL(request.url);
    const owner = url.searchParams.get('owner');
    const protocol: StreamProtocol = url.searchParams.get('protocol') === 'mastodon' ? 'mastodon' : 'v1';
    const streams = (url.searchParams.get('streams') ?? '')
      .split(',')
      .map(parseStream)
      .filter((s): s is StreamName => s !== null);
    if (owner === null) return new Response('owner is required', { status: 400 });
    const now = Date.now();
    const wasIdle = this.openSockets().length === 0;
    // A connection is activity: medium authors' fan-out then reaches this reader, and a cold timeline is rebuilt.
    await this.wake(owner, now);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [protocol]);
    const state: SocketState = { protocol, streams, origin: url.searchParams.get('origin') ?? '', openedAt: now };
    server.serializeAttachment(state);
    this.closeOldestBeyondCap();
    if (wasIdle) {
      try {
        await this.renewWatches(now);
      } catch (error) {
        // The stream still opens; the alarm below retries the watches.
        console.warn('stream: could not watch every pulled author', error);
      }
      const alarm = await this.ctx.storage.getAlarm();
      if (alarm === null || alarm > now + WATCH_RENEW_MS) await this.ctx.storage.setAlarm(now + WATCH_RENEW_MS);
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Client messages: Mastodon's subscribe/unsubscribe; anything else is answered with an error, in order. */
  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const state = this.socketState(ws);
    if (!state) return;
    const action = parseClientMessage(message);
    if (action.kind === 'error') {
      this.send(ws, encodeError(state.protocol, action.status, action.message));
      return;
    }
    ws.serializeAttachment({ ...state, streams: applySubscription(state.streams, action) } satisfies SocketState);
  }

  /** The last socket gone: the pulled authors stop reporting to this reader (their watches would expire anyway). */
  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed: nothing to answer.
    }
    await this.onSocketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.onSocketGone(ws);
  }

  /** How many sockets are open, per protocol (tests, benchmarks). */
  streamCounts(): { v1: number; mastodon: number } {
    return { v1: this.ctx.getWebSockets('v1').length, mastodon: this.ctx.getWebSockets('mastodon').length };
  }

  /**
   * From a pulled author's feed (AuthorFeed watchers): a post was created, edited or deleted. Only authors this
   * timeline pulls count: a pushed author's posts arrive by fan-out, and a watch outliving a change of mode would
   * otherwise stream them twice.
   */
  async streamPulled(kind: 'update' | 'edit' | 'delete', entry: TimelineEntry): Promise<boolean> {
    if (this.openSockets().length === 0) return false;
    const mode = this.sql
      .exec<{ mode: string }>('SELECT mode FROM follows WHERE author_id = ?', entry.authorId)
      .toArray()[0]?.mode;
    if (mode !== 'pull') return false;
    if (kind === 'delete') this.broadcast({ kind: 'delete', postId: entry.postId });
    else await this.streamPosts(kind, [entry]);
    return true;
  }

  /** An edit of a pushed author's post (fan-out op `edit`): open streams get the new version, if it is here. */
  async noteEdit(entry: TimelineEntry): Promise<void> {
    if (this.openSockets().length === 0) return;
    const here = this.sql.exec('SELECT 1 FROM entries WHERE post_id = ?', entry.postId).toArray().length > 0;
    if (here) await this.streamPosts('edit', [entry]);
  }

  /**
   * The notifications hook: whoever records a notification for this reader calls this, and open streams get it
   * (v1: as GET /v1/notifications lists it; Mastodon: a Notification entity with its account and status).
   */
  async streamNotification(notification: StreamNotification): Promise<void> {
    if (this.openSockets().length === 0) return;
    const owner = this.meta('owner');
    if (owner === null) return;
    try {
      const render = await hydrateNotifications(
        depsFor(this.env),
        [{ ...notification, createdAt: Date.parse(notification.createdAt) }],
        owner,
      );
      const byOrigin = perOrigin(render);
      // Gone already (its post deleted, its actor removed): nothing to tell; which entities exist is the same for
      // every origin, so the first socket's answers for all.
      const first = this.openSockets()
        .map((ws) => this.socketState(ws)?.origin)
        .find((o) => o !== undefined);
      if (first === undefined || byOrigin(first).length === 0) return;
      this.broadcast({ kind: 'notification', notification, mastodon: (origin) => byOrigin(origin)[0] });
    } catch (error) {
      console.warn('stream: could not hydrate a notification', error);
    }
  }

  /**
   * Hydrates the entries' posts (one read, only when someone listens) and streams them, each as the Status the
   * REST API shows this reader (workers/mastodon/hydrate.ts: the one serializer).
   */
  private async streamPosts(kind: 'update' | 'edit', entries: TimelineEntry[]): Promise<void> {
    if (entries.length === 0 || this.openSockets().length === 0) return;
    try {
      const deps = depsFor(this.env);
      const posts = await deps.repos.posts.getMany(entries.map((e) => e.postId));
      const live = entries.flatMap((entry) => {
        const post = posts.get(entry.postId);
        return isLive(post) ? [post] : [];
      });
      const render = perOrigin(
        await hydrateStatuses(
          deps,
          live.map((post) => ({ post })),
          this.meta('owner'),
        ),
      );
      for (const post of live) {
        this.broadcast({
          kind,
          post: toPostView(post),
          status: (origin) => render(origin).find((s) => s.id === post.id) ?? null,
        });
      }
    } catch (error) {
      // Streams are best effort: the timeline has the entry, and the client's next read finds it.
      console.warn('stream: could not hydrate an event', error);
    }
  }

  private broadcast(event: StreamEvent): void {
    for (const ws of this.openSockets()) {
      const state = this.socketState(ws);
      if (!state) continue;
      const message = encodeEvent(event, state);
      if (message !== null) this.send(ws, message);
    }
  }

  private send(ws: WebSocket, message: string): void {
    try {
      ws.send(message);
    } catch (error) {
      // A socket closing under us: its close handler tidies up.
      console.warn('stream: send failed', error);
    }
  }

  private openSockets(except?: WebSocket): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  private socketState(ws: WebSocket): SocketState | null {
    const state: unknown = ws.deserializeAttachment();
    return typeof state === 'object' && state !== null && 'protocol' in state ? (state as SocketState) : null;
  }

  /** Beyond MAX_SOCKETS_PER_READER, the oldest connections are closed (a client reconnecting in a loop, say). */
  private closeOldestBeyondCap(): void {
    const open = this.openSockets()
      .map((ws) => ({ ws, openedAt: this.socketState(ws)?.openedAt ?? 0 }))
      .sort((a, b) => a.openedAt - b.openedAt);
    for (const { ws } of open.slice(0, Math.max(0, open.length - MAX_SOCKETS_PER_READER))) {
      try {
        ws.close(1008, 'too many streams for this account');
      } catch {
        // Already closing.
      }
    }
  }

  private async onSocketGone(ws: WebSocket): Promise<void> {
    if (this.openSockets(ws).length > 0) return;
    const owner = this.meta('owner');
    if (owner === null) return;
    const authors = this.watchedAuthors();
    this.deleteMeta('watched_at');
    try {
      await forEachLimit(authors, WATCH_CONCURRENCY, (a) => depsFor(this.env).objects.authorFeed(a).unwatch(owner));
    } catch (error) {
      console.warn('stream: could not unwatch every pulled author; their watches expire', error);
    }
  }

  /** Every pulled author (up to MAX_WATCHED_AUTHORS) is asked to report new posts until now + WATCH_TTL_MS. */
  private async renewWatches(now: number): Promise<void> {
    await this.watchAuthors(this.watchedAuthors(), now);
    this.setMeta('watched_at', now);
  }

  private async watchAuthors(authors: string[], now: number): Promise<void> {
    const owner = this.meta('owner');
    if (owner === null || authors.length === 0) return;
    const { objects } = depsFor(this.env);
    await forEachLimit(authors, WATCH_CONCURRENCY, (a) => objects.authorFeed(a).watch(owner, now + WATCH_TTL_MS, now));
  }

  private watchedAuthors(): string[] {
    return this.sql
      .exec<{ author_id: string }>(
        "SELECT author_id FROM follows WHERE mode = 'pull' ORDER BY changed_at DESC LIMIT ?",
        MAX_WATCHED_AUTHORS,
      )
      .toArray()
      .map((r) => r.author_id);
  }

  /** users.last_active_at, hourly at most: medium authors' fan-out reaches readers active in the last day. */
  private async recordActivity(ownerId: string, now: number): Promise<number | null> {
    const written = this.meta('activity_written_at');
    if (written === null || now - written >= ACTIVITY_WRITE_INTERVAL_MS) {
      await this.repositories().users.recordActivity(ownerId, now);
      this.setMeta('activity_written_at', now);
    }
    return written;
  }

  size(): number {
    return this.sql.exec<{ n: number }>('SELECT count(*) AS n FROM entries').one().n;
  }

  state(): TimelineState {
    if (this.meta('regenerate_at') !== null) return 'regenerating';
    return this.meta('generated_at') === null ? 'cold' : 'ready';
  }

  /**
   * The one alarm serves two purposes: a pending regeneration, and, while sockets are open, renewing the pulled
   * authors' watches (then it comes back every WATCH_RENEW_MS). A throw is retried with backoff.
   */
  override async alarm(): Promise<void> {
    await this.regenerate();
    if (this.openSockets().length === 0) return;
    const now = Date.now();
    await this.renewWatches(now);
    await this.ctx.storage.setAlarm(now + WATCH_RENEW_MS);
  }

  /** Regeneration from D1: whom the owner follows, how each reaches them now, and their recent posts. */
  private async regenerate(): Promise<void> {
    const owner = this.meta('owner');
    const startedAt = this.meta('regenerate_at');
    if (owner === null || startedAt === null) return;
    const repos = this.repositories();
    const config = depsFor(this.env).config.fanout;
    const [following, hiding] = await Promise.all([repos.graph.allFollowing(owner), repos.graph.hidingReposts(owner)]);
    const hidden = new Set(hiding);
    const authors = await repos.users.getMany(following);
    const modes = new Map<string, FollowMode>(
      following.map((id) => [id, followModeOf(authors.get(id)?.followersCount ?? 0, config)]),
    );
    modes.set(owner, 'push');
    const pushed = [...modes].filter(([, mode]) => mode === 'push').map(([id]) => id);
    const [recent, reposts] = await Promise.all([
      repos.posts.recentByAuthors(pushed, TIMELINE_CAP),
      repos.reposts.recentBy(pushed, TIMELINE_CAP),
    ]);
    // A throw above leaves the state as it was; the alarm is retried with backoff.
    this.ctx.storage.transactionSync(() => {
      for (const [authorId, mode] of modes) {
        // Follows and unfollows that happened while D1 was being read are newer than what we read.
        this.sql.exec(
          `INSERT INTO follows (author_id, mode, changed_at, reposts) VALUES (?, ?, ?, ?)
           ON CONFLICT (author_id) DO UPDATE SET mode = excluded.mode, changed_at = excluded.changed_at,
             reposts = excluded.reposts
           WHERE follows.changed_at < excluded.changed_at`,
          authorId,
          mode,
          startedAt,
          hidden.has(authorId) ? 0 : 1,
        );
      }
      this.setMeta('generated_at', startedAt);
      this.deleteMeta('regenerate_at');
      // Posts first: where a followed author's post and a repost of it both exist, the post is the entry.
      this.store(recent);
      this.store(reposts);
    });
  }

  private async catchUp(since: number): Promise<void> {
    const pushed = this.sql
      .exec<{ author_id: string }>("SELECT author_id FROM follows WHERE mode = 'push'")
      .toArray()
      .map((r) => r.author_id);
    const repos = this.repositories();
    const [missed, reposts] = await Promise.all([
      repos.posts.recentByAuthors(pushed, TIMELINE_CAP, minIdAt(since)),
      repos.reposts.recentBy(pushed, TIMELINE_CAP, minIdAt(since)),
    ]);
    this.store(missed);
    this.store(reposts);
  }

  /** Newest first by feed key (src/timeline.ts): posts by their id, reposts by the repost's. */
  private page(limit: number, beforeId?: string): TimelineEntry[] {
    const rows = beforeId
      ? this.sql.exec<EntryRow>(
          `SELECT ${ENTRY_COLUMNS} FROM entries WHERE sort_id < ? ORDER BY sort_id DESC LIMIT ?`,
          beforeId,
          limit,
        )
      : this.sql.exec<EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM entries ORDER BY sort_id DESC LIMIT ?`, limit);
    return rows.toArray().map(toEntry);
  }

  private hiddenReposts(): string[] {
    return this.sql
      .exec<{ author_id: string }>("SELECT author_id FROM follows WHERE reposts = 0 AND mode != 'none'")
      .toArray()
      .map((r) => r.author_id);
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
      'DELETE FROM entries WHERE sort_id < (SELECT sort_id FROM entries ORDER BY sort_id DESC LIMIT 1 OFFSET ?)',
      TIMELINE_CAP - 1,
    );
  }

  private interest(): Interest | null {
    const model = this.meta('interest_model');
    const sum = this.meta('interest_sum');
    const weight = this.meta('interest_weight');
    const at = this.meta('interest_at');
    if (model === null || sum === null || weight === null || at === null) return null;
    return { model, sum: new Float32Array(sum), weight, at };
  }

  private setInterest(interest: Interest): void {
    this.setMeta('interest_model', interest.model);
    this.setMeta('interest_sum', interest.sum.slice().buffer);
    this.setMeta('interest_weight', interest.weight);
    this.setMeta('interest_at', interest.at);
  }

  private deleteMeta(key: keyof Meta): void {
    this.sql.exec('DELETE FROM meta WHERE key = ?', key);
  }

  private meta<K extends keyof Meta>(key: K): Meta[K] | null {
    const row = this.sql.exec<{ value: Meta[K] }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0];
    return row ? row.value : null;
  }

  private setMeta<K extends keyof Meta>(key: K, value: Meta[K]): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }

  private repositories(): Repositories {
    return depsFor(this.env).repos;
  }
}

/** A rendering kept per origin: every socket of one origin gets the same entities, built once. */
function perOrigin<T>(render: Rendered<T>): Rendered<T> {
  const built = new Map<string, T>();
  return (origin) => {
    if (!built.has(origin)) built.set(origin, render(origin));
    return built.get(origin)!;
  };
}
