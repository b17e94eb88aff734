import { describe, expect, it } from 'vitest';
import { api, follow, signup, type TestUser } from '../support/api.ts';

interface Status {
  id: string;
  content: string;
  account: { id: string; username: string };
  in_reply_to_id: string | null;
  reblog: Status | null;
  replies_count: number;
  favourites_count: number;
  reblogs_count: number;
  favourited: boolean;
  reblogged: boolean;
  text?: string;
  edited_at: string | null;
}

async function status(user: TestUser, text: string, extra: Record<string, unknown> = {}): Promise<Status> {
  const res = await api<Status>('POST', '/api/v1/statuses', { token: user.token, body: { status: text, ...extra } });
  expect(res.status).toBe(200);
  return res.body;
}

/** The URLs of a Link header by rel. */
function links(header: string | null): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/<([^>]+)>; rel="(\w+)"/g)) found[m[2]!] = m[1]!;
  return found;
}

async function waitForHome(user: TestUser, id: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await api<Status[]>('GET', '/api/v1/timelines/home?limit=40', { token: user.token });
    if (res.body.some((s) => s.id === id)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`status ${id} never reached the home timeline`);
}

describe('Mastodon API: instance', () => {
  it('serves instance v1/v2, nodeinfo that says mastodon, and empty custom emojis, all JSON', async () => {
    const v1 = await api<{ urls: { streaming_api: string }; version: string }>('GET', '/api/v1/instance');
    expect(v1.status).toBe(200);
    expect(v1.headers.get('Content-Type')).toContain('application/json');
    expect(v1.body.urls.streaming_api).toBe('wss://feed.test');
    expect(v1.body.version).toMatch(/^4\.\d+\.\d+ \(compatible; edge-feed/);
    const v2 = await api<{ configuration: { urls: { streaming: string } } }>('GET', '/api/v2/instance');
    expect(v2.body.configuration.urls.streaming).toBe('wss://feed.test');
    expect((await api('GET', '/api/v1/custom_emojis')).body).toEqual([]);
    const wellKnown = await api<{ links: { href: string }[] }>('GET', '/.well-known/nodeinfo');
    expect(wellKnown.body.links.map((l) => l.href)).toEqual([
      'https://feed.test/nodeinfo/2.0',
      'https://feed.test/nodeinfo/2.1',
    ]);
    const info = await api<{ software: { name: string } }>('GET', '/nodeinfo/2.0');
    expect(info.body.software.name).toBe('mastodon');
  });
});

describe('Mastodon API: errors and parameters', () => {
  it('answers {"error"} with Mastodon statuses: unknown 404, malformed 400, unauthenticated 401, unknown path 404', async () => {
    const user = await signup();
    const unknown = await api('GET', '/api/v1/statuses/1234567890123456789');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'Record not found' });
    const malformed = await api('GET', '/api/v1/accounts/abc');
    expect(malformed.status).toBe(400);
    expect(Object.keys(malformed.body)).toEqual(['error']);
    const anonymous = await api('GET', '/api/v1/timelines/home');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ error: 'The access token is invalid' });
    const nowhere = await api('GET', '/api/v1/polls/1', { token: user.token });
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('Content-Type')).toContain('application/json');
    expect(Object.keys(nowhere.body)).toEqual(['error']);
    const empty = await api('POST', '/api/v1/statuses', { token: user.token, body: { status: '   ' } });
    expect(empty.status).toBe(400);
    expect(typeof (empty.body as { error: unknown }).error).toBe('string');
  });

  it('passes Idempotency-Key on to the v1 post: a retried status is one status', async () => {
    const user = await signup();
    const send = () =>
      api<Status>('POST', '/api/v1/statuses', {
        token: user.token,
        body: { status: 'only once' },
        headers: { 'Idempotency-Key': 'retry-me-1' },
      });
    const [first, second] = [await send(), await send()];
    expect(first.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const mine = await api<Status[]>('GET', `/api/v1/accounts/${user.id}/statuses`);
    expect(mine.body.map((s) => s.id)).toEqual([first.body.id]);
  });

  it('takes form-encoded bodies and Rails array parameters (id[]=)', async () => {
    const [a, b, c] = [await signup(), await signup(), await signup()];
    const form = new URLSearchParams({ status: 'from a form #forms' });
    const created = await api<Status>('POST', '/api/v1/statuses', {
      token: a.token,
      rawBody: form.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(created.status).toBe(200);
    expect(created.body.content).toContain('from a form');
    await follow(a, b);
    const rels = await api<{ id: string; following: boolean; followed_by: boolean }[]>(
      'GET',
      `/api/v1/accounts/relationships?id[]=${b.id}&id[]=${c.id}`,
      { token: a.token },
    );
    expect(rels.body).toEqual([
      expect.objectContaining({ id: b.id, following: true, followed_by: false }),
      expect.objectContaining({ id: c.id, following: false, followed_by: false }),
    ]);
    const theirs = await api<{ followed_by: boolean }[]>('GET', `/api/v1/accounts/relationships?id=${a.id}`, {
      token: b.token,
    });
    expect(theirs.body[0]?.followed_by).toBe(true);
  });
});

describe('Mastodon API: accounts', () => {
  it('looks accounts up by acct, and pages statuses and followers with absolute Link headers', async () => {
    const author = await signup();
    const fans = [await signup(), await signup(), await signup()];
    for (const fan of fans) await follow(fan, author);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await status(author, `post ${i}`)).id);
    const found = await api<{ id: string; acct: string; statuses_count: number }>(
      'GET',
      `/api/v1/accounts/lookup?acct=@${author.handle}`,
    );
    expect(found.body).toMatchObject({ id: author.id, acct: author.handle, statuses_count: 5 });
    expect((await api('GET', '/api/v1/accounts/lookup?acct=someone@elsewhere.example')).status).toBe(404);

    const first = await api<Status[]>('GET', `/api/v1/accounts/${author.id}/statuses?limit=2`);
    expect(first.body.map((s) => s.id)).toEqual([ids[4], ids[3]]);
    const next = links(first.headers.get('Link')).next!;
    expect(next).toMatch(/^https:\/\/feed\.test\/api\/v1\/accounts\/\d+\/statuses\?/);
    const second = await api<Status[]>('GET', next.replace('https://feed.test', ''));
    expect(second.body.map((s) => s.id)).toEqual([ids[2], ids[1]]);
    const newer = await api<Status[]>('GET', `/api/v1/accounts/${author.id}/statuses?min_id=${ids[1]}&limit=2`);
    expect(newer.body.map((s) => s.id)).toEqual([ids[3], ids[2]]);

    const followers = await api<{ id: string }[]>('GET', `/api/v1/accounts/${author.id}/followers?limit=2`);
    expect(followers.body).toHaveLength(2);
    const rest = await api<{ id: string }[]>(
      'GET',
      links(followers.headers.get('Link')).next!.replace('https://feed.test', ''),
    );
    expect(rest.body).toHaveLength(1);
    expect(new Set([...followers.body, ...rest.body].map((a) => a.id))).toEqual(new Set(fans.map((f) => f.id)));
    const following = await api<{ id: string }[]>('GET', `/api/v1/accounts/${fans[0]!.id}/following`);
    expect(following.body.map((a) => a.id)).toEqual([author.id]);
  });
});

