import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { FilterGroup } from '../../db/repositories/filter-groups.ts';
import { AppError, NotFoundError } from '../../src/errors.ts';
import { FILTER_CONTEXTS, toFilter, toFilterKeyword, toV1Filters } from '../../src/mastodon-entities.ts';
import { FILTER_PHRASE_MAX, MAX_FILTERS } from '../api/routes/filters.ts';
import { rateLimit } from '../api/rate-limit.ts';
import { textField, validate } from '../api/validation.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { params } from './params.ts';
import { flag, idPath, idValue } from './query.ts';

/** A year, as v1 caps a filter's life; longer is "until deleted", which leaving `expires_in` out (or empty) says. */
const MAX_FILTER_SECONDS = 365 * 86_400;

const contextList = z
  .union([z.enum(FILTER_CONTEXTS), z.array(z.enum(FILTER_CONTEXTS)).min(1).max(FILTER_CONTEXTS.length)])
  .transform((v) => [...new Set(Array.isArray(v) ? v : [v])].join(','));

/** Seconds from now, or null (an empty value, as clients send to clear it): never expires. */
const expiresIn = z.union([
  z.literal('').transform(() => null),
  z.null(),
  z.coerce.number().int().min(1).max(MAX_FILTER_SECONDS),
]);

const keyword = textField(FILTER_PHRASE_MAX, { trim: true });

const keywordAttributes = z.object({
  id: idValue.optional(),
  keyword: keyword.optional(),
  whole_word: flag.optional(),
  _destroy: flag.optional(),
});

/** A filter's fields without defaults: an update changes only what it names. */
const filterFields = z.object({
  title: textField(200, { trim: true }),
  context: contextList,
  filter_action: z.enum(['warn', 'hide']),
  expires_in: expiresIn.optional(),
  keywords_attributes: z.array(keywordAttributes).max(MAX_FILTERS).default([]),
});

const createParams = filterFields.extend({ filter_action: filterFields.shape.filter_action.default('warn') });

const updateParams = filterFields.partial().extend({ keywords_attributes: filterFields.shape.keywords_attributes });

const keywordUpdateParams = z.object({ keyword: keyword.optional(), whole_word: flag.optional() });
const keywordParams = z.object({ keyword, whole_word: flag.default(true) });

/** v1's limit counts every muted word, Mastodon's keywords among them: the feed loads them all on each read. */
async function roomFor(c: Context<MastodonEnv>, me: string, more: number) {
  if (more <= 0) return;
  if ((await c.var.deps.repos.social.listFilters(me)).length + more > MAX_FILTERS) {
    throw new AppError(422, 'too_many_filters', `at most ${MAX_FILTERS} filter keywords; delete some first`);
  }
}

async function groupOrNotFound(c: Context<MastodonEnv>, me: string, id: string): Promise<FilterGroup> {
  const group = await c.var.deps.repos.filterGroups.get(me, id);
  if (!group) throw new NotFoundError('Record');
  return group;
}

/** The keyword and its filter, when both are the caller's. */
async function keywordOrNotFound(c: Context<MastodonEnv>, me: string, id: string) {
  const groupId = await c.var.deps.repos.filterGroups.groupOfKeyword(me, id);
  const group = groupId ? await c.var.deps.repos.filterGroups.get(me, groupId) : undefined;
  const found = group?.keywords.find((k) => k.id === id);
  if (!group || !found) throw new NotFoundError('Record');
  return { group, keyword: found };
}

const expiry = (now: number, seconds: number | null | undefined) =>
  seconds === undefined ? undefined : seconds === null ? null : now + seconds * 1000;

/**
 * Mastodon's filters (v2), /api/v2/filters: a title, contexts, an action and keywords. Keywords are muted words
 * as v1 has them (GET /v1/filters lists them too): `hide` drops matching statuses from the feeds as v1 does,
 * whatever the context; `warn` keeps them and marks them in `filtered`. Filtering by status is not supported.
 */
