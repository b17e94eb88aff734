/**
 * The drainers' work (durable-objects/outbox-drainer.ts runs it on an alarm, one object per D1 shard; the daily
 * cron runs it too): re-send the fan-out of posts whose record is still there after OUTBOX_DELAY, and re-apply
 * follows whose effects are not all done. Every step is idempotent, so a record drained twice costs only work.
 */
import { nextDueAt } from '../src/outbox.ts';
import { forEachLimit } from '../src/concurrency.ts';
import type { Deps } from './composition.ts';
import { repairFollow } from './follows.ts';
import { applyRepost } from './reposts.ts';

/** Records one drain takes per kind and shard: a backlog drains over several alarms, each bounded. */
const DRAIN_BATCH = 100;

export interface DrainReport {
  postsResent: number;
  followsApplied: number;
  repostsApplied: number;
  failed: number;
}

export async function drainShard(deps: Deps, shard: number, now: number): Promise<DrainReport> {
  const { outbox } = deps.repos;
  const delay = deps.config.reliability.outboxDelayMs;
  const report: DrainReport = { postsResent: 0, followsApplied: 0, repostsApplied: 0, failed: 0 };
  const [posts, follows, reposts] = await Promise.all([
    outbox.duePosts(shard, now, DRAIN_BATCH),
    outbox.dueFollows(shard, now, DRAIN_BATCH),
    deps.repos.reposts.dueIntents(shard, now, DRAIN_BATCH),
  ]);
  await forEachLimit(posts, 8, async (row) => {
    try {
      // Bumped first: should the send then fail, the record is simply due again later.
      await outbox.postResent(row.authorId, row.postId, nextDueAt(now, row.attempts + 1, delay));
      const entry = { postId: row.postId, authorId: row.authorId, createdAt: row.createdAt };
      await deps.queues.fanout.send({ type: 'post.created', entry });
      report.postsResent++;
    } catch (error) {
      report.failed++;
      console.warn('outbox: could not re-send a fan-out, due again later', row.postId, error);
    }
  });
  await forEachLimit(follows, 8, async (intent) => {
    try {
      await outbox.followRetried(intent.followerId, intent.followeeId, nextDueAt(now, intent.attempts + 1, delay));
      await repairFollow(deps, intent.followerId, intent.followeeId, intent.at);
      report.followsApplied++;
    } catch (error) {
      report.failed++;
      console.warn('outbox: could not apply a follow, due again later', intent.followerId, intent.followeeId, error);
    }
  });
  await forEachLimit(reposts, 8, async (intent) => {
    try {
      await deps.repos.reposts.intentRetried(intent.postId, intent.userId, nextDueAt(now, intent.attempts + 1, delay));
      await applyRepost(deps, intent.postId, intent.userId, intent.at);
      report.repostsApplied++;
    } catch (error) {
      report.failed++;
      console.warn('outbox: could not apply a repost, due again later', intent.postId, intent.userId, error);
    }
  });
  return report;
}

/** Every shard, one after another (the cron and tests). */
export async function drainAll(deps: Deps, now: number): Promise<DrainReport> {
  const total: DrainReport = { postsResent: 0, followsApplied: 0, repostsApplied: 0, failed: 0 };
  for (let shard = 0; shard < deps.config.shardCount; shard++) {
    const r = await drainShard(deps, shard, now);
    total.postsResent += r.postsResent;
    total.followsApplied += r.followsApplied;
    total.repostsApplied += r.repostsApplied;
    total.failed += r.failed;
  }
  return total;
}

let armed = false;

/**
 * Once per isolate (the first request, batch or cron run it sees): makes sure every shard's drainer has its alarm.
 * An alarm outlives restarts and re-arms itself, so this matters only for a fresh deployment or after an alarm was
 * lost; it is one RPC per shard per isolate, off the response path (`waitUntil`).
 */
export function armDrainersOnce(deps: Deps, waitUntil: (promise: Promise<unknown>) => void): void {
  if (armed || deps.config.reliability.drainIntervalMs === 0) return;
  armed = true;
  const arming = Promise.all(
    Array.from({ length: deps.config.shardCount }, (_, shard) => deps.objects.drainer(shard).arm(shard)),
  ).catch((error: unknown) => {
    armed = false;
    console.warn('outbox: could not arm the drainers, will try again', error);
  });
  waitUntil(arming);
}
