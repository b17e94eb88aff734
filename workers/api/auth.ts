import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { sign, verify } from 'hono/jwt';
import { endTime, startTime } from 'hono/timing';
import { isId } from '../../src/ids.ts';
import { UnauthorizedError } from '../../src/errors.ts';
import type { Config, Deps } from '../composition.ts';
import { knownUser } from '../known-users.ts';
import type { AppEnv } from './context.ts';

export async function issueToken(
  config: Pick<Config, 'jwtSecret' | 'tokenTtlSeconds'>,
  userId: string,
  nowMs: number,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return sign({ sub: userId, iat, exp: iat + config.tokenTtlSeconds }, config.jwtSecret, 'HS256');
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** The token's subject, if it is signed with `secret`, has not expired and has an expiry at all. */
export async function userIdFrom(token: string, secret: string): Promise<string> {
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, secret, 'HS256');
  } catch {
    throw new UnauthorizedError('token is invalid or expired');
  }
  // hono/jwt checks `exp` only when present: a token without one would never expire.
  if (typeof payload.exp !== 'number') throw new UnauthorizedError('token has no expiry');
  const sub = payload.sub;
  if (typeof sub !== 'string' || !isId(sub)) throw new UnauthorizedError('token has no valid subject');
  return sub;
}

/**
 * Every write acts as the token's subject; there is no way to name another actor. Only a real, current identity
 * acts at all: a signed token whose subject is no user is refused like a forged one.
 */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header('Authorization'));
  if (!token) throw new UnauthorizedError();
  startTime(c, 'auth');
  const userId = await userForToken(c.var.deps, token);
  endTime(c, 'auth');
  c.set('userId', userId);
  await next();
});

/**
 * For reads that anyone may make but that a signed-in reader sees through their own rules (blocks, mutes): a
 * request with a token is authenticated exactly as `requireUser` does it (a bad token is still a 401), one without
 * goes on anonymously. The reader, if any, is `viewerId`.
 */
export const optionalUser = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header('Authorization') === undefined) return next();
  return requireUser(c, async () => {
    c.set('viewerId', c.var.userId);
    await next();
  });
});

/**
 * The one place a bearer token becomes a user, for every way a token arrives (the Authorization header, a stream's
 * `access_token` or `Sec-WebSocket-Protocol`): a v1 JWT whose subject exists. Other kinds of token (Mastodon
 * OAuth access tokens) plug in here, so that every route and stream accepts them alike. Throws UnauthorizedError.
 */
export async function userForToken(deps: Pick<Deps, 'config' | 'repos' | 'now'>, token: string): Promise<string> {
  const userId = await userIdFrom(token, deps.config.jwtSecret);
  // One primary-key read per user per isolate and minute (workers/known-users.ts), none on a hit.
  const exists = (await knownUser(deps, userId)) !== null;
  if (!exists) throw new UnauthorizedError('token does not belong to an existing user');
  return userId;
}

const digestOf = async (text: string) => crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));

/** Whether the request carries the admin token, compared in constant time (digests, so lengths match too). */
export async function isAdmin(c: Context<AppEnv>): Promise<boolean> {
  const expected = c.var.deps.config.adminToken;
  const token = bearerToken(c.req.header('Authorization'));
  if (!expected || !token) return false;
  const [a, b] = await Promise.all([digestOf(token), digestOf(expected)]);
  return crypto.subtle.timingSafeEqual(a, b);
}
