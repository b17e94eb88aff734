import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { media } from '../schema.ts';
import type { Shards } from '../shards.ts';

export type MediaRecord = typeof media.$inferSelect;

/** Upload metadata, placed by media id; the bytes are in R2 (workers/media.ts). */
export function createMediaRepository(shards: Shards) {
  return {
    async create(record: Omit<MediaRecord, 'postId' | 'deletedAt'>): Promise<void> {
      await retry(() => shards.of(record.id).insert(media).values(record).onConflictDoNothing());
    },

    async get(id: string): Promise<MediaRecord | undefined> {
      return retry(() => shards.of(id).query.media.findFirst({ where: eq(media.id, id) }));
    },

    async getMany(ids: readonly string[]): Promise<Map<string, MediaRecord>> {
      const rows = await shards.queryByKeys(ids, (db, group) =>
        retry(() => db.select().from(media).where(shards.dialect.inList(media.id, group))),
      );
      return new Map(rows.map((r) => [r.id, r]));
    },

    /** Sets an upload's description while it is the owner's, not deleted and not yet in a post; whether it did. */
    async describe(id: string, ownerId: string, alt: string | null): Promise<boolean> {
      const rows = await retry(() =>
        shards
          .of(id)
          .update(media)
          .set({ alt })
          .where(and(eq(media.id, id), eq(media.ownerId, ownerId), isNull(media.postId), isNull(media.deletedAt)))
          .returning({ id: media.id }),
      );
      return rows.length > 0;
    },

    /**
     * Attaches the owner's uploads to a post; idempotent (already attached to this post counts). Returns the ids
     * attached; an upload of someone else, deleted, or attached to another post is not among them.
     */
    async attach(ids: readonly string[], ownerId: string, postId: string): Promise<Set<string>> {
      const rows = await shards.queryByKeys(ids, (db, group) =>
        retry(() =>
          db
            .update(media)
            .set({ postId })
            .where(
              and(
                shards.dialect.inList(media.id, group),
                eq(media.ownerId, ownerId),
                isNull(media.deletedAt),
                or(isNull(media.postId), eq(media.postId, postId)),
              ),
            )
            .returning({ id: media.id }),
        ),
      );
      return new Set(rows.map((r) => r.id));
    },

    /** Undoes `attach` for a post that was not written after all. */
    async release(ids: readonly string[], postId: string): Promise<void> {
      if (ids.length === 0) return;
      await shards.queryByKeys(ids, (db, group) =>
        retry(() =>
          db
            .update(media)
            .set({ postId: null })
            .where(and(shards.dialect.inList(media.id, group), eq(media.postId, postId)))
            .returning({ id: media.id }),
        ),
      );
    },

    /** The post is deleted: its uploads become unreachable. Idempotent. */
    async markDeleted(ids: readonly string[], at: number): Promise<void> {
      await shards.queryByKeys(ids, (db, group) =>
        retry(() =>
          db
            .update(media)
            .set({ deletedAt: sql`coalesce(${media.deletedAt}, ${at})` })
            .where(shards.dialect.inList(media.id, group))
            .returning({ id: media.id }),
        ),
      );
    },
  };
}

export type MediaRepository = ReturnType<typeof createMediaRepository>;
