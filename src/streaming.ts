/**
 * Live updates (DESIGN.md, "Mastodon-compatible API", Streaming): what a socket subscribes to, what a client may
 * send, and the two wire formats. The reader's UserTimeline object holds the sockets (durable-objects); this
 * module only decides what goes over them, so both formats are testable in plain Node.
 *
 * v1 (`GET /v1/stream`), one JSON object per message, `event` first:
 *   {"event":"update","post":Post}                 a post entered the reader's home timeline (pushed or pulled)
 *   {"event":"edit","post":Post}                   a post the reader may have got was edited (the new version)
 *   {"event":"delete","postId":"…"}                a post the reader may have got was deleted
 *   {"event":"notification","notification":{…}}   as GET /v1/notifications lists them
 *   {"event":"error","error":{"code","message"}}   the client sent something this server does not understand
 * Mastodon (`/api/v1/streaming`), as docs.joinmastodon.org describes it:
 *   {"stream":["user"],"event":"update"|"status.update"|"notification","payload":"<the entity as a JSON string>"}
 *   {"stream":["user"],"event":"delete","payload":"<the status id>"}
 */
import { z } from 'zod';

export type StreamProtocol = 'v1' | 'mastodon';

/** The streams a socket may follow: the home timeline with notifications, or notifications alone. */
export const STREAMS = ['user', 'user:notification'] as const;
export type StreamName = (typeof STREAMS)[number];

/**
 * What each socket remembers across hibernation (`serializeAttachment`, at most 2 KiB): its protocol, its streams,
 * and the origin it connected to (the Mastodon format carries absolute URLs).
 */
export interface SocketState {
  protocol: StreamProtocol;
  streams: StreamName[];
  origin: string;
  openedAt: number;
}

/** A notification as GET /v1/notifications lists it (what the notifications hook hands to the reader's timeline). */
export interface StreamNotification {
  id: string;
  type: 'like' | 'repost' | 'follow' | 'mention' | 'comment';
  actorId: string;
  postId?: string;
  commentId?: string;
  createdAt: string;
}

/** A stored notification row in that shape. */
export function toStreamNotification(row: {
  id: string;
  type: StreamNotification['type'];
  actorId: string;
  postId: string | null;
  commentId: string | null;
  createdAt: number;
}): StreamNotification {
  return {
    id: row.id,
    type: row.type,
    actorId: row.actorId,
    ...(row.postId ? { postId: row.postId } : {}),
    ...(row.commentId ? { commentId: row.commentId } : {}),
    createdAt: new Date(row.createdAt).toISOString(),
  };
}

/**
 * An event for every socket of one reader: the v1 shape as it is, the Mastodon entity built per origin (the
 * entity carries absolute URLs, and a reader's sockets may have come through different hosts).
 */
export type StreamEvent =
  | { kind: 'update' | 'edit'; post: unknown; status: (origin: string) => unknown }
  | { kind: 'delete'; postId: string }
  | { kind: 'notification'; notification: StreamNotification; mastodon: (origin: string) => unknown };

/** Timeline events go to `user` streams; notifications to both. */
export function streamsFor(event: StreamEvent['kind'], subscribed: readonly StreamName[]): StreamName[] {
  return event === 'notification' ? [...subscribed] : subscribed.filter((s) => s === 'user');
}

/** The message for one protocol, or null when none of the socket's streams takes the event. */
export function encodeEvent(
  event: StreamEvent,
  state: Pick<SocketState, 'protocol' | 'streams' | 'origin'>,
): string | null {
  const streams = streamsFor(event.kind, state.streams);
  if (streams.length === 0) return null;
  if (state.protocol === 'v1') {
    switch (event.kind) {
      case 'update':
      case 'edit':
        return JSON.stringify({ event: event.kind, post: event.post });
      case 'delete':
        return JSON.stringify({ event: 'delete', postId: event.postId });
      case 'notification':
        return JSON.stringify({ event: 'notification', notification: event.notification });
    }
  }
  // Mastodon names each event by the first stream that takes it; a socket on several gets one message per event.
  const stream = [streams[0]];
  switch (event.kind) {
    case 'update':
      return JSON.stringify({ stream, event: 'update', payload: JSON.stringify(event.status(state.origin)) });
    case 'edit':
      return JSON.stringify({ stream, event: 'status.update', payload: JSON.stringify(event.status(state.origin)) });
    case 'delete':
      return JSON.stringify({ stream, event: 'delete', payload: event.postId });
    case 'notification':
      return JSON.stringify({ stream, event: 'notification', payload: JSON.stringify(event.mastodon(state.origin)) });
  }
}

