import { z } from 'zod';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError, NotFoundError, UnavailableError, ValidationError } from '../../../src/errors.ts';
import { MEDIA_MAX_BYTES, MEDIA_UPLOAD_MAX_BYTES, sniffMedia } from '../../../src/media.ts';
import { isLive } from '../../../src/model.ts';
import { LIMITS, checkText, textRejectionMessage } from '../../../src/text.ts';
import type { MediaRecord } from '../../../db/repositories/media.ts';
import { cachedPosts } from '../../cache/index.ts';
import { mediaKey, mediaUrl, uploadForm } from '../../media.ts';
import { requireUser } from '../auth.ts';
import type { AppEnv } from '../context.ts';
import { rateLimit } from '../rate-limit.ts';
import { idParam, validate } from '../validation.ts';
import { describeRoutes } from '../route-docs.ts';

/** Content never changes under an id (a new upload is a new id), so caches may keep it for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

function mediaView(record: MediaRecord, origin: string) {
  return {
    id: record.id,
    url: mediaUrl(origin, record.id),
    kind: record.kind,
    alt: record.alt ?? null,
    width: record.width,
    height: record.height,
  };
}

export const mediaRoutes = new Hono<AppEnv>()
  .post(
    '/',
    requireUser,
    bodyLimit({
      maxSize: MEDIA_UPLOAD_MAX_BYTES,
      onError: () => {
        throw new AppError(413, 'payload_too_large', `an upload is at most ${MEDIA_UPLOAD_MAX_BYTES} bytes`);
      },
    }),
    rateLimit('write'),
    async (c) => {
      const { deps } = c.var;
      if (!deps.media) throw new UnavailableError('media storage is not configured');
      const form = await uploadForm(c.req.raw);
      const file = form.get('file');
      if (file === null || typeof file === 'string')
        throw new ValidationError('invalid body: file: a file is required');
      const rawAlt = form.get('alt');
      if (rawAlt !== null && typeof rawAlt !== 'string') throw new ValidationError('invalid body: alt: must be text');
      let alt: string | null = null;
      if (rawAlt !== null && rawAlt !== '') {
        const checked = checkText(rawAlt, { max: LIMITS.mediaAlt });
        if (!checked.ok)
          throw new ValidationError(`invalid body: alt: ${textRejectionMessage(checked.reason, LIMITS.mediaAlt)}`);
        alt = checked.text;
      }
      const bytes = new Uint8Array(await file.arrayBuffer());
      // The declared type (file.type) is ignored: only the bytes say what this is.
      const sniffed = sniffMedia(bytes);
      if (!sniffed) {
        throw new AppError(415, 'unsupported_media_type', 'the file is not a JPEG, PNG, GIF, WebP image or MP4 video');
      }
      const max = MEDIA_MAX_BYTES[sniffed.kind];
      if (bytes.length > max) throw new AppError(413, 'payload_too_large', `a ${sniffed.kind} is at most ${max} bytes`);
      const record = {
        id: deps.newId(),
        ownerId: c.var.userId,
        kind: sniffed.kind,
        contentType: sniffed.contentType,
        bytes: bytes.length,
        width: sniffed.width,
        height: sniffed.height,
        alt,
        createdAt: deps.now(),
      };
      // Bytes first: a row never names an object that is not there (an orphaned object costs only storage).
      await deps.media.put(mediaKey(record.id), bytes, { httpMetadata: { contentType: sniffed.contentType } });
      await deps.repos.media.create(record);
      const origin = new URL(c.req.url).origin;
      c.header('Location', mediaUrl(origin, record.id));
      return c.json({ media: mediaView({ ...record, postId: null, deletedAt: null }, origin) }, 201);
    },
  )
  .get('/:id', validate('param', idParam), async (c) => {
    const { deps } = c.var;
    const { id } = c.req.valid('param');
    const record = await deps.repos.media.get(id);
    if (!record || record.deletedAt !== null) throw new NotFoundError('media');
    // A deleted post's media is gone even before its cleanup has run.
    if (record.postId !== null && !isLive((await cachedPosts(deps, [record.postId])).get(record.postId))) {
      throw new NotFoundError('media');
    }
    const object = deps.media ? await deps.media.get(mediaKey(id)) : null;
    if (!object) throw new NotFoundError('media');
    return new Response(object.body, {
      headers: {
        'Content-Type': record.contentType,
        'Content-Length': String(record.bytes),
        'Cache-Control': IMMUTABLE,
        ETag: object.httpEtag,
        // Served bytes are never a document: nothing in them runs, even if opened directly.
        'Content-Security-Policy': "default-src 'none'; sandbox",
        'X-Content-Type-Options': 'nosniff',
      },
    });
  });

const uploadSchema = z
  .object({
    id: z.string(),
    url: z.string().meta({ format: 'uri', description: '`GET /v1/media/{id}`, absolute' }),
    kind: z.enum(['image', 'video', 'gif']),
    alt: z.string().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
  })
  .meta({ id: 'Upload' });

describeRoutes(mediaRoutes, {
  'POST /': {
    summary: 'Upload an image or a video',
    description: `The bytes decide the type (JPEG, PNG, GIF, WebP or MP4), not the declared one. Give the upload's id in \`mediaIds\` of \`POST /v1/posts\`.`,
    body: {
      mediaType: 'multipart/form-data',
      schema: z.object({
        file: z.string().meta({ contentMediaType: 'application/octet-stream', description: 'the image or video' }),
        alt: z.string().max(LIMITS.mediaAlt).optional().meta({ description: 'alt text' }),
      }),
    },
    responses: {
      201: {
        description: 'Stored',
        schema: z.object({ media: uploadSchema }),
        headers: { Location: 'the media’s URL' },
      },
    },
    errors: {
      400: 'not multipart/form-data with a `file`, or invalid alt text',
      413: `an upload larger than ${MEDIA_UPLOAD_MAX_BYTES} bytes, or than its kind allows`,
      415: { code: 'unsupported_media_type', description: 'not multipart, or not a JPEG, PNG, GIF, WebP or MP4 file' },
      503: { code: 'unavailable', description: 'media storage is not configured' },
    },
  },
  'GET /:id': {
    summary: 'An upload’s bytes',
    description: 'Immutable: cached for a year. Gone with its post.',
    responses: { 200: { description: 'The file, as stored', mediaType: 'application/octet-stream' } },
    errors: { 404: 'no such media, or its post is deleted' },
  },
});
