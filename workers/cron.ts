import { INACTIVE_DROP_MS } from '../src/fanout.ts';
import { forEachLimit } from '../src/concurrency.ts';
import type { Deps } from './composition.ts';

const BATCH = 200;
/** Bounds one cron run; what is left is picked up by the next run. */
const MAX_PER_RUN = 20_000;

/**
 * Drops the timelines of users idle for INACTIVE_DROP_MS. The D1 flag is set after the drop, so a failure in
 * between only means the drop is repeated next time (it is idempotent).
 */
export async function dropIdleTimelines(deps: Deps, now: number): Promise<number> {
  let dropped = 0;
  for await (const idle of deps.repos.users.idleWithTimelines(now - INACTIVE_DROP_MS, BATCH, MAX_PER_RUN)) {
    await forEachLimit(idle, 16, async (id) => {
      await deps.objects.timeline(id).drop();
      await deps.repos.users.markTimelineDropped(id, now);
    });
    dropped += idle.length;
  }
  return dropped;
}
