import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../workers/api/app.ts';
import { api, signup } from '../support/api.ts';

interface UserBody {
  user: { id: string; handle: string; displayName: string; createdAt: string; counts: Record<string, number> };
  token: string;
}

describe('users', () => {
  it('signs up, returns a working token, and reads the user back with counts', async () => {
    const res = await api<UserBody>('POST', '/v1/users', { body: { handle: 'Grace_Hopper', displayName: 'Grace' } });
    expect(res.status).toBe(201);
    expect(res.body.user).toMatchObject({
      handle: 'grace_hopper',
      displayName: 'Grace',
      counts: { followers: 0, following: 0, posts: 0 },
    });
    expect(res.body.user.id).toMatch(/^\d{19}$/);
    const read = await api<UserBody>('GET', `/v1/users/${res.body.user.id}`);
    expect(read.status).toBe(200);
    expect(read.body.user).toEqual(res.body.user);
    const post = await api('POST', '/v1/posts', { token: res.body.token, body: { text: 'first' } });
    expect(post.status).toBe(201);
  });

  it('keeps handles unique regardless of case', async () => {
    await signup('Unique_Name');
    const again = await api('POST', '/v1/users', { body: { handle: 'unique_NAME' } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'conflict', message: expect.stringContaining('taken') } });
  });

  it('answers 404 for an unknown user id', async () => {
    const res = await api('GET', '/v1/users/1234567890123456789');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: { code: 'not_found' } });
  });

  it('requires the admin token for signups when ALLOW_SIGNUP is not "true"', async () => {
    const app = createApp();
    const closed = { ...env, ALLOW_SIGNUP: 'false' } as unknown as Env;
    const request = (token?: string) =>
      app.request(
        '/v1/users',
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ handle: `closed_${token ?? 'none'}`.slice(0, 30).replace(/-/g, '_') }),
        },
        closed,
      );
    expect((await request()).status).toBe(403);
    expect((await request('wrong-token')).status).toBe(403);
    expect((await request(env.ADMIN_TOKEN)).status).toBe(201);
  });
});
