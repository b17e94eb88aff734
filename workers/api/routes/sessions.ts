import { Hono } from 'hono';
import { z } from 'zod';
import { UnauthorizedError } from '../../../src/errors.ts';
import { toUserView } from '../../../src/model.ts';
import { verifyNothing, verifyPassword } from '../../../src/password.ts';
import { HANDLE_PATTERN, normalizeHandle } from '../../../src/text.ts';
import { issueToken } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { describeRoutes } from '../route-docs.ts';
import { passwordSchema, sessionEnvelope, validate } from '../validation.ts';

const sessionBody = z.strictObject({
  handle: z.string().regex(HANDLE_PATTERN, `3-30 letters, digits or underscores`),
  password: passwordSchema,
});

/** Wrong handle, wrong password, or no password set: one answer, after the same work, so none can be told apart. */
const WRONG_PAIR = 'handle or password is wrong';

/** Log in: a handle and its password for a new token. */
export const sessionsRoutes = new Hono<AppEnv>().post(
  '/',
  validate('json', sessionBody),
  rateLimit('session'),
  async (c) => {
    const { config, repos, now } = c.var.deps;
    const { handle, password } = c.req.valid('json');
    const credentials = await repos.users.credentials(normalizeHandle(handle));
    const matches = credentials?.passwordHash
      ? await verifyPassword(password, credentials.passwordHash)
      : await verifyNothing(password);
    const user = matches && credentials ? await repos.users.get(credentials.userId) : undefined;
    if (!user) throw new UnauthorizedError(WRONG_PAIR);
    return c.json({ user: toUserView(user), token: await issueToken(config, user.id, now()) }, 201);
  },
);

describeRoutes(sessionsRoutes, {
  'POST /': {
    summary: 'Log in',
    description: 'A handle and its password for a new token.',
    requestExample: { handle: 'alice', password: 'correct horse battery' },
    responses: { 201: { description: 'The user and a new bearer token', schema: sessionEnvelope } },
    errors: { 401: 'the handle or the password is wrong (the answer does not say which)' },
  },
});
