import { isLive, type PostRecord } from '../src/model.ts';
import { cachedPosts } from './cache/index.ts';
import type { Deps } from './composition.ts';

/**
 * The tag index's writes beside the post's: best effort inline (a failure is logged), since the post's own fan-out
 * (post.created, behind the post outbox) and its enrichment after an edit write the current tags again, and tag
 * pages re-check each post's tags, so a stale row never shows.
 */
export async function indexTags(deps: Deps, post: Pick<PostRecord, 'id' | 'authorId' | 'createdAt' | 'hashtags'>) {
  try {
    await deps.repos.tags.add(post);
  } catch (error) {
    console.warn('tags: index write failed, repaired by the fan-out or enrichment', post.id, error);
  }
}

export async function unindexTags(deps: Deps, postId: string, tags: readonly string[]) {
  try {
    await deps.repos.tags.remove(postId, tags);
  } catch (error) {
    console.warn('tags: index removal failed; tag pages skip the stale rows', postId, error);
  }
}

/** Rows one read takes beyond what the page still needs: stale rows (edited, deleted posts) are skipped. */
const SLACK = 8;
/** A page gives up filling after this many index reads (each one shard query), and continues on the next page. */
const MAX_READS = 5;

export interface TagPage {
  posts: PostRecord[];
  /** The post id to continue below, or null at the end. */
  nextBefore: string | null;
}

/**
 * A tag's posts, newest first, keyset-paged by post id on the tag's one shard. Rows whose post is gone or no longer
 * carries the tag are skipped and more are read until `limit` survive or the index ends (fill-page). `keep` is the
 * reader's rules (blocks, mutes), applied the same way.
 */
export async function tagPosts(
  deps: Deps,
  tag: string,
  limit: number,
  beforeId?: string,
  keep: (post: PostRecord) => boolean = () => true,
): Promise<TagPage> {
  const posts: PostRecord[] = [];
  let before = beforeId;
  for (let reads = 0; reads < MAX_READS; reads++) {
    const asked = limit - posts.length + SLACK;
    const rows = await deps.repos.tags.page(tag, asked, before);
    const found = await cachedPosts(
      deps,
      rows.map((r) => r.postId),
    );
    const ended = rows.length < asked;
    for (const [i, row] of rows.entries()) {
      const post = found.get(row.postId);
      if (isLive(post) && post.hashtags.includes(tag) && keep(post)) posts.push(post);
      before = row.postId;
      if (posts.length === limit) return { posts, nextBefore: ended && i === rows.length - 1 ? null : before };
    }
    if (ended) return { posts, nextBefore: null };
  }
  // Still short after MAX_READS reads: the rest comes on the next page, from where this one stopped.
  return { posts, nextBefore: before ?? null };
}
