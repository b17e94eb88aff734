import { Hono } from 'hono';
import { z } from 'zod';
import { createCursorCodec } from '../../../src/cursor.ts';
import { NOTIFICATION_TYPES } from '../../../src/social.ts';
import type { MarkerRow } from '../../../db/repositories/social.ts';
import { toStreamNotification } from '../../../src/streaming.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { describeRoutes } from '../route-docs.ts';
import { idSchema, mintedIdSchema, pageOf, pageQuery, validate } from '../validation.ts';

/** The unread count stops here (a badge shows "1000+"): counting further would cost a scan of the backlog. */
export const UNREAD_CAP = 1000;

/** `types=like,follow` or `types=like&types=follow` (or Rails' `types[]=`). */
const typesParam = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).filter(Boolean))
  .pipe(z.array(z.enum(NOTIFICATION_TYPES)).max(NOTIFICATION_TYPES.length * 4));

const notificationsQuery = pageQuery.extend({
  types: typesParam.optional(),
  'types[]': typesParam.optional(),
});

const cursorSchema = z.strictObject({ before: mintedIdSchema });

/**
 * GET /v1/notifications: the caller's notifications, newest first, one item per event (not grouped: see
 * docs/architecture.md), with `unread`: how many are newer than the notifications marker (capped at UNREAD_CAP).
 */
export const notificationsRoutes = new Hono<AppEnv>().get(
  '/',
  requireUser,
  validate('query', notificationsQuery),
  async (c) => {
    const { deps } = c.var;
    const q = c.req.valid('query');
    const me = c.var.userId;
    const codec = createCursorCodec(`notifications:${me}`, deps.config.jwtSecret, cursorSchema);
    const before = q.cursor ? (await codec.decode(q.cursor)).before : undefined;
    const types = [...new Set([...(q.types ?? []), ...(q['types[]'] ?? [])])];
    const now = deps.now();
    const { social } = deps.repos;
    const [rows, markers] = await Promise.all([
      social.notifications(me, q.limit + 1, now, { beforeId: before, types }),
      social.markers(me),
    ]);
    const lastRead = markers.find((m) => m.timeline === 'notifications')?.lastReadId ?? null;
    const unread = await social.unreadCount(me, lastRead, now, UNREAD_CAP);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return c.json({
      items: page.map(toStreamNotification),
      nextCursor: rows.length > q.limit && last ? await codec.encode({ before: last.id }) : null,
      unread,
    });
  },
);

const position = z.strictObject({ lastReadId: idSchema });
const markersBody = z
  .strictObject({ home: position.optional(), notifications: position.optional() })
  .refine((b) => b.home !== undefined || b.notifications !== undefined, 'give home, notifications or both');

function markersView(rows: readonly MarkerRow[]) {
  const one = (timeline: MarkerRow['timeline']) => {
    const row = rows.find((r) => r.timeline === timeline);
    return row ? { lastReadId: row.lastReadId, updatedAt: new Date(row.updatedAt).toISOString() } : null;
  };
  return { home: one('home'), notifications: one('notifications') };
}

/** GET/PUT /v1/markers: read positions in the home feed and the notifications (a position never moves back). */
export const markersRoutes = new Hono<AppEnv>()
  .get('/', requireUser, async (c) => c.json(markersView(await c.var.deps.repos.social.markers(c.var.userId))))
  .put('/', requireUser, validate('json', markersBody), rateLimit('write'), async (c) => {
    const body = c.req.valid('json');
    const { social } = c.var.deps.repos;
    await social.setMarkers(
      c.var.userId,
      {
        ...(body.home ? { home: body.home.lastReadId } : {}),
        ...(body.notifications ? { notifications: body.notifications.lastReadId } : {}),
      },
      c.var.deps.now(),
    );
    return c.json(markersView(await social.markers(c.var.userId)));
  });

const notificationSchema = z
  .object({
    id: z.string(),
    type: z.enum(NOTIFICATION_TYPES),
    actorId: z.string().meta({ description: 'who liked, reposted, followed, mentioned or commented' }),
    postId: z.string().optional(),
    commentId: z.string().optional(),
    createdAt: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Notification' });

const markerSchema = z
  .object({ lastReadId: z.string(), updatedAt: z.string().meta({ format: 'date-time' }) })
  .nullable()
  .meta({ description: 'null until first set' });
const markersAnswer = z.object({ home: markerSchema, notifications: markerSchema });

describeRoutes(notificationsRoutes, {
  'GET /': {
    summary: 'Your notifications',
    description:
      'Newest first, one per event, never for your own actions nor from accounts you block or mute. `types` (comma-separated or repeated, also `types[]`) keeps only those kinds.',
    responses: {
      200: {
        description: 'A page of notifications, and how many are unread',
        schema: pageOf(notificationSchema).extend({
          unread: z
            .number()
            .int()
            .min(0)
            .max(UNREAD_CAP)
            .meta({ description: `newer than the notifications marker, counted up to ${UNREAD_CAP}` }),
        }),
      },
    },
    errors: { 400: 'an invalid query (an unknown type), or a cursor that is malformed or from another listing' },
  },
});

describeRoutes(markersRoutes, {
  'GET /': {
    summary: 'Your read positions',
    responses: { 200: { description: 'The home and notifications markers', schema: markersAnswer } },
  },
  'PUT /': {
    summary: 'Move your read positions',
    description: 'A position never moves back: an older `lastReadId` than the stored one changes nothing.',
    requestExample: { notifications: { lastReadId: '7311251012255744' } },
    responses: { 200: { description: 'The markers now', schema: markersAnswer } },
  },
});
