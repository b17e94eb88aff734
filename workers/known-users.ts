import { createLru } from '../src/lru.ts';
import type { Deps } from './composition.ts';

/**
 * Per isolate, what a write needs to know of its author before it runs: that the account exists (the identity
 * check) and roughly how many followers it has (whether the celebrity post limit applies). One D1 primary-key
 * read per user per isolate and minute serves both, so a post costs no user read at all on a hit.
 *
 * A minute bounds how long a user removed by an operator (in D1) could go on acting; accounts are not deleted
 * through the API yet (a deletion route would drop the id here too). Follower counts are only trusted far from
 * the celebrity threshold (see isCelebrity in workers/rate-limit.ts).
 */
export const KNOWN_USER_TTL_MS = 60_000;

interface KnownUser {
  followers: number;
}

const known = createLru<KnownUser>(50_000);

/** The user as of at most a minute ago, or null when there is no such user (never cached: a signup may follow). */
export async function knownUser(deps: Pick<Deps, 'repos' | 'now'>, userId: string): Promise<KnownUser | null> {
  const now = deps.now();
  const hit = known.get(userId, now);
  if (hit) return hit;
  return readUser(deps, userId, now);
}

/** The user as stored now (and remembered for the next minute). */
export async function freshUser(deps: Pick<Deps, 'repos' | 'now'>, userId: string): Promise<KnownUser | null> {
  return readUser(deps, userId, deps.now());
}

async function readUser(deps: Pick<Deps, 'repos'>, userId: string, now: number): Promise<KnownUser | null> {
  const user = await deps.repos.users.get(userId);
  if (!user) return null;
  const entry = { followers: user.followersCount };
  known.set(userId, entry, now + KNOWN_USER_TTL_MS);
  return entry;
}
