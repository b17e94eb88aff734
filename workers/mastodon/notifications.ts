import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { MarkerRow, NotificationRow } from '../../db/repositories/social.ts';
import { NotFoundError, ValidationError } from '../../src/errors.ts';
import { NOTIFICATION_TYPES } from '../../src/mastodon-entities.ts';
import { linkHeader, pageOf } from '../../src/mastodon-pagination.ts';
import type { NotificationKind } from '../../src/social.ts';
import { validate } from '../api/validation.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { hydrateNotifications, originOf } from './hydrate.ts';
import { params } from './params.ts';
import { idPath, idValue } from './query.ts';
import { callV1, type V1Fetch } from './v1.ts';

/** Mastodon types this server produces, and the v1 kinds each stands for (a comment is notified as a mention). */
const KINDS_OF = Object.entries(NOTIFICATION_TYPES).reduce<Record<string, NotificationKind[]>>(
  (acc, [kind, type]) => ({ ...acc, [type]: [...(acc[type] ?? []), kind as NotificationKind] }),
  {},
);

/** A list of type names; names this server never produces (poll, update, admin.sign_up, ...) are accepted. */
const typeList = z
  .union([z.string().max(40), z.array(z.string().max(40)).max(20)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

/** Mastodon's notifications page: 40 by default, at most 80. */
const listParams = z.object({
  max_id: idValue.optional(),
  since_id: idValue.optional(),
  min_id: idValue.optional(),
  limit: z.coerce.number().int().min(1).max(80).default(40),
  types: typeList.optional(),
  exclude_types: typeList.optional(),
  account_id: idValue.optional(),
});

/** How many of the newest notifications `since_id`/`min_id` look through. */
const NEWER_WINDOW = 200;

/** The v1 kinds a request keeps: `types` (all when absent) less `exclude_types`; empty means none match. */
export function kindsFor(types: readonly string[] | undefined, exclude: readonly string[] | undefined) {
  const wanted = types ? types.flatMap((t) => KINDS_OF[t] ?? []) : Object.values(KINDS_OF).flat();
  const excluded = new Set((exclude ?? []).flatMap((t) => KINDS_OF[t] ?? []));
  return wanted.filter((kind) => !excluded.has(kind));
}

async function notificationsOf(c: Context<MastodonEnv>, rows: readonly NotificationRow[], me: string) {
  return (await hydrateNotifications(c.var.deps, rows, me))(originOf(c));
}

export const notificationsRoutes = new Hono<MastodonEnv>()
  .use(identify)
  .get('/', requireScope('read:notifications'), params(listParams), async (c) => {
    const me = actingUser(c.var.caller);
    const q = c.var.params as z.infer<typeof listParams>;
    const { deps } = c.var;
    const kinds = kindsFor(q.types, q.exclude_types);
    if (kinds.length === 0) return c.json([]);
    const windowed = q.since_id !== undefined || q.min_id !== undefined;
    // An account filter reads a wider window and keeps that actor's (notifications are indexed by recipient).
    const read = windowed || q.account_id ? NEWER_WINDOW : q.limit + 1;
    const fetched = await deps.repos.social.notifications(me, read, deps.now(), { beforeId: q.max_id, types: kinds });
    const rows = q.account_id ? fetched.filter((r) => r.actorId === q.account_id) : fetched;
    const page = pageOf(rows, (r) => r.id, q);
    const more = windowed ? page.length === q.limit : rows.length > q.limit;
    const link = linkHeader(c.req.url, { first: page[0]?.id, last: more ? page[page.length - 1]?.id : undefined });
    if (link) c.header('Link', link);
    return c.json(await notificationsOf(c, page, me));
  })
  .get('/unread_count', requireScope('read:notifications'), async (c) => {
    const me = actingUser(c.var.caller);
    const { social } = c.var.deps.repos;
    const markers = await social.markers(me);
    const lastRead = markers.find((m) => m.timeline === 'notifications')?.lastReadId ?? null;
    return c.json({ count: await social.unreadCount(me, lastRead, c.var.deps.now(), 1000) });
  })
  .post('/clear', requireScope('write:notifications'), async (c) => {
    await c.var.deps.repos.social.clearNotifications(actingUser(c.var.caller));
    return c.json({});
  })
  .get('/:id', validate('param', idPath), requireScope('read:notifications'), async (c) => {
    const me = actingUser(c.var.caller);
    const row = await c.var.deps.repos.social.notification(me, c.req.valid('param').id, c.var.deps.now());
    const [notification] = row ? await notificationsOf(c, [row], me) : [];
    if (!notification) throw new NotFoundError('Record');
    return c.json(notification);
  })
  .post('/:id/dismiss', validate('param', idPath), requireScope('write:notifications'), async (c) => {
    const me = actingUser(c.var.caller);
    if (!(await c.var.deps.repos.social.dismissNotification(me, c.req.valid('param').id))) {
      throw new NotFoundError('Record');
    }
    return c.json({});
  });

/** `home[last_read_id]=…` in a form, or `{"home": {"last_read_id": …}}` in JSON (one shape, see params.ts). */
const position = z.object({ last_read_id: idValue });
const markersBody = z.object({ home: position.optional(), notifications: position.optional() });

const TIMELINES = ['home', 'notifications'] as const;

const markersQuery = z.object({
  timeline: z
    .union([z.enum(TIMELINES), z.array(z.enum(TIMELINES)).max(2)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional(),
});

/**
 * Markers as Mastodon shows them. `version` counts updates in Mastodon; here it is the update's time in
 * milliseconds, which also only grows, so a client comparing versions sees the newer one as newer.
 */
function markersView(rows: readonly MarkerRow[], timelines: readonly MarkerRow['timeline'][]) {
  const view: Record<string, { last_read_id: string; version: number; updated_at: string }> = {};
  for (const row of rows) {
    if (!timelines.includes(row.timeline)) continue;
    view[row.timeline] = {
      last_read_id: row.lastReadId,
      version: row.updatedAt,
      updated_at: new Date(row.updatedAt).toISOString(),
    };
  }
  return view;
}

/** GET/POST /api/v1/markers: v1's read positions (a position never moves back; the write is v1's). */
export function markersRoutes(v1: V1Fetch) {
  return new Hono<MastodonEnv>()
    .use(identify)
    .get('/', requireScope('read:statuses'), params(markersQuery), async (c) => {
      const me = actingUser(c.var.caller);
      const { timeline } = c.var.params as z.infer<typeof markersQuery>;
      return c.json(markersView(await c.var.deps.repos.social.markers(me), timeline ?? TIMELINES));
    })
    .post('/', requireScope('write:statuses'), params(markersBody), async (c) => {
      const me = actingUser(c.var.caller);
      const body = c.var.params as z.infer<typeof markersBody>;
      const changed = TIMELINES.filter((t) => body[t] !== undefined);
      if (changed.length === 0)
        throw new ValidationError('Validation failed: give home[last_read_id] or notifications[last_read_id]');
      await callV1(c, v1, 'PUT', '/v1/markers', me, {
        ...(body.home ? { home: { lastReadId: body.home.last_read_id } } : {}),
        ...(body.notifications ? { notifications: { lastReadId: body.notifications.last_read_id } } : {}),
      });
      return c.json(markersView(await c.var.deps.repos.social.markers(me), changed));
    });
}
