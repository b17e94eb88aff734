import { describe, expect, it } from 'vitest';
import { postToStatus, toNotification } from '../../src/mastodon-entities.ts';
import type { PostRecord, UserRecord } from '../../src/model.ts';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  applySubscription,
  encodeError,
  encodeEvent,
  parseClientMessage,
  type StreamEvent,
} from '../../src/streaming.ts';

const origin = 'https://feed.example';
const author: UserRecord = {
  id: '7',
  handle: 'ada',
  displayName: 'Ada',
  createdAt: 0,
  followersCount: 3,
  followingCount: 1,
  postsCount: 2,
};
const post: PostRecord = {
  id: '42',
  authorId: '7',
  text: 'hi <b>#Tag</b> @bob',
  media: [],
  hashtags: ['tag'],
  mentions: ['bob'],
  location: null,
  createdAt: 1_000,
  updatedAt: 1_000,
  version: 1,
  deletedAt: null,
  likeCount: 1,
  commentCount: 2,
  shareCount: 3,
};

/** Streams serialise with the REST API's serializer (src/mastodon-entities.ts); the reader here liked nothing. */
const toStatus = (p: PostRecord, base: string) =>
  postToStatus(p, author, { favourited: false, reblogged: false }, { base, accounts: new Map() });
const update: StreamEvent = { kind: 'update', post: { id: '42' }, status: (o) => toStatus(post, o) };

describe('stream events', () => {
  it('v1: one JSON object per event, the post as v1 returns it', () => {
    const state = { protocol: 'v1' as const, streams: ['user' as const], origin };
    expect(JSON.parse(encodeEvent(update, state)!)).toEqual({ event: 'update', post: { id: '42' } });
    expect(JSON.parse(encodeEvent({ kind: 'delete', postId: '42' }, state)!)).toEqual({
      event: 'delete',
      postId: '42',
    });
  });

  it("Mastodon: the stream name, the event, and the entity as a JSON string (a delete's payload is the id)", () => {
    const state = { protocol: 'mastodon' as const, streams: ['user' as const], origin };
    const message = JSON.parse(encodeEvent(update, state)!) as { stream: string[]; event: string; payload: string };
    expect(message.stream).toEqual(['user']);
    expect(message.event).toBe('update');
    expect(JSON.parse(message.payload)).toMatchObject({ id: '42', account: { acct: 'ada' }, favourites_count: 1 });
    const edit = JSON.parse(encodeEvent({ ...update, kind: 'edit' }, state)!) as { event: string };
    expect(edit.event).toBe('status.update');
    expect(JSON.parse(encodeEvent({ kind: 'delete', postId: '42' }, state)!)).toEqual({
      stream: ['user'],
      event: 'delete',
      payload: '42',
    });
  });

  it('a notifications-only stream gets notifications, not timeline events; no stream gets nothing', () => {
    const state = { protocol: 'mastodon' as const, streams: ['user:notification' as const], origin };
    expect(encodeEvent(update, state)).toBeNull();
    const notification = {
      id: '9',
      type: 'follow' as const,
      actorId: '7',
      createdAt: new Date(0).toISOString(),
    };
    const event: StreamEvent = {
      kind: 'notification',
      notification,
      mastodon: (o) => toNotification({ ...notification, createdAt: 0 }, author, null, o),
    };
    const message = JSON.parse(encodeEvent(event, state)!) as { stream: string[]; payload: string };
    expect(message.stream).toEqual(['user:notification']);
    expect(JSON.parse(message.payload)).toMatchObject({ id: '9', type: 'follow', status: null });
    expect(encodeEvent(update, { protocol: 'v1', streams: [], origin })).toBeNull();
  });
});

describe('client messages', () => {
  it('subscribe and unsubscribe to the user streams', () => {
    const sub = parseClientMessage('{"type":"subscribe","stream":"user"}');
    expect(sub).toEqual({ kind: 'subscribe', stream: 'user' });
    if (sub.kind === 'error') throw new Error('unreachable');
    const streams = applySubscription([], sub);
    expect(applySubscription(streams, sub)).toEqual(['user']);
    expect(applySubscription(streams, { kind: 'unsubscribe', stream: 'user' })).toEqual([]);
  });

  it('refuses unknown streams, bad JSON, other shapes, binary and oversized messages', () => {
    expect(parseClientMessage('{"type":"subscribe","stream":"public"}')).toMatchObject({
      kind: 'error',
      message: 'Unknown stream type',
    });
    expect(parseClientMessage('{')).toMatchObject({ kind: 'error', message: 'Invalid JSON' });
    expect(parseClientMessage('{"type":"dance"}')).toMatchObject({ kind: 'error' });
    expect(parseClientMessage(new ArrayBuffer(4))).toMatchObject({ kind: 'error' });
    expect(parseClientMessage(' '.repeat(MAX_CLIENT_MESSAGE_BYTES + 1))).toMatchObject({ kind: 'error' });
    expect(JSON.parse(encodeError('mastodon', 400, 'Unknown stream type'))).toEqual({
      error: 'Unknown stream type',
      status: 400,
    });
  });
});

describe('Mastodon status in streams', () => {
  it('is the REST serializer: absolute links for the socket’s origin, edited_at, Mastodon count names', () => {
    const status = toStatus({ ...post, version: 2, updatedAt: 5_000 }, origin);
    expect(status.edited_at).toBe(new Date(5_000).toISOString());
    expect([status.replies_count, status.reblogs_count, status.favourites_count]).toEqual([2, 3, 1]);
    expect(status.url).toBe('https://feed.example/@ada/42');
    expect(toStatus(post, 'https://other.example').account.url).toBe('https://other.example/@ada');
    expect(status.content).toContain('&#60;b&#62;');
  });
});
