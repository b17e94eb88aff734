/** Home-timeline constants and entry shape, shared by the DO, the fan-out and the feed pipeline. */

import type { GeoPoint } from './model.ts';
import { codePointLength } from './text.ts';

/** Mastodon and Twitter both keep 800 entries per home timeline; older ones are regenerated if needed. */
export const TIMELINE_CAP = 800;

/** A repost: who shared the post, the repost's own id (minted when shared, so time-ordered) and when. */
export interface Repost {
  by: string;
  id: string;
  at: number;
}

export interface TimelineEntry {
  postId: string;
  authorId: string;
  createdAt: number;
  /** Set when the entry is there because a followed account shared the post. */
  repost?: Repost;
  /** What the ranked feed's light stage scores from, written once when the entry is made; absent on old rows. */
  features?: EntryFeatures;
}

/**
 * The light features of a post (src/pipeline.ts lightRank): its length in code points, media count, hashtags
 * and place. Enough for the content, category, context and time signals without
 * the post's body; the counts come from the counter cache instead, since they change after fan-out.
 */
export interface EntryFeatures {
  length: number;
  media: number;
  tags: string[];
  geo?: GeoPoint;
}

export function featuresOf(post: {
  text: string;
  media: readonly unknown[];
  hashtags: readonly string[];
  location: GeoPoint | null;
}): EntryFeatures {
  const features: EntryFeatures = {
    length: codePointLength(post.text),
    media: post.media.length,
    tags: [...new Set(post.hashtags)],
  };
  if (post.location) features.geo = { lat: post.location.lat, lon: post.location.lon };
  return features;
}

/**
 * Where an entry sorts in a feed: a post by its id, a repost by the repost's id (when it was shared), as
 * Mastodon orders reblogs. Both are time-ordered ids, so the keyset cursors of the latest feed use this.
 */
export function feedKey(entry: { postId: string; repost?: Repost }): string {
  return entry.repost?.id ?? entry.postId;
}

/** Whose follow brings the entry: the sharer's for a repost, the author's for a post. */
export function sourceOf(entry: { authorId: string; repost?: Repost }): string {
  return entry.repost?.by ?? entry.authorId;
}

/** Newest first by feed key (post or repost id), which is creation order (src/ids.ts). */
export function newestFirst(a: { postId: string; repost?: Repost }, b: { postId: string; repost?: Repost }): number {
  const [x, y] = [feedKey(a), feedKey(b)];
  return x < y ? 1 : x > y ? -1 : 0;
}
