import { and, asc, desc, eq, gt, gte, inArray, isNull, ne, sql, type Table } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import { isLive, type PostRecord } from '../../src/model.ts';
import { retry } from '../../src/retry.ts';
import { comments, interactions, likes, posts, type InteractionKind } from '../schema.ts';
import { selectValues } from '../dialect.ts';
import type { ShardDb, Shards } from '../shards.ts';

// D1 binds at most 100 parameters per statement; an interaction row binds 7.
const ROWS_PER_INSERT = 14;

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

export type CommentRow = typeof comments.$inferSelect;

export interface Interaction {
  userId: string;
  kind: InteractionKind;
  refId: string;
  postId: string;
  authorId: string;
  durationMs?: number | null;
  createdAt: number;
}

/**
 * Likes, comments and shares live on the post's shard beside the post, so each write and the counter
 * trigger it fires are one transaction. Each write only happens while the post exists and is not deleted
 * (INSERT ... SELECT ... FROM posts WHERE live), and the same batch reads the post back: the caller gets
 * the counts as of its own write, or `undefined` when there was no post to act on.
 */
export function createEngagementRepository(shards: Shards) {
  /** Selects the given values once if the post is live, nothing otherwise: the guard of every write. */
  const ifLive = <T extends Record<string, unknown>>(db: ShardDb, table: Table, postId: string, values: T) =>
    db
      .select(selectValues(shards.dialect, table, values))
      .from(posts)
      .where(and(eq(posts.id, postId), isNull(posts.deletedAt)));

  const writeThenRead = async (postId: string, write: (db: ShardDb) => BatchItem<'sqlite'>) => {
    const db = shards.of(postId);
    const [, read] = await retry(() => db.batch([write(db), db.select().from(posts).where(eq(posts.id, postId))]));
    const post = read[0];
    return isLive(post) ? post : undefined;
  };

  return {
    like(postId: string, userId: string, at: number): Promise<PostRecord | undefined> {
      return writeThenRead(postId, (db) =>
        db
          .insert(likes)
          .select(ifLive(db, likes, postId, { postId, userId, createdAt: at }))
          .onConflictDoNothing(),
      );
    },

    unlike(postId: string, userId: string): Promise<PostRecord | undefined> {
      return writeThenRead(postId, (db) =>
        db.delete(likes).where(and(eq(likes.postId, postId), eq(likes.userId, userId))),
      );
    },

    comment(
      postId: string,
      comment: { id: string; authorId: string; text: string; createdAt: number },
    ): Promise<PostRecord | undefined> {
      return writeThenRead(postId, (db) =>
        db
          .insert(comments)
          // Columns in table order, as INSERT ... SELECT requires.
          .select(
            ifLive(db, comments, postId, {
              id: comment.id,
              postId,
              authorId: comment.authorId,
              text: comment.text,
              createdAt: comment.createdAt,
            }),
          )
          .onConflictDoNothing(),
      );
    },

    /** A post's comments, oldest first, after `afterId` (keyset on the comment id, which orders by time). */
    async comments(postId: string, limit: number, afterId?: string): Promise<CommentRow[]> {
      return retry(() =>
        shards
          .of(postId)
          .select()
          .from(comments)
          .where(and(eq(comments.postId, postId), afterId ? gt(comments.id, afterId) : undefined))
          .orderBy(asc(comments.id))
          .limit(limit),
      );
    },

    /**
     * A comment by its id alone: comment ids are minted on their post's shard (src/outbox.ts mintOnShardOf), so
     * one shard answers; a comment from before that rule is looked for on every shard.
     */
    async getComment(commentId: string): Promise<CommentRow | undefined> {
      const find = (db: ShardDb) => retry(() => db.query.comments.findFirst({ where: eq(comments.id, commentId) }));
      const placed = await find(shards.of(commentId));
      if (placed) return placed;
      return (await Promise.all(shards.all.map(find))).find((row) => row !== undefined);
    },

    /**
     * Deletes a comment and reads its post back, in one batch on the post's shard: the count trigger moves in the
     * same transaction, and a repeat deletes nothing, so the count moves once. Undefined when it was gone already.
     */
    async deleteComment(
      comment: Pick<CommentRow, 'id' | 'postId'>,
    ): Promise<{ comment: CommentRow; post: PostRecord | undefined } | undefined> {
      const db = shards.of(comment.postId);
      const [deleted, read] = await retry(() =>
        db.batch([
          db.delete(comments).where(eq(comments.id, comment.id)).returning(),
          db.select().from(posts).where(eq(posts.id, comment.postId)),
        ]),
      );
      const row = deleted[0];
      return row ? { comment: row, post: read[0] } : undefined;
    },

    /** Upserts into the actor's interaction log (idempotent by its key). Rows may span several users. */
    async record(rows: readonly Interaction[]): Promise<void> {
      const byUser = Map.groupBy(rows, (row) => row.userId);
      await Promise.all(
        shards.group(byUser.keys()).map(([db, userIds]) => {
          const group = userIds.flatMap((id) => byUser.get(id)!);
          const inserts = chunk(group, ROWS_PER_INSERT).map((part) =>
            db.insert(interactions).values(part).onConflictDoNothing(),
          );
          return retry(() => db.batch(inserts as [(typeof inserts)[number], ...typeof inserts]));
        }),
      );
    },

    /** The user's engagements (everything but views) since `since`, newest first, at most `limit`. */
    async engagementsSince(userId: string, since: number, limit: number): Promise<Interaction[]> {
      return retry(() =>
        shards
          .of(userId)
          .select()
          .from(interactions)
          .where(
            and(eq(interactions.userId, userId), gte(interactions.createdAt, since), ne(interactions.kind, 'view')),
          )
          .orderBy(desc(interactions.createdAt))
          .limit(limit),
      );
    },

    /**
     * Likes, comments and shares by any of `userIds` since `since`, counted per author: the weak ties of a reader
     * who follows them. One grouped query per shard.
     */
    async authorCountsBy(userIds: readonly string[], since: number): Promise<Map<string, number>> {
      const counts = new Map<string, number>();
      if (userIds.length === 0) return counts;
      const parts = await Promise.all(
        shards.group(userIds).map(([db, ids]) =>
          retry(() =>
            db
              .select({ authorId: interactions.authorId, n: sql<number>`count(*)` })
              .from(interactions)
              .where(
                and(
                  inArray(interactions.userId, ids),
                  inArray(interactions.kind, ['like', 'comment', 'share']),
                  gte(interactions.createdAt, since),
                ),
              )
              .groupBy(interactions.authorId),
          ),
        ),
      );
      for (const rows of parts) for (const r of rows) counts.set(r.authorId, (counts.get(r.authorId) ?? 0) + r.n);
      return counts;
    },

    /** Whether the actor's log still has the interaction (an unlike or a deleted comment removes it). */
    async has(userId: string, kind: InteractionKind, refId: string): Promise<boolean> {
      const rows = await retry(() =>
        shards
          .of(userId)
          .select({ at: interactions.createdAt })
          .from(interactions)
          .where(and(eq(interactions.userId, userId), eq(interactions.kind, kind), eq(interactions.refId, refId))),
      );
      return rows.length > 0;
    },

    async forget(userId: string, kind: InteractionKind, refId: string): Promise<void> {
      await retry(() =>
        shards
          .of(userId)
          .delete(interactions)
          .where(and(eq(interactions.userId, userId), eq(interactions.kind, kind), eq(interactions.refId, refId))),
      );
    },
  };
}

export type EngagementRepository = ReturnType<typeof createEngagementRepository>;
