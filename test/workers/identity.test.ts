import { createExecutionContext, env } from 'cloudflare:test';
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../workers/api/app.ts';
import { ConfigError, depsFor, parseConfig } from '../../workers/composition.ts';
import { api, createPost, signup } from '../support/api.ts';
import { settled, snapshot } from '../support/db.ts';

const GHOST = '1234567890123456789';

async function tokenFor(claims: Record<string, unknown>): Promise<string> {
  return sign(claims, env.JWT_SECRET, 'HS256');
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('identities that hold', () => {
  it('a signed token whose subject is no user acts nowhere, and nothing is written', async () => {
    const author = await signup();
    const post = await createPost(author, 'a post the ghost tries to touch');
    const ghost = await tokenFor({ sub: GHOST, iat: nowSeconds(), exp: nowSeconds() + 3600 });
    await settled();
    const before = await snapshot();
    const attempts: [string, string, unknown?][] = [
      ['POST', '/v1/posts', { text: 'from nobody' }],
      ['PUT', `/v1/users/${author.id}/follow`],
      ['PUT', `/v1/posts/${post.id}/like`],
      ['POST', `/v1/posts/${post.id}/comments`, { text: 'boo' }],
      ['POST', `/v1/posts/${post.id}/shares`],
      ['POST', '/v1/events', { events: [{ type: 'view', postId: post.id }] }],
      ['GET', '/v1/feed'],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api(method, path, { token: ghost, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.body).toMatchObject({ error: { code: 'unauthorized' } });
    }
    expect(await snapshot()).toEqual(before);
    const author2 = await api<{ user: { counts: { followers: number } } }>('GET', `/v1/users/${author.id}`);
    expect(author2.body.user.counts.followers).toBe(0);
  });

  it('a token without exp is refused even for an existing user; an expired one too', async () => {
    const user = await signup();
    const forever = await tokenFor({ sub: user.id, iat: nowSeconds() });
    const expired = await tokenFor({ sub: user.id, iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 });
    for (const token of [forever, expired]) {
      expect((await api('GET', '/v1/feed', { token })).status).toBe(401);
      expect((await api('POST', '/v1/posts', { token, body: { text: 'x' } })).status).toBe(401);
    }
    expect((await api('GET', '/v1/feed', { token: user.token })).status).toBe(200);
  });

  it('issued tokens carry exp = iat + TOKEN_TTL', async () => {
    const user = await signup();
    const [, payload] = user.token.split('.');
    const claims = JSON.parse(atob(payload!.replace(/-/g, '+').replace(/_/g, '/'))) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(30 * 24 * 3600);
    expect(depsFor({ ...env, TOKEN_TTL: '2h' } as unknown as Env).config.tokenTtlSeconds).toBe(7200);
  });
});

describe('passwords and sessions', () => {
  const handle = `pw_${Date.now().toString(36)}`;
  const password = 'correct horse battery staple';

  it('signup takes an optional password of at least 8 characters; it is never stored in clear', async () => {
    const short = await api('POST', '/v1/users', { body: { handle: `${handle}_s`, password: 'short' } });
    expect(short.status).toBe(400);
    const res = await api<{ user: { id: string; handle: string }; token: string }>('POST', '/v1/users', {
      body: { handle, password },
    });
    expect(res.status).toBe(201);
    expect(JSON.stringify(res.body)).not.toContain(password);
    const stored = await depsFor(env).repos.users.credentials(handle);
    expect(stored?.passwordHash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(stored?.passwordHash).not.toContain(password);
  });

  it('POST /v1/sessions answers 201 with a working token for the right pair', async () => {
    const res = await api<{ user: { handle: string }; token: string }>('POST', '/v1/sessions', {
      body: { handle: handle.toUpperCase(), password },
    });
    expect(res.status).toBe(201);
    expect(res.body.user.handle).toBe(handle);
    expect((await api('GET', '/v1/feed', { token: res.body.token })).status).toBe(200);
  });

  it('a wrong password, an unknown handle and an account without a password get the same 401', async () => {
    const noPassword = await signup();
    const answers = await Promise.all(
      [
        { handle, password: 'wrong password!' },
        { handle: 'nobody_has_this_handle', password },
        { handle: noPassword.handle, password },
      ].map((body) => api('POST', '/v1/sessions', { body })),
    );
    for (const res of answers) expect(res.status).toBe(401);
    expect(new Set(answers.map((res) => JSON.stringify(res.body))).size).toBe(1);
  });

  it('login attempts are limited per client IP', async () => {
    const app = createApp();
    const limited = { ...env, RATE_LIMIT_SESSIONS_PER_IP: '2/1h' } as unknown as Env;
    const attempt = () =>
      app.fetch(
        new Request('https://feed.test/v1/sessions', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': '203.0.113.9' },
          body: JSON.stringify({ handle, password: 'guess guess guess' }),
        }),
        limited,
        createExecutionContext(),
      );
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(429);
  });
});

describe('admin token', () => {
  it('health tells an anonymous caller only its status; the admin token gets the details', async () => {
    const anonymous = await api<Record<string, unknown>>('GET', '/v1/health');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ status: 'ok' });
    const wrong = await api<Record<string, unknown>>('GET', '/v1/health', { token: `${env.ADMIN_TOKEN}x` });
    expect(wrong.body).toEqual({ status: 'ok' });
    const admin = await api<Record<string, unknown>>('GET', '/v1/health', { token: env.ADMIN_TOKEN });
    expect(admin.body).toMatchObject({ status: 'ok', shards: expect.any(Array), config: expect.any(Object) });
  });

  it('closed signups need the admin token', async () => {
    const app = createApp();
    const closed = { ...env, ALLOW_SIGNUP: 'false' } as unknown as Env;
    const attempt = (token?: string) =>
      app.fetch(
        new Request('https://feed.test/v1/users', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ handle: `closed_${Date.now().toString(36)}` }),
        }),
        closed,
        createExecutionContext(),
      );
    expect((await attempt()).status).toBe(403);
    expect((await attempt('not-the-admin-token')).status).toBe(403);
    expect((await attempt(env.ADMIN_TOKEN)).status).toBe(201);
  });
});

describe('configuration', () => {
  it('a bad value fails loudly, naming its variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ SHARD_COUNT: 'four' }, /SHARD_COUNT/],
      [{ TOKEN_TTL: 'forever' }, /TOKEN_TTL/],
      [{ FANOUT_PUSH_MAX: '-1' }, /FANOUT_PUSH_MAX/],
      [{ RANKING_WEIGHTS: '{"recency": "high"}' }, /RANKING_WEIGHTS/],
      [{ IMPRESSION_SAMPLE_RATE: '2' }, /IMPRESSION_SAMPLE_RATE/],
      [{ RATE_LIMIT_POSTS: 'lots' }, /rate limit "lots"/],
      [{ CORS_ORIGINS: 'https://app.example/path' }, /CORS_ORIGINS/],
      [{ JWT_SECRET: 'short' }, /JWT_SECRET/],
    ];
    for (const [vars, message] of cases) {
      expect(() => parseConfig({ ...env, ...vars })).toThrow(ConfigError);
      expect(() => parseConfig({ ...env, ...vars })).toThrow(message);
    }
  });

  it('a misconfigured deployment answers 500 without leaking the setting, and logs it', async () => {
    const app = createApp();
    const broken = { ...env, SHARD_COUNT: 'many' } as unknown as Env;
    const res = await app.fetch(new Request('https://feed.test/v1/health'), broken, createExecutionContext());
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'misconfigured', message: 'the service is misconfigured' } });
  });
});
