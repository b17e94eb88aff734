import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { z } from 'zod';
import { ValidationError } from '../../src/errors.ts';
import type { MastodonEnv } from './context.ts';

/** Parameter values as clients send them: a string, or a list for Rails-style `name[]` keys. */
export type Params = Record<string, unknown>;

/** `id[]=1&id[]=2` (and a repeated `id`) become `id: ['1', '2']`; other keys keep their last value. */
function fromPairs(pairs: Iterable<[string, string | File]>): Params {
  const params: Params = {};
  for (const [rawKey, value] of pairs) {
    if (typeof value !== 'string') continue;
    const list = rawKey.endsWith('[]');
    const key = list ? rawKey.slice(0, -2) : rawKey;
    const existing = params[key];
    if (list) params[key] = [...(Array.isArray(existing) ? (existing as string[]) : []), value];
    else params[key] = value;
  }
  return params;
}

/**
 * A request's parameters, as Mastodon reads them: the query string merged with the body, which may be JSON, a
 * form (urlencoded or multipart) or absent. Unparseable bodies are a 400, never a 500.
 */
export async function readParams(c: Context<MastodonEnv>): Promise<Params> {
  const query = fromPairs(new URL(c.req.url).searchParams.entries());
  if (c.req.method === 'GET' || c.req.method === 'HEAD' || !c.req.raw.body) return query;
  const type = (c.req.header('Content-Type') ?? '').toLowerCase();
  try {
    if (type.includes('application/json')) {
      const text = await c.req.text();
      if (text.trim() === '') return query;
      const body: unknown = JSON.parse(text);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new ValidationError('request body must be a JSON object');
      }
      return { ...query, ...(body as Params) };
    }
    if (type.includes('application/x-www-form-urlencoded') || type.includes('multipart/form-data')) {
      const form = await c.req.formData();
      return { ...query, ...fromPairs(form.entries()) };
    }
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError('request body could not be parsed');
  }
  const text = await c.req.text();
  if (text.trim() !== '') throw new ValidationError('send parameters as JSON or as a form');
  return query;
}

/** Parses the request's parameters with `schema` and stores them for the handler (`c.var.params`). */
export function params<S extends z.ZodType>(schema: S) {
  return createMiddleware<MastodonEnv>(async (c, next) => {
    const result = schema.safeParse(await readParams(c));
    if (!result.success) {
      const first = result.error.issues[0];
      throw new ValidationError(
        `Validation failed: ${first ? `${first.path.join('.') || 'params'} ${first.message}` : 'invalid parameters'}`,
        result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      );
    }
    c.set('params', result.data);
    await next();
  });
}
