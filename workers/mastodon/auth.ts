import { createMiddleware } from 'hono/factory';
import { AppError, ForbiddenError, UnauthorizedError } from '../../src/errors.ts';
import { ALL_SCOPES, grants } from '../../src/mastodon-scopes.ts';
import { secretDigest } from '../../src/mastodon-oauth.ts';
import { bearerToken, userIdFrom } from '../api/auth.ts';
import { knownUser } from '../known-users.ts';
import type { Deps } from '../composition.ts';
import type { MastodonCaller, MastodonEnv } from './context.ts';

/** A JWT has three dot-separated parts; the OAuth tokens this API issues are one base64url string. */
const looksLikeJwt = (token: string) => token.split('.').length === 3;

/**
 * Who a token stands for. A v1 bearer token (the user's own JWT) is every scope; an OAuth token is what its row
 * says, its user still required to exist. Unknown, expired or revoked tokens are a 401.
 */
export async function callerOf(deps: Deps, token: string): Promise<MastodonCaller> {
  if (looksLikeJwt(token)) {
    const userId = await userIdFrom(token, deps.config.jwtSecret);
    if ((await knownUser(deps, userId)) === null) throw new UnauthorizedError('The access token is invalid');
    return { userId, clientId: null, scopes: ALL_SCOPES };
  }
  const row = await deps.repos.oauth.token(await secretDigest(token));
  if (!row) throw new UnauthorizedError('The access token is invalid');
  if (row.userId !== null && (await knownUser(deps, row.userId)) === null) {
    throw new UnauthorizedError('The access token is invalid');
  }
  return { userId: row.userId, clientId: row.clientId, scopes: row.scopes.split(' ') };
}

/** Reads the bearer token, if any, into `caller`; anonymous requests go on with `caller` null. */
export const identify = createMiddleware<MastodonEnv>(async (c, next) => {
  const token = bearerToken(c.req.header('Authorization'));
  const caller = token ? await callerOf(c.var.deps, token) : null;
  c.set('caller', caller);
  if (caller?.userId) c.set('userId', caller.userId);
  await next();
});

/**
 * The endpoint's scope (docs.joinmastodon.org/api/oauth-scopes), checked against the token's. `user`: the method
 * acts as a user, so an app-only token (client_credentials) is refused as Mastodon refuses it (422).
 */
export function requireScope(scope: string, options: { user: boolean } = { user: true }) {
  return createMiddleware<MastodonEnv>(async (c, next) => {
    const caller = c.var.caller;
    if (!caller) throw new UnauthorizedError('The access token is invalid');
    if (!grants(caller.scopes, scope)) throw new ForbiddenError('This action is outside the authorized scopes');
    if (options.user && caller.userId === null) {
      throw new AppError(422, 'unprocessable', 'This method requires an authenticated user');
    }
    await next();
  });
}

/** The acting user of a route behind requireScope(…, {user: true}). */
export function actingUser(caller: MastodonCaller | null): string {
  if (!caller?.userId) throw new UnauthorizedError('The access token is invalid');
  return caller.userId;
}
