/**
 * Blocks, mutes and notifications as the API and the consumer use them (docs/architecture.md, "The social
 * surface"): where each lives is the social repository's business; what must happen around them is here.
 */
import type { NewNotification, NotificationRow } from '../db/repositories/social.ts';
import { BlockedError } from '../src/errors.ts';
import type { EngagementMessage, QueueMessage } from '../src/messages.ts';
import { readerRules, type NotificationKind, type ReaderRules } from '../src/social.ts';
import { toStreamNotification } from '../src/streaming.ts';
import { parseMentions } from '../src/text.ts';
import type { Deps } from './composition.ts';
import { setFollowing } from './follows.ts';

/** The reader's rules in force now: one batch on the reader's shard. */
export async function rulesFor(deps: Deps, userId: string): Promise<ReaderRules> {
  const now = deps.now();
  return readerRules(await deps.repos.social.rulesOf(userId, now), now);
}

/** 403 `blocked` when either account blocks the other (both sources of truth, read in parallel). */
export async function refuseIfBlocked(deps: Deps, actorId: string, ownerId: string): Promise<void> {
  if (actorId === ownerId) return;
  const { social } = deps.repos;
  const [theyBlock, iBlock] = await Promise.all([social.blocks(ownerId, actorId), social.blocks(actorId, ownerId)]);
  if (theyBlock || iBlock) throw new BlockedError();
}

/**
 * A block: the row on the blocker's shard (the answer), its mirror on the blocked account's shard, then the
 * follows removed both ways through the follow path (outbox-backed, counts by trigger, timelines cleaned). A
 * mirror that fails inline is queued for repair, so the blocked reader's view catches up.
 */
export async function block(deps: Deps, blockerId: string, blockedId: string): Promise<void> {
  const at = deps.now();
  try {
    await deps.repos.social.block(blockerId, blockedId, at);
  } catch (error) {
    // The blocker's row may be written: its own rules hold; the mirror is repaired from it.
    if (!(await deps.repos.social.blocks(blockerId, blockedId).catch(() => false))) throw error;
    await queueRepair(deps, { type: 'block.repair', blockerId, blockedId, at });
  }
  await Promise.all([setFollowing(deps, blockerId, blockedId, false), setFollowing(deps, blockedId, blockerId, false)]);
}

export async function unblock(deps: Deps, blockerId: string, blockedId: string): Promise<void> {
  const at = deps.now();
  await deps.repos.social.unblock(blockerId, blockedId).catch(async (error: unknown) => {
    if (await deps.repos.social.blocks(blockerId, blockedId).catch(() => true)) throw error;
    await queueRepair(deps, { type: 'block.repair', blockerId, blockedId, at });
  });
}

/** Consumer: the mirror as the blocker's row says it is now (a stale repair cannot undo a later change). */
export async function repairBlock(deps: Deps, blockerId: string, blockedId: string, at: number): Promise<void> {
  const blocked = await deps.repos.social.blocks(blockerId, blockedId);
  await deps.repos.social.mirrorBlock(blockerId, blockedId, blocked, at);
}

async function queueRepair(deps: Deps, message: QueueMessage): Promise<void> {
  try {
    await deps.queues.low.send(message);
  } catch (error) {
    console.warn(
      'block: repair not queued; the blocked account sees the blocker until the next block or unblock',
      error,
    );
  }
}

export interface Notice {
  type: NotificationKind;
  recipientId: string;
  actorId: string;
  postId?: string | null;
  commentId?: string | null;
  /** What makes it unique: a redelivery or repeat with the same key adds nothing. */
  key: string;
  at: number;
}

function rowsOf(deps: Deps, notices: readonly Notice[]): NewNotification[] {
  return notices.map((n) => ({
    recipientId: n.recipientId,
    id: deps.newId(),
    key: n.key,
    type: n.type,
    actorId: n.actorId,
    postId: n.postId ?? null,
    commentId: n.commentId ?? null,
    createdAt: n.at,
  }));
}

/**
 * Tells the recipients' open streams of notifications just written (the UserTimeline's hook; it returns at once
 * when no stream is open). Best effort: a notification is in the list whether or not a stream heard of it.
 */
export async function streamNotifications(deps: Deps, rows: readonly NotificationRow[]): Promise<void> {
  await Promise.all(
    rows.map(async (row) => {
      try {
        await deps.objects.timeline(row.recipientId).streamNotification(toStreamNotification(row));
      } catch (error) {
        console.warn('notify: not streamed', row.recipientId, error);
      }
    }),
  );
}

/** Writes notifications (idempotent by key) and streams the ones that were new. */
export async function writeNotifications(deps: Deps, rows: readonly NewNotification[]): Promise<void> {
  await streamNotifications(deps, await deps.repos.social.notify(rows, deps.now()));
}

