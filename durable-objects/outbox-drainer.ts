import { DurableObject } from 'cloudflare:workers';
import { depsFor } from '../workers/composition.ts';
import { drainShard, type DrainReport } from '../workers/outbox.ts';

/**
 * One per D1 shard (name `shard-<n>`): an alarm every OUTBOX_DRAIN_INTERVAL drains that shard's outboxes
 * (workers/outbox.ts). An alarm rather than the cron because it runs wherever the Worker runs, `npm run dev`
 * and tests included (wrangler fires no cron locally), survives restarts (alarms are stored), and can run every few
 * seconds where a cron runs at most every minute; per shard so that each scans only its own, bounded, records.
 */
export class OutboxDrainer extends DurableObject<Env> {
  /** Idempotent: remembers the shard and sets the alarm if none is set. */
  async arm(shard: number): Promise<void> {
    await this.ctx.storage.put('shard', shard);
    const interval = depsFor(this.env).config.reliability.drainIntervalMs;
    if (interval > 0 && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + interval);
    }
  }

  /** One drain now (admin and tests); the alarm goes on as it was. */
  async drain(): Promise<DrainReport | null> {
    const shard = await this.ctx.storage.get<number>('shard');
    return shard === undefined ? null : drainShard(depsFor(this.env), shard, Date.now());
  }

  override async alarm(): Promise<void> {
    try {
      await this.drain();
    } catch (error) {
      console.warn('outbox drainer: drain failed, next alarm retries', error);
    }
    const interval = depsFor(this.env).config.reliability.drainIntervalMs;
    if (interval > 0) await this.ctx.storage.setAlarm(Date.now() + interval);
  }
}
