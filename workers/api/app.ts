import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { secureHeaders } from 'hono/secure-headers';
import { timing } from 'hono/timing';
import { AppError } from '../../src/errors.ts';
import { LIMITS } from '../../src/text.ts';
import { utf8Json } from './body.ts';
import { depsFor, type Deps } from '../composition.ts';
import type { AppEnv } from './context.ts';
import { handleError, notFoundOrMethodNotAllowed } from './errors.ts';
import { armDrainersOnce } from '../outbox.ts';
import { adminRoutes } from './routes/admin.ts';
import { docsRoutes } from './routes/docs.ts';
import { discoveryRoutes } from './routes/discovery.ts';
import { commentsRoutes } from './routes/comments.ts';
import { filtersRoutes } from './routes/filters.ts';
import { markersRoutes, notificationsRoutes } from './routes/notifications.ts';
import { blocksRoutes, mutesRoutes, relationsRoutes } from './routes/relations.ts';
import { eventsRoutes } from './routes/events.ts';
import { feedRoutes } from './routes/feed.ts';
import { feedbackRoutes } from './routes/feedback.ts';
import { healthRoutes } from './routes/health.ts';
import { mediaRoutes } from './routes/media.ts';
import { postsRoutes } from './routes/posts.ts';
import { sessionsRoutes } from './routes/sessions.ts';
import { mastodonStreamingRoutes, v1StreamRoutes } from './routes/streaming.ts';
import { usersRoutes } from './routes/users.ts';
import { mastodonApp } from '../mastodon/index.ts';

/** Headers a browser client may read on a cross-origin answer. */
const EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'Link',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Server-Timing',
  'X-Request-Id',
  'Idempotent-Replayed',
];

/** Where uploads arrive: v1's and Mastodon's. */
const UPLOAD_PATHS = new Set(['/v1/media', '/api/v1/media', '/api/v2/media']);

/** `overrides` let tests run the real app on a clock (or ids, or randomness) they control. */
export function createApp(overrides?: Partial<Deps>) {
  const app = new Hono<AppEnv>();
  app.onError(handleError);
  // First, so that every answer, errors included, carries the id its log lines name.
  app.use(requestId());
  app.use(async (c, next) => {
    c.set('deps', depsFor(c.env, overrides));
    armDrainersOnce(c.var.deps, (promise) => {
      try {
        c.executionCtx.waitUntil(promise);
      } catch {
        // No execution context (an app called directly): the arming simply runs unawaited.
      }
    });
    await next();
  });
  // The API is public and bearer-token based (no cookies), so any origin may call it unless CORS_ORIGINS says.
  app.use(
    cors({
      origin: (origin, c: Context<AppEnv>) => {
        const allowed = c.var.deps.config.corsOrigins;
        return allowed === '*' ? '*' : allowed.includes(origin) ? origin : null;
      },
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 86_400,
    }),
  );
  // nosniff and friends; cross-origin reads are the point of a public API, so resources are not same-origin only.
  app.use(secureHeaders({ crossOriginResourcePolicy: false, crossOriginOpenerPolicy: false }));
  // Server-Timing: the identity check on every authenticated request, the feed's stages on feed reads.
  app.use(timing({ total: false, autoEnd: false }));
  const jsonBodyLimit = bodyLimit({
    maxSize: LIMITS.bodyBytes,
    onError: () => {
      throw new AppError(413, 'payload_too_large', `request body exceeds ${LIMITS.bodyBytes} bytes`);
    },
  });
  // Media uploads (v1's and Mastodon's) are binary and large: their route sets its own limit and reads no JSON.
  const isUpload = (c: Context<AppEnv>) => c.req.method === 'POST' && UPLOAD_PATHS.has(c.req.path);
  app.use((c, next) => (isUpload(c) ? next() : jsonBodyLimit(c, next)));
  app.use((c, next) => (isUpload(c) ? next() : utf8Json(c, next)));
  const routed = app
    .route('/v1/users', usersRoutes)
    .route('/v1/users', relationsRoutes)
    .route('/v1/blocks', blocksRoutes)
    .route('/v1/mutes', mutesRoutes)
    .route('/v1/filters', filtersRoutes)
    .route('/v1/notifications', notificationsRoutes)
    .route('/v1/markers', markersRoutes)
    .route('/v1', commentsRoutes)
    .route('/v1/sessions', sessionsRoutes)
    .route('/v1/posts', postsRoutes)
    .route('/v1/events', eventsRoutes)
    .route('/v1/feed', feedRoutes)
    .route('/v1/feedback', feedbackRoutes)
    .route('/v1/media', mediaRoutes)
    .route('/v1/health', healthRoutes)
    .route('/v1/admin', adminRoutes)
    .route('/v1', discoveryRoutes)
    .route('/v1/stream', v1StreamRoutes)
    .route('/api/v1/streaming', mastodonStreamingRoutes)
    // The Mastodon API's writes are v1 requests dispatched back into this same app (workers/mastodon/v1.ts).
    .route(
      '/',
      mastodonApp((request, env, ctx) => Promise.resolve(app.fetch(request, env, ctx))),
    )
    .route(
      '/v1',
      docsRoutes(() => app.routes),
    );
  app.notFound(notFoundOrMethodNotAllowed(app.routes));
  return routed;
}
