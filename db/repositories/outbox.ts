import { and, asc, count, desc, eq, isNull, lt, lte, sql } from 'drizzle-orm';
import type { PostRecord } from '../../src/model.ts';
import { retry } from '../../src/retry.ts';
import { shardOf } from '../../src/sharding.ts';
import {
  deadLetters,
  followOutbox,
  followsByFollower,
  idempotencyKeys,
  postOutbox,
  posts,
  userPosts,
} from '../schema.ts';
import type { Shards } from '../shards.ts';
import type { NewPost } from './posts.ts';

export class ColocationError extends Error {
  override name = 'ColocationError';
}

export interface PostOutboxRow {
  postId: string;
  authorId: string;
  createdAt: number;
  attempts: number;
}

export interface FollowIntent {
  followerId: string;
  followeeId: string;
  following: boolean;
  at: number;
  attempts: number;
}

export type DeadLetter = typeof deadLetters.$inferSelect;

/** The first post of an Idempotency-Key and the digest of the request that made it. */
export interface IdempotentPost {
  postId: string;
  requestHash: string;
}

/**
 * The records of work still owed (outboxes), idempotency keys and dead letters. Every write that creates a record
 * is in the same D1 batch (one transaction) as the change it belongs to; clearing a record is idempotent.
 */
function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    // SQLite's message (D1), then Postgres's.
    if (/UNIQUE constraint failed|duplicate key value violates unique constraint/i.test(e.message)) return true;
  }
  return false;
}

