import { INACTIVE_DROP_MS } from '../src/fanout.ts';
import { forEachLimit } from '../src/concurrency.ts';
import type { Deps } from './api/context.ts';
import { timelineOf } from './stubs.ts';

const BATCH = 200;
/** Bounds one cron run; what is left is picked up by the next run. */
const MAX_PER_RUN = 20_000;

/**
 * Drops the timelines of users idle for INACTIVE_DROP_MS, shard by shard. The D1 flag is set after the
 * drop, so a failure in between only means the drop is repeated next time (it is idempotent).
 */
export async function dropIdleTimelines(deps: Deps, env: Env, now: number): Promise<number> {
  let dropped = 0;
  const shardCount = Number(env.SHARD_COUNT);
  for (let shard = 0; shard < shardCount && dropped < MAX_PER_RUN; shard++) {
    for (;;) {
      const idle = await deps.repos.users.idleWithTimelines(shard, now - INACTIVE_DROP_MS, BATCH);
      await forEachLimit(idle, 16, async (id) => {
        await timelineOf(env, id).drop();
        await deps.repos.users.markTimelineDropped(id, now);
      });
      dropped += idle.length;
      if (idle.length < BATCH || dropped >= MAX_PER_RUN) break;
    }
  }
  return dropped;
}
