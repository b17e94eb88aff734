import { and, asc, eq, gt, gte, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { ConflictError, UnavailableError } from '../../src/errors.ts';
import { retry } from '../../src/retry.ts';
import { handles, users } from '../schema.ts';
import type { Shards } from '../shards.ts';

export type UserRow = typeof users.$inferSelect;

export interface NewUser {
  id: string;
  handle: string;
  displayName: string;
  createdAt: number;
  /** src/password.ts's encoding; absent for an account without a password. */
  passwordHash?: string;
}

export function createUserRepository(shards: Shards) {
  return {
    /**
     * Claims the handle on its shard (the uniqueness check), then writes the user on theirs. If the second
     * write fails the claim is released, so a failed signup can be retried with the same handle.
     */
    async create(user: NewUser): Promise<UserRow> {
      const claimed = await retry(() =>
        shards
          .of(user.handle)
          .insert(handles)
          .values({
            handle: user.handle,
            userId: user.id,
            createdAt: user.createdAt,
            passwordHash: user.passwordHash ?? null,
          })
          .onConflictDoNothing()
          .returning({ userId: handles.userId }),
      );
      if (claimed.length === 0) throw new ConflictError(`handle "${user.handle}" is taken`);
      try {
        const { passwordHash: _secret, ...row } = user;
        await retry(() => shards.of(user.id).insert(users).values(row).onConflictDoNothing());
      } catch (error) {
        await shards
          .of(user.handle)
          .delete(handles)
          .where(and(eq(handles.handle, user.handle), eq(handles.userId, user.id)));
        throw new UnavailableError(`could not create the user, try again (${String(error)})`);
      }
      return {
        id: user.id,
        handle: user.handle,
        displayName: user.displayName,
        createdAt: user.createdAt,
        followersCount: 0,
        followingCount: 0,
        postsCount: 0,
        lastActiveAt: null,
        timelineDroppedAt: null,
      };
    },

    async get(id: string): Promise<UserRow | undefined> {
      return retry(() => shards.of(id).query.users.findFirst({ where: eq(users.id, id) }));
    },

    async getMany(ids: readonly string[]): Promise<Map<string, UserRow>> {
      const rows = await shards.queryByKeys(ids, (db, group) =>
        retry(() => db.select().from(users).where(shards.dialect.inList(users.id, group))),
      );
      return new Map(rows.map((row) => [row.id, row]));
    },

    /** A new display name (the Mastodon API's update_credentials); the updated row, or undefined for no user. */
    async rename(id: string, displayName: string): Promise<UserRow | undefined> {
      const [row] = await retry(() =>
        shards.of(id).update(users).set({ displayName }).where(eq(users.id, id)).returning(),
      );
      return row;
    },

    /** Marks the user active now; also clears the dropped-timeline flag, as reading regenerates it. */
    async recordActivity(id: string, at: number): Promise<void> {
      await retry(() =>
        shards.of(id).update(users).set({ lastActiveAt: at, timelineDroppedAt: null }).where(eq(users.id, id)),
      );
    },

    /**
     * Users idle since before `cutoff` whose timelines are still kept, in batches of up to `batch` ids, shard
     * after shard, `max` in all. Ids are read by keyset, so a caller that drops timelines as it goes is safe.
     */
    idleWithTimelines(cutoff: number, batch: number, max: number): AsyncGenerator<string[]> {
      const lastActive = sql`coalesce(${users.lastActiveAt}, ${users.createdAt})`;
      return eachUserBatch(shards, batch, max, and(isNull(users.timelineDroppedAt), lt(lastActive, cutoff)));
    },

    /** Users active since `since` whose timelines are kept, in batches, shard after shard, `max` in all. */
    activeSince(since: number, batch: number, max: number): AsyncGenerator<string[]> {
      const lastActive = sql`coalesce(${users.lastActiveAt}, ${users.createdAt})`;
      return eachUserBatch(shards, batch, max, and(isNull(users.timelineDroppedAt), gte(lastActive, since)));
    },

    /** What a login checks: the handle's user and password hash (null: the account has no password). */
    async credentials(handle: string): Promise<{ userId: string; passwordHash: string | null } | undefined> {
      const row = await retry(() => shards.of(handle).query.handles.findFirst({ where: eq(handles.handle, handle) }));
      return row && { userId: row.userId, passwordHash: row.passwordHash };
    },

    async markTimelineDropped(id: string, at: number): Promise<void> {
      await retry(() => shards.of(id).update(users).set({ timelineDroppedAt: at }).where(eq(users.id, id)));
    },
  };
}

/** User ids matching `where`, by id, on every shard in turn. */
async function* eachUserBatch(shards: Shards, batch: number, max: number, where: SQL | undefined) {
  let left = max;
  for (const db of shards.all) {
    let after: string | undefined;
    while (left > 0) {
      const rows = await retry(() =>
        db
          .select({ id: users.id })
          .from(users)
          .where(and(where, after === undefined ? undefined : gt(users.id, after)))
          .orderBy(asc(users.id))
          .limit(Math.min(batch, left)),
      );
      if (rows.length === 0) break;
      const ids = rows.map((r) => r.id);
      left -= ids.length;
      yield ids;
      if (ids.length < batch) break;
      after = ids[ids.length - 1];
    }
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>;
