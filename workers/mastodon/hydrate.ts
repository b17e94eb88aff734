import type { Context } from 'hono';
import {
  commentToStatus,
  filterResults,
  postToStatus,
  reblogStatus,
  toAccount,
  type CommentRecord,
  type MastodonAccount,
  type MastodonStatus,
  type StatusLinks,
} from '../../src/mastodon-entities.ts';
import { isLive, type PostRecord, type UserRecord } from '../../src/model.ts';
import { cachedPosts } from '../cache/index.ts';
import type { Deps } from '../composition.ts';
import type { MastodonEnv } from './context.ts';

/** The instance's origin as the client reached it: links in entities and `Link` headers are absolute. */
export function originOf(c: Context<MastodonEnv>): string {
  return new URL(c.req.url).origin;
}

/** Users by id and, for mentions, by handle: one batched read for all of them. */
async function accountsFor(deps: Deps, userIds: Iterable<string>, handles: Iterable<string>) {
  const handleIds = await Promise.all(
    [...new Set(handles)].map(async (handle) => (await deps.repos.users.credentials(handle))?.userId),
  );
  const ids = [...new Set([...userIds, ...handleIds.filter((id): id is string => id !== undefined)])];
  const users = await deps.repos.users.getMany(ids);
  const byHandle = new Map<string, UserRecord>();
  for (const user of users.values()) byHandle.set(user.handle, user);
  return { users, byHandle };
}

export interface StatusSource {
  post: PostRecord;
  /** Set when the item is a reblog: who shared it and when. */
  reblog?: { by: string; at: number };
}

/**
 * Posts as statuses for `viewerId` (null: anonymous), in the given order: authors and mentioned accounts in one
 * batched read, the viewer's likes and shares among them in one query per shard. Posts whose author is gone drop.
 */
export async function statusesOf(
  c: Context<MastodonEnv>,
  sources: readonly StatusSource[],
  viewerId: string | null,
): Promise<MastodonStatus[]> {
  const { deps } = c.var;
  const postIds = [...new Set(sources.map((s) => s.post.id))];
  const [{ users, byHandle }, liked, shared, warnings] = await Promise.all([
    accountsFor(
      deps,
      sources.flatMap((s) => (s.reblog ? [s.post.authorId, s.reblog.by] : [s.post.authorId])),
      sources.flatMap((s) => s.post.mentions),
    ),
    viewerId ? deps.repos.reactions.likedBy(viewerId, postIds) : new Map<string, number>(),
    viewerId ? deps.repos.reactions.sharedBy(viewerId, postIds) : new Map<string, number>(),
    // The viewer's warn filters, for `filtered` (hide filters already dropped what they match).
    viewerId && sources.length > 0 ? deps.repos.filterGroups.warnings(viewerId, deps.now()) : [],
  ]);
  const links: StatusLinks = { base: originOf(c), accounts: byHandle };
  return sources.flatMap(({ post, reblog }) => {
    const author = users.get(post.authorId);
    if (!author) return [];
    const status: MastodonStatus = {
      ...postToStatus(post, author, { favourited: liked.has(post.id), reblogged: shared.has(post.id) }, links),
      filtered: warnings.length > 0 ? filterResults(post, warnings) : [],
    };
    if (!reblog) return [status];
    const sharer = users.get(reblog.by);
    return sharer ? [{ ...reblogStatus(status, sharer, reblog.at, links), filtered: status.filtered }] : [];
  });
}

/** One live post as a status, or undefined when there is none (unknown or deleted). */
export async function liveStatus(
  c: Context<MastodonEnv>,
  postId: string,
  viewerId: string | null,
  /** `{maxAgeMs: 0}` right after a write, so the counts are the write's own. */
  options: { maxAgeMs?: number } = {},
): Promise<MastodonStatus | undefined> {
  const post = (await cachedPosts(c.var.deps, [postId], options)).get(postId);
  if (!isLive(post)) return undefined;
  return (await statusesOf(c, [{ post }], viewerId))[0];
}

/** Comments of one post as reply statuses. */
export async function commentStatuses(
  c: Context<MastodonEnv>,
  comments: readonly CommentRecord[],
  postAuthorId: string,
): Promise<MastodonStatus[]> {
  const { users, byHandle } = await accountsFor(
    c.var.deps,
    comments.map((comment) => comment.authorId),
    [],
  );
  const links: StatusLinks = { base: originOf(c), accounts: byHandle };
  return comments.flatMap((comment) => {
    const author = users.get(comment.authorId);
    return author ? [commentToStatus(comment, author, postAuthorId, links)] : [];
  });
}

export async function accountsOf(c: Context<MastodonEnv>, userIds: readonly string[]): Promise<MastodonAccount[]> {
  const users = await c.var.deps.repos.users.getMany([...userIds]);
  return userIds.flatMap((id) => {
    const user = users.get(id);
    return user ? [toAccount(user, originOf(c))] : [];
  });
}
