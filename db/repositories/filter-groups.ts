import { and, asc, eq, gt, inArray, isNull, or, type SQL } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { filterGroups, filters } from '../schema.ts';
import type { Shards } from '../shards.ts';
import { MAX_RULE_ROWS } from './social.ts';

export type FilterGroupRow = typeof filterGroups.$inferSelect;

export interface FilterKeywordRow {
  id: string;
  phrase: string;
  wholeWord: boolean;
}

export interface FilterGroup extends FilterGroupRow {
  keywords: FilterKeywordRow[];
}

/** What an update changes: the group's fields, and keywords added, changed or removed (by id). */
export interface FilterGroupChange {
  title?: string;
  context?: string;
  action?: FilterGroupRow['action'];
  /** Undefined: unchanged; null: never expires. */
  expiresAt?: number | null;
  add: FilterKeywordRow[];
  change: Array<{ id: string; phrase?: string; wholeWord?: boolean }>;
  remove: string[];
}

const keywordColumns = {
  id: filters.id,
  phrase: filters.phrase,
  wholeWord: filters.wholeWord,
  groupId: filters.groupId,
};

/**
 * Mastodon's filters (v2) on the owner's shard: a filter_groups row and its keywords, which are `filters` rows
 * (so v1's muted words and Mastodon's keywords are one list, applied by one pipeline stage). Every write is one
 * batch, so a filter and its keywords change together.
 */
export function createFilterGroupRepository(shards: Shards) {
  async function load(userId: string, where?: SQL): Promise<FilterGroup[]> {
    const db = shards.of(userId);
    const [groups, keywords] = await retry(() =>
      db.batch([
        db
          .select()
          .from(filterGroups)
          .where(and(eq(filterGroups.userId, userId), where))
          .orderBy(asc(filterGroups.id))
          .limit(MAX_RULE_ROWS),
        db
          .select(keywordColumns)
          .from(filters)
          .where(
            and(
              eq(filters.userId, userId),
              inArray(
                filters.groupId,
                db
                  .select({ id: filterGroups.id })
                  .from(filterGroups)
                  .where(and(eq(filterGroups.userId, userId), where)),
              ),
            ),
          )
          .orderBy(asc(filters.id))
          .limit(MAX_RULE_ROWS),
      ]),
    );
    const byGroup = Map.groupBy(keywords, (k) => k.groupId);
    return groups.map((g) => ({
      ...g,
      keywords: (byGroup.get(g.id) ?? []).map(({ id, phrase, wholeWord }) => ({ id, phrase, wholeWord })),
    }));
  }

  return {
    list: (userId: string) => load(userId),

    async get(userId: string, id: string): Promise<FilterGroup | undefined> {
      return (await load(userId, eq(filterGroups.id, id)))[0];
    },

    /** Warn filters in force: the ones whose matches are marked (`filtered`) rather than dropped. */
    warnings: (userId: string, now: number) =>
      load(
        userId,
        and(eq(filterGroups.action, 'warn'), or(isNull(filterGroups.expiresAt), gt(filterGroups.expiresAt, now))),
      ),

    async create(group: FilterGroupRow, keywords: readonly FilterKeywordRow[]): Promise<void> {
      const db = shards.of(group.userId);
      await retry(() =>
        db.batch([
          db.insert(filterGroups).values(group),
          ...keywords.map((k) =>
            db.insert(filters).values({
              ...k,
              userId: group.userId,
              groupId: group.id,
              createdAt: group.createdAt,
              expiresAt: group.expiresAt,
            }),
          ),
        ]),
      );
    },

    /** Applies a change to the owner's group; false when there is no such group of theirs. */
    async update(userId: string, id: string, change: FilterGroupChange, at: number): Promise<boolean> {
      const db = shards.of(userId);
      const existing = await this.get(userId, id);
      if (!existing) return false;
      const expiresAt = change.expiresAt === undefined ? existing.expiresAt : change.expiresAt;
      const mine = and(eq(filters.userId, userId), eq(filters.groupId, id));
      await retry(() =>
        db.batch([
          db
            .update(filterGroups)
            .set({
              ...(change.title === undefined ? {} : { title: change.title }),
              ...(change.context === undefined ? {} : { context: change.context }),
              ...(change.action === undefined ? {} : { action: change.action }),
              expiresAt,
            })
            .where(and(eq(filterGroups.userId, userId), eq(filterGroups.id, id))),
          db.update(filters).set({ expiresAt }).where(mine),
          ...change.change.map((k) =>
            db
              .update(filters)
              .set({
                ...(k.phrase === undefined ? {} : { phrase: k.phrase }),
                ...(k.wholeWord === undefined ? {} : { wholeWord: k.wholeWord }),
              })
              .where(and(mine, eq(filters.id, k.id))),
          ),
          ...(change.remove.length > 0
            ? [db.delete(filters).where(and(mine, inArray(filters.id, change.remove)))]
            : []),
          ...change.add.map((k) => db.insert(filters).values({ ...k, userId, groupId: id, createdAt: at, expiresAt })),
        ]),
      );
      return true;
    },

    async remove(userId: string, id: string): Promise<boolean> {
      const db = shards.of(userId);
      const [gone] = await retry(() =>
        db.batch([
          db
            .delete(filterGroups)
            .where(and(eq(filterGroups.userId, userId), eq(filterGroups.id, id)))
            .returning({ id: filterGroups.id }),
          db.delete(filters).where(and(eq(filters.userId, userId), eq(filters.groupId, id))),
        ]),
      );
      return gone.length > 0;
    },

    /** The group a keyword belongs to, if the keyword is the owner's and in a group. */
    async groupOfKeyword(userId: string, keywordId: string): Promise<string | undefined> {
      const [row] = await retry(() =>
        shards
          .of(userId)
          .select({ groupId: filters.groupId })
          .from(filters)
          .where(and(eq(filters.userId, userId), eq(filters.id, keywordId))),
      );
      return row?.groupId ?? undefined;
    },
  };
}

export type FilterGroupRepository = ReturnType<typeof createFilterGroupRepository>;