export function createOutboxRepository(shards: Shards) {
  const shardIndex = (key: string) => shardOf(shards.map, key);

  return {
    /**
     * The post, its author-index entry, its outbox record and its idempotency key, in one transaction on the
     * author's shard (the post id is minted there: src/outbox.ts). With a key that is already taken the whole
     * batch fails (plain INSERT) and nothing is written: the caller then returns the first post.
     */
    async createPost(
      post: NewPost,
      dueAt: number,
      idempotency?: { key: string; requestHash: string },
    ): Promise<{ kind: 'created'; post: PostRecord } | { kind: 'key_taken' }> {
      if (shardIndex(post.id) !== shardIndex(post.authorId)) {
        throw new ColocationError(`post ${post.id} is not on its author's shard`);
      }
      const db = shards.of(post.authorId);
      const write = () =>
        db.batch([
          db.insert(posts).values(post).onConflictDoNothing().returning(),
          db
            .insert(userPosts)
            .values({ userId: post.authorId, postId: post.id, createdAt: post.createdAt })
            .onConflictDoNothing(),
          db
            .insert(postOutbox)
            .values({ postId: post.id, authorId: post.authorId, createdAt: post.createdAt, dueAt })
            .onConflictDoNothing(),
          ...(idempotency
            ? [
                db.insert(idempotencyKeys).values({
                  userId: post.authorId,
                  key: idempotency.key,
                  postId: post.id,
                  requestHash: idempotency.requestHash,
                  createdAt: post.createdAt,
                }),
              ]
            : []),
        ]);
      let inserted: PostRecord[];
      try {
        [inserted] = await retry(write);
      } catch (error) {
        // Also what a retry finds after a lost reply: its own key, written by the first attempt.
        if (idempotency && isUniqueViolation(error)) return { kind: 'key_taken' };
        throw error;
      }
      // Empty after a lost reply retried without a key: the first attempt wrote the row.
      const row = inserted[0] ?? (await retry(() => db.query.posts.findFirst({ where: eq(posts.id, post.id) })));
      if (!row) throw new Error(`post ${post.id} vanished after its write`);
      return { kind: 'created', post: row };
    },

    async findIdempotent(userId: string, key: string): Promise<IdempotentPost | undefined> {
      return retry(() =>
        shards.of(userId).query.idempotencyKeys.findFirst({
          columns: { postId: true, requestHash: true },
          where: and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)),
        }),
      );
    },

    async pruneIdempotency(before: number): Promise<void> {
      await Promise.all(
        shards.all.map((db) => retry(() => db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, before)))),
      );
    },

    /** Fan-out is under way (its messages are queued or delivered): the post no longer needs the drainer. */
    async clearPost(authorId: string, postId: string): Promise<void> {
      await retry(() => shards.of(authorId).delete(postOutbox).where(eq(postOutbox.postId, postId)));
    },

    async duePosts(shard: number, now: number, limit: number): Promise<PostOutboxRow[]> {
      const db = shards.all[shard];
      if (!db) return [];
      return retry(() =>
        db
          .select({
            postId: postOutbox.postId,
            authorId: postOutbox.authorId,
            createdAt: postOutbox.createdAt,
            attempts: postOutbox.attempts,
          })
          .from(postOutbox)
          .where(lte(postOutbox.dueAt, now))
          .orderBy(asc(postOutbox.dueAt))
          .limit(limit),
      );
    },

    async postResent(authorId: string, postId: string, dueAt: number): Promise<void> {
      await retry(() =>
        shards
          .of(authorId)
          .update(postOutbox)
          .set({ attempts: sql`${postOutbox.attempts} + 1`, dueAt })
          .where(eq(postOutbox.postId, postId)),
      );
    },

    /**
     * The follower's edge (the source of truth) and what is still to do about it, in one transaction on the
     * follower's shard. A newer intent replaces an older one for the same pair. `showReposts` sets the follow's
     * reposts flag; left out, a new follow shows reposts and an existing one keeps its flag.
     */
    async recordFollow(
      followerId: string,
      followeeId: string,
      following: boolean,
      at: number,
      dueAt: number,
      showReposts?: boolean,
    ) {
      const db = shards.of(followerId);
      const pair = and(eq(followsByFollower.followerId, followerId), eq(followsByFollower.followeeId, followeeId));
      const edge = following
        ? [
            db
              .insert(followsByFollower)
              .values({ followerId, followeeId, createdAt: at, showReposts: showReposts ?? true })
              .onConflictDoNothing(),
            // An update fires no counter trigger, so changing the flag of an existing follow counts nothing.
            ...(showReposts === undefined ? [] : [db.update(followsByFollower).set({ showReposts }).where(pair)]),
          ]
        : [db.delete(followsByFollower).where(pair)];
      const record = db
        .insert(followOutbox)
        .values({ followerId, followeeId, following, at, dueAt })
        .onConflictDoUpdate({
          target: [followOutbox.followerId, followOutbox.followeeId],
          set: { following, at: shards.dialect.greatest(followOutbox.at, at), attempts: 0, dueAt },
        });
      await retry(() => db.batch([record, ...edge]));
    },

    /** Done up to `at`: an intent recorded later (a newer follow or unfollow) stays. */
    async clearFollow(followerId: string, followeeId: string, at: number): Promise<void> {
      await retry(() =>
        shards
          .of(followerId)
          .delete(followOutbox)
          .where(
            and(
              eq(followOutbox.followerId, followerId),
              eq(followOutbox.followeeId, followeeId),
              lte(followOutbox.at, at),
            ),
          ),
      );
    },

    async dueFollows(shard: number, now: number, limit: number): Promise<FollowIntent[]> {
      const db = shards.all[shard];
      if (!db) return [];
      return retry(() =>
        db
          .select({
            followerId: followOutbox.followerId,
            followeeId: followOutbox.followeeId,
            following: followOutbox.following,
            at: followOutbox.at,
            attempts: followOutbox.attempts,
          })
          .from(followOutbox)
          .where(lte(followOutbox.dueAt, now))
          .orderBy(asc(followOutbox.dueAt))
          .limit(limit),
      );
    },

    async followRetried(followerId: string, followeeId: string, dueAt: number): Promise<void> {
      await retry(() =>
        shards
          .of(followerId)
          .update(followOutbox)
          .set({ attempts: sql`${followOutbox.attempts} + 1`, dueAt })
          .where(and(eq(followOutbox.followerId, followerId), eq(followOutbox.followeeId, followeeId))),
      );
    },

    /** Records still owed, per kind, over every shard (admin health). */
    async pendingCounts(): Promise<{ posts: number; follows: number; deadLetters: number }> {
      const per = await Promise.all(
        shards.all.map(async (db) => {
          const [p, f, d] = await retry(() =>
            db.batch([
              db.select({ n: count() }).from(postOutbox),
              db.select({ n: count() }).from(followOutbox),
              db.select({ n: count() }).from(deadLetters).where(isNull(deadLetters.replayedAt)),
            ]),
          );
          return { posts: p[0]?.n ?? 0, follows: f[0]?.n ?? 0, deadLetters: d[0]?.n ?? 0 };
        }),
      );
      return per.reduce(
        (a, b) => ({
          posts: a.posts + b.posts,
          follows: a.follows + b.follows,
          deadLetters: a.deadLetters + b.deadLetters,
        }),
        { posts: 0, follows: 0, deadLetters: 0 },
      );
    },

    /**
     * A message's last failed attempt (the consumer knows the error) or its arrival on the dead-letter queue (which
     * does not): either may come first, and the row keeps the error and the highest attempt count it has seen.
     */
    async recordDeadLetter(letter: {
      id: string;
      kind: string;
      payload: string;
      lastError: string | null;
      attempts: number;
      at: number;
      dead: boolean;
    }): Promise<void> {
      await retry(() =>
        shards
          .of(letter.id)
          .insert(deadLetters)
          .values({
            id: letter.id,
            kind: letter.kind,
            payload: letter.payload,
            lastError: letter.lastError,
            attempts: letter.attempts,
            failedAt: letter.at,
            deadAt: letter.dead ? letter.at : null,
          })
          .onConflictDoUpdate({
            target: deadLetters.id,
            set: {
              lastError: sql`coalesce(excluded.last_error, ${deadLetters.lastError})`,
              attempts: shards.dialect.greatest(sql`excluded.attempts`, deadLetters.attempts),
              failedAt: shards.dialect.greatest(sql`excluded.failed_at`, deadLetters.failedAt),
              deadAt: letter.dead ? sql`coalesce(${deadLetters.deadAt}, excluded.dead_at)` : sql`${deadLetters.deadAt}`,
              // The same message dead again after a replay is pending again.
              replayedAt: letter.dead ? null : sql`${deadLetters.replayedAt}`,
            },
          }),
      );
    },

    /** Dead letters, newest first, over every shard; by default only those not yet replayed. */
    async listDeadLetters(limit: number, includeReplayed = false): Promise<DeadLetter[]> {
      const per = await Promise.all(
        shards.all.map((db) =>
          retry(() =>
            db
              .select()
              .from(deadLetters)
              .where(includeReplayed ? undefined : isNull(deadLetters.replayedAt))
              .orderBy(desc(deadLetters.failedAt))
              .limit(limit),
          ),
        ),
      );
      return per
        .flat()
        .sort((a, b) => b.failedAt - a.failedAt)
        .slice(0, limit);
    },

    async getDeadLetter(id: string): Promise<DeadLetter | undefined> {
      return retry(() => shards.of(id).query.deadLetters.findFirst({ where: eq(deadLetters.id, id) }));
    },

    async markReplayed(id: string, at: number): Promise<void> {
      await retry(() => shards.of(id).update(deadLetters).set({ replayedAt: at }).where(eq(deadLetters.id, id)));
    },
  };
}

export type OutboxRepository = ReturnType<typeof createOutboxRepository>;
