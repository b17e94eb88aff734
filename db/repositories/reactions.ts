import { and, asc, desc, eq, lt } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import type { CommentRecord } from '../../src/mastodon-entities.ts';
import { comments, likes, shares } from '../schema.ts';
import type { Shards } from '../shards.ts';

export interface ReactionPage {
  items: { userId: string; createdAt: number }[];
  /** The last row's time, when there may be more. */
  next: number | null;
}

/**
 * Reads around posts that a reader-facing API needs: what one reader liked or shared among many posts, who liked or
 * shared one post, and a post's comments. Likes, shares and comments live on the post's shard (db/schema.ts).
 */
export function createReactionRepository(shards: Shards) {
  const mine = async (table: typeof likes | typeof shares, userId: string, postIds: readonly string[]) => {
    const rows = await shards.queryByKeys(postIds, (db, group) =>
      retry(() =>
        db
          .select({ postId: table.postId, createdAt: table.createdAt })
          .from(table)
          .where(and(eq(table.userId, userId), shards.dialect.inList(table.postId, group))),
      ),
    );
    return new Map(rows.map((r) => [r.postId, r.createdAt]));
  };

  const who = async (table: typeof likes | typeof shares, postId: string, limit: number, before?: number) => {
    const rows = await retry(() =>
      shards
        .of(postId)
        .select({ userId: table.userId, createdAt: table.createdAt })
        .from(table)
        .where(and(eq(table.postId, postId), before === undefined ? undefined : lt(table.createdAt, before)))
        .orderBy(desc(table.createdAt), desc(table.userId))
        .limit(limit + 1),
    );
    const items = rows.slice(0, limit);
    return { items, next: rows.length > limit ? items[items.length - 1]!.createdAt : null } satisfies ReactionPage;
  };

  return {
    /** Of `postIds`, those `userId` liked (with when). */
    likedBy: (userId: string, postIds: readonly string[]) => mine(likes, userId, postIds),
    /** Of `postIds`, those `userId` shared (with when). */
    sharedBy: (userId: string, postIds: readonly string[]) => mine(shares, userId, postIds),
    likers: (postId: string, limit: number, before?: number) => who(likes, postId, limit, before),
    sharers: (postId: string, limit: number, before?: number) => who(shares, postId, limit, before),

    /** A post's comments, oldest first. */
    async commentsOf(postId: string, limit: number): Promise<CommentRecord[]> {
      return retry(() =>
        shards
          .of(postId)
          .select()
          .from(comments)
          .where(eq(comments.postId, postId))
          .orderBy(asc(comments.id))
          .limit(limit),
      );
    },

    /**
     * A comment by its id alone. Comments are placed by their post, which the id does not tell, so every shard is
     * asked (one primary-key lookup each).
     */
    async comment(id: string): Promise<CommentRecord | undefined> {
      const found = await Promise.all(
        shards.all.map((db) => retry(() => db.query.comments.findFirst({ where: eq(comments.id, id) }))),
      );
      return found.find((row) => row !== undefined);
    },
  };
}

export type ReactionRepository = ReturnType<typeof createReactionRepository>;
