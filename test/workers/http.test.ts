import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../workers/api/app.ts';
import { api, createPost, feed, follow, signup } from '../support/api.ts';
import { settled, snapshot } from '../support/db.ts';

describe('ids', () => {
  it('a well-formed unknown id of any width from 1 to 20 digits is a 404; a malformed one a 400', async () => {
    const user = await signup();
    for (const id of ['1', '42', '123456789012345678', '12345678901234567890', '99999999999999999999']) {
      expect((await api('GET', `/v1/posts/${id}`)).status, id).toBe(404);
      expect((await api('GET', `/v1/users/${id}`)).status, id).toBe(404);
      expect((await api('PUT', `/v1/users/${id}/follow`, { token: user.token })).status, id).toBe(404);
      expect((await api('PUT', `/v1/posts/${id}/like`, { token: user.token })).status, id).toBe(404);
    }
    for (const id of ['123456789012345678901', '-1', '1e5', 'abc', '12 3']) {
      const res = await api('GET', `/v1/posts/${encodeURIComponent(id)}`);
      expect(res.status, id).toBe(400);
    }
  });
});

describe('methods', () => {
  it('a known path with an unsupported method is a 405 with Allow; an unknown path a 404', async () => {
    const user = await signup();
    const post = await createPost(user, 'method test');
    const cases: [string, string, string][] = [
      ['DELETE', '/v1/users', 'OPTIONS, POST'],
      ['POST', `/v1/users/${user.id}`, 'GET, HEAD, OPTIONS'],
      ['POST', '/v1/feed', 'GET, HEAD, OPTIONS'],
      ['PUT', `/v1/posts/${post.id}`, 'DELETE, GET, HEAD, OPTIONS, PATCH'],
      ['GET', `/v1/posts/${post.id}/like`, 'DELETE, OPTIONS, PUT'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await api(method, path, { token: user.token });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('Allow')).toBe(allow);
      expect(res.body).toMatchObject({ error: { code: 'method_not_allowed' } });
    }
    expect((await api('GET', '/v1/nothing-here')).status).toBe(404);
  });
});

describe('CORS and headers', () => {
  it('answers a preflight with 204 and lets any origin call by default', async () => {
    const res = await api('OPTIONS', '/v1/posts', {
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Allow-Methods')).toContain('POST');
    expect(res.headers.get('Access-Control-Allow-Headers')?.toLowerCase()).toContain('authorization');
    const get = await api('GET', '/v1/health', { headers: { Origin: 'https://app.example' } });
    expect(get.headers.get('Access-Control-Allow-Origin')).toBe('*');
  });

  it('CORS_ORIGINS restricts the origins', async () => {
    const app = createApp();
    const restricted = { ...env, CORS_ORIGINS: 'https://good.example' } as unknown as Env;
    const from = async (origin: string) =>
      (
        await app.fetch(
          new Request('https://feed.test/v1/health', { headers: { Origin: origin } }),
          restricted,
          createExecutionContext(),
        )
      ).headers.get('Access-Control-Allow-Origin');
    expect(await from('https://good.example')).toBe('https://good.example');
    expect(await from('https://evil.example')).toBeNull();
  });

  it('every answer carries nosniff, errors included', async () => {
    for (const [method, path] of [
      ['GET', '/v1/health'],
      ['GET', '/v1/nope'],
      ['DELETE', '/v1/users'],
      ['GET', '/v1/feed'],
    ] as const) {
      expect((await api(method, path)).headers.get('X-Content-Type-Options'), path).toBe('nosniff');
    }
  });
});

describe('conditional reads', () => {
  it('a public post read answers 304 to its own ETag, and a new ETag once its counts change', async () => {
    const [author, fan] = [await signup(), await signup()];
    const post = await createPost(author, 'etag me');
    const first = await api('GET', `/v1/posts/${post.id}`);
    const tag = first.headers.get('ETag')!;
    expect(tag).toBe('"1.0.0.0"');
    const again = await api('GET', `/v1/posts/${post.id}`, { headers: { 'If-None-Match': tag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('Cache-Control')).toContain('public');
    await api('PUT', `/v1/posts/${post.id}/like`, { token: fan.token });
    const changed = await api('GET', `/v1/posts/${post.id}`, {
      token: fan.token,
      headers: { 'If-None-Match': tag },
    });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('ETag')).toBe('"1.1.0.0"');
  });
});

describe('cursors are bound to their reader', () => {
  it("another reader's latest or ranked cursor is a 400 invalid_cursor", async () => {
    const [author, reader, other] = [await signup(), await signup(), await signup()];
    await follow(reader, author);
    for (let i = 0; i < 4; i++) await createPost(author, `post ${i}`);
    await expect.poll(async () => (await feed(reader, '?mode=latest')).body.items.length).toBeGreaterThanOrEqual(4);
    const latest = await feed(reader, '?mode=latest&limit=2');
    const ranked = await feed(reader, '?limit=2');
    for (const [query, cursor] of [
      ['?mode=latest&limit=2', latest.body.nextCursor],
      ['?limit=2', ranked.body.nextCursor],
    ] as const) {
      expect(cursor).toBeTruthy();
      const own = await feed(reader, `${query}&cursor=${encodeURIComponent(cursor!)}`);
      expect(own.status).toBe(200);
      const foreign = await api('GET', `/v1/feed${query}&cursor=${encodeURIComponent(cursor!)}`, {
        token: other.token,
      });
      expect(foreign.status).toBe(400);
      expect(foreign.body).toMatchObject({ error: { code: 'invalid_cursor' } });
    }
  });
});

describe('rate-limit budget', () => {
  it('unknown routes, wrong methods, bad bodies and unauthenticated writes cost nothing', async () => {
    const app = createApp();
    const limited = { ...env, RATE_LIMIT_WRITES: '2/1h', RATE_LIMIT_POSTS: '2/1h' } as unknown as Env;
    const user = await signup();
    const call = (method: string, path: string, body?: unknown) =>
      app.fetch(
        new Request(`https://feed.test${path}`, {
          method,
          headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        limited,
        createExecutionContext(),
      );
    await settled();
    const before = await snapshot();
    for (let i = 0; i < 5; i++) {
      expect((await call('POST', '/v1/unknown')).status).toBe(404);
      expect((await call('PUT', '/v1/feed')).status).toBe(405);
      expect((await call('POST', '/v1/posts', { text: 42 })).status).toBe(400);
      expect((await call('PUT', '/v1/users/abc/follow')).status).toBe(400);
    }
    expect(await snapshot()).toEqual(before);
    expect((await call('POST', '/v1/posts', { text: 'one' })).status).toBe(201);
    expect((await call('POST', '/v1/posts', { text: 'two' })).status).toBe(201);
    expect((await call('POST', '/v1/posts', { text: 'three' })).status).toBe(429);
  });
});
