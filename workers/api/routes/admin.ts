import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../../src/errors.ts';
import { replayDeadLetter } from '../../dead-letters.ts';
import { isAdmin } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { describeRoutes, documented } from '../route-docs.ts';
import { validate } from '../validation.ts';

const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.req.header('Authorization')) throw new UnauthorizedError('the admin token is required');
  if (!(await isAdmin(c))) throw new ForbiddenError('admin only');
  await next();
});
documented(requireAdmin, {
  security: 'admin',
  errors: { 401: 'no admin token', 403: 'a token that is not the admin token' },
});

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  all: z.enum(['true', 'false']).default('false'),
});
const letterParam = z.object({ id: z.string().regex(/^[0-9a-f]{32}$/, 'must be a dead letter id (32 hex digits)') });
const replayBody = z.strictObject({ ids: z.array(letterParam.shape.id).min(1).max(500).optional() });

/** Dead letters, for operators (`npm run dlq`): list them, replay one, or replay every pending one. */
export const adminRoutes = new Hono<AppEnv>()
  .use(requireAdmin)
  .get('/dead-letters', validate('query', listQuery), async (c) => {
    const { limit, all } = c.req.valid('query');
    const letters = await c.var.deps.repos.outbox.listDeadLetters(limit, all === 'true');
    return c.json({
      items: letters.map((l) => ({
        id: l.id,
        kind: l.kind,
        payload: JSON.parse(l.payload) as unknown,
        lastError: l.lastError,
        attempts: l.attempts,
        failedAt: new Date(l.failedAt).toISOString(),
        deadAt: l.deadAt === null ? null : new Date(l.deadAt).toISOString(),
        replayedAt: l.replayedAt === null ? null : new Date(l.replayedAt).toISOString(),
      })),
    });
  })
  .post('/dead-letters/:id/replay', validate('param', letterParam), async (c) => {
    const { deps } = c.var;
    const letter = await deps.repos.outbox.getDeadLetter(c.req.valid('param').id);
    if (!letter) throw new NotFoundError('dead letter');
    const outcome = await replayDeadLetter(deps, letter);
    if (outcome === 'invalid')
      throw new ValidationError('the dead letter is not a valid message and cannot be replayed');
    return c.json({ replayed: [letter.id] });
  })
  .post('/dead-letters/replay', validate('json', replayBody), async (c) => {
    const { deps } = c.var;
    const { ids } = c.req.valid('json');
    const letters = ids
      ? (await Promise.all(ids.map((id) => deps.repos.outbox.getDeadLetter(id)))).filter((l) => l !== undefined)
      : await deps.repos.outbox.listDeadLetters(500);
    const replayed: string[] = [];
    const invalid: string[] = [];
    for (const letter of letters) {
      if (letter.replayedAt !== null && ids === undefined) continue;
      ((await replayDeadLetter(deps, letter)) === 'replayed' ? replayed : invalid).push(letter.id);
    }
    return c.json({ replayed, invalid });
  });

const isoTime = z.string().meta({ format: 'date-time' });
const deadLetterSchema = z.object({
  id: z.string(),
  kind: z.string(),
  payload: z.unknown(),
  lastError: z.string().nullable(),
  attempts: z.number().int(),
  failedAt: isoTime,
  deadAt: isoTime.nullable(),
  replayedAt: isoTime.nullable(),
});

describeRoutes(adminRoutes, {
  'GET /dead-letters': {
    summary: 'Dead letters',
    description: 'Messages that ran out of retries; with `all=true` the replayed ones too.',
    responses: { 200: { description: 'The dead letters', schema: z.object({ items: z.array(deadLetterSchema) }) } },
  },
  'POST /dead-letters/:id/replay': {
    summary: 'Replay a dead letter',
    responses: { 200: { description: 'Replayed', schema: z.object({ replayed: z.array(z.string()) }) } },
    errors: { 400: 'an invalid id, or a letter that is not a valid message', 404: 'no such dead letter' },
  },
  'POST /dead-letters/replay': {
    summary: 'Replay dead letters',
    description: 'The ones named, or every pending one.',
    requestExample: {},
    responses: {
      200: {
        description: 'What was replayed, and what is not a valid message',
        schema: z.object({ replayed: z.array(z.string()), invalid: z.array(z.string()) }),
      },
    },
  },
});
