import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { followsByFollowee, followsByFollower, users } from '../schema.ts';
import type { Shards } from '../shards.ts';

/** A keyset position in a list of edges ordered newest first: (created_at, other user's id). */
export interface EdgeKey {
  createdAt: number;
  userId: string;
}

export interface FolloweeChange {
  /** Whether an edge was really added or removed (a repeat changes nothing). */
  changed: boolean;
  followers: number;
}

export interface EdgePage {
  items: EdgeKey[];
  next: EdgeKey | null;
}

/**
 * The follow graph, stored twice: outgoing edges on the follower's shard, incoming on the followee's.
 * Both halves are idempotent (insert-or-ignore, delete), so any half that failed is repaired by replaying
 * the whole operation; the counters move only when a row really appears or disappears (triggers). The follower's
 * half is written by the outbox repository, in one batch with the record of what the follow still has to do.
 */
export function createGraphRepository(shards: Shards) {
  return {
    /**
     * Also reports whether the edge is new and the followee's follower count after the write. `showReposts` is
     * the follower's flag as its own edge has it now (an update, so a changed flag fires no counter trigger).
     */
    async writeFolloweeSide(
      followerId: string,
      followeeId: string,
      createdAt: number,
      showReposts = true,
    ): Promise<FolloweeChange> {
      const db = shards.of(followeeId);
      const edge = and(eq(followsByFollowee.followeeId, followeeId), eq(followsByFollowee.followerId, followerId));
      const [inserted, , count] = await retry(() =>
        db.batch([
          db
            .insert(followsByFollowee)
            .values({ followerId, followeeId, createdAt, showReposts })
            .onConflictDoNothing()
            .returning({ id: followsByFollowee.followerId }),
          db.update(followsByFollowee).set({ showReposts }).where(edge),
          db.select({ n: users.followersCount }).from(users).where(eq(users.id, followeeId)),
        ]),
      );
      return { changed: inserted.length > 0, followers: count[0]?.n ?? 0 };
    },

    async deleteFolloweeSide(followerId: string, followeeId: string): Promise<FolloweeChange> {
      const db = shards.of(followeeId);
      const [deleted, count] = await retry(() =>
        db.batch([
          db
            .delete(followsByFollowee)
            .where(and(eq(followsByFollowee.followeeId, followeeId), eq(followsByFollowee.followerId, followerId)))
            .returning({ id: followsByFollowee.followerId }),
          db.select({ n: users.followersCount }).from(users).where(eq(users.id, followeeId)),
        ]),
      );
      return { changed: deleted.length > 0, followers: count[0]?.n ?? 0 };
    },

    /**
     * Fan-out's view of the audience: follower ids in id order, `limit` at a time, read from the primary key
     * alone. One row more than asked says whether a next page exists, so the last page is known to be last
     * and nobody queues a continuation that would find nothing.
     */
    async followerIds(
      followeeId: string,
      limit: number,
      afterId?: string,
      /** Only followers who see the followee's reposts (a repost's fan-out skips the others). */
      options: { showingReposts?: boolean } = {},
    ): Promise<{ ids: string[]; next: string | null }> {
      const t = followsByFollowee;
      const rows = await retry(() =>
        shards
          .of(followeeId)
          .select({ id: t.followerId })
          .from(t)
          .where(
            and(
              eq(t.followeeId, followeeId),
              afterId ? gt(t.followerId, afterId) : undefined,
              options.showingReposts ? eq(t.showReposts, true) : undefined,
            ),
          )
          .orderBy(asc(t.followerId))
          .limit(limit + 1),
      );
      const ids = rows.slice(0, limit).map((r) => r.id);
      return { ids, next: rows.length > limit ? ids[ids.length - 1]! : null };
    },

    /** Every account a user follows (for timeline regeneration), read in pages from the user's shard. */
    async allFollowing(userId: string): Promise<string[]> {
      const t = followsByFollower;
      const ids: string[] = [];
      for (let after: string | undefined; ;) {
        const rows = await retry(() =>
          shards
            .of(userId)
            .select({ id: t.followeeId })
            .from(t)
            .where(and(eq(t.followerId, userId), after ? gt(t.followeeId, after) : undefined))
            .orderBy(asc(t.followeeId))
            .limit(1000),
        );
        ids.push(...rows.map((r) => r.id));
        if (rows.length < 1000) return ids;
        after = rows[rows.length - 1]!.id;
      }
    },

    /** The follower's side is the source of truth for "does A follow B". */
    async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
      return (await this.edge(followerId, followeeId)) !== undefined;
    },

    /** Whom the user follows with `reposts: false` (few: read whole, by regeneration). */
    async hidingReposts(userId: string): Promise<string[]> {
      const rows = await retry(() =>
        shards
          .of(userId)
          .select({ id: followsByFollower.followeeId })
          .from(followsByFollower)
          .where(and(eq(followsByFollower.followerId, userId), eq(followsByFollower.showReposts, false))),
      );
      return rows.map((r) => r.id);
    },

    /** The follower's edge to the followee, with its flags; undefined when A does not follow B. */
    async edge(
      followerId: string,
      followeeId: string,
    ): Promise<{ createdAt: number; showReposts: boolean } | undefined> {
      return retry(() =>
        shards.of(followerId).query.followsByFollower.findFirst({
          columns: { createdAt: true, showReposts: true },
          where: and(eq(followsByFollower.followerId, followerId), eq(followsByFollower.followeeId, followeeId)),
        }),
      );
    },

    following: (userId: string, limit: number, after?: EdgeKey) => edgePage('following', userId, limit, after),
    followers: (userId: string, limit: number, after?: EdgeKey) => edgePage('followers', userId, limit, after),
  };

  /** A user's edges in one direction, newest first, keyset on (created_at, the other user's id). */
  async function edgePage(direction: keyof typeof EDGE_LISTS, userId: string, limit: number, after?: EdgeKey) {
    const { table, owner, other } = EDGE_LISTS[direction];
    const rows = await retry(() =>
      shards
        .of(userId)
        .select({ createdAt: table.createdAt, userId: other })
        .from(table)
        .where(
          and(
            eq(owner, userId),
            after ? sql`(${table.createdAt}, ${other}) < (${after.createdAt}, ${after.userId})` : undefined,
          ),
        )
        .orderBy(desc(table.createdAt), desc(other))
        .limit(limit + 1),
    );
    const items = rows.slice(0, limit);
    return { items, next: rows.length > limit ? items[items.length - 1]! : null } satisfies EdgePage;
  }
}

/** Each direction is stored on the shard of the user it is listed for (see db/schema.ts). */
const EDGE_LISTS = {
  following: { table: followsByFollower, owner: followsByFollower.followerId, other: followsByFollower.followeeId },
  followers: { table: followsByFollowee, owner: followsByFollowee.followeeId, other: followsByFollowee.followerId },
} as const;

export type GraphRepository = ReturnType<typeof createGraphRepository>;
