import { and, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import { isLive, type PostRecord } from '../../src/model.ts';
import { retry } from '../../src/retry.ts';
import { newestFirst, type TimelineEntry } from '../../src/timeline.ts';
import { posts, userPosts } from '../schema.ts';
import type { Shards } from '../shards.ts';

export type NewPost = Omit<PostRecord, 'version' | 'deletedAt' | 'likeCount' | 'commentCount' | 'shareCount'>;

export type EditOutcome =
  | { kind: 'edited'; post: PostRecord }
  | { kind: 'not_found' }
  | { kind: 'not_author' }
  | { kind: 'version_mismatch'; current: number };

export function createPostRepository(shards: Shards) {
  const readMany = async (ids: Iterable<string>): Promise<Map<string, PostRecord>> => {
    const rows = await shards.queryByKeys(ids, (db, group) =>
      retry(() => db.select().from(posts).where(shards.dialect.inList(posts.id, group))),
    );
    return new Map(rows.map((row) => [row.id, row]));
  };

  return {
    // New posts are written by the outbox repository: post, index entry and outbox record in one transaction.

    /** Idempotent: adds the post to its author's index (and so to the author's post count once). */
    async index(authorId: string, postId: string, createdAt: number): Promise<void> {
      await retry(() =>
        shards.of(authorId).insert(userPosts).values({ userId: authorId, postId, createdAt }).onConflictDoNothing(),
      );
    },

    async unindex(authorId: string, postId: string): Promise<void> {
      await retry(() =>
        shards
          .of(authorId)
          .delete(userPosts)
          .where(and(eq(userPosts.userId, authorId), eq(userPosts.postId, postId))),
      );
    },

    async get(id: string): Promise<PostRecord | undefined> {
      return retry(() => shards.of(id).query.posts.findFirst({ where: eq(posts.id, id) }));
    },

    /** Batch hydration: one query per shard, whatever the number of ids. Tombstones are included. */
    getMany: readMany,

    /** Optimistic concurrency: with `expectedVersion`, exactly one of several concurrent editors wins. */
    async edit(
      id: string,
      authorId: string,
      change: Pick<PostRecord, 'text' | 'hashtags' | 'mentions' | 'updatedAt'>,
      expectedVersion?: number,
    ): Promise<EditOutcome> {
      const db = shards.of(id);
      const [row] = await retry(() =>
        db
          .update(posts)
          .set({ ...change, version: sql`${posts.version} + 1` })
          .where(
            and(
              eq(posts.id, id),
              eq(posts.authorId, authorId),
              isNull(posts.deletedAt),
              expectedVersion === undefined ? undefined : eq(posts.version, expectedVersion),
            ),
          )
          .returning(),
      );
      if (row) return { kind: 'edited', post: row };
      const current = await this.get(id);
      if (!isLive(current)) return { kind: 'not_found' };
      if (current.authorId !== authorId) return { kind: 'not_author' };
      return { kind: 'version_mismatch', current: current.version };
    },

    /** Leaves a tombstone (so caches and timelines can tell "deleted" from "never existed"). Idempotent. */
    async tombstone(id: string, deletedAt: number): Promise<PostRecord | undefined> {
      const [row] = await retry(() =>
        shards
          .of(id)
          .update(posts)
          .set({
            deletedAt: sql`coalesce(${posts.deletedAt}, ${deletedAt})`,
            text: '',
            media: [],
            hashtags: [],
            mentions: [],
            location: null,
            updatedAt: deletedAt,
          })
          .where(eq(posts.id, id))
          .returning(),
      );
      return row;
    },

    /**
     * The newest posts of many authors at once (regeneration, catch-up, AuthorFeed warm-up): one query
     * per shard, newest first, optionally only those newer than `afterId`.
     */
    async recentByAuthors(authorIds: readonly string[], limit: number, afterId?: string): Promise<TimelineEntry[]> {
      const perShard = await shards.queryByKeys(authorIds, (db, group) =>
        retry(() =>
          db
            .select({ postId: userPosts.postId, authorId: userPosts.userId, createdAt: userPosts.createdAt })
            .from(userPosts)
            .where(
              and(shards.dialect.inList(userPosts.userId, group), afterId ? gt(userPosts.postId, afterId) : undefined),
            )
            .orderBy(desc(userPosts.postId))
            .limit(limit),
        ),
      );
      return perShard.sort(newestFirst).slice(0, limit);
    },

    /** The author's post ids, newest first; keyset on the id, so posts arriving meanwhile shift nothing. */
    async idsByAuthor(authorId: string, limit: number, beforeId?: string): Promise<string[]> {
      const rows = await retry(() =>
        shards
          .of(authorId)
          .select({ postId: userPosts.postId })
          .from(userPosts)
          .where(and(eq(userPosts.userId, authorId), beforeId ? lt(userPosts.postId, beforeId) : undefined))
          .orderBy(desc(userPosts.postId))
          .limit(limit),
      );
      return rows.map((r) => r.postId);
    },
  };
}

export type PostRepository = ReturnType<typeof createPostRepository>;
