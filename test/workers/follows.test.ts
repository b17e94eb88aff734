import { describe, expect, it } from 'vitest';
import { api, signup, type TestUser } from '../support/api.ts';

interface UserBody {
  user: { id: string; counts: { followers: number; following: number; posts: number } };
}
interface PageBody {
  items: { id: string }[];
  nextCursor: string | null;
}

async function counts(user: TestUser) {
  return (await api<UserBody>('GET', `/v1/users/${user.id}`)).body.user.counts;
}

async function collect(path: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api<PageBody>('GET', `${path}${query}`);
    expect(res.status).toBe(200);
    ids.push(...res.body.items.map((u) => u.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

describe('follows', () => {
  it('follow and unfollow are idempotent and keep both counts exact', async () => {
    const [a, b] = [await signup(), await signup()];
    for (let i = 0; i < 3; i++) {
      const res = await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ relationship: { following: true } });
    }
    expect(await counts(a)).toMatchObject({ following: 1, followers: 0 });
    expect(await counts(b)).toMatchObject({ following: 0, followers: 1 });
    for (let i = 0; i < 2; i++) {
      const res = await api('DELETE', `/v1/users/${b.id}/follow`, { token: a.token });
      expect(res.body).toEqual({ relationship: { following: false } });
    }
    expect(await counts(a)).toMatchObject({ following: 0 });
    expect(await counts(b)).toMatchObject({ followers: 0 });
  });

  it('concurrent duplicate follows count once', async () => {
    const [a, b] = [await signup(), await signup()];
    await Promise.all(Array.from({ length: 10 }, () => api('PUT', `/v1/users/${b.id}/follow`, { token: a.token })));
    expect(await counts(b)).toMatchObject({ followers: 1 });
  });

  it('pages followers and following newest first with no repeats or gaps', async () => {
    const star = await signup();
    const fans: TestUser[] = [];
    for (let i = 0; i < 7; i++) {
      const fan = await signup();
      fans.push(fan);
      await api('PUT', `/v1/users/${star.id}/follow`, { token: fan.token });
      await api('PUT', `/v1/users/${fan.id}/follow`, { token: star.token });
    }
    const followers = await collect(`/v1/users/${star.id}/followers`, 3);
    expect(followers).toHaveLength(7);
    expect(new Set(followers)).toEqual(new Set(fans.map((f) => f.id)));
    const following = await collect(`/v1/users/${star.id}/following`, 2);
    expect(new Set(following)).toEqual(new Set(fans.map((f) => f.id)));
    // Newest first: the last fan to follow is listed first.
    expect(followers[0]).toBe(fans[6]!.id);
  });

  it('a follower page cursor is refused by the following listing', async () => {
    const star = await signup();
    for (let i = 0; i < 2; i++) await api('PUT', `/v1/users/${star.id}/follow`, { token: (await signup()).token });
    const first = await api<PageBody>('GET', `/v1/users/${star.id}/followers?limit=1`);
    const cursor = first.body.nextCursor!;
    const cross = await api('GET', `/v1/users/${star.id}/following?cursor=${encodeURIComponent(cursor)}`);
    expect(cross.status).toBe(400);
    expect(cross.body).toMatchObject({ error: { code: 'invalid_cursor' } });
  });

  it('refuses following yourself and unknown users', async () => {
    const a = await signup();
    expect((await api('PUT', `/v1/users/${a.id}/follow`, { token: a.token })).status).toBe(400);
    expect((await api('PUT', '/v1/users/1234567890123456789/follow', { token: a.token })).status).toBe(404);
    expect(await counts(a)).toMatchObject({ following: 0, followers: 0 });
  });
});