describe('Mastodon API: update_credentials', () => {
  it('changes the display name under the text policy, and nothing else', async () => {
    const user = await signup();
    const res = await api<{ display_name: string; username: string }>('PATCH', '/api/v1/accounts/update_credentials', {
      token: user.token,
      body: { display_name: '  Ada\u0000 ' },
    });
    expect(res.status).toBe(400);
    const ok = await api<{ display_name: string; username: string }>('PATCH', '/api/v1/accounts/update_credentials', {
      token: user.token,
      body: { display_name: '  Ada Lovelace ' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ display_name: 'Ada Lovelace', username: user.handle });
    const read = await api<{ display_name: string }>('GET', `/api/v1/accounts/${user.id}`);
    expect(read.body.display_name).toBe('Ada Lovelace');
  });
});

describe('Mastodon API: statuses', () => {
  it('threads replies as comments, and a reply to a reply joins the same thread', async () => {
    const [author, reader] = [await signup(), await signup()];
    const root = await status(author, 'root');
    const reply = await status(reader, 'first reply', { in_reply_to_id: root.id });
    expect(reply).toMatchObject({ in_reply_to_id: root.id, account: { id: reader.id } });
    const nested = await status(author, 'reply to the reply', { in_reply_to_id: reply.id });
    expect(nested.in_reply_to_id).toBe(root.id);
    const context = await api<{ ancestors: Status[]; descendants: Status[] }>(
      'GET',
      `/api/v1/statuses/${root.id}/context`,
    );
    expect(context.body.ancestors).toEqual([]);
    expect(context.body.descendants.map((s) => s.id)).toEqual([reply.id, nested.id]);
    const up = await api<{ ancestors: Status[] }>('GET', `/api/v1/statuses/${reply.id}/context`);
    expect(up.body.ancestors.map((s) => s.id)).toEqual([root.id]);
    const fetched = await api<Status>('GET', `/api/v1/statuses/${reply.id}`);
    expect(fetched.body.content).toBe('<p>first reply</p>');
    const parent = await api<Status>('GET', `/api/v1/statuses/${root.id}`);
    expect(parent.body.replies_count).toBe(2);
  });

  it('edits, keeps the source, and answers a delete with the status and its text', async () => {
    const author = await signup();
    const other = await signup();
    const created = await status(author, 'original');
    expect(created.edited_at).toBe(null);
    const refused = await api('PUT', `/api/v1/statuses/${created.id}`, {
      token: other.token,
      body: { status: 'hijack' },
    });
    expect(refused.status).toBe(403);
    const edited = await api<Status>('PUT', `/api/v1/statuses/${created.id}`, {
      token: author.token,
      body: { status: 'edited' },
    });
    expect(edited.body.content).toBe('<p>edited</p>');
    expect(edited.body.edited_at).not.toBe(null);
    const source = await api<{ text: string }>('GET', `/api/v1/statuses/${created.id}/source`, {
      token: author.token,
    });
    expect(source.body.text).toBe('edited');
    const history = await api<{ content: string }[]>('GET', `/api/v1/statuses/${created.id}/history`);
    expect(history.body.at(-1)?.content).toBe('<p>edited</p>');
    const deleted = await api<Status>('DELETE', `/api/v1/statuses/${created.id}`, { token: author.token });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: created.id, text: 'edited', content: '<p>edited</p>' });
    expect((await api('GET', `/api/v1/statuses/${created.id}`)).status).toBe(404);
  });

  it('favourites and reblogs with viewer state and counts, and lists who did', async () => {
    const [author, fan] = [await signup(), await signup()];
    const post = await status(author, 'react to me');
    const fav = await api<Status>('POST', `/api/v1/statuses/${post.id}/favourite`, { token: fan.token });
    expect(fav.body).toMatchObject({ favourited: true, favourites_count: 1 });
    const again = await api<Status>('POST', `/api/v1/statuses/${post.id}/favourite`, { token: fan.token });
    expect(again.body.favourites_count).toBe(1);
    const asAuthor = await api<Status>('GET', `/api/v1/statuses/${post.id}`, { token: author.token });
    expect(asAuthor.body).toMatchObject({ favourited: false, favourites_count: 1 });
    const reblog = await api<Status>('POST', `/api/v1/statuses/${post.id}/reblog`, { token: fan.token });
    expect(reblog.body.id).not.toBe(post.id);
    expect(reblog.body.account.id).toBe(fan.id);
    expect(reblog.body.reblog).toMatchObject({ id: post.id, reblogged: true, reblogs_count: 1 });
    const likers = await api<{ id: string }[]>('GET', `/api/v1/statuses/${post.id}/favourited_by`);
    expect(likers.body.map((a) => a.id)).toEqual([fan.id]);
    const sharers = await api<{ id: string }[]>('GET', `/api/v1/statuses/${post.id}/reblogged_by`);
    expect(sharers.body.map((a) => a.id)).toEqual([fan.id]);
    const unfav = await api<Status>('POST', `/api/v1/statuses/${post.id}/unfavourite`, { token: fan.token });
    expect(unfav.body).toMatchObject({ favourited: false, favourites_count: 0 });
    expect((await api('POST', '/api/v1/statuses/1234567890123456789/favourite', { token: fan.token })).status).toBe(
      404,
    );
  });
});

