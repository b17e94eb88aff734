import { DWELL_SIGNAL_FULL_MS, type Exposure } from './ranking.ts';

/**
 * The reader's served/seen memory (X's previously-served and previously-seen filters, Twitter's seen-tweets
 * store), kept in the reader's UserTimeline as one small row per post: how often it was served in a ranked page
 * and viewed, how long it was read, whether the reader engaged with it or asked for less. Bounded by count and
 * age, so it stays compact: SEEN_CAP rows of a few dozen bytes, none older than SEEN_TTL_MS.
 */

export const SEEN_CAP = 2_000;
export const SEEN_TTL_MS = 7 * 86_400_000;
/** A page served again this soon (a refresh, a retry) is the same impression, not another one. */
export const SERVED_DEDUPE_MS = 30_000;

export interface SeenRow {
  postId: string;
  authorId: string;
  /** Space-separated (src/ranking.ts `categoriesOf`). */
  categories: string;
  served: number;
  viewed: number;
  dwellMs: number;
  engaged: boolean;
  /** -1 after "show less", 1 after "show more", else 0. */
  feedback: number;
}

/** What ranking needs of one post the reader was shown. */
export interface SeenPost {
  /** Times shown: a served page and the view event it causes are one impression, so the larger of the two. */
  impressions: number;
  engaged: boolean;
  less: boolean;
}

export interface SeenSummary {
  posts: Record<string, SeenPost>;
  byAuthor: Record<string, Exposure>;
  byCategory: Record<string, Exposure>;
  overall: Exposure;
}

function add(totals: Record<string, Exposure>, key: string, row: SeenRow): void {
  const e = (totals[key] ??= { seen: 0, engaged: 0, dwellMs: 0 });
  e.seen += 1;
  e.engaged += row.engaged ? 1 : 0;
  e.dwellMs += Math.min(row.dwellMs, DWELL_SIGNAL_FULL_MS);
}

/** Per post, per author and per category, from the rows (each row counts once: a post shown is one exposure). */
export function summarizeSeen(rows: readonly SeenRow[]): SeenSummary {
  const summary: SeenSummary = {
    posts: {},
    byAuthor: {},
    byCategory: {},
    overall: { seen: 0, engaged: 0, dwellMs: 0 },
  };
  for (const row of rows) {
    const impressions = Math.max(row.served, row.viewed);
    summary.posts[row.postId] = { impressions, engaged: row.engaged, less: row.feedback < 0 };
    // A post engaged with but never logged as shown (liked from a profile) still says something about its author.
    if (impressions === 0 && !row.engaged) continue;
    add(summary.byAuthor, row.authorId, row);
    add({ all: summary.overall }, 'all', row);
    for (const category of row.categories.split(' ')) if (category) add(summary.byCategory, category, row);
  }
  return summary;
}
