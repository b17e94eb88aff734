import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import { z } from 'zod';
import { isId, isWellFormedId } from '../../src/ids.ts';
import { ValidationError } from '../../src/errors.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../src/password.ts';
import type { Comment, Post, User } from '../../src/model.ts';
import { checkText, codePointLength, textRejectionMessage } from '../../src/text.ts';
import { documented } from './route-docs.ts';

/**
 * zValidator whose failures become ValidationErrors: one JSON error shape, listing every bad field. The schema is
 * also the route's documented input (workers/api/openapi.ts), so the document cannot drift from what is checked.
 */
export function validate<Target extends keyof ValidationTargets, Schema extends z.ZodType>(
  target: Target,
  schema: Schema,
) {
  const validator = zValidator(target, schema, (result) => {
    if (!result.success) {
      const issues = result.error.issues.map((issue) => ({
        path: issue.path.join('.'),
        message: issue.message,
      }));
      const where = target === 'param' ? 'path' : target;
      const first = issues[0];
      throw new ValidationError(
        `invalid ${where}${first ? `: ${first.path ? `${first.path}: ` : ''}${first.message}` : ''}`,
        issues,
      );
    }
  });
  return documented(validator, { inputs: [{ target, schema }] });
}

/** An id in a path, query or body: well-formed is enough, an unknown one is the handler's 404. */
export const idSchema = z
  .string()
  .refine(isWellFormedId, 'must be an id: a decimal string of 1-20 digits')
  .meta({ pattern: '^[0-9]{1,20}$', description: 'an id: a decimal string', examples: ['7311250374631424'] });

/** An id inside a signed cursor: only ever one the service minted. */
export const mintedIdSchema = z
  .string()
  .refine(isId, 'must be an id the service minted')
  .meta({ pattern: '^[0-9]{1,20}$' });

export const passwordSchema = z
  .string()
  .refine((s) => codePointLength(s) >= PASSWORD_MIN_LENGTH, `at least ${PASSWORD_MIN_LENGTH} characters`)
  .refine((s) => codePointLength(s) <= PASSWORD_MAX_LENGTH, `at most ${PASSWORD_MAX_LENGTH} characters`)
  .meta({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, format: 'password' });

export const idParam = z.object({ id: idSchema });

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .meta({ description: "the previous page's `nextCursor`; opaque, signed, for this listing only" }),
});

/** A user-written text field under the text policy (src/text.ts checkText); its value becomes the NFC text. */
export function textField(max: number, options: { trim?: boolean } = {}) {
  return z
    .string()
    .transform((value, ctx) => {
      const result = checkText(value, { max, trim: options.trim });
      if (result.ok) return result.text;
      ctx.issues.push({ code: 'custom', message: textRejectionMessage(result.reason, max), input: value });
      return z.NEVER;
    })
    .meta({
      minLength: 1,
      maxLength: max,
      description: `UTF-8 text, NFC-normalised, at most ${max} characters; no control characters but \\n and \\t`,
    });
}

/** The same policy for a field that may be left out; when present it must not be empty. */
export function optionalTextField(max: number, options: { trim?: boolean } = {}) {
  return textField(max, options).optional();
}

// What the API answers (DESIGN.md, "HTTP API (v1)"), for the OpenAPI document and for tests that check real answers
// against it. `satisfies` keeps each in step with the type the handlers build (src/model.ts).

const isoTime = z.string().meta({ format: 'date-time', examples: ['2026-12-02T13:45:00.000Z'] });
const countSchema = z.number().int().nonnegative();

export const mediaSchema = z
  .object({
    id: z.string().optional().meta({ description: 'an upload’s id (`POST /v1/media`); absent for media given by URL' }),
    url: z.string().meta({ format: 'uri', examples: ['https://example.com/cat.jpg'] }),
    kind: z.enum(['image', 'video', 'gif']),
    alt: z.string().optional(),
    width: z.number().int().optional(),
    height: z.number().int().optional(),
  })
  .meta({ id: 'Media' });

export const geoPointSchema = z
  .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180), name: z.string().optional() })
  .meta({ id: 'GeoPoint' });

