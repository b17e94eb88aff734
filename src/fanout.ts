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
  /** Followers handled per fan-out invocation; larger lists continue in further messages. */
  pageSize: number;
}

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
