import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { tagPosts } from '../schema.ts';
import type { Shards } from '../shards.ts';

export interface TagEntry {
  postId: string;
  authorId: string;
  createdAt: number;
}

/** What the index needs of a post. */
export interface TaggedPost {
  id: string;
  authorId: string;
  createdAt: number;
  hashtags: readonly string[];
}

/**
 * The hashtag index, placed by tag (db/shards.ts: one tag's rows are all on one shard, so a tag page is one
 * keyset query on one shard). Writes are idempotent (insert-or-ignore, delete), so repeating them is harmless.
 */
export function createTagRepository(shards: Shards) {
  /** One batch per shard that holds any of the tags. */
  const perShard = async (
    tags: readonly string[],
    write: (db: ReturnType<Shards['of']>, tags: string[]) => Promise<unknown>,
  ) => {
    await Promise.all(shards.group(new Set(tags)).map(([db, group]) => retry(() => write(db, group))));
  };

  return {
    async add(post: TaggedPost, tags: readonly string[] = post.hashtags): Promise<void> {
      if (tags.length === 0) return;
      await perShard(tags, (db, group) =>
        db
          .insert(tagPosts)
          .values(group.map((tag) => ({ tag, postId: post.id, authorId: post.authorId, createdAt: post.createdAt })))
          .onConflictDoNothing(),
      );
    },

    async remove(postId: string, tags: readonly string[]): Promise<void> {
      if (tags.length === 0) return;
      await perShard(tags, (db, group) =>
        db.delete(tagPosts).where(and(eq(tagPosts.postId, postId), shards.dialect.inList(tagPosts.tag, group))),
      );
    },

    /** A tag's posts, newest first by post id, below `beforeId`. */
    async page(tag: string, limit: number, beforeId?: string): Promise<TagEntry[]> {
      return retry(() =>
        shards
          .of(tag)
          .select({ postId: tagPosts.postId, authorId: tagPosts.authorId, createdAt: tagPosts.createdAt })
          .from(tagPosts)
          .where(and(eq(tagPosts.tag, tag), beforeId ? lt(tagPosts.postId, beforeId) : undefined))
          .orderBy(desc(tagPosts.postId))
          .limit(limit),
      );
    },

    /** Tags starting with `prefix`, most used first (every shard is asked: tags are spread by their hash). */
    async byPrefix(prefix: string, limit: number): Promise<Array<{ tag: string; uses: number }>> {
      const parts = await Promise.all(
        shards.all.map((db) =>
          retry(() =>
            db
              .select({ tag: tagPosts.tag, uses: sql<number>`count(*)` })
              .from(tagPosts)
              .where(sql`${tagPosts.tag} >= ${prefix} AND ${tagPosts.tag} < ${prefix + '\u{10FFFF}'}`)
              .groupBy(tagPosts.tag)
              .orderBy(sql`count(*) DESC`, tagPosts.tag)
              .limit(limit),
          ),
        ),
      );
      return parts
        .flat()
        .sort((a, b) => b.uses - a.uses || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
        .slice(0, limit);
    },
  };
}

export type TagRepository = ReturnType<typeof createTagRepository>;