export const postSchema = z
  .object({
    id: z.string().meta({ examples: ['7311250374631424'] }),
    authorId: z.string().meta({ examples: ['7311250110390272'] }),
    text: z.string().meta({ description: 'empty once deleted' }),
    media: z.array(mediaSchema),
    hashtags: z.array(z.string()).meta({ description: 'lower-cased, without `#`' }),
    mentions: z.array(z.string()).meta({ description: 'handles, lower-cased, without `@`' }),
    location: geoPointSchema.nullable(),
    createdAt: isoTime,
    updatedAt: isoTime,
    version: z.number().int().min(1).meta({ description: 'bumped by each edit; `If-Match` names it' }),
    counts: z.object({ likes: countSchema, comments: countSchema, shares: countSchema }),
    deleted: z.literal(true).optional().meta({ description: 'present on a deleted post (a tombstone)' }),
  })
  .meta({
    id: 'Post',
    examples: [
      {
        id: '7311250374631424',
        authorId: '7311250110390272',
        text: 'hello #edge @bob',
        media: [],
        hashtags: ['edge'],
        mentions: ['bob'],
        location: null,
        createdAt: '2026-12-02T13:45:00.000Z',
        updatedAt: '2026-12-02T13:45:00.000Z',
        version: 1,
        counts: { likes: 0, comments: 0, shares: 0 },
      },
    ],
  }) satisfies z.ZodType<Post>;

export const userSchema = z
  .object({
    id: z.string().meta({ examples: ['7311250110390272'] }),
    handle: z.string().meta({ examples: ['alice'] }),
    displayName: z.string(),
    createdAt: isoTime,
    counts: z.object({ followers: countSchema, following: countSchema, posts: countSchema }),
  })
  .meta({
    id: 'User',
    examples: [
      {
        id: '7311250110390272',
        handle: 'alice',
        displayName: 'Alice',
        createdAt: '2026-12-02T13:40:00.000Z',
        counts: { followers: 1, following: 2, posts: 3 },
      },
    ],
  }) satisfies z.ZodType<User>;

export const commentSchema = z
  .object({ id: z.string(), postId: z.string(), authorId: z.string(), text: z.string(), createdAt: isoTime })
  .meta({
    id: 'Comment',
    examples: [
      {
        id: '7311251012255744',
        postId: '7311250374631424',
        authorId: '7311250110390272',
        text: 'nice',
        createdAt: '2026-12-02T13:46:00.000Z',
      },
    ],
  }) satisfies z.ZodType<Comment>;

/** One entry of `GET /v1/feed`; `reason` on a repost, `score` and `reasons` in ranked mode (`reasons` with `explain`). */
export const feedItemSchema = z
  .object({
    post: postSchema,
    reason: z
      .object({ kind: z.literal('repost'), by: z.string().meta({ description: 'the sharer’s id' }), at: isoTime })
      .optional()
      .meta({ description: 'why the post is in the feed, when not as its author’s post: a repost' }),
    score: z.number().optional(),
    reasons: z
      .object({
        arm: z.string(),
        signals: z.record(z.string(), z.number()),
        weights: z.record(z.string(), z.number()),
        base: z.number(),
        stages: z.record(z.string(), z.unknown()),
        total: z.number(),
      })
      .optional()
      .meta({ description: 'with `explain`: every signal, the weights, what each later stage did, the total' }),
  })
  .meta({ id: 'FeedItem' });

/** Every error answer, whatever the status (DESIGN.md: `{"error": {"code", "message"}}`). */
export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'stable and machine-readable, e.g. `not_found`' }),
      message: z.string().meta({ description: 'for people; may change' }),
      details: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .optional()
        .meta({ description: 'on an invalid request (400): every bad field' }),
    }),
  })
  .meta({ id: 'Error', examples: [{ error: { code: 'not_found', message: 'post not found' } }] });

/** A page of a keyset listing: `nextCursor` is null on the last page. */
export function pageOf<Item extends z.ZodType>(item: Item) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const postEnvelope = z.object({ post: postSchema });
export const userEnvelope = z.object({ user: userSchema });
export const sessionEnvelope = z.object({ user: userSchema, token: z.string().meta({ description: 'a bearer JWT' }) });
/** What `PUT`/`DELETE /v1/users/:id/follow` answer: whether the caller now follows. */
export const relationshipEnvelope = z.object({ relationship: z.object({ following: z.boolean() }) });

/** The caller's whole relationship with another account (`GET /v1/users/:id/relationship`, blocks, mutes). */
export const relationshipSchema = z
  .object({
    following: z.boolean(),
    followedBy: z.boolean(),
    blocking: z.boolean(),
    blockedBy: z.boolean(),
    muting: z.boolean(),
    showReposts: z.boolean().meta({ description: "whether the caller's feed shows this account's reposts" }),
  })
  .meta({ id: 'Relationship' });
