import { env, runInDurableObject } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SocketState } from '../../src/streaming.ts';
import { depsFor } from '../../workers/composition.ts';
import { api, createPost, follow, signup, withFollowers, type TestUser } from '../support/api.ts';
import { eventually } from '../support/timeline.ts';

// vitest.config.ts: small < 3 <= medium < 6 <= celebrity followers.

interface Stream {
  ws: WebSocket;
  response: Response;
  /** The next message for which `match` holds (earlier ones that do not match are skipped). */
  next(match?: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

const open: WebSocket[] = [];

afterEach(() => {
  for (const ws of open.splice(0)) ws.close(1000, 'test over');
});

async function connect(path: string, headers: Record<string, string> = {}): Promise<Stream> {
  const response = await exports.default.fetch(
    new Request(`https://feed.test${path}`, { headers: { Upgrade: 'websocket', ...headers } }),
  );
  expect(response.status).toBe(101);
  const ws = response.webSocket!;
  ws.accept();
  open.push(ws);
  const inbox: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  ws.addEventListener('message', (event) => {
    inbox.push(JSON.parse(String(event.data)) as Record<string, unknown>);
    wake?.();
  });
  return {
    ws,
    response,
    async next(match = () => true) {
      for (;;) {
        const index = inbox.findIndex(match);
        if (index >= 0) return inbox.splice(index, 1)[0]!;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

const v1Stream = (user: TestUser) => connect('/v1/stream', { Authorization: `Bearer ${user.token}` });
const mastodonStream = (user: TestUser, query = 'stream=user') =>
  connect(`/api/v1/streaming?${query}&access_token=${encodeURIComponent(user.token)}`);

/** Socket attachments, as the object would find them after hibernation. */
async function attachments(user: TestUser): Promise<SocketState[]> {
  return runInDurableObject(depsFor(env).objects.timeline(user.id), (_o, state) =>
    state.getWebSockets().map((ws) => ws.deserializeAttachment() as SocketState),
  );
}

const payload = (message: Record<string, unknown>) => JSON.parse(String(message.payload)) as Record<string, unknown>;

describe('GET /v1/stream', () => {
  it("a followed author's post reaches an open stream as an update with the v1 post", async () => {
    const { author, followers } = await withFollowers(1);
    const stream = await v1Stream(followers[0]!);
    const post = await createPost(author, 'live #now');
    const message = await stream.next((m) => m.event === 'update');
    expect(message).toEqual({ event: 'update', post: expect.objectContaining({ id: post.id, text: 'live #now' }) });
  });

  it('edits and deletes of a pushed post reach the stream', async () => {
    const { author, followers } = await withFollowers(2);
    const stream = await v1Stream(followers[1]!);
    const post = await createPost(author, 'first version');
    await stream.next((m) => m.event === 'update');
    const edited = await api('PATCH', `/v1/posts/${post.id}`, { token: author.token, body: { text: 'second' } });
    expect(edited.status).toBe(200);
    const edit = await stream.next((m) => m.event === 'edit');
    expect(edit.post).toEqual(expect.objectContaining({ id: post.id, text: 'second', version: 2 }));
    expect((await api('DELETE', `/v1/posts/${post.id}`, { token: author.token })).status).toBe(200);
    expect(await stream.next((m) => m.event === 'delete')).toEqual({ event: 'delete', postId: post.id });
  });

  it("a celebrity's post, never pushed, reaches the stream through the author's watchers", async () => {
    const { author } = await withFollowers(6);
    const reader = await signup();
    await follow(reader, author);
    const stream = await v1Stream(reader);
    const watching = await runInDurableObject(depsFor(env).objects.authorFeed(author.id), (o) =>
      o.watcherCount(Date.now()),
    );
    expect(watching).toBe(1);
    const post = await createPost(author, 'to millions');
    const update = await stream.next((m) => m.event === 'update');
    expect(update.post).toEqual(expect.objectContaining({ id: post.id, text: 'to millions' }));
    // Pulled, not pushed: the timeline holds no entry for it.
    const size = await runInDurableObject(depsFor(env).objects.timeline(reader.id), (o) => o.size());
    expect(size).toBe(0);
    await api('PATCH', `/v1/posts/${post.id}`, { token: author.token, body: { text: 'to millions, edited' } });
    expect((await stream.next((m) => m.event === 'edit')).post).toEqual(
      expect.objectContaining({ text: 'to millions, edited' }),
    );
    await api('DELETE', `/v1/posts/${post.id}`, { token: author.token });
    expect(await stream.next((m) => m.event === 'delete')).toEqual({ event: 'delete', postId: post.id });
  });

  it('the last socket closing withdraws the watches', async () => {
    const { author } = await withFollowers(6);
    const reader = await signup();
    await follow(reader, author);
    const stream = await v1Stream(reader);
    const feed = depsFor(env).objects.authorFeed(author.id);
    expect(await runInDurableObject(feed, (o) => o.watcherCount(Date.now()))).toBe(1);
    stream.ws.close(1000, 'bye');
    // The close reaches the object asynchronously.
    await vi.waitFor(async () => {
      expect(await depsFor(env).objects.timeline(reader.id).streamCounts()).toEqual({ v1: 0, mastodon: 0 });
      expect(await runInDurableObject(feed, (o) => o.watcherCount(Date.now()))).toBe(0);
    }, eventually);
  });

  it('refuses a missing or invalid token (401) and a request that is no upgrade (426)', async () => {
    const user = await signup();
    const none = await exports.default.fetch(
      new Request('https://feed.test/v1/stream', { headers: { Upgrade: 'websocket' } }),
    );
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const forged = await exports.default.fetch(
      new Request('https://feed.test/v1/stream?access_token=not.a.token', { headers: { Upgrade: 'websocket' } }),
    );
    expect(forged.status).toBe(401);
    const plain = await api('GET', '/v1/stream', { token: user.token });
    expect(plain.status).toBe(426);
    expect(plain.body).toEqual({ error: { code: 'upgrade_required', message: expect.any(String) } });
  });

  it('notifications reach the stream through the timeline hook', async () => {
    const [reader, actor] = [await signup(), await signup()];
    const post = await createPost(reader, 'liked soon');
    const v1 = await v1Stream(reader);
    const mastodon = await mastodonStream(reader, 'stream=user:notification');
    const notification = {
      id: '123',
      type: 'like' as const,
      actorId: actor.id,
      postId: post.id,
      createdAt: new Date().toISOString(),
    };
    await depsFor(env).objects.timeline(reader.id).streamNotification(notification);
    expect(await v1.next((m) => m.event === 'notification')).toEqual({ event: 'notification', notification });
    const message = await mastodon.next((m) => m.event === 'notification');
    expect(message.stream).toEqual(['user:notification']);
    expect(payload(message)).toEqual(
      expect.objectContaining({
        id: '123',
        type: 'favourite',
        account: expect.objectContaining({ id: actor.id, username: actor.handle }),
        status: expect.objectContaining({ id: post.id }),
      }),
    );
  });
  it("a real like and a real follow reach open streams; a muted actor's do not", async () => {
    const [reader, liker, muted] = [await signup(), await signup(), await signup()];
    const post = await createPost(reader, 'like me for real');
    expect((await api('PUT', `/v1/users/${muted.id}/mute`, { token: reader.token, body: {} })).status).toBe(200);
    const mastodon = await mastodonStream(reader, 'stream=user:notification');
    const v1 = await v1Stream(reader);
    expect((await api('PUT', `/v1/posts/${post.id}/like`, { token: muted.token })).status).toBe(200);
    expect((await api('PUT', `/v1/posts/${post.id}/like`, { token: liker.token })).status).toBe(200);
    await follow(liker, reader);
    const liked = await mastodon.next((m) => m.event === 'notification');
    expect(payload(liked)).toEqual(
      expect.objectContaining({
        type: 'favourite',
        account: expect.objectContaining({ id: liker.id }),
        status: expect.objectContaining({ id: post.id }),
      }),
    );
    const followed = await mastodon.next((m) => m.event === 'notification');
    expect(payload(followed)).toEqual(
      expect.objectContaining({ type: 'follow', account: expect.objectContaining({ id: liker.id }), status: null }),
    );
    // The v1 stream heard the same two, and nothing from the muted account came before them.
    const first = await v1.next((m) => m.event === 'notification');
    expect(first.notification).toEqual(expect.objectContaining({ type: 'like', actorId: liker.id, postId: post.id }));
    const listed = await api<{ items: { id: string }[] }>('GET', '/v1/notifications', { token: reader.token });
    expect(listed.body.items.map((n) => n.id)).toEqual([
      (payload(followed) as { id: string }).id,
      (payload(liked) as { id: string }).id,
    ]);
  });
});

describe('Mastodon streaming', () => {
  it('GET /api/v1/streaming/health answers OK', async () => {
    const res = await exports.default.fetch(new Request('https://feed.test/api/v1/streaming/health'));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
  });

  it("stream=user carries Mastodon's wire format: the Status as a JSON string payload", async () => {
    const { author, followers } = await withFollowers(1);
    const stream = await mastodonStream(followers[0]!);
    const post = await createPost(author, 'hello #world @nobody');
    const message = await stream.next((m) => m.event === 'update');
    expect(message.stream).toEqual(['user']);
    expect(typeof message.payload).toBe('string');
    const status = payload(message);
    expect(status).toEqual(
      expect.objectContaining({
        id: post.id,
        url: `https://feed.test/@${author.handle}/${post.id}`,
        account: expect.objectContaining({ id: author.id, username: author.handle, acct: author.handle }),
        tags: [{ name: 'world', url: 'https://feed.test/tags/world' }],
        reblog: null,
        edited_at: null,
      }),
    );
    expect(status.content).toContain('<a href="https://feed.test/tags/world"');
    await api('PATCH', `/v1/posts/${post.id}`, { token: author.token, body: { text: 'changed' } });
    const edit = await stream.next((m) => m.event === 'status.update');
    // The same Status as GET /api/v1/statuses/:id shows the reader (one serializer): no `text`, the content HTML.
    expect(payload(edit)).toEqual(
      expect.objectContaining({ id: post.id, content: '<p>changed</p>', edited_at: expect.any(String) }),
    );
    const rest = await api('GET', `/api/v1/statuses/${post.id}`, { token: followers[0]!.token });
    expect(payload(edit)).toEqual(rest.body);
    await api('DELETE', `/v1/posts/${post.id}`, { token: author.token });
    expect(await stream.next((m) => m.event === 'delete')).toEqual({
      stream: ['user'],
      event: 'delete',
      payload: post.id,
    });
  });

  it('takes the token as Sec-WebSocket-Protocol and names it back in the handshake', async () => {
    const { author, followers } = await withFollowers(1);
    const reader = followers[0]!;
    const stream = await connect('/api/v1/streaming/user', { 'Sec-WebSocket-Protocol': reader.token });
    expect(stream.response.headers.get('Sec-WebSocket-Protocol')).toBe(reader.token);
    const post = await createPost(author, 'via protocol');
    expect(payload(await stream.next((m) => m.event === 'update')).id).toBe(post.id);
  });

  it('subscribe messages choose the streams; bad ones are answered with an error; state lives in attachments', async () => {
    const { author, followers } = await withFollowers(1);
    const reader = followers[0]!;
    const stream = await connect(`/api/v1/streaming?access_token=${encodeURIComponent(reader.token)}`);
    expect(await attachments(reader)).toEqual([expect.objectContaining({ protocol: 'mastodon', streams: [] })]);
    stream.ws.send(JSON.stringify({ type: 'subscribe', stream: 'user' }));
    stream.ws.send(JSON.stringify({ type: 'subscribe', stream: 'public' }));
    // Messages are handled in order: the error for the second proves the first was applied.
    expect(await stream.next((m) => 'error' in m)).toEqual({ error: 'Unknown stream type', status: 400 });
    expect(await attachments(reader)).toEqual([
      { protocol: 'mastodon', streams: ['user'], origin: 'https://feed.test', openedAt: expect.any(Number) },
    ]);
    const post = await createPost(author, 'after subscribing');
    expect(payload(await stream.next((m) => m.event === 'update')).id).toBe(post.id);
    stream.ws.send('not json');
    expect(await stream.next((m) => 'error' in m)).toEqual({ error: 'Invalid JSON', status: 400 });
  });

  it('refuses a missing token with a Mastodon error, and an unknown stream', async () => {
    const user = await signup();
    const none = await exports.default.fetch(
      new Request('https://feed.test/api/v1/streaming/user', { headers: { Upgrade: 'websocket' } }),
    );
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: expect.any(String) });
    const unknown = await exports.default.fetch(
      new Request(`https://feed.test/api/v1/streaming?stream=public&access_token=${user.token}`, {
        headers: { Upgrade: 'websocket' },
      }),
    );
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: 'Unknown stream type' });
  });
});
