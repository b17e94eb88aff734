/**
 * A reader's rules (blocks both ways, mutes, phrase filters, Mastodon filter groups) are kept in memory by their
 * UserTimeline object for feed reads (durable-objects/user-timeline.ts `rules`). Every write to them, whichever
 * route or consumer makes it, goes through these repositories, which tell the owners' objects once it is done.
 */
import type { Repositories } from '../db/repositories/index.ts';

/**
 * The repositories, with each rules write followed by `changed` for every account whose rules it touched, also
 * when the write failed part-way (part of it may have landed). `changed` must not throw.
 */
export function withRuleNotices(repos: Repositories, changed: (userId: string) => Promise<void>): Repositories {
  const { social, filterGroups } = repos;
  async function telling<T>(write: () => Promise<T>, ...userIds: string[]): Promise<T> {
    try {
      return await write();
    } finally {
      await Promise.all(userIds.map(changed));
    }
  }
  return {
    ...repos,
    social: {
      ...social,
      // The block writes the blocker's row and the blocked account's mirror (their "blocked by").
      block: (blockerId, blockedId, at) => telling(() => social.block(blockerId, blockedId, at), blockerId, blockedId),
      unblock: (blockerId, blockedId) => telling(() => social.unblock(blockerId, blockedId), blockerId, blockedId),
      mirrorBlock: (blockerId, blockedId, blocked, at) =>
        telling(() => social.mirrorBlock(blockerId, blockedId, blocked, at), blockedId),
      mute: (muterId, mutedId, at, expiresAt) => telling(() => social.mute(muterId, mutedId, at, expiresAt), muterId),
      unmute: (muterId, mutedId) => telling(() => social.unmute(muterId, mutedId), muterId),
      addFilter: (row) => telling(() => social.addFilter(row), row.userId),
      deleteFilter: (userId, id) => telling(() => social.deleteFilter(userId, id), userId),
    },
    filterGroups: {
      ...filterGroups,
      create: (group, keywords) => telling(() => filterGroups.create(group, keywords), group.userId),
      update: (userId, id, change, at) => telling(() => filterGroups.update(userId, id, change, at), userId),
      remove: (userId, id) => telling(() => filterGroups.remove(userId, id), userId),
    },
  };
}