export const filtersRoutes = new Hono<MastodonEnv>()
  .use(identify)
  .get('/', requireScope('read:filters'), async (c) =>
    c.json((await c.var.deps.repos.filterGroups.list(actingUser(c.var.caller))).map(toFilter)),
  )
  .post('/', requireScope('write:filters'), rateLimit('write'), params(createParams), async (c) => {
    const me = actingUser(c.var.caller);
    const body = c.var.params as z.infer<typeof createParams>;
    const { deps } = c.var;
    const keywords = body.keywords_attributes.filter((k) => !k._destroy);
    const missing = keywords.findIndex((k) => k.keyword === undefined);
    if (missing >= 0) throw new AppError(422, 'unprocessable', `Validation failed: keyword ${missing} is empty`);
    await roomFor(c, me, keywords.length);
    const now = deps.now();
    const group = {
      id: deps.newId(),
      userId: me,
      title: body.title,
      context: body.context,
      action: body.filter_action,
      createdAt: now,
      expiresAt: expiry(now, body.expires_in) ?? null,
    };
    await deps.repos.filterGroups.create(
      group,
      keywords.map((k) => ({ id: deps.newId(), phrase: k.keyword!, wholeWord: k.whole_word ?? true })),
    );
    return c.json(toFilter(await groupOrNotFound(c, me, group.id)));
  })
  .get('/keywords/:id', validate('param', idPath), requireScope('read:filters'), async (c) => {
    const { keyword: found } = await keywordOrNotFound(c, actingUser(c.var.caller), c.req.valid('param').id);
    return c.json(toFilterKeyword(found));
  })
  .put(
    '/keywords/:id',
    validate('param', idPath),
    requireScope('write:filters'),
    rateLimit('write'),
    params(keywordUpdateParams),
    async (c) => {
      const me = actingUser(c.var.caller);
      const { id } = c.req.valid('param');
      const body = c.var.params as z.infer<typeof keywordUpdateParams>;
      const { group } = await keywordOrNotFound(c, me, id);
      await c.var.deps.repos.filterGroups.update(
        me,
        group.id,
        { add: [], change: [{ id, phrase: body.keyword, wholeWord: body.whole_word }], remove: [] },
        c.var.deps.now(),
      );
      const { keyword: changed } = await keywordOrNotFound(c, me, id);
      return c.json(toFilterKeyword(changed));
    },
  )
  .delete('/keywords/:id', validate('param', idPath), requireScope('write:filters'), rateLimit('write'), async (c) => {
    const me = actingUser(c.var.caller);
    const { id } = c.req.valid('param');
    const { group } = await keywordOrNotFound(c, me, id);
    await c.var.deps.repos.filterGroups.update(me, group.id, { add: [], change: [], remove: [id] }, c.var.deps.now());
    return c.json({});
  })
  .get('/:id', validate('param', idPath), requireScope('read:filters'), async (c) =>
    c.json(toFilter(await groupOrNotFound(c, actingUser(c.var.caller), c.req.valid('param').id))),
  )
  .put(
    '/:id',
    validate('param', idPath),
    requireScope('write:filters'),
    rateLimit('write'),
    params(updateParams),
    async (c) => {
      const me = actingUser(c.var.caller);
      const { id } = c.req.valid('param');
      const body = c.var.params as z.infer<typeof updateParams>;
      const group = await groupOrNotFound(c, me, id);
      const own = new Set(group.keywords.map((k) => k.id));
      const stranger = body.keywords_attributes.find((k) => k.id !== undefined && !own.has(k.id));
      if (stranger)
        throw new AppError(422, 'unprocessable', `Validation failed: keyword ${stranger.id} is not in this filter`);
      const add = body.keywords_attributes.filter((k) => k.id === undefined && !k._destroy);
      if (add.some((k) => k.keyword === undefined)) {
        throw new AppError(422, 'unprocessable', 'Validation failed: a new keyword is empty');
      }
      await roomFor(c, me, add.length);
      const { deps } = c.var;
      const now = deps.now();
      await deps.repos.filterGroups.update(
        me,
        id,
        {
          title: body.title,
          context: body.context,
          action: body.filter_action,
          expiresAt: expiry(now, body.expires_in),
          add: add.map((k) => ({ id: deps.newId(), phrase: k.keyword!, wholeWord: k.whole_word ?? true })),
          change: body.keywords_attributes.flatMap((k) =>
            k.id !== undefined && !k._destroy ? [{ id: k.id, phrase: k.keyword, wholeWord: k.whole_word }] : [],
          ),
          remove: body.keywords_attributes.flatMap((k) => (k.id !== undefined && k._destroy ? [k.id] : [])),
        },
        now,
      );
      return c.json(toFilter(await groupOrNotFound(c, me, id)));
    },
  )
  .delete('/:id', validate('param', idPath), requireScope('write:filters'), rateLimit('write'), async (c) => {
    const me = actingUser(c.var.caller);
    if (!(await c.var.deps.repos.filterGroups.remove(me, c.req.valid('param').id))) throw new NotFoundError('Record');
    return c.json({});
  })
  .get('/:id/keywords', validate('param', idPath), requireScope('read:filters'), async (c) => {
    const group = await groupOrNotFound(c, actingUser(c.var.caller), c.req.valid('param').id);
    return c.json(group.keywords.map(toFilterKeyword));
  })
  .post(
    '/:id/keywords',
    validate('param', idPath),
    requireScope('write:filters'),
    rateLimit('write'),
    params(keywordParams),
    async (c) => {
      const me = actingUser(c.var.caller);
      const { id } = c.req.valid('param');
      const body = c.var.params as z.infer<typeof keywordParams>;
      await groupOrNotFound(c, me, id);
      await roomFor(c, me, 1);
      const { deps } = c.var;
      const added = { id: deps.newId(), phrase: body.keyword, wholeWord: body.whole_word };
      await deps.repos.filterGroups.update(me, id, { add: [added], change: [], remove: [] }, deps.now());
      return c.json(toFilterKeyword(added));
    },
  );

