import { and, desc, eq, sql } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { followsByFollowee, followsByFollower } from '../schema.ts';
import type { Shards } from '../shards.ts';

/** A keyset position in a list of edges ordered newest first: (created_at, other user's id). */
export interface EdgeKey {
  createdAt: number;
  userId: string;
}

export interface EdgePage {
  items: EdgeKey[];
  next: EdgeKey | null;
}

/**
 * The follow graph, stored twice: outgoing edges on the follower's shard, incoming on the followee's.
 * Both halves are idempotent (insert-or-ignore, delete), so any half that failed is repaired by replaying
 * the whole operation; the counters move only when a row really appears or disappears (triggers).
 */
export function createGraphRepository(shards: Shards) {
  return {
    async writeFollowerSide(followerId: string, followeeId: string, createdAt: number): Promise<void> {
      await retry(() =>
        shards
          .of(followerId)
          .insert(followsByFollower)
          .values({ followerId, followeeId, createdAt })
          .onConflictDoNothing(),
      );
    },

    async writeFolloweeSide(followerId: string, followeeId: string, createdAt: number): Promise<void> {
      await retry(() =>
        shards
          .of(followeeId)
          .insert(followsByFollowee)
          .values({ followerId, followeeId, createdAt })
          .onConflictDoNothing(),
      );
    },

    async deleteFollowerSide(followerId: string, followeeId: string): Promise<void> {
      await retry(() =>
        shards
          .of(followerId)
          .delete(followsByFollower)
          .where(and(eq(followsByFollower.followerId, followerId), eq(followsByFollower.followeeId, followeeId))),
      );
    },

    async deleteFolloweeSide(followerId: string, followeeId: string): Promise<void> {
      await retry(() =>
        shards
          .of(followeeId)
          .delete(followsByFollowee)
          .where(and(eq(followsByFollowee.followeeId, followeeId), eq(followsByFollowee.followerId, followerId))),
      );
    },

    /** The follower's side is the source of truth for "does A follow B". */
    async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
      const row = await retry(() =>
        shards.of(followerId).query.followsByFollower.findFirst({
          columns: { createdAt: true },
          where: and(eq(followsByFollower.followerId, followerId), eq(followsByFollower.followeeId, followeeId)),
        }),
      );
      return row !== undefined;
    },

    async following(userId: string, limit: number, after?: EdgeKey): Promise<EdgePage> {
      const t = followsByFollower;
      const rows = await retry(() =>
        shards
          .of(userId)
          .select({ createdAt: t.createdAt, userId: t.followeeId })
          .from(t)
          .where(
            and(
              eq(t.followerId, userId),
              after ? sql`(${t.createdAt}, ${t.followeeId}) < (${after.createdAt}, ${after.userId})` : undefined,
            ),
          )
          .orderBy(desc(t.createdAt), desc(t.followeeId))
          .limit(limit + 1),
      );
      return page(rows, limit);
    },

    async followers(userId: string, limit: number, after?: EdgeKey): Promise<EdgePage> {
      const t = followsByFollowee;
      const rows = await retry(() =>
        shards
          .of(userId)
          .select({ createdAt: t.createdAt, userId: t.followerId })
          .from(t)
          .where(
            and(
              eq(t.followeeId, userId),
              after ? sql`(${t.createdAt}, ${t.followerId}) < (${after.createdAt}, ${after.userId})` : undefined,
            ),
          )
          .orderBy(desc(t.createdAt), desc(t.followerId))
          .limit(limit + 1),
      );
      return page(rows, limit);
    },
  };
}

function page(rows: EdgeKey[], limit: number): EdgePage {
  const items = rows.slice(0, limit);
  return { items, next: rows.length > limit ? items[items.length - 1]! : null };
}

export type GraphRepository = ReturnType<typeof createGraphRepository>;
