/**
 * Hybrid fan-out policy. An author's class is decided from their follower count when they post:
 * - small (followers < pushMax): the post is pushed to every follower's timeline;
 * - medium (< pullMin): pushed only to followers active within ACTIVE_WINDOW_MS; an inactive follower
 *   catches up from the author's index when they return;
 * - celebrity: never pushed; followers merge the author's recent posts when they read.
 * Readers therefore only need to know, per followee, whether to pull ("pull") or not ("push").
 */
export type AuthorClass = 'small' | 'medium' | 'celebrity';
export type FollowMode = 'push' | 'pull';

export interface FanoutConfig {
  pushMax: number;
  pullMin: number;
  /** Followers per delivery page (one queue message, or the planner's own inline delivery). */
  pageSize: number;
}

/**
 * A delivery page carries its follower ids (19-digit ids, 22 bytes each as JSON), and a queue message holds
 * at most 128 KB: 4,000 ids is 88 KB, leaving room for the rest of the message.
 */
export const MAX_PAGE_SIZE = 4000;
/**
 * Delivery pages one planning step queues. Planning reads follower ids only (the followee's primary key), so
 * it is cheap: one step covers PLAN_PAGES pages, queued together so they are delivered in parallel, and then
 * one continuation message plans the next step.
 */
export const PLAN_PAGES = 10;
/** Queues' `sendBatch` limits: 100 messages and 256 KB in total, each message counting ~100 bytes of metadata. */
export const SEND_BATCH_MAX_MESSAGES = 100;
export const SEND_BATCH_MAX_BYTES = 256_000;
const MESSAGE_OVERHEAD_BYTES = 100;

export const ACTIVE_WINDOW_MS = 24 * 3600 * 1000;
/** Timelines of users inactive this long are dropped by the cron and regenerated on return. */
export const INACTIVE_DROP_MS = 7 * 24 * 3600 * 1000;
/** users.last_active_at is written at most this often per user: no write per read. */
export const ACTIVITY_WRITE_INTERVAL_MS = 3600 * 1000;
/** How many of a followee's recent posts a new follow (or a demotion from pull) copies in. */
export const BACKFILL_POSTS = 100;

export class FanoutConfigError extends Error {
  override name = 'FanoutConfigError';
}

export function parseFanoutConfig(vars: {
  FANOUT_PUSH_MAX?: string;
  FANOUT_PULL_MIN?: string;
  FANOUT_PAGE_SIZE?: string;
}): FanoutConfig {
  const num = (value: string | undefined, fallback: number, name: string) => {
    const n = value === undefined || value === '' ? fallback : Number(value);
    if (!Number.isInteger(n) || n < 1)
      throw new FanoutConfigError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
  const config = {
    pushMax: num(vars.FANOUT_PUSH_MAX, 1000, 'FANOUT_PUSH_MAX'),
    pullMin: num(vars.FANOUT_PULL_MIN, 100_000, 'FANOUT_PULL_MIN'),
    pageSize: num(vars.FANOUT_PAGE_SIZE, 500, 'FANOUT_PAGE_SIZE'),
  };
  if (config.pullMin < config.pushMax) throw new FanoutConfigError('FANOUT_PULL_MIN must be >= FANOUT_PUSH_MAX');
  if (config.pageSize > MAX_PAGE_SIZE) {
    throw new FanoutConfigError(`FANOUT_PAGE_SIZE must be <= ${MAX_PAGE_SIZE}: a page must fit in one queue message`);
  }
  return config;
}

export function classify(followers: number, config: FanoutConfig): AuthorClass {
  if (followers < config.pushMax) return 'small';
  if (followers < config.pullMin) return 'medium';
  return 'celebrity';
}

export function followModeOf(followers: number, config: FanoutConfig): FollowMode {
  return classify(followers, config) === 'celebrity' ? 'pull' : 'push';
}

/**
 * After a follow (delta +1) or unfollow (-1) that really changed the count by one, whether the followee
 * crossed the pull threshold, so every follower's mode for them must change.
 */
export function crossedPullThreshold(followersAfter: number, delta: 1 | -1, config: FanoutConfig): boolean {
  return delta === 1 ? followersAfter === config.pullMin : followersAfter === config.pullMin - 1;
}

export function isActive(lastActiveAt: number | null, now: number): boolean {
  return lastActiveAt !== null && now - lastActiveAt <= ACTIVE_WINDOW_MS;
}

/**
 * What one planning step does with the follower ids it read (at most PLAN_PAGES pages' worth, and whether
 * the audience goes on after them):
 * - `inline`: a lone page that ends the audience, delivered by the planner itself: the common case of an
 *   author with at most one page of followers costs no further message;
 * - otherwise `pages`, each queued as one delivery message (all at once, so they are delivered in parallel),
 *   and `continueAfter`, the follower id from which a continuation message plans the next step.
 */
export type FanoutPlan =
  { kind: 'inline'; followers: string[] } | { kind: 'queue'; pages: string[][]; continueAfter: string | null };

export function planFanout(ids: readonly string[], next: string | null, pageSize: number): FanoutPlan {
  if (next === null && ids.length <= pageSize) return { kind: 'inline', followers: [...ids] };
  const pages: string[][] = [];
  for (let i = 0; i < ids.length; i += pageSize) pages.push(ids.slice(i, i + pageSize));
  return { kind: 'queue', pages, continueAfter: next };
}

/** Splits messages into `sendBatch` calls that respect the platform's count and size limits. */
export function sendBatches<T>(messages: readonly T[]): T[][] {
  const encoder = new TextEncoder();
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = encoder.encode(JSON.stringify(message)).length + MESSAGE_OVERHEAD_BYTES;
    if (current.length > 0 && (current.length === SEND_BATCH_MAX_MESSAGES || bytes + size > SEND_BATCH_MAX_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