const v1UpdateParams = z.object({
  phrase: keyword.optional(),
  context: contextList.optional(),
  irreversible: flag.optional(),
  whole_word: flag.optional(),
  expires_in: expiresIn.optional(),
});

const v1CreateParams = v1UpdateParams.extend({
  phrase: keyword,
  context: contextList,
  irreversible: flag.default(false),
  whole_word: flag.default(true),
});

/** The keyword as a v1 filter, read back after a write. */
async function v1Filter(c: Context<MastodonEnv>, me: string, id: string) {
  const { group } = await keywordOrNotFound(c, me, id);
  return toV1Filters(group).find((f) => f.id === id)!;
}

/**
 * Mastodon's older filters API (/api/v1/filters, which megalodon speaks), over the same filters as v2, as Mastodon
 * serves it: each keyword is a filter; creating one makes a v2 filter of that one keyword, titled by it;
 * `irreversible` is the `hide` action.
 */
export const v1FiltersRoutes = new Hono<MastodonEnv>()
  .use(identify)
  .get('/', requireScope('read:filters'), async (c) =>
    c.json((await c.var.deps.repos.filterGroups.list(actingUser(c.var.caller))).flatMap(toV1Filters)),
  )
  .post('/', requireScope('write:filters'), rateLimit('write'), params(v1CreateParams), async (c) => {
    const me = actingUser(c.var.caller);
    const body = c.var.params as z.infer<typeof v1CreateParams>;
    await roomFor(c, me, 1);
    const { deps } = c.var;
    const now = deps.now();
    const id = deps.newId();
    await deps.repos.filterGroups.create(
      {
        id: deps.newId(),
        userId: me,
        title: body.phrase,
        context: body.context,
        action: body.irreversible ? 'hide' : 'warn',
        createdAt: now,
        expiresAt: expiry(now, body.expires_in) ?? null,
      },
      [{ id, phrase: body.phrase, wholeWord: body.whole_word }],
    );
    return c.json(await v1Filter(c, me, id));
  })
  .get('/:id', validate('param', idPath), requireScope('read:filters'), async (c) =>
    c.json(await v1Filter(c, actingUser(c.var.caller), c.req.valid('param').id)),
  )
  .put(
    '/:id',
    validate('param', idPath),
    requireScope('write:filters'),
    rateLimit('write'),
    params(v1UpdateParams),
    async (c) => {
      const me = actingUser(c.var.caller);
      const { id } = c.req.valid('param');
      const body = c.var.params as z.infer<typeof v1UpdateParams>;
      const { group } = await keywordOrNotFound(c, me, id);
      const now = c.var.deps.now();
      await c.var.deps.repos.filterGroups.update(
        me,
        group.id,
        {
          context: body.context,
          action: body.irreversible === undefined ? undefined : body.irreversible ? 'hide' : 'warn',
          expiresAt: expiry(now, body.expires_in),
          add: [],
          change: [{ id, phrase: body.phrase, wholeWord: body.whole_word }],
          remove: [],
        },
        now,
      );
      return c.json(await v1Filter(c, me, id));
    },
  )
  .delete('/:id', validate('param', idPath), requireScope('write:filters'), rateLimit('write'), async (c) => {
    const me = actingUser(c.var.caller);
    const { id } = c.req.valid('param');
    const { group } = await keywordOrNotFound(c, me, id);
    const { filterGroups } = c.var.deps.repos;
    // The filter goes with its last keyword, as a filter made here had only this one.
    if (group.keywords.length === 1) await filterGroups.remove(me, group.id);
    else await filterGroups.update(me, group.id, { add: [], change: [], remove: [id] }, c.var.deps.now());
    return c.json({});
  });
