import { and, isNull, sql } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import type { PostRecord } from '../../src/model.ts';
import { handles, posts, users } from '../schema.ts';
import type { Shards } from '../shards.ts';

/** The end of a prefix range: every string that starts with `prefix` sorts in [prefix, prefix + U+10FFFF). */
function upper(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}

/**
 * Account search. Handles are placed by handle and users by id, so a prefix can be on any shard: every shard is
 * asked (each answers from an index range, handles' primary key and users_display_name_idx), and the answers merge.
 */
export function createSearchRepository(shards: Shards) {
  return {
    /** User ids whose handle or display name starts with `prefix` (lower case), handle matches first. */
    async accountIds(prefix: string, limit: number): Promise<string[]> {
      const [byHandle, byName] = await Promise.all([
        Promise.all(
          shards.all.map((db) =>
            retry(() =>
              db
                .select({ key: handles.handle, userId: handles.userId })
                .from(handles)
                .where(sql`${handles.handle} >= ${prefix} AND ${handles.handle} < ${upper(prefix)}`)
                .orderBy(handles.handle)
                .limit(limit),
            ),
          ),
        ),
        Promise.all(
          shards.all.map((db) =>
            retry(() =>
              db
                .select({ key: sql<string>`lower(${users.displayName})`, userId: users.id })
                .from(users)
                .where(sql`lower(${users.displayName}) >= ${prefix} AND lower(${users.displayName}) < ${upper(prefix)}`)
                .orderBy(sql`lower(${users.displayName})`)
                .limit(limit),
            ),
          ),
        ),
      ]);
      const order = (rows: Array<{ key: string; userId: string }>) =>
        rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.userId < b.userId ? -1 : 1));
      const ids = new Set<string>();
      for (const row of [...order(byHandle.flat()), ...order(byName.flat())]) {
        if (ids.size >= limit) break;
        ids.add(row.userId);
      }
      return [...ids];
    },

    /**
     * Live posts whose text matches an FTS5 query (src/tags.ts fullTextQuery), newest first: every shard's index
     * (migration 0011, kept in step by triggers) is asked and the answers merge.
     */
    async postsMatching(query: string, limit: number): Promise<PostRecord[]> {
      const parts = await Promise.all(
        shards.all.map((db) =>
          retry(() =>
            db
              .select()
              .from(posts)
              .where(and(shards.dialect.postTextMatches(query, limit), isNull(posts.deletedAt)))
              .orderBy(sql`${posts.id} DESC`)
              .limit(limit),
          ),
        ),
      );
      return parts
        .flat()
        .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, limit);
    },
  };
}
