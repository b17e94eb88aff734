import { isLive, type PostRecord } from './model.ts';
import type { TimelineEntry } from './timeline.ts';

/** Stage 1 never hands more than this many candidates to hydration and ranking. */
export const MAX_CANDIDATES = 500;

/**
 * Candidate stage: merges the sources (pushed entries, pulled authors' recent posts, the reader's own),
 * keeps ids strictly below the cursor, dedupes by post id, newest first, at most `cap`.
 */
export function mergeCandidates(
  sources: readonly (readonly TimelineEntry[])[],
  beforeId: string | undefined,
  cap: number = MAX_CANDIDATES,
): TimelineEntry[] {
  const byId = new Map<string, TimelineEntry>();
  for (const source of sources) {
    for (const entry of source) {
      if (beforeId !== undefined && entry.postId >= beforeId) continue;
      if (!byId.has(entry.postId)) byId.set(entry.postId, entry);
    }
  }
  return [...byId.values()].sort((a, b) => (a.postId < b.postId ? 1 : a.postId > b.postId ? -1 : 0)).slice(0, cap);
}

/**
 * Rules stage: a candidate survives if its post exists and is not a tombstone. Unfollowed authors never
 * reach this stage: the timeline refuses and removes their entries, and pulls only followed authors.
 */
export function applyRules(candidates: readonly TimelineEntry[], posts: ReadonlyMap<string, PostRecord>): PostRecord[] {
  const kept: PostRecord[] = [];
  for (const candidate of candidates) {
    const post = posts.get(candidate.postId);
    if (isLive(post)) kept.push(post);
  }
  return kept;
}
