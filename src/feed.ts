import { isLive, type PostRecord } from './model.ts';
import { feedKey, newestFirst, type TimelineEntry } from './timeline.ts';

/** Stage 1 never hands more than this many candidates to hydration and ranking. */
export const MAX_CANDIDATES = 500;

export interface MergeOptions {
  cap?: number;
  /** Sharers whose reposts the reader hides (follows with `reposts: false`). */
  hiddenReposts?: ReadonlySet<string>;
}

/**
 * Candidate stage: merges the sources (pushed entries, pulled authors' recent posts and reposts, the reader's own),
 * keeps feed keys (src/timeline.ts) strictly below the cursor, newest first, at most `cap`, and a post at most once:
 * the entry with the smallest feed key wins, which is the post itself over any repost of it, else the first repost
 * (Mastodon's reblog fall-off). The smallest, because it is the choice keyset paging keeps: a later page, below a
 * cursor, still has that entry while the newer ones fall above the cursor.
 */
export function mergeCandidates(
  sources: readonly (readonly TimelineEntry[])[],
  beforeId: string | undefined,
  options: MergeOptions = {},
): TimelineEntry[] {
  const { cap = MAX_CANDIDATES, hiddenReposts } = options;
  const byId = new Map<string, TimelineEntry>();
  for (const source of sources) {
    for (const entry of source) {
      if (entry.repost && hiddenReposts?.has(entry.repost.by)) continue;
      const key = feedKey(entry);
      if (beforeId !== undefined && key >= beforeId) continue;
      const kept = byId.get(entry.postId);
      if (!kept || key < feedKey(kept)) byId.set(entry.postId, entry);
    }
  }
  return [...byId.values()].sort(newestFirst).slice(0, cap);
}

/** A candidate that survived the rules, with its post. */
export interface FeedItem {
  entry: TimelineEntry;
  post: PostRecord;
}

/**
 * Rules stage: a candidate survives if its post exists and is not a tombstone. Unfollowed authors never
 * reach this stage: the timeline refuses and removes their entries, and pulls only followed authors.
 */
export function applyRules(candidates: readonly TimelineEntry[], posts: ReadonlyMap<string, PostRecord>): FeedItem[] {
  const kept: FeedItem[] = [];
  for (const entry of candidates) {
    const post = posts.get(entry.postId);
    if (isLive(post)) kept.push({ entry, post });
  }
  return kept;
}

/** `reason` of a feed item (DESIGN.md, "Reposts"): why it is there, when it is a repost. */
export function reasonOf(entry: {
  repost?: { by: string; at: number };
}): { kind: 'repost'; by: string; at: string } | undefined {
  return entry.repost
    ? { kind: 'repost', by: entry.repost.by, at: new Date(entry.repost.at).toISOString() }
    : undefined;
}

/**
 * A 53-bit digest of a string (cyrb53), as 14 hex digits: enough to tell a snapshot's order or inputs from
 * another's, not a security measure.
 */
export function digestOf(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}
