import { createMiddleware } from 'hono/factory';
import { sign, verify } from 'hono/jwt';
import { isId } from '../../src/ids.ts';
import { UnauthorizedError } from '../../src/errors.ts';
import type { AppEnv } from './context.ts';

const TOKEN_TTL_SECONDS = 30 * 24 * 3600;

export async function issueToken(userId: string, secret: string, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return sign({ sub: userId, iat, exp: iat + TOKEN_TTL_SECONDS }, secret, 'HS256');
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export async function userIdFrom(token: string, secret: string): Promise<string> {
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, secret, 'HS256');
  } catch {
    throw new UnauthorizedError('token is invalid or expired');
  }
  const sub = payload.sub;
  if (typeof sub !== 'string' || !isId(sub)) throw new UnauthorizedError('token has no valid subject');
  return sub;
}

/**
 * Every write acts as the token's subject; there is no way to name another actor. The rate limiter may have
 * verified the token already, earlier in the same request.
 */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get('userId') === undefined) {
    const token = bearerToken(c.req.header('Authorization'));
    if (!token) throw new UnauthorizedError();
    c.set('userId', await userIdFrom(token, c.env.JWT_SECRET));
  }
  await next();
});
