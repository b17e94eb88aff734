import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../../src/errors.ts';
import { LIMITS } from '../../src/text.ts';
import { utf8Json } from './body.ts';
import { depsFor, type AppEnv, type Deps } from './context.ts';
import { handleError, handleNotFound } from './errors.ts';
import { rateLimits } from './rate-limit.ts';
import { eventsRoutes } from './routes/events.ts';
import { feedRoutes } from './routes/feed.ts';
import { healthRoutes } from './routes/health.ts';
import { postsRoutes } from './routes/posts.ts';
import { usersRoutes } from './routes/users.ts';

export function createApp(overrides?: Partial<Deps>) {
  const app = new Hono<AppEnv>();
  app.onError(handleError);
  app.notFound(handleNotFound);
  app.use(
    bodyLimit({
      maxSize: LIMITS.bodyBytes,
      onError: () => {
        throw new AppError(413, 'payload_too_large', `request body exceeds ${LIMITS.bodyBytes} bytes`);
      },
    }),
  );
  app.use(utf8Json);
  app.use(async (c, next) => {
    c.set('deps', depsFor(c.env, overrides));
    await next();
  });
  app.use(rateLimits);
  return app
    .route('/v1/users', usersRoutes)
    .route('/v1/posts', postsRoutes)
    .route('/v1/events', eventsRoutes)
    .route('/v1/feed', feedRoutes)
    .route('/v1/health', healthRoutes);
}