/**
 * Produces notifications: inline (so they show at once), and when that fails through the queue, whose consumer
 * writes the same rows (idempotent by key). Never for one's own actions; blocks and mutes are checked where the
 * row is written. A notification is never worth failing the action it reports.
 */
export async function notify(deps: Deps, notices: readonly Notice[]): Promise<void> {
  const rows = rowsOf(
    deps,
    notices.filter((n) => n.recipientId !== n.actorId),
  );
  if (rows.length === 0) return;
  let written: NotificationRow[];
  try {
    written = await deps.repos.social.notify(rows, deps.now());
  } catch (error) {
    console.warn('notify: inline write failed, queueing', error);
    try {
      for (let i = 0; i < rows.length; i += 100) {
        await deps.queues.low.send({ type: 'notify', notifications: rows.slice(i, i + 100) });
      }
    } catch (sendError) {
      console.warn('notify: not queued either; these notifications are lost', sendError);
    }
    return;
  }
  await streamNotifications(deps, written);
}

/** The accounts a text mentions (`@handle`), resolved to user ids; unknown handles are skipped. */
export async function mentionedUsers(deps: Deps, text: string): Promise<string[]> {
  const handles = parseMentions(text);
  const found = await Promise.all(handles.map((handle) => deps.repos.users.credentials(handle)));
  return [...new Set(found.flatMap((f) => (f ? [f.userId] : [])))];
}

/** Mentions in a post: produced by the post's fan-out message, which the post outbox re-sends until it is handled. */
export async function notifyPostMentions(
  deps: Deps,
  post: { id: string; authorId: string; text: string; createdAt: number },
) {
  const recipients = await mentionedUsers(deps, post.text);
  await writeNotifications(
    deps,
    rowsOf(
      deps,
      recipients.map((recipientId) => ({
        type: 'mention',
        recipientId,
        actorId: post.authorId,
        postId: post.id,
        key: `mention:${post.id}`,
        at: post.createdAt,
      })),
    ),
  );
}

/** The notification an engagement gives the post's author, keyed as the route keys it (undefined: none). */
export function engagementNotice(e: {
  kind: string;
  userId: string;
  authorId: string;
  postId: string;
  refId: string;
  at: number;
}): Notice | undefined {
  const type = e.kind === 'like' ? 'like' : e.kind === 'share' ? 'repost' : e.kind === 'comment' ? 'comment' : null;
  if (type === null) return undefined;
  return {
    type,
    recipientId: e.authorId,
    actorId: e.userId,
    postId: e.postId,
    commentId: type === 'comment' ? e.refId : null,
    key: `${type}:${e.refId}:${e.userId}`,
    at: e.at,
  };
}

/** The route's notification of a like or a share: inline, with the engagement message's copy behind it. */
export async function notifyEngagementRow(
  deps: Deps,
  row: { userId: string; kind: string; refId: string; postId: string; authorId: string; createdAt: number },
): Promise<void> {
  const notice = engagementNotice({ ...row, at: row.createdAt });
  if (notice) await notify(deps, [notice]);
}

/** A comment notifies the post's author, and whoever it mentions (`@handle`). */
export async function notifyComment(
  deps: Deps,
  row: { userId: string; kind: 'comment'; refId: string; postId: string; authorId: string; createdAt: number },
  text: string,
): Promise<void> {
  const notice = engagementNotice({ ...row, at: row.createdAt });
  const mentioned = await mentionedUsers(deps, text).catch((error: unknown) => {
    console.warn('comment: mentions not resolved, not notified', error);
    return [];
  });
  await notify(deps, [
    ...(notice ? [notice] : []),
    ...mentioned.map((recipientId): Notice => ({
      type: 'mention',
      recipientId,
      actorId: row.userId,
      postId: row.postId,
      commentId: row.refId,
      key: `mention:comment:${row.refId}`,
      at: row.createdAt,
    })),
  ]);
}

/** Consumer: an engagement message's notification (the engagement key is `kind:refId`). */
export async function notifyEngagement(deps: Deps, message: EngagementMessage): Promise<void> {
  if (message.op !== 'add' || !message.kind) return;
  const refId = message.key.slice(message.key.indexOf(':') + 1);
  const notice = engagementNotice({ ...message, kind: message.kind, refId, at: message.at });
  if (!notice || notice.recipientId === notice.actorId) return;
  // Taken back since (an unlike, a deleted comment): the late message must not notify it again.
  if (!(await deps.repos.engagement.has(message.userId, message.kind, refId))) return;
  await writeNotifications(deps, rowsOf(deps, [notice]));
}
