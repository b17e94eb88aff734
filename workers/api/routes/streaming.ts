import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { AppError, UnauthorizedError } from '../../../src/errors.ts';
import { parseStream, type StreamName, type StreamProtocol } from '../../../src/streaming.ts';
import { bearerToken, userForToken } from '../auth.ts';
import { callerOf } from '../../mastodon/auth.ts';
import { grants } from '../../../src/mastodon-scopes.ts';
import type { Deps } from '../../composition.ts';
import type { AppEnv } from '../context.ts';
import { errorBody } from '../errors.ts';
import { describeRoutes } from '../route-docs.ts';

/** Tokens are JWTs or OAuth tokens of a few hundred bytes; anything far longer is not one. */
const MAX_TOKEN_LENGTH = 4096;

const streamQuery = z.object({
  access_token: z.string().min(1).max(MAX_TOKEN_LENGTH).optional(),
  stream: z.string().max(64).optional(),
});

/**
 * Where the token is: `Authorization: Bearer` (non-browser clients), the `access_token` query parameter, or
 * `Sec-WebSocket-Protocol` (browsers cannot set headers on a WebSocket; masto.js sends the token as the protocol,
 * and the handshake must name that protocol back or the browser drops the connection).
 */
function tokenOf(c: Context<AppEnv>, accessToken: string | undefined): { token?: string; echo?: string } {
  const header = bearerToken(c.req.header('Authorization'));
  if (header) return { token: header };
  if (accessToken) return { token: accessToken };
  const offered = c.req.header('Sec-WebSocket-Protocol')?.split(',')[0]?.trim();
  if (offered && offered.length <= MAX_TOKEN_LENGTH) return { token: offered, echo: offered };
  return {};
}

/** Errors in each API's shape: v1's `{"error":{"code","message"}}`, Mastodon's `{"error":"…"}`. */
function refuse(c: Context<AppEnv>, protocol: StreamProtocol, status: 400 | 401 | 426, code: string, message: string) {
  return protocol === 'v1' ? c.json(errorBody(code, message), status) : c.json({ error: message }, status);
}

/**
 * Authenticates the reader here, in the Worker, then hands the upgrade to the reader's own UserTimeline object,
 * which holds the socket (hibernation API) and pushes to it as fan-out delivers (durable-objects/user-timeline.ts).
 */
/** A Mastodon stream takes an OAuth access token (or a v1 one) that acts as a user and may read statuses. */
async function streamingUserOf(deps: Deps, token: string): Promise<string> {
  const caller = await callerOf(deps, token);
  if (caller.userId === null) throw new UnauthorizedError('This method requires an authenticated user');
  if (!grants(caller.scopes, 'read:statuses'))
    throw new UnauthorizedError('This action is outside the authorized scopes');
  return caller.userId;
}

async function openStream(c: Context<AppEnv>, protocol: StreamProtocol, path: StreamName | null) {
  const query = streamQuery.safeParse(c.req.query());
  if (!query.success) return refuse(c, protocol, 400, 'invalid_request', 'invalid query: access_token or stream');
  let streams: StreamName[] = path ? [path] : [];
  if (query.data.stream !== undefined) {
    const named = parseStream(query.data.stream);
    if (!named) return refuse(c, protocol, 400, 'invalid_request', 'Unknown stream type');
    streams = [named];
  }
  const { token, echo } = tokenOf(c, query.data.access_token);
  let userId: string;
  try {
    if (!token) throw new UnauthorizedError('an access token is required');
    userId = protocol === 'v1' ? await userForToken(c.var.deps, token) : await streamingUserOf(c.var.deps, token);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return refuse(c, protocol, 401, 'unauthorized', error.message);
  }
  if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
    return refuse(c, protocol, 426, 'upgrade_required', 'this endpoint is a WebSocket: send Upgrade: websocket');
  }
  const target = new URL('https://user-timeline/stream');
  target.searchParams.set('owner', userId);
  target.searchParams.set('protocol', protocol);
  target.searchParams.set('streams', streams.join(','));
  target.searchParams.set('origin', new URL(c.req.url).origin);
  const answer = await c.var.deps.objects
    .timeline(userId)
    .fetch(new Request(target, { headers: { Upgrade: 'websocket' } }));
  if (!answer.webSocket) return answer;
  // A fresh response: the object's headers are immutable, and the middlewares add theirs (CORS, nosniff).
  const headers = new Headers();
  if (echo) headers.set('Sec-WebSocket-Protocol', echo);
  return new Response(null, { status: 101, webSocket: answer.webSocket, headers });
}

/** `GET /v1/stream`: the v1 API's live updates (src/streaming.ts documents the messages). */
export const v1StreamRoutes = new Hono<AppEnv>().get('/', (c) => openStream(c, 'v1', 'user'));

/**
 * Mastodon's streaming API over WebSockets (Server-Sent Events are not served): `/api/v1/streaming` with
 * `stream=user` or subscribe messages, `/api/v1/streaming/user`, `/api/v1/streaming/user/notification`.
 */
export const mastodonStreamingRoutes = new Hono<AppEnv>()
  .get('/health', (c) => c.text('OK'))
  .get('/', (c) => openStream(c, 'mastodon', null))
  .get('/user', (c) => openStream(c, 'mastodon', 'user'))
  .get('/user/notification', (c) => openStream(c, 'mastodon', 'user:notification'));

describeRoutes(v1StreamRoutes, {
  'GET /': {
    summary: 'Live updates (WebSocket)',
    description:
      'Upgrades to a WebSocket held by your own timeline object: new feed posts, edits, deletes and notifications as they happen (src/streaming.ts documents the messages). The token goes in `Authorization`, `access_token` or, from a browser, `Sec-WebSocket-Protocol` (echoed back).',
    security: 'user',
    query: streamQuery,
    headers: {
      Upgrade: { description: '`websocket`', required: true, example: 'websocket' },
      'Sec-WebSocket-Protocol': { description: 'the token, for browsers, which cannot set `Authorization`' },
    },
    responses: { 101: { description: 'Switching protocols: the WebSocket is open' } },
    errors: {
      400: 'an invalid `access_token` or an unknown `stream`',
      401: 'no token, or one that is invalid, expired or not an existing user’s',
      426: { code: 'upgrade_required', description: 'not a WebSocket upgrade' },
    },
  },
});
