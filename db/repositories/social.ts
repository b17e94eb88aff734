import { and, asc, desc, eq, gt, inArray, isNull, lt, notInArray, or, sql, type SQL } from 'drizzle-orm';
import type { PhraseFilter } from '../../src/social.ts';
import { retry } from '../../src/retry.ts';
import {
  blockedBy,
  blocks,
  filterGroups,
  filters,
  followsByFollowee,
  followsByFollower,
  markers,
  mutes,
  notifications,
  type NotificationType,
} from '../schema.ts';
import { selectValues } from '../dialect.ts';
import type { ShardDb, Shards } from '../shards.ts';
import type { EdgeKey, EdgePage } from './graph.ts';

/** Bounds what one read loads of a reader's rules; a reader past these keeps the newest (docs/architecture.md). */
export const MAX_RULE_ROWS = 5_000;

export interface Relationship {
  following: boolean;
  followedBy: boolean;
  blocking: boolean;
  blockedBy: boolean;
  muting: boolean;
  showReposts: boolean;
}

export interface LoadedRules {
  blocking: string[];
  blockedBy: string[];
  muting: { id: string; expiresAt: number | null }[];
  filters: PhraseFilter[];
}

export interface NewNotification {
  recipientId: string;
  id: string;
  key: string;
  type: NotificationType;
  actorId: string;
  postId?: string | null;
  commentId?: string | null;
  createdAt: number;
}

export type NotificationRow = typeof notifications.$inferSelect;
export type MarkerRow = typeof markers.$inferSelect;

/**
 * Blocks, mutes, muted words, notifications and read markers: each on the shard of the user it belongs to (the
 * blocker, the muter, the owner, the recipient), so that a reader's rules are one batch on the reader's own shard,
 * and producing a notification checks the recipient's blocks and mutes in the same statement that writes it.
 * A block is also mirrored on the blocked account's shard (`blocked_by`), for what that account reads.
 */