/** The most bytes a client message may have: subscriptions are tiny. */
export const MAX_CLIENT_MESSAGE_BYTES = 1024;
/** The most open sockets one reader may hold (tabs, devices); the oldest is closed beyond it. */
export const MAX_SOCKETS_PER_READER = 16;

const clientMessage = z.object({
  type: z.enum(['subscribe', 'unsubscribe']),
  stream: z.string().max(64),
  // Mastodon sends `tag` or `list` for other stream kinds; they are accepted and refused as unknown streams.
  tag: z.string().max(200).optional(),
  list: z.string().max(40).optional(),
});

export type ClientAction =
  { kind: 'subscribe' | 'unsubscribe'; stream: StreamName } | { kind: 'error'; status: 400; message: string };

/** A message from the client: Mastodon's `{"type":"subscribe","stream":"user"}` (v1 sockets accept the same). */
export function parseClientMessage(message: string | ArrayBuffer): ClientAction {
  const size = typeof message === 'string' ? new TextEncoder().encode(message).byteLength : message.byteLength;
  if (typeof message !== 'string' || size > MAX_CLIENT_MESSAGE_BYTES) {
    return {
      kind: 'error',
      status: 400,
      message: `Messages must be JSON text of at most ${MAX_CLIENT_MESSAGE_BYTES} bytes`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return { kind: 'error', status: 400, message: 'Invalid JSON' };
  }
  const parsed = clientMessage.safeParse(json);
  if (!parsed.success)
    return { kind: 'error', status: 400, message: 'Unknown message: expected {"type":"subscribe","stream":"user"}' };
  const stream = parseStream(parsed.data.stream);
  if (!stream) return { kind: 'error', status: 400, message: 'Unknown stream type' };
  return { kind: parsed.data.type, stream };
}

/** `user` and `user:notification`; every other Mastodon stream (public, hashtag, list, direct) is not served. */
export function parseStream(name: string | undefined | null): StreamName | null {
  return (STREAMS as readonly string[]).includes(name ?? '') ? (name as StreamName) : null;
}

/** The error a socket is told of, in its protocol's shape (Mastodon: `{"error","status"}`). */
export function encodeError(protocol: StreamProtocol, status: number, message: string): string {
  return protocol === 'v1'
    ? JSON.stringify({ event: 'error', error: { code: 'invalid_request', message } })
    : JSON.stringify({ error: message, status });
}

/** The streams after a client's (un)subscription. */
export function applySubscription(
  streams: readonly StreamName[],
  action: Extract<ClientAction, { stream: StreamName }>,
): StreamName[] {
  if (action.kind === 'subscribe') return streams.includes(action.stream) ? [...streams] : [...streams, action.stream];
  return streams.filter((s) => s !== action.stream);
}

/**
 * Celebrity posts are never pushed, so a reader with an open stream asks each pulled author it follows to tell it
 * of new posts: a watch that lasts WATCH_TTL_MS and is renewed every WATCH_RENEW_MS while a socket is open (the
 * timeline's alarm). A watch outlives its stream by at most the TTL; the author then drops it.
 */
export const WATCH_TTL_MS = 30 * 60_000;
export const WATCH_RENEW_MS = 10 * 60_000;
/** The most watches one reader places (the pulled authors it follows most recently); beyond it, the feed read merges. */
export const MAX_WATCHED_AUTHORS = 200;
