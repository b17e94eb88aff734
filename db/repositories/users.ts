import { and, asc, eq, gt, gte, isNull, lt, sql } from 'drizzle-orm';
import { ConflictError, UnavailableError } from '../../src/errors.ts';
import { retry } from '../../src/retry.ts';
import { handles, users } from '../schema.ts';
import { jsonList, type Shards } from '../shards.ts';

export type UserRow = typeof users.$inferSelect;

export interface NewUser {
  id: string;
  handle: string;
  displayName: string;
  createdAt: number;
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
          .values({ handle: user.handle, userId: user.id, createdAt: user.createdAt })
          .onConflictDoNothing()
          .returning({ userId: handles.userId }),
      );
      if (claimed.length === 0) throw new ConflictError(`handle "${user.handle}" is taken`);
      try {
        await retry(() => shards.of(user.id).insert(users).values(user).onConflictDoNothing());
      } catch (error) {
        await shards
          .of(user.handle)
          .delete(handles)
          .where(and(eq(handles.handle, user.handle), eq(handles.userId, user.id)));
        throw new UnavailableError(`could not create the user, try again (${String(error)})`);
      }
      return {
        ...user,
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
        retry(() =>
          db
            .select()
            .from(users)
            .where(sql`${users.id} IN (SELECT value FROM json_each(${jsonList(group)}))`),
        ),
      );
      return new Map(rows.map((row) => [row.id, row]));
    },

    /** Marks the user active now; also clears the dropped-timeline flag, as reading regenerates it. */
    async recordActivity(id: string, at: number): Promise<void> {
      await retry(() =>
        shards.of(id).update(users).set({ lastActiveAt: at, timelineDroppedAt: null }).where(eq(users.id, id)),
      );
    },

    /** Users on one shard idle since before `cutoff` whose timelines are still kept. */
    async idleWithTimelines(shard: number, cutoff: number, limit: number): Promise<string[]> {
      const rows = await retry(() =>
        shards.all[shard]!.select({ id: users.id })
          .from(users)
          .where(
            and(isNull(users.timelineDroppedAt), lt(sql`coalesce(${users.lastActiveAt}, ${users.createdAt})`, cutoff)),
          )
          .limit(limit),
      );
      return rows.map((r) => r.id);
    },

    /** Users on one shard active since `since` (with kept timelines), by id after `afterId`. */
    async activeSince(shard: number, since: number, limit: number, afterId?: string): Promise<string[]> {
      const rows = await retry(() =>
        shards.all[shard]!.select({ id: users.id })
          .from(users)
          .where(
            and(
              isNull(users.timelineDroppedAt),
              gte(sql`coalesce(${users.lastActiveAt}, ${users.createdAt})`, since),
              afterId ? gt(users.id, afterId) : undefined,
            ),
          )
          .orderBy(asc(users.id))
          .limit(limit),
      );
      return rows.map((r) => r.id);
    },

    async markTimelineDropped(id: string, at: number): Promise<void> {
      await retry(() => shards.of(id).update(users).set({ timelineDroppedAt: at }).where(eq(users.id, id)));
    },

    async idForHandle(handle: string): Promise<string | undefined> {
      const row = await retry(() => shards.of(handle).query.handles.findFirst({ where: eq(handles.handle, handle) }));
      return row?.userId;
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
