import { and, eq, sql } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { postEmbeddings } from '../schema.ts';
import type { Shards } from '../shards.ts';

export interface StoredEmbedding {
  postId: string;
  model: string;
  /** src/vectors.ts encoding. */
  vector: Uint8Array;
  version: number;
  createdAt: number;
}

/** Post vectors, on the post's shard. */
export function createEmbeddingRepository(shards: Shards) {
  return {
    /**
     * Idempotent, and ordered by post version: a redelivered or late message for an older version of the
     * text never overwrites the vector of a newer one.
     */
    async put(row: StoredEmbedding): Promise<void> {
      await retry(() =>
        shards
          .of(row.postId)
          .insert(postEmbeddings)
          .values(row)
          .onConflictDoUpdate({
            target: postEmbeddings.postId,
            set: {
              model: sql`excluded.model`,
              vector: sql`excluded.vector`,
              version: sql`excluded.version`,
              createdAt: sql`excluded.created_at`,
            },
            setWhere: sql`excluded.version >= ${postEmbeddings.version}`,
          }),
      );
    },

    /** Vectors of the given posts made by `model` (others are not comparable), one query per shard. */
    async getMany(postIds: Iterable<string>, model: string): Promise<Map<string, Uint8Array>> {
      const rows = await shards.queryByKeys(postIds, (db, group) =>
        retry(() =>
          db
            .select({ postId: postEmbeddings.postId, vector: postEmbeddings.vector })
            .from(postEmbeddings)
            .where(and(shards.dialect.inList(postEmbeddings.postId, group), eq(postEmbeddings.model, model))),
        ),
      );
      return new Map(rows.map((r) => [r.postId, r.vector]));
    },
  };
}

export type EmbeddingRepository = ReturnType<typeof createEmbeddingRepository>;