describe('Mastodon API: home timeline', () => {
  it('is the chronological feed with max_id/min_id pages, and the ranked feed with ?ranked=true', async () => {
    const [author, reader] = [await signup(), await signup()];
    const followed = await api<{ following: boolean }>('POST', `/api/v1/accounts/${author.id}/follow`, {
      token: reader.token,
    });
    expect(followed.body.following).toBe(true);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await status(author, `home ${i}`)).id);
    await waitForHome(reader, ids[3]!);
    const page = await api<Status[]>('GET', '/api/v1/timelines/home?limit=2', { token: reader.token });
    expect(page.body.map((s) => s.id)).toEqual([ids[3], ids[2]]);
    const link = links(page.headers.get('Link'));
    expect(link.prev).toContain(`min_id=${ids[3]}`);
    const older = await api<Status[]>('GET', link.next!.replace('https://feed.test', ''), { token: reader.token });
    expect(older.body.map((s) => s.id)).toEqual([ids[1], ids[0]]);
    const newer = await api<Status[]>('GET', `/api/v1/timelines/home?since_id=${ids[1]}`, { token: reader.token });
    expect(newer.body.map((s) => s.id)).toEqual([ids[3], ids[2]]);

    const ranked = await api<Status[]>('GET', '/api/v1/timelines/home?ranked=true&limit=3', { token: reader.token });
    expect(ranked.status).toBe(200);
    expect(ranked.body).toHaveLength(3);
    const rankedNext = links(ranked.headers.get('Link')).next;
    expect(rankedNext).toContain('cursor=');
    const rest = await api<Status[]>('GET', rankedNext!.replace('https://feed.test', ''), { token: reader.token });
    const all = [...ranked.body, ...rest.body].map((s) => s.id);
    expect(new Set(all)).toEqual(new Set(ids));

    const unfollowed = await api<{ following: boolean }>('POST', `/api/v1/accounts/${author.id}/unfollow`, {
      token: reader.token,
    });
    expect(unfollowed.body.following).toBe(false);
  });
});