export function createSocialRepository(shards: Shards) {
  /** The mute in force clause: unexpired at `now`. */
  const muteInForce = (now: number) => or(isNull(mutes.expiresAt), gt(mutes.expiresAt, now));

  /** Notifications from `actor` that `recipient` must not get: blocked either way, or muted. SQL over one shard. */
  const silenced = (recipient: SQL, actor: SQL, now: number) =>
    sql`EXISTS (SELECT 1 FROM ${blocks} WHERE ${blocks.blockerId} = ${recipient} AND ${blocks.blockedId} = ${actor})
      OR EXISTS (SELECT 1 FROM ${blockedBy} WHERE ${blockedBy.userId} = ${recipient} AND ${blockedBy.blockerId} = ${actor})
      OR EXISTS (SELECT 1 FROM ${mutes} WHERE ${mutes.muterId} = ${recipient} AND ${mutes.mutedId} = ${actor}
        AND (${mutes.expiresAt} IS NULL OR ${mutes.expiresAt} > ${now}))`;

  return {
    /**
     * The block on the blocker's shard, then its mirror on the blocked account's; both idempotent. Notifications
     * between the two are dropped on both sides (as Mastodon does). The caller removes the follows both ways.
     */
    async block(blockerId: string, blockedId: string, at: number): Promise<void> {
      const own = shards.of(blockerId);
      await retry(() =>
        own.batch([
          own.insert(blocks).values({ blockerId, blockedId, createdAt: at }).onConflictDoNothing(),
          own
            .delete(notifications)
            .where(and(eq(notifications.recipientId, blockerId), eq(notifications.actorId, blockedId))),
        ]),
      );
      await this.mirrorBlock(blockerId, blockedId, true, at);
    },

    async unblock(blockerId: string, blockedId: string): Promise<void> {
      await retry(() =>
        shards
          .of(blockerId)
          .delete(blocks)
          .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId))),
      );
      await this.mirrorBlock(blockerId, blockedId, false, 0);
    },

    /** The blocked account's side, as the blocker's row says it should be (also the repair). */
    async mirrorBlock(blockerId: string, blockedId: string, blocked: boolean, at: number): Promise<void> {
      const theirs = shards.of(blockedId);
      const pair = and(eq(blockedBy.userId, blockedId), eq(blockedBy.blockerId, blockerId));
      if (!blocked) {
        await retry(() => theirs.delete(blockedBy).where(pair));
        return;
      }
      await retry(() =>
        theirs.batch([
          theirs.insert(blockedBy).values({ userId: blockedId, blockerId, createdAt: at }).onConflictDoNothing(),
          theirs
            .delete(notifications)
            .where(and(eq(notifications.recipientId, blockedId), eq(notifications.actorId, blockerId))),
        ]),
      );
    },

    /** Whether `blockerId` blocks `blockedId`: the source of truth, on the blocker's shard. */
    async blocks(blockerId: string, blockedId: string): Promise<boolean> {
      const rows = await retry(() =>
        shards
          .of(blockerId)
          .select({ at: blocks.createdAt })
          .from(blocks)
          .where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId))),
      );
      return rows.length > 0;
    },

    async mute(muterId: string, mutedId: string, at: number, expiresAt: number | null): Promise<void> {
      await retry(() =>
        shards
          .of(muterId)
          .insert(mutes)
          .values({ muterId, mutedId, createdAt: at, expiresAt })
          .onConflictDoUpdate({ target: [mutes.muterId, mutes.mutedId], set: { expiresAt } }),
      );
    },

    async unmute(muterId: string, mutedId: string): Promise<void> {
      await retry(() =>
        shards
          .of(muterId)
          .delete(mutes)
          .where(and(eq(mutes.muterId, muterId), eq(mutes.mutedId, mutedId))),
      );
    },

    /**
     * `me`'s relationship to `other`, from `me`'s shard alone: my outgoing edge, the incoming edge's copy, my block,
     * the mirror of theirs, my mute in force.
     */
    async relationship(me: string, other: string, now: number): Promise<Relationship> {
      const db = shards.of(me);
      const [out, inc, blocking, blocked, muting] = await retry(() =>
        db.batch([
          db
            .select({ showReposts: followsByFollower.showReposts })
            .from(followsByFollower)
            .where(and(eq(followsByFollower.followerId, me), eq(followsByFollower.followeeId, other))),
          db
            .select({ at: followsByFollowee.createdAt })
            .from(followsByFollowee)
            .where(and(eq(followsByFollowee.followeeId, me), eq(followsByFollowee.followerId, other))),
          db
            .select({ at: blocks.createdAt })
            .from(blocks)
            .where(and(eq(blocks.blockerId, me), eq(blocks.blockedId, other))),
          db
            .select({ at: blockedBy.createdAt })
            .from(blockedBy)
            .where(and(eq(blockedBy.userId, me), eq(blockedBy.blockerId, other))),
          db
            .select({ at: mutes.createdAt })
            .from(mutes)
            .where(and(eq(mutes.muterId, me), eq(mutes.mutedId, other), muteInForce(now))),
        ]),
      );
      return {
        following: out.length > 0,
        followedBy: inc.length > 0,
        blocking: blocking.length > 0,
        blockedBy: blocked.length > 0,
        muting: muting.length > 0,
        showReposts: out[0]?.showReposts ?? true,
      };
    },

    /** Whom a user blocks, newest first, keyset on (created_at, blocked id). */
    async blockPage(userId: string, limit: number, after?: EdgeKey): Promise<EdgePage> {
      return page(shards.of(userId), 'blocks', userId, limit, after, 0);
    },

    /** Whom a user mutes (mutes in force), newest first. */
    async mutePage(userId: string, limit: number, now: number, after?: EdgeKey): Promise<EdgePage> {
      return page(shards.of(userId), 'mutes', userId, limit, after, now);
    },

    /** Everything a reader's feed hides, in force or not (src/social.ts readerRules decides): one batch. */
    async rulesOf(userId: string, now: number): Promise<LoadedRules> {
      const db = shards.of(userId);
      const [blocking, blockers, muting, phrases] = await retry(() =>
        db.batch([
          db
            .select({ id: blocks.blockedId })
            .from(blocks)
            .where(eq(blocks.blockerId, userId))
            .orderBy(desc(blocks.createdAt))
            .limit(MAX_RULE_ROWS),
          db
            .select({ id: blockedBy.blockerId })
            .from(blockedBy)
            .where(eq(blockedBy.userId, userId))
            .orderBy(desc(blockedBy.createdAt))
            .limit(MAX_RULE_ROWS),
          db
            .select({ id: mutes.mutedId, expiresAt: mutes.expiresAt })
            .from(mutes)
            .where(and(eq(mutes.muterId, userId), muteInForce(now)))
            .orderBy(desc(mutes.createdAt))
            .limit(MAX_RULE_ROWS),
          db
            .select({
              id: filters.id,
              phrase: filters.phrase,
              wholeWord: filters.wholeWord,
              expiresAt: filters.expiresAt,
            })
            .from(filters)
            .where(
              and(
                eq(filters.userId, userId),
                or(isNull(filters.expiresAt), gt(filters.expiresAt, now)),
                // A Mastodon warn filter's keywords mark statuses (`filtered`) instead of hiding them.
                or(
                  isNull(filters.groupId),
                  notInArray(
                    filters.groupId,
                    db
                      .select({ id: filterGroups.id })
                      .from(filterGroups)
                      .where(and(eq(filterGroups.userId, userId), eq(filterGroups.action, 'warn'))),
                  ),
                ),
              ),
            )
            .orderBy(asc(filters.id))
            .limit(MAX_RULE_ROWS),
        ]),
      );
      return {
        blocking: blocking.map((r) => r.id),
        blockedBy: blockers.map((r) => r.id),
        muting: muting,
        filters: phrases,
      };
    },

    async addFilter(row: typeof filters.$inferInsert): Promise<void> {
      await retry(() => shards.of(row.userId).insert(filters).values(row).onConflictDoNothing());
    },

    /** The owner's filters, expired ones included (a client shows and deletes them), oldest first. */
    async listFilters(userId: string): Promise<PhraseFilter[]> {
      return retry(() =>
        shards
          .of(userId)
          .select({
            id: filters.id,
            phrase: filters.phrase,
            wholeWord: filters.wholeWord,
            expiresAt: filters.expiresAt,
          })
          .from(filters)
          .where(eq(filters.userId, userId))
          .orderBy(asc(filters.id))
          .limit(MAX_RULE_ROWS),
      );
    },

    async deleteFilter(userId: string, id: string): Promise<PhraseFilter | undefined> {
      const rows = await retry(() =>
        shards
          .of(userId)
          .delete(filters)
          .where(and(eq(filters.userId, userId), eq(filters.id, id)))
          .returning({
            id: filters.id,
            phrase: filters.phrase,
            wholeWord: filters.wholeWord,
            expiresAt: filters.expiresAt,
          }),
      );
      return rows[0];
    },

    /**
     * Writes notifications idempotently (by recipient and key), each only if its recipient neither blocks, is
     * blocked by, nor mutes its actor at `now`, checked in the same statement. One statement per notification,
     * one batch per recipient shard. Answers the rows written now (not those silenced or already there), which
     * are the ones open streams are told of.
     */
    async notify(rows: readonly NewNotification[], now: number): Promise<NotificationRow[]> {
      const wanted = rows.filter((r) => r.recipientId !== r.actorId);
      const byRecipient = Map.groupBy(wanted, (r) => r.recipientId);
      const written = await Promise.all(
        shards.group(byRecipient.keys()).map(([db, recipients]) => {
          const statements = recipients
            .flatMap((id) => byRecipient.get(id)!)
            .map((r) =>
              db
                .insert(notifications)
                // Columns in table order, as INSERT ... SELECT requires; one row, or none when silenced.
                .select(
                  db
                    .select(
                      selectValues(shards.dialect, notifications, {
                        recipientId: r.recipientId,
                        id: r.id,
                        key: r.key,
                        type: r.type,
                        actorId: r.actorId,
                        postId: r.postId ?? null,
                        commentId: r.commentId ?? null,
                        createdAt: r.createdAt,
                      }),
                    )
                    .from(sql`(SELECT 1) AS one`)
                    .where(sql`NOT (${silenced(sql`${r.recipientId}`, sql`${r.actorId}`, now)})`),
                )
                .onConflictDoNothing()
                .returning(),
            );
          const [first, ...rest] = statements;
          return first ? retry(() => db.batch([first, ...rest])) : Promise.resolve([]);
        }),
      );
      return written.flat(2);
    },

    /** Takes back what an undone action notified (an unlike, a deleted comment), by key. */
    async unnotify(recipientId: string, keys: readonly string[]): Promise<void> {
      if (keys.length === 0) return;
      await retry(() =>
        shards
          .of(recipientId)
          .delete(notifications)
          .where(and(eq(notifications.recipientId, recipientId), inArray(notifications.key, [...keys]))),
      );
    },

    /**
     * A recipient's notifications, newest first, below `beforeId`, of `types` (all when empty), without those from
     * accounts now blocked (either way) or muted: a block or mute placed after a notification hides it too.
     */
    async notifications(
      recipientId: string,
      limit: number,
      now: number,
      options: { beforeId?: string; types?: readonly NotificationType[]; id?: string } = {},
    ): Promise<NotificationRow[]> {
      const n = notifications;
      return retry(() =>
        shards
          .of(recipientId)
          .select()
          .from(n)
          .where(
            and(
              eq(n.recipientId, recipientId),
              options.id ? eq(n.id, options.id) : undefined,
              options.beforeId ? lt(n.id, options.beforeId) : undefined,
              options.types && options.types.length > 0 ? inArray(n.type, [...options.types]) : undefined,
              sql`NOT (${silenced(sql`${n.recipientId}`, sql`${n.actorId}`, now)})`,
            ),
          )
          .orderBy(desc(n.id))
          .limit(limit),
      );
    },

    /** One of the recipient's notifications, unless its actor is now blocked (either way) or muted. */
    async notification(recipientId: string, id: string, now: number): Promise<NotificationRow | undefined> {
      return (await this.notifications(recipientId, 1, now, { id }))[0];
    },

    /** Deletes one notification (Mastodon's dismiss); whether it was there. */
    async dismissNotification(recipientId: string, id: string): Promise<boolean> {
      const n = notifications;
      const gone = await retry(() =>
        shards
          .of(recipientId)
          .delete(n)
          .where(and(eq(n.recipientId, recipientId), eq(n.id, id)))
          .returning({ id: n.id }),
      );
      return gone.length > 0;
    },

    /** Deletes every notification of the recipient (Mastodon's clear). */
    async clearNotifications(recipientId: string): Promise<void> {
      await retry(() => shards.of(recipientId).delete(notifications).where(eq(notifications.recipientId, recipientId)));
    },

    /** Notifications newer than `afterId` (all, without one), at most `cap`: the unread count. */
    async unreadCount(recipientId: string, afterId: string | null, now: number, cap: number): Promise<number> {
      const n = notifications;
      const rows = await retry(() =>
        shards
          .of(recipientId)
          .select({ id: n.id })
          .from(n)
          .where(
            and(
              eq(n.recipientId, recipientId),
              afterId ? gt(n.id, afterId) : undefined,
              sql`NOT (${silenced(sql`${n.recipientId}`, sql`${n.actorId}`, now)})`,
            ),
          )
          .limit(cap),
      );
      return rows.length;
    },

    async markers(userId: string): Promise<MarkerRow[]> {
      return retry(() => shards.of(userId).select().from(markers).where(eq(markers.userId, userId)));
    },

    /** Moves read positions; a position never moves back (an older client's PUT after a newer one's). */
    async setMarkers(
      userId: string,
      positions: Partial<Record<MarkerRow['timeline'], string>>,
      at: number,
    ): Promise<void> {
      const db = shards.of(userId);
      const statements = Object.entries(positions).map(([timeline, lastReadId]) =>
        db
          .insert(markers)
          .values({ userId, timeline: timeline as MarkerRow['timeline'], lastReadId, updatedAt: at })
          .onConflictDoUpdate({
            target: [markers.userId, markers.timeline],
            set: { lastReadId: sql`excluded.last_read_id`, updatedAt: sql`excluded.updated_at` },
            // Ids of the same length compare as numbers: a longer one is newer.
            setWhere: sql`length(excluded.last_read_id) > length(${markers.lastReadId})
              OR (length(excluded.last_read_id) = length(${markers.lastReadId}) AND excluded.last_read_id >= ${markers.lastReadId})`,
          }),
      );
      const [first, ...rest] = statements;
      if (first) await retry(() => db.batch([first, ...rest]));
    },
  };
}

const PAGES = {
  blocks: { table: blocks, owner: blocks.blockerId, other: blocks.blockedId, createdAt: blocks.createdAt },
  mutes: { table: mutes, owner: mutes.muterId, other: mutes.mutedId, createdAt: mutes.createdAt },
} as const;

async function page(
  db: ShardDb,
  kind: keyof typeof PAGES,
  userId: string,
  limit: number,
  after: EdgeKey | undefined,
  now: number,
): Promise<EdgePage> {
  const { table, owner, other, createdAt } = PAGES[kind];
  const rows = await retry(() =>
    db
      .select({ createdAt, userId: other })
      .from(table)
      .where(
        and(
          eq(owner, userId),
          kind === 'mutes' ? or(isNull(mutes.expiresAt), gt(mutes.expiresAt, now)) : undefined,
          after ? sql`(${createdAt}, ${other}) < (${after.createdAt}, ${after.userId})` : undefined,
        ),
      )
      .orderBy(desc(createdAt), desc(other))
      .limit(limit + 1),
  );
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? items[items.length - 1]! : null };
}

export type SocialRepository = ReturnType<typeof createSocialRepository>;
