import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { MediaRecord } from '../../db/repositories/media.ts';
import { AppError, NotFoundError } from '../../src/errors.ts';
import { toAttachment } from '../../src/mastodon-entities.ts';
import { LIMITS } from '../../src/text.ts';
import { mediaUrl, uploadForm } from '../media.ts';
import { rateLimit } from '../api/rate-limit.ts';
import { textField, validate } from '../api/validation.ts';
import { actingUser, identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { originOf } from './hydrate.ts';
import { params } from './params.ts';
import { idPath } from './query.ts';
import { callV1, type V1Fetch } from './v1.ts';

function attachmentOf(c: Context<MastodonEnv>, record: MediaRecord) {
  return toAttachment({ ...record, url: mediaUrl(originOf(c), record.id) });
}

/** The caller's own upload (Mastodon shows an upload to its owner alone), not deleted. */
async function ownUpload(c: Context<MastodonEnv>, id: string): Promise<MediaRecord> {
  const record = await c.var.deps.repos.media.get(id);
  if (!record || record.deletedAt !== null || record.ownerId !== actingUser(c.var.caller)) {
    throw new NotFoundError('Record');
  }
  return record;
}

const updateParams = z.object({
  // An empty description clears it.
  description: z.union([z.literal(''), textField(LIMITS.mediaAlt)]).optional(),
  focus: z.string().max(20).optional(),
});

/**
 * POST /api/v1/media and /api/v2/media: the upload is v1's (POST /v1/media: the bytes sniffed, sized and stored in
 * R2), its `description` v1's `alt`. Processing is synchronous, so v2 answers 200 with the URL at once, never 202.
 * `thumbnail` and `focus` are not kept.
 */
function upload(v1: V1Fetch) {
  return async (c: Context<MastodonEnv>) => {
    const me = actingUser(c.var.caller);
    const form = await uploadForm(c.req.raw);
    const upload = new FormData();
    const file = form.get('file');
    if (file !== null) upload.set('file', file);
    const description = form.get('description');
    if (description !== null) upload.set('alt', description);
    const created = await callV1<{ media: { id: string } }>(c, v1, 'POST', '/v1/media', me, upload);
    return c.json(attachmentOf(c, await ownUpload(c, created.media.id)));
  };
}

export function uploadRoutes(v1: V1Fetch) {
  return new Hono<MastodonEnv>().use(identify).post('/', requireScope('write:media'), upload(v1));
}

/**
 * /api/v1/media: the upload, and GET and PUT /:id of the owner's upload, whose description can change until a
 * status takes it.
 */
export function mediaRoutes(v1: V1Fetch) {
  return new Hono<MastodonEnv>()
    .use(identify)
    .post('/', requireScope('write:media'), upload(v1))
    .get('/:id', validate('param', idPath), requireScope('write:media'), async (c) =>
      c.json(attachmentOf(c, await ownUpload(c, c.req.valid('param').id))),
    )
    .put(
      '/:id',
      validate('param', idPath),
      requireScope('write:media'),
      rateLimit('write'),
      params(updateParams),
      async (c) => {
        const me = actingUser(c.var.caller);
        const { id } = c.req.valid('param');
        const { description } = c.var.params as z.infer<typeof updateParams>;
        const before = await ownUpload(c, id);
        if (description !== undefined) {
          if (before.postId !== null) {
            throw new AppError(422, 'unprocessable', 'This media is in a status already: its description is final');
          }
          await c.var.deps.repos.media.describe(id, me, description === '' ? null : description);
        }
        return c.json(attachmentOf(c, await ownUpload(c, id)));
      },
    );
}
