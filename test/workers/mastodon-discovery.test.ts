import { describe, expect, it, vi } from 'vitest';
import { api, createPost, signup } from '../support/api.ts';
import { eventually } from '../support/timeline.ts';

interface Status {
  id: string;
  tags: { name: string }[];
}

interface Tag {
  name: string;
  url: string;
  history: { day: string; uses: string; accounts: string }[];
  following: boolean;
}

function links(header: string | null): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/<([^>]+)>; rel="(\w+)"/g)) found[m[2]!] = m[1]!;
  return found;
}

describe('Mastodon API: tag timeline', () => {
  it('pages a tag newest first by absolute Link headers, anonymous or signed in, with the reader’s mutes', async () => {
    const stamp = Date.now().toString(36);
    const tag = `tagline${stamp}`;
    const [alice, bob] = [await signup(), await signup()];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createPost(i === 2 ? bob : alice, `post ${i} #${tag}`)).id);
    const newestFirst = [...ids].reverse();
    const seen: string[] = [];
    let url: string | undefined = `/api/v1/timelines/tag/${tag.toUpperCase()}?limit=2`;
    for (let pages = 0; url && pages < 10; pages++) {
      const res: Awaited<ReturnType<typeof api<Status[]>>> = await api<Status[]>('GET', url);
      expect(res.status).toBe(200);
      seen.push(...res.body.map((s) => s.id));
      const next = links(res.headers.get('Link')).next;
      expect(next === undefined || next.startsWith(`https://feed.test/api/v1/timelines/tag/`)).toBe(true);
      url = next?.replace('https://feed.test', '');
    }
    expect(seen).toEqual(newestFirst);
    const newer = await api<Status[]>('GET', `/api/v1/timelines/tag/${tag}?min_id=${ids[2]}`);
    expect(newer.body.map((s) => s.id)).toEqual([ids[4], ids[3]]);
    expect((await api('PUT', `/v1/users/${bob.id}/mute`, { token: alice.token, body: {} })).status).toBe(200);
    const muted = await api<Status[]>('GET', `/api/v1/timelines/tag/${tag}?limit=40`, { token: alice.token });
    expect(muted.body.map((s) => s.id)).toEqual(newestFirst.filter((id) => id !== ids[2]));
    expect(muted.body[0]!.tags).toEqual([expect.objectContaining({ name: tag })]);
    expect((await api('GET', '/api/v1/timelines/tag/not%20a%20tag')).status).toBe(404);
    expect((await api('GET', `/api/v1/timelines/tag/${tag}?limit=99`)).status).toBe(400);
    expect((await api<unknown[]>('GET', `/api/v1/timelines/tag/${tag}?remote=true`)).body).toEqual([]);
  });
});

describe('Mastodon API: trends, tags and search', () => {
  it('trends/tags answers Tag entities with a history of uses and accounts', async () => {
    const authors = [await signup(), await signup(), await signup()];
    for (const author of authors) await createPost(author, 'news #mastotrend');
    await vi.waitFor(async () => {
      const res = await api<Tag[]>('GET', '/api/v1/trends/tags?limit=10');
      expect(res.status).toBe(200);
      const found = res.body.find((t) => t.name === 'mastotrend');
      expect(found).toMatchObject({ url: 'https://feed.test/tags/mastotrend', following: false });
      expect(found?.history[0]).toMatchObject({ uses: '3', accounts: '3', day: expect.stringMatching(/^\d+$/) });
    }, eventually);
    expect((await api('GET', '/api/v1/trends/tags?limit=0')).status).toBe(400);
    const one = await api<Tag>('GET', '/api/v1/tags/MastoTrend');
    expect(one.body).toMatchObject({ name: 'mastotrend', history: [expect.objectContaining({ uses: '3' })] });
  });

  it('search v2 finds accounts, hashtags and statuses as Mastodon entities; type narrows it', async () => {
    const stamp = Date.now().toString(36);
    const user = await signup(`okapi_${stamp}`);
    const post = await createPost(user, `striped legs #okapi${stamp}`);
    const all = await api<{ accounts: { id: string }[]; hashtags: Tag[]; statuses: Status[] }>(
      'GET',
      `/api/v2/search?q=okapi`,
      { token: user.token },
    );
    expect(all.status).toBe(200);
    expect(all.body.accounts.map((a) => a.id)).toContain(user.id);
    expect(all.body.hashtags.map((t) => t.name)).toContain(`okapi${stamp}`);
    const statuses = await api<{ accounts: unknown[]; hashtags: unknown[]; statuses: Status[] }>(
      'GET',
      `/api/v2/search?q=%23okapi${stamp}&type=statuses`,
      { token: user.token },
    );
    expect(statuses.body.statuses.map((s) => s.id)).toEqual([post.id]);
    expect(statuses.body.accounts).toEqual([]);
    expect(statuses.body.hashtags).toEqual([]);
    const paged = await api('GET', '/api/v2/search?q=okapi&offset=20', { token: user.token });
    expect(paged.body).toEqual({ accounts: [], statuses: [], hashtags: [] });
    expect((await api('GET', '/api/v2/search?q=okapi')).status).toBe(401);
    expect((await api('GET', '/api/v2/search?q=okapi&type=people', { token: user.token })).status).toBe(400);
    expect((await api('GET', '/api/v2/search', { token: user.token })).status).toBe(400);
  });
});
