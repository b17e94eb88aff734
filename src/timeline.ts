/** Home-timeline constants and entry shape, shared by the DO, the fan-out and the feed pipeline. */

/** Mastodon and Twitter both keep 800 entries per home timeline; older ones are regenerated if needed. */
export const TIMELINE_CAP = 800;

export interface TimelineEntry {
  postId: string;
  authorId: string;
  createdAt: number;
}

/** Newest first by id, which is creation order (src/ids.ts). */
export function newestFirst(a: { postId: string }, b: { postId: string }): number {
  return a.postId < b.postId ? 1 : a.postId > b.postId ? -1 : 0;
}
