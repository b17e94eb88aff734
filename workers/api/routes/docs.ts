import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import type { RouterRoute } from 'hono/types';
import { z } from 'zod';
import pkg from '../../../package.json' with { type: 'json' };
import type { AppEnv } from '../context.ts';
import { openApiDocument } from '../openapi.ts';
import { describeRoutes } from '../route-docs.ts';

/**
 * The page's script comes from a CDN, at a pinned version (the HTML is ours, built by `@scalar/hono-api-reference`);
 * a browser without that CDN sees the page's title and nothing else, while the document stays at /v1/openapi.json.
 */
const REFERENCE_SCRIPT = 'https://cdn.jsdelivr.net/npm/@scalar/api-reference@1.76.0/dist/browser/standalone.js';

const DESCRIPTION = `Ranked and chronological home timelines on Cloudflare Workers.

JSON everywhere, errors included: \`{"error": {"code", "message"}}\` with a 4xx or 5xx status. Writes act as the
bearer token's user (\`POST /v1/users\` or \`POST /v1/sessions\` answer one). Listings page by an opaque
\`nextCursor\`. The Mastodon-compatible API (\`/api/v1\`, \`/oauth\`) is described by Mastodon's documentation.`;

const TAGS = {
  users: 'Signup, profiles, follows and the follow graph',
  sessions: 'Logging in with a handle and a password',
  posts: 'Posts and what readers do with them: likes, comments, shares',
  feed: 'The home feed, ranked or latest first',
  events: 'Views and dwell times, for ranking',
  feedback: '"Show less/more like this"',
  health: 'Liveness, and the details operators need',
  admin: 'Operator tools (the admin token): dead letters',
  stream: 'Live updates over a WebSocket',
  media: 'Uploads of images and videos for posts',
  tags: 'Posts by hashtag',
  trends: 'Trending hashtags',
  search: 'Search accounts, tags and posts',
  comments: 'Deleting a comment (a post lists its comments under posts)',
  blocks: 'Accounts you block',
  mutes: 'Accounts you mute',
  filters: 'Muted words and phrases',
  notifications: 'Likes, reposts, follows, mentions and comments of yours',
  markers: 'Read positions in the home feed and the notifications',
  docs: 'This document and its interactive page',
};

/** `GET /v1/openapi.json` (the document of every v1 route of `routes()`, built once) and `GET /v1/docs`. */
export function docsRoutes(routes: () => readonly RouterRoute[]) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  const router = new Hono<AppEnv>()
    .get('/openapi.json', (c) => {
      document ??= openApiDocument(
        routes(),
        { title: 'edge-feed API', version: pkg.version, description: DESCRIPTION },
        TAGS,
      );
      c.header('Cache-Control', 'public, max-age=300');
      return c.json(document);
    })
    .get(
      '/docs',
      Scalar({ url: '/v1/openapi.json', pageTitle: 'edge-feed API', cdn: REFERENCE_SCRIPT, hideClientButton: true }),
    );
  describeRoutes(router, {
    'GET /openapi.json': {
      summary: 'This document',
      description: 'OpenAPI 3.1, generated from the schemas the routes validate with.',
      tags: ['docs'],
      responses: { 200: { description: 'The OpenAPI document', schema: z.looseObject({ openapi: z.string() }) } },
    },
    'GET /docs': {
      summary: 'Interactive documentation',
      description: 'An HTML page that renders this document (Scalar) and can send requests.',
      tags: ['docs'],
      responses: { 200: { description: 'An HTML page', mediaType: 'text/html' } },
    },
  });
  return router;
}
