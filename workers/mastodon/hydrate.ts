import type { Context } from 'hono';
import {
  commentToStatus,
  filterResults,
  postToStatus,
  reblogStatus,
  toAccount,
  toNotification,
  type CommentRecord,
  type MastodonAccount,
  type MastodonNotification,
  type MastodonStatus,
  type StatusLinks,
} from '../../src/mastodon-entities.ts';
import { isLive, type PostRecord, type UserRecord } from '../../src/model.ts';
import type { NotificationKind } from '../../src/social.ts';
import { cachedPosts } from '../cache/index.ts';
import type { Deps } from '../composition.ts';
import type { MastodonEnv } from './context.ts';

/**
 * Entities read once and rendered for an origin: links in them are absolute, and one hydration serves every origin
 * its readers came through (the REST answer has one; a reader's open streams may have several).
 */
export type Rendered<T> = (base: string) => T;

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
 * batched read, the viewer's likes and shares among them in one query per shard, the viewer's warn filters in one
 * more (`filtered`). Posts whose author is gone drop. The one serializer of statuses, for REST and streams alike.
 */
export async function hydrateStatuses(
  deps: Deps,
  sources: readonly StatusSource[],
  viewerId: string | null,
): Promise<Rendered<MastodonStatus[]>> {
  const postIds = [...new Set(sources.map((s) => s.post.id))];
  const [{ users, byHandle }, liked, shared, warnings] = await Promise.all([
    accountsFor(
      deps,
      sources.flatMap((s) => (s.reblog ? [s.post.authorId, s.reblog.by] : [s.post.authorId])),
      sources.flatMap((s) => s.post.mentions),
    ),
    viewerId ? deps.repos.reactions.likedBy(viewerId, postIds) : new Map<string, number>(),
    viewerId ? deps.repos.reactions.sharedBy(viewerId, postIds) : new Map<string, number>(),
    // Hide filters already dropped what they match; warn filters mark it.
    viewerId && sources.length > 0 ? deps.repos.filterGroups.warnings(viewerId, deps.now()) : [],
  ]);
  return (base) => {
    const links: StatusLinks = { base, accounts: byHandle };
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
  };
}

export async function statusesOf(
  c: Context<MastodonEnv>,
  sources: readonly StatusSource[],
  viewerId: string | null,
): Promise<MastodonStatus[]> {
  return (await hydrateStatuses(c.var.deps, sources, viewerId))(originOf(c));
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

/** Comments as reply statuses, each answering its post (whose author is `postAuthorOf` it). */
async function hydrateComments(
  deps: Deps,
  comments: readonly CommentRecord[],
  postAuthorOf: (comment: CommentRecord) => string,
): Promise<Rendered<MastodonStatus[]>> {
  const { users, byHandle } = await accountsFor(
    deps,
    comments.map((comment) => comment.authorId),
    [],
  );
  return (base) =>
    comments.flatMap((comment) => {
      const author = users.get(comment.authorId);
      return author ? [commentToStatus(comment, author, postAuthorOf(comment), { base, accounts: byHandle })] : [];
    });
}

/** Comments of one post as reply statuses. */
export async function commentStatuses(
  c: Context<MastodonEnv>,
  comments: readonly CommentRecord[],
  postAuthorId: string,
): Promise<MastodonStatus[]> {
  return (await hydrateComments(c.var.deps, comments, () => postAuthorId))(originOf(c));
}

export async function accountsOf(c: Context<MastodonEnv>, userIds: readonly string[]): Promise<MastodonAccount[]> {
  const users = await c.var.deps.repos.users.getMany([...userIds]);
  return userIds.flatMap((id) => {
    const user = users.get(id);
    return user ? [toAccount(user, originOf(c))] : [];
  });
}

/** What a notification says, as stored (GET /api/v1/notifications) or as the timeline hook is told it (streams). */
export interface NotificationFacts {
  id: string;
  type: NotificationKind;
  actorId: string;
  postId?: string | null;
  commentId?: string | null;
  createdAt: number;
}

/**
 * Notifications as entities for their recipient: actors, posts (as statuses for the recipient) and comments (as
 * replies) each in one batched read. One whose actor, post or comment is gone is left out, as Mastodon leaves it.
 */
export async function hydrateNotifications(
  deps: Deps,
  rows: readonly NotificationFacts[],
  recipientId: string,
): Promise<Rendered<MastodonNotification[]>> {
  const postIds = [...new Set(rows.flatMap((r) => (r.postId ? [r.postId] : [])))];
  const [actors, posts, comments] = await Promise.all([
    deps.repos.users.getMany([...new Set(rows.map((r) => r.actorId))]),
    cachedPosts(deps, postIds),
    Promise.all(rows.flatMap((r) => (r.commentId ? [deps.repos.reactions.comment(r.commentId)] : []))),
  ]);
  const live = postIds.flatMap((id) => {
    const post = posts.get(id);
    return isLive(post) ? [{ post }] : [];
  });
  const onLivePosts = comments.flatMap((comment) => (comment && isLive(posts.get(comment.postId)) ? [comment] : []));
  const [renderPosts, renderComments] = await Promise.all([
    hydrateStatuses(deps, live, recipientId),
    hydrateComments(deps, onLivePosts, (comment) => posts.get(comment.postId)!.authorId),
  ]);
  return (base) => {
    const statuses = new Map<string, MastodonStatus>();
    for (const status of [...renderPosts(base), ...renderComments(base)]) statuses.set(status.id, status);
    return rows.flatMap((row) => {
      const actor = actors.get(row.actorId);
      if (!actor) return [];
      if (row.type === 'follow') return [toNotification(row, actor, null, base)];
      // A comment (or a mention in one) is about the comment; a like, a repost or a mention in a post, the post.
      const status = statuses.get(row.commentId ?? row.postId ?? '');
      return status ? [toNotification(row, actor, status, base)] : [];
    });
  };
}
