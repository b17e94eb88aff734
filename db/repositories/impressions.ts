import { lt } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { impressions } from '../schema.ts';
import type { Shards } from '../shards.ts';

export interface Impression {
  userId: string;
  postId: string;
  servedAt: number;
  position: number;
  signals: Record<string, number>;
  arm: string;
}

// D1 binds at most 100 parameters per statement; an impression binds 6.
const ROWS_PER_INSERT = 16;

/** Sampled ranked impressions, on the reader's shard next to their interaction log. */
export function createImpressionRepository(shards: Shards) {
  return {
    /** One reader's page: one shard, one batch. Idempotent by (user, time, post). */
    async record(rows: readonly Impression[]): Promise<void> {
      if (rows.length === 0) return;
      const db = shards.of(rows[0]!.userId);
      const inserts = Array.from({ length: Math.ceil(rows.length / ROWS_PER_INSERT) }, (_, i) =>
        db
          .insert(impressions)
          .values(rows.slice(i * ROWS_PER_INSERT, (i + 1) * ROWS_PER_INSERT))
          .onConflictDoNothing(),
      );
      await retry(() => db.batch(inserts as [(typeof inserts)[number], ...typeof inserts]));
    },

    /** Drops what the refit no longer looks at, on every shard. */
    async pruneBefore(cutoff: number): Promise<void> {
      await Promise.all(
        shards.all.map((db) => retry(() => db.delete(impressions).where(lt(impressions.servedAt, cutoff)))),
      );
    },
  };
}
