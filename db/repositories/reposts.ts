import { and, asc, desc, eq, gt, isNull, lte, sql, type Table } from 'drizzle-orm';
import { isLive, type PostRecord } from '../../src/model.ts';
import { retry } from '../../src/retry.ts';
import { newestFirst, type Repost, type TimelineEntry } from '../../src/timeline.ts';
import { posts, shareOutbox, shares, userReposts } from '../schema.ts';
import { selectValues } from '../dialect.ts';
import type { Shards } from '../shards.ts';

export interface ShareRow {
  postId: string;
  userId: string;
  createdAt: number;
  repostId: string | null;
}

export interface ShareIntent {
  postId: string;
  userId: string;
  sharing: boolean;
  at: number;
  attempts: number;
}

/**
 * Reposts. The share row (the source of truth, and what the counter trigger counts) lives on the post's shard with
 * the record of its effects still owed (share_outbox), written in one batch; the effects are the sharer's repost
 * index (user_reposts, on the sharer's shard), the sharer's feeds and the fan-out, all idempotent, replayed from
 * the share row until the record is cleared (workers/reposts.ts).
 */
export function createRepostRepository(shards: Shards) {
  /** The share (or undo), its outbox record, and the post and share read back: one transaction on the post's shard. */
  const write = async (
    postId: string,
    userId: string,
    sharing: boolean,
    at: number,
    repostId: string,
    dueAt: number,
  ) => {
    const db = shards.of(postId);
    // Only while the post is live: a share of a deleted post changes nothing and owes nothing.
    const ifLive = <T extends Record<string, unknown>>(table: Table, values: T) =>
      db
        .select(selectValues(shards.dialect, table, values))
        .from(posts)
        .where(and(eq(posts.id, postId), isNull(posts.deletedAt)));
    const change = sharing
      ? db
          .insert(shares)
          // Columns in table order, as INSERT ... SELECT requires.
          .select(ifLive(shares, { postId, userId, createdAt: at, repostId }))
          .onConflictDoNothing()
      : db.delete(shares).where(and(eq(shares.postId, postId), eq(shares.userId, userId)));
    const owed = db
      .insert(shareOutbox)
      .select(ifLive(shareOutbox, { postId, userId, sharing: sharing ? 1 : 0, at, attempts: 0, dueAt }))
      .onConflictDoUpdate({
        target: [shareOutbox.postId, shareOutbox.userId],
        set: {
          sharing: sql`excluded.sharing`,
          at: shards.dialect.greatest(shareOutbox.at, sql`excluded.at`),
          attempts: 0,
          dueAt: sql`excluded.due_at`,
        },
      });
    const [, , read] = await retry(() => db.batch([change, owed, db.select().from(posts).where(eq(posts.id, postId))]));
    const post = read[0];
    return isLive(post) ? post : undefined;
  };

  return {
    /** Shares the post (idempotent: a repeat keeps the first repost and its id). Undefined: no live post. */
    share(
      postId: string,
      userId: string,
      at: number,
      repostId: string,
      dueAt: number,
    ): Promise<PostRecord | undefined> {
      return write(postId, userId, true, at, repostId, dueAt);
    },

    /** Takes the share back (idempotent). Undefined: no live post. */
    unshare(postId: string, userId: string, at: number, dueAt: number): Promise<PostRecord | undefined> {
      return write(postId, userId, false, at, '', dueAt);
    },

    async getShare(postId: string, userId: string): Promise<ShareRow | undefined> {
      return retry(() =>
        shards.of(postId).query.shares.findFirst({ where: and(eq(shares.postId, postId), eq(shares.userId, userId)) }),
      );
    },

    /** Idempotent: the repost joins the sharer's index. */
    async index(entry: TimelineEntry & { repost: Repost }): Promise<void> {
      const { repost } = entry;
      await retry(() =>
        shards
          .of(repost.by)
          .insert(userReposts)
          .values({
            userId: repost.by,
            postId: entry.postId,
            repostId: repost.id,
            authorId: entry.authorId,
            postCreatedAt: entry.createdAt,
            createdAt: repost.at,
          })
          .onConflictDoNothing(),
      );
    },

    async unindex(userId: string, postId: string): Promise<void> {
      await retry(() =>
        shards
          .of(userId)
          .delete(userReposts)
          .where(and(eq(userReposts.userId, userId), eq(userReposts.postId, postId))),
      );
    },

    /** The newest reposts of many sharers as timeline entries, one query per shard, newest first by repost id. */
    async recentBy(userIds: readonly string[], limit: number, afterRepostId?: string): Promise<TimelineEntry[]> {
      const rows = await shards.queryByKeys(userIds, (db, group) =>
        retry(() =>
          db
            .select()
            .from(userReposts)
            .where(
              and(
                shards.dialect.inList(userReposts.userId, group),
                afterRepostId ? gt(userReposts.repostId, afterRepostId) : undefined,
              ),
            )
            .orderBy(desc(userReposts.repostId))
            .limit(limit),
        ),
      );
      return rows
        .map((r): TimelineEntry => ({
          postId: r.postId,
          authorId: r.authorId,
          createdAt: r.postCreatedAt,
          repost: { by: r.userId, id: r.repostId, at: r.createdAt },
        }))
        .sort(newestFirst)
        .slice(0, limit);
    },

    /**
     * For each post, how many of `userIds` shared it: the social proof a ranked reader sees through the accounts it
     * follows. One query per post shard.
     */
    async sharersAmong(postIds: readonly string[], userIds: readonly string[]): Promise<Map<string, number>> {
      const counts = new Map<string, number>();
      if (postIds.length === 0 || userIds.length === 0) return counts;
      const rows = await shards.queryByKeys(postIds, (db, group) =>
        retry(() =>
          db
            .select({ postId: shares.postId, n: sql<number>`count(*)` })
            .from(shares)
            .where(and(shards.dialect.inList(shares.postId, group), shards.dialect.inList(shares.userId, [...userIds])))
            .groupBy(shares.postId),
        ),
      );
      for (const r of rows) counts.set(r.postId, r.n);
      return counts;
    },

    /** Done up to `at`: an intent recorded later (a newer share or undo) stays. */
    async clearIntent(postId: string, userId: string, at: number): Promise<void> {
      await retry(() =>
        shards
          .of(postId)
          .delete(shareOutbox)
          .where(and(eq(shareOutbox.postId, postId), eq(shareOutbox.userId, userId), lte(shareOutbox.at, at))),
      );
    },

    async dueIntents(shard: number, now: number, limit: number): Promise<ShareIntent[]> {
      const db = shards.all[shard];
      if (!db) return [];
      return retry(() =>
        db
          .select({
            postId: shareOutbox.postId,
            userId: shareOutbox.userId,
            sharing: shareOutbox.sharing,
            at: shareOutbox.at,
            attempts: shareOutbox.attempts,
          })
          .from(shareOutbox)
          .where(lte(shareOutbox.dueAt, now))
          .orderBy(asc(shareOutbox.dueAt))
          .limit(limit),
      );
    },

    async intentRetried(postId: string, userId: string, dueAt: number): Promise<void> {
      await retry(() =>
        shards
          .of(postId)
          .update(shareOutbox)
          .set({ attempts: sql`${shareOutbox.attempts} + 1`, dueAt })
          .where(and(eq(shareOutbox.postId, postId), eq(shareOutbox.userId, userId))),
      );
    },
  };
}

export type RepostRepository = ReturnType<typeof createRepostRepository>;
