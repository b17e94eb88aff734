import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../workers/api/app.ts';
import { depsFor } from '../../workers/composition.ts';
import { api, createPost, follow, signup, type TestUser } from '../support/api.ts';

/** The real app under other limits: configuration, as a deployment would set it. */
function appWith(vars: Record<string, string>, clock?: { now: number }) {
  const limited = { ...env, ...vars } as unknown as Env;
  const app = createApp(clock ? { now: () => clock.now } : undefined);
  return { fetch: (request: Request) => Promise.resolve(app.fetch(request, limited, createExecutionContext())) };
}

const post = (user: TestUser, app: ReturnType<typeof appWith>, text = 'hello') =>
  api('POST', '/v1/posts', { token: user.token, body: { text }, app });

async function postCount(user: TestUser): Promise<number> {
  const res = await api<{ user: { counts: { posts: number } } }>('GET', `/v1/users/${user.id}`);
  return res.body.user.counts.posts;
}

describe('rate limits', () => {
  it('posts: the limit+1st post is a 429 with Retry-After and RateLimit headers, and writes nothing', async () => {
    const app = appWith({ RATE_LIMIT_POSTS: '3/1h' });
    const user = await signup();
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(user, app);
      expect(res.status).toBe(201);
      expect(res.headers.get('RateLimit-Limit')).toBe('3');
      remaining.push(res.headers.get('RateLimit-Remaining')!);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = await post(user, app, 'one too many');
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('Retry-After'))).toBeLessThanOrEqual(3600);
    expect(refused.headers.get('RateLimit-Remaining')).toBe('0');
    expect(Number(refused.headers.get('RateLimit-Reset'))).toBeGreaterThan(0);
    expect(await postCount(user)).toBe(3);
  });

  it('limits are per user: one user at the limit does not limit another', async () => {
    const app = appWith({ RATE_LIMIT_POSTS: '1/1h' });
    const [a, b] = [await signup(), await signup()];
    expect((await post(a, app)).status).toBe(201);
    expect((await post(a, app)).status).toBe(429);
    expect((await post(b, app)).status).toBe(201);
  });

  it('other writes have their own budget, apart from posts', async () => {
    const app = appWith({ RATE_LIMIT_WRITES: '2/1h' });
    const [user, author] = [await signup(), await signup()];
    const target = await createPost(author, 'like me');
    const like = () => api('PUT', `/v1/posts/${target.id}/like`, { token: user.token, app });
    expect((await like()).status).toBe(200);
    expect((await like()).status).toBe(200);
    expect((await like()).status).toBe(429);
    expect((await api('PUT', `/v1/users/${author.id}/follow`, { token: user.token, app })).status).toBe(429);
    expect((await post(user, app)).status).toBe(201);
  });

  it('celebrities have the stricter hourly post limit on top of the general one', async () => {
    // vitest.config.ts: FANOUT_PULL_MIN=6, so six followers make a celebrity.
    const app = appWith({ RATE_LIMIT_POSTS_CELEBRITY: '2/1h', RATE_LIMIT_POSTS: '5/1h' });
    const [celebrity, small] = [await signup(), await signup()];
    for (let i = 0; i < 6; i++) await follow(await signup(), celebrity);
    for (let i = 0; i < 2; i++) expect((await post(celebrity, app)).status).toBe(201);
    const refused = await post(celebrity, app);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('RateLimit-Limit')).toBe('2');
    for (let i = 0; i < 3; i++) expect((await post(small, app)).status).toBe(201);
  });

  it('a request refused by a later rule is counted by none: the earlier rules keep their budget', async () => {
    // Runs with the Durable Object limiter and, in the workers-l2 project, with @upstash/ratelimit on Redis.
    const app = appWith({ RATE_LIMIT_POSTS_CELEBRITY: '1/1h', RATE_LIMIT_POSTS: '4/1h' });
    const celebrity = await signup();
    const fans: TestUser[] = [];
    for (let i = 0; i < 6; i++) {
      const fan = await signup();
      await follow(fan, celebrity);
      fans.push(fan);
    }
    expect((await post(celebrity, app)).status).toBe(201);
    // posts allows each of these, celebrityPosts refuses: the posts rule must not be charged for them.
    for (let i = 0; i < 3; i++) expect((await post(celebrity, app)).status).toBe(429);
    // One follower fewer, and the author is no celebrity: three of the four general posts are left.
    expect((await api('DELETE', `/v1/users/${celebrity.id}/follow`, { token: fans[0]!.token })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post(celebrity, app)).status).toBe(201);
    expect((await post(celebrity, app)).status).toBe(429);
  });

  it('signups are limited per client IP', async () => {
    const app = appWith({ RATE_LIMIT_SIGNUPS_PER_IP: '2/1h' });
    const from = (ip: string, handle: string) =>
      api('POST', '/v1/users', { body: { handle }, headers: { 'CF-Connecting-IP': ip }, app });
    const tag = Date.now().toString(36);
    expect((await from('203.0.113.7', `ip_a_${tag}`)).status).toBe(201);
    expect((await from('203.0.113.7', `ip_b_${tag}`)).status).toBe(201);
    const refused = await from('203.0.113.7', `ip_c_${tag}`);
    expect(refused.status).toBe(429);
    expect((await from('198.51.100.9', `ip_c_${tag}`)).status).toBe(201);
  });

  it('reads and unauthenticated writes are not counted', async () => {
    const app = appWith({ RATE_LIMIT_WRITES: '1/1h' });
    const user = await signup();
    for (let i = 0; i < 3; i++) expect((await api('GET', '/v1/feed', { token: user.token, app })).status).toBe(200);
    expect((await api('PUT', `/v1/users/${user.id}/follow`, { app })).status).toBe(401);
    expect((await api('POST', '/v1/events', { token: 'not-a-token', body: {}, app })).status).toBe(401);
    const author = await signup();
    expect((await api('PUT', `/v1/users/${author.id}/follow`, { token: user.token, app })).status).toBe(200);
  });

  it('the window slides: refused now, allowed once enough of it has passed (Durable Object limiter)', async () => {
    const clock = { now: Date.now() };
    // Without Redis, so the limiter runs on the clock the test moves (Redis keeps its own time).
    const app = appWith({ RATE_LIMIT_POSTS: '2/1m', UPSTASH_REDIS_REST_URL: '' }, clock);
    expect(depsFor({ ...env, UPSTASH_REDIS_REST_URL: '' } as unknown as Env).redis).toBeNull();
    const user = await signup();
    expect((await post(user, app)).status).toBe(201);
    expect((await post(user, app)).status).toBe(201);
    const refused = await post(user, app);
    expect(refused.status).toBe(429);
    clock.now += Number(refused.headers.get('Retry-After')) * 1000 + 61_000;
    expect((await post(user, app)).status).toBe(201);
  });
});
