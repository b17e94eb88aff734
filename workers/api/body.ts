import { createMiddleware } from 'hono/factory';
import { ValidationError } from '../../src/errors.ts';
import type { AppEnv } from './context.ts';

// Fatal: the default decoder would turn bad bytes into U+FFFD and the request would be stored, altered.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Refuses a request body that is not valid UTF-8 (JSON text must be, RFC 8259 §8.1) before any parsing.
 * Hono caches the bytes read here, so the validators' later `c.req.json()` parses them without a second read.
 */
export const utf8Json = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.raw.body) {
    const bytes = await c.req.arrayBuffer();
    try {
      utf8.decode(bytes);
    } catch {
      throw new ValidationError('request body is not valid UTF-8');
    }
  }
  await next();
});
