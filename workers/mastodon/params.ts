import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { z } from 'zod';
import { ValidationError } from '../../src/errors.ts';
import type { MastodonEnv } from './context.ts';

/** Parameter values as clients send them: a string, or a list for Rails-style `name[]` keys. */
export type Params = Record<string, unknown>;

type Nested = Record<string, unknown>;

/** `name[a][b]` as `['name', 'a', 'b']`, or undefined for a key that is not of Rails' bracket form. */
function keyPath(rawKey: string): string[] | undefined {
  const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
  if (!m) return undefined;
  return [m[1]!, ...[...m[2]!.matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1]!)];
}

/**
 * Form and query pairs as Rails reads them: `id[]=1&id[]=2` (and a repeated `id`) is `id: ['1', '2']`,
 * `home[last_read_id]=5` is `home: {last_read_id: '5'}`, and `keywords_attributes[][keyword]=a` (or `[0][keyword]`)
 * a list of objects, where `[]` starts a new object when the last one already has that field. Other keys keep
 * their last value; deeper nesting is not read.
 */
function fromPairs(pairs: Iterable<[string, string | File]>): Params {
  const params: Params = {};
  const indexed = new Map<string, Map<string, Nested>>();
  for (const [rawKey, value] of pairs) {
    if (typeof value !== 'string') continue;
    const path = keyPath(rawKey) ?? [rawKey];
    const [name, first, second] = path as [string, string | undefined, string | undefined];
    const existing = params[name];
    if (path.length === 1) params[name] = value;
    else if (path.length === 2 && first === '') {
      params[name] = [...(Array.isArray(existing) ? (existing as unknown[]) : []), value];
    } else if (path.length === 2) {
      params[name] = { ...(isObject(existing) ? existing : {}), [first!]: value };
    } else if (path.length === 3 && first === '') {
      const list = Array.isArray(existing) ? (existing as Nested[]) : [];
      const last = list[list.length - 1];
      if (isObject(last) && !(second! in last)) last[second!] = value;
      else list.push({ [second!]: value });
      params[name] = list;
    } else if (path.length === 3 && /^\d{1,3}$/.test(first!)) {
      const byIndex = indexed.get(name) ?? new Map<string, Nested>();
      indexed.set(name, byIndex);
      const item = byIndex.get(first!) ?? {};
      item[second!] = value;
      byIndex.set(first!, item);
      params[name] = [...byIndex.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => v);
    }
  }
  return params;
}

function isObject(value: unknown): value is Nested {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
