import { describe, expect, it } from 'vitest';
import { testShards } from '../support/db.ts';
import { api, signup } from '../support/api.ts';

/** The flag as both halves of the edge store it (the follower's truth and the fan-out's mirror). */
async function storedFlags(followerId: string, followeeId: string) {
  const shards = testShards();
  const out = await shards.of(followerId).query.followsByFollower.findFirst({
    where: (t, { and, eq }) => and(eq(t.followerId, followerId), eq(t.followeeId, followeeId)),
  });
  const inc = await shards.of(followeeId).query.followsByFollowee.findFirst({
    where: (t, { and, eq }) => and(eq(t.followeeId, followeeId), eq(t.followerId, followerId)),
  });
  return [out?.showReposts, inc?.showReposts];
}

describe('follow with reposts flag', () => {
  it('stores show_reposts on both halves; an omitted flag keeps the existing one; counts stay exact', async () => {
    const [a, b] = [await signup(), await signup()];
    expect((await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token, body: { reposts: false } })).status).toBe(
      200,
    );
    expect(await storedFlags(a.id, b.id)).toEqual([false, false]);
    await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token });
    expect(await storedFlags(a.id, b.id)).toEqual([false, false]);
    await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token, body: { reposts: true } });
    expect(await storedFlags(a.id, b.id)).toEqual([true, true]);
    const user = await api<{ user: { counts: { followers: number } } }>('GET', `/v1/users/${b.id}`);
    expect(user.body.user.counts.followers).toBe(1);
  });

  it('refuses a malformed flag with a 400 and changes nothing', async () => {
    const [a, b] = [await signup(), await signup()];
    const res = await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token, body: { reposts: 'no' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code: 'invalid_request' } });
    expect(await storedFlags(a.id, b.id)).toEqual([undefined, undefined]);
  });
});
