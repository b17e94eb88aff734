import { Hono } from 'hono';
import { z } from 'zod';
import { NotFoundError } from '../../../src/errors.ts';
import { isLive } from '../../../src/model.ts';
import { LIMITS } from '../../../src/text.ts';
import { recordEngagements } from '../../interest.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { describeRoutes } from '../route-docs.ts';
import { idSchema, validate } from '../validation.ts';

const MAX_DWELL_MS = 3_600_000;

const event = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('view'), postId: idSchema }),
  z.strictObject({ type: z.literal('dwell'), postId: idSchema, ms: z.number().int().min(1).max(MAX_DWELL_MS) }),
]);

const eventsBody = z.strictObject({ events: z.array(event).min(1).max(LIMITS.eventsPerRequest) });

/** Views and dwell times go to the reader's interaction log, where ranking reads them. */
export const eventsRoutes = new Hono<AppEnv>().post(
  '/',
  requireUser,
  validate('json', eventsBody),
  rateLimit('write'),
  async (c) => {
    const { deps } = c.var;
    const { repos, newId, now } = deps;
    const { events } = c.req.valid('json');
    const posts = await repos.posts.getMany(events.map((e) => e.postId));
    const unknown = [...new Set(events.map((e) => e.postId).filter((id) => !posts.has(id)))];
    if (unknown.length > 0) throw new NotFoundError(`post ${unknown.join(', ')}`);
    const at = now();
    const rows = events.flatMap((e) => {
      const post = posts.get(e.postId)!;
      // A post deleted since it was seen is no signal worth keeping.
      if (!isLive(post)) return [];
      return [
        {
          userId: c.var.userId,
          kind: e.type,
          refId: newId(),
          postId: e.postId,
          authorId: post.authorId,
          durationMs: e.type === 'dwell' ? e.ms : null,
          createdAt: at,
        },
      ];
    });
    if (rows.length > 0) await recordEngagements(deps, rows);
    return c.json({ accepted: rows.length }, 202);
  },
);

describeRoutes(eventsRoutes, {
  'POST /': {
    summary: 'Record views and dwell times',
    description: "They go to the reader's interaction log, which ranking (and its previously-seen filter) reads.",
    requestExample: {
      events: [
        { type: 'view', postId: '7311250374631424' },
        { type: 'dwell', postId: '7311250374631424', ms: 4200 },
      ],
    },
    responses: {
      202: {
        description: 'Accepted; events about deleted posts are dropped',
        schema: z.object({ accepted: z.number().int().nonnegative() }),
      },
    },
    errors: { 404: 'an event names an unknown post' },
  },
});
