import { DurableObject } from 'cloudflare:workers';
import { combine, slidingWindow, type Decision, type Rule, type WindowState } from '../src/rate-limit.ts';
import { migrateStorage, sqlMigration, type StorageSchema } from './schema.ts';

/**
 * The storage schema, oldest step first (durable-objects/schema.ts). Version 1 is the table as every
 * constructor created it before schemas had versions, hence IF NOT EXISTS: objects stored then adopt the stamp.
 */
export const RATE_LIMITER_SCHEMA: StorageSchema = {
  name: 'RateLimiter',
  migrations: [
    sqlMigration(
      'windows',
      `CREATE TABLE IF NOT EXISTS windows (
      rule TEXT PRIMARY KEY, start INTEGER NOT NULL, current INTEGER NOT NULL, previous INTEGER NOT NULL) WITHOUT ROWID`,
    ),
  ],
};

/**
 * The rate limiter when there is no Redis: one object per subject (`user:<id>` or `ip:<address>`), holding one
 * sliding-window counter per rule. Single-threaded, so the check and the count are atomic; a request is counted
 * against all its rules only if every one allows it. Time comes from the caller.
 */
export class RateLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    migrateStorage(ctx.storage, RATE_LIMITER_SCHEMA);
  }

  hit(rules: Rule[], now: number): Decision | null {
    const outcomes = rules.map((rule) => ({ rule, ...slidingWindow(this.load(rule.name), now, rule) }));
    const decision = combine(outcomes.map((o) => o.decision));
    if (decision?.allowed) {
      for (const { rule, state } of outcomes) {
        this.sql.exec(
          'INSERT OR REPLACE INTO windows (rule, start, current, previous) VALUES (?, ?, ?, ?)',
          rule.name,
          state.start,
          state.current,
          state.previous,
        );
      }
    }
    return decision;
  }

  private load(rule: string): WindowState | null {
    const row = this.sql
      .exec<{ start: number; current: number; previous: number }>(
        'SELECT start, current, previous FROM windows WHERE rule = ?',
        rule,
      )
      .toArray()[0];
    return row ? { start: row.start, current: row.current, previous: row.previous } : null;
  }
}
