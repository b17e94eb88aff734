import { and, eq, sql } from 'drizzle-orm';
import type { PostRecord } from '../../src/model.ts';
import { retry } from '../../src/retry.ts';
import { comments, interactions, likes, posts, shares, type InteractionKind } from '../schema.ts';
import type { Shards } from '../shards.ts';

// D1 binds at most 100 parameters per statement; an interaction row binds 7.
const ROWS_PER_INSERT = 14;

function chunk<T>(items: readonly T[], size: number): T[][] {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  return parts;
}

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
 * (INSERT ... SELECT ... WHERE EXISTS), and the same batch reads the post back: the caller gets the
 * counts as of its own write, or `undefined` when there was no post to act on.
 */
export function createEngagementRepository(shards: Shards) {
  const livePost = (postId: string) => sql`EXISTS (SELECT 1 FROM posts WHERE id = ${postId} AND deleted_at IS NULL)`;

  const writeThenRead = async (postId: string, write: ReturnType<typeof sql>) => {
    const db = shards.of(postId);
    const [, read] = await retry(() =>
      db.batch([db.run(write), db.select().from(posts).where(eq(posts.id, postId))]),
    );
    const post = read[0];
    return post && post.deletedAt === null ? post : undefined;
  };

  return {
    like(postId: string, userId: string, at: number): Promise<PostRecord | undefined> {
      return writeThenRead(
        postId,
        sql`INSERT OR IGNORE INTO ${likes} (post_id, user_id, created_at) SELECT ${postId}, ${userId}, ${at} WHERE ${livePost(postId)}`,
      );
    },

    unlike(postId: string, userId: string): Promise<PostRecord | undefined> {
      return writeThenRead(postId, sql`DELETE FROM ${likes} WHERE post_id = ${postId} AND user_id = ${userId}`);
    },

    share(postId: string, userId: string, at: number): Promise<PostRecord | undefined> {
      return writeThenRead(
        postId,
        sql`INSERT OR IGNORE INTO ${shares} (post_id, user_id, created_at) SELECT ${postId}, ${userId}, ${at} WHERE ${livePost(postId)}`,
      );
    },

    comment(
      postId: string,
      comment: { id: string; authorId: string; text: string; createdAt: number },
    ): Promise<PostRecord | undefined> {
      return writeThenRead(
        postId,
        sql`INSERT OR IGNORE INTO ${comments} (id, post_id, author_id, text, created_at)
            SELECT ${comment.id}, ${postId}, ${comment.authorId}, ${comment.text}, ${comment.createdAt} WHERE ${livePost(postId)}`,
      );
    },

    async hasLiked(postId: string, userId: string): Promise<boolean> {
      const row = await retry(() =>
        shards.of(postId).query.likes.findFirst({ where: and(eq(likes.postId, postId), eq(likes.userId, userId)) }),
      );
      return row !== undefined;
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
