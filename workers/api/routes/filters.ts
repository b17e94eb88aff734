import { Hono } from 'hono';
import { z } from 'zod';
import { AppError, NotFoundError } from '../../../src/errors.ts';
import type { PhraseFilter } from '../../../src/social.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { idParam, textField, validate } from '../validation.ts';

/** Per user: every feed read loads them all, so they are few. */
export const MAX_FILTERS = 100;
export const FILTER_PHRASE_MAX = 100;
/** A year; longer is "until deleted", which leaving `expiresInSeconds` out says. */
const MAX_FILTER_SECONDS = 365 * 86_400;

const createBody = z.strictObject({
  phrase: textField(FILTER_PHRASE_MAX, { trim: true }),
  wholeWord: z.boolean().default(true),
  expiresInSeconds: z.number().int().min(1).max(MAX_FILTER_SECONDS).optional(),
});

function view(filter: PhraseFilter) {
  return {
    id: filter.id,
    phrase: filter.phrase,
    wholeWord: filter.wholeWord,
    expiresAt: filter.expiresAt === null ? null : new Date(filter.expiresAt).toISOString(),
  };
}

/** Muted words (DESIGN.md, "Filters"): the caller's own, applied to what the caller reads. */
export const filtersRoutes = new Hono<AppEnv>()
  .post('/', requireUser, validate('json', createBody), rateLimit('write'), async (c) => {
    const { deps } = c.var;
    const body = c.req.valid('json');
    const { social } = deps.repos;
    if ((await social.listFilters(c.var.userId)).length >= MAX_FILTERS) {
      throw new AppError(422, 'too_many_filters', `at most ${MAX_FILTERS} filters; delete one first`);
    }
    const at = deps.now();
    const filter: PhraseFilter = {
      id: deps.newId(),
      phrase: body.phrase,
      wholeWord: body.wholeWord,
      expiresAt: body.expiresInSeconds === undefined ? null : at + body.expiresInSeconds * 1000,
    };
    await social.addFilter({ ...filter, userId: c.var.userId, createdAt: at });
    return c.json({ filter: view(filter) }, 201);
  })
  .get('/', requireUser, async (c) =>
    c.json({ items: (await c.var.deps.repos.social.listFilters(c.var.userId)).map(view) }),
  )
  .delete('/:id', requireUser, validate('param', idParam), rateLimit('write'), async (c) => {
    const deleted = await c.var.deps.repos.social.deleteFilter(c.var.userId, c.req.valid('param').id);
    if (!deleted) throw new NotFoundError('filter');
    return c.json({ filter: view(deleted) });
  });
