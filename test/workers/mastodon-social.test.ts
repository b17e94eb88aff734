import { describe, expect, it } from 'vitest';
import { api, createPost, follow, signup, type TestUser } from '../support/api.ts';
import { eventually } from '../support/timeline.ts';

interface Relationship {
  id: string;
  following: boolean;
  followed_by: boolean;
  blocking: boolean;
  blocked_by: boolean;
  muting: boolean;
  muting_notifications: boolean;
  showing_reblogs: boolean;
}

interface Notification {
  id: string;
  type: string;
  account: { id: string };
  status: { id: string; in_reply_to_id: string | null } | null;
}

function links(header: string | null): Record<string, string> {
  const found: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/<([^>]+)>; rel="(\w+)"/g)) found[m[2]!] = m[1]!;
  return found;
}

const post = (user: TestUser, path: string, body?: unknown) =>
  api<Relationship>('POST', path, { token: user.token, body });

async function homeIds(user: TestUser): Promise<string[]> {
  const res = await api<{ id: string }[]>('GET', '/api/v1/timelines/home?limit=40', { token: user.token });
  expect(res.status).toBe(200);
  return res.body.map((s) => s.id);
}

describe('Mastodon API: blocks, mutes and relationships', () => {
  it('block answers a Relationship, removes the follows, hides statuses both ways; unblock undoes the block', async () => {
    const [alice, bob] = [await signup(), await signup()];
    await follow(alice, bob);
    await follow(bob, alice);
    const tag = `blocktag${Date.now().toString(36)}`;
    const bobs = await createPost(bob, `seen until the block #${tag}`);
    const tagged = () =>
      api<{ id: string }[]>('GET', `/api/v1/timelines/tag/${tag}`, { token: alice.token }).then((r) =>
        r.body.map((s) => s.id),
      );
    expect(await tagged()).toEqual([bobs.id]);
    const blocked = await post(alice, `/api/v1/accounts/${bob.id}/block`);
    expect(blocked.status).toBe(200);
    expect(blocked.body).toMatchObject({ id: bob.id, blocking: true, following: false, followed_by: false });
    const [theirs] = (
      await api<Relationship[]>('GET', `/api/v1/accounts/relationships?id[]=${alice.id}`, { token: bob.token })
    ).body;
    expect(theirs).toMatchObject({ id: alice.id, blocked_by: true, blocking: false });
    // Bob's statuses are gone from Alice's reach, and Bob cannot favourite Alice's.
    expect(await tagged()).toEqual([]);
    const mine = await createPost(alice, 'not for bob');
    const fav = await api('POST', `/api/v1/statuses/${mine.id}/favourite`, { token: bob.token });
    expect(fav.status).toBe(403);
    const list = await api<{ id: string }[]>('GET', '/api/v1/blocks', { token: alice.token });
    expect(list.body.map((a) => a.id)).toEqual([bob.id]);
    const unblocked = await post(alice, `/api/v1/accounts/${bob.id}/unblock`);
    expect(unblocked.body).toMatchObject({ blocking: false, following: false });
    expect((await api<unknown[]>('GET', '/api/v1/blocks', { token: alice.token })).body).toEqual([]);
  });

  it("mute hides the account's statuses from home and its notifications; relationships reads many ids", async () => {
    const [alice, bob, carol] = [await signup(), await signup(), await signup()];
    await follow(alice, bob);
    const before = await createPost(bob, 'seen before the mute');
    await expect.poll(() => homeIds(alice), eventually).toContain(before.id);
    const muted = await post(alice, `/api/v1/accounts/${bob.id}/mute`, { duration: 0 });
    expect(muted.body).toMatchObject({ id: bob.id, muting: true, muting_notifications: true, following: true });
    expect(await homeIds(alice)).not.toContain(before.id);
    const mine = await createPost(alice, 'liked by a muted account');
    expect((await api('POST', `/api/v1/statuses/${mine.id}/favourite`, { token: bob.token })).status).toBe(200);
    expect((await api('POST', `/api/v1/statuses/${mine.id}/favourite`, { token: carol.token })).status).toBe(200);
    const notes = await api<Notification[]>('GET', '/api/v1/notifications', { token: alice.token });
    expect(notes.body.map((n) => n.account.id)).toEqual([carol.id]);
    const rels = await api<Relationship[]>(
      'GET',
      `/api/v1/accounts/relationships?id[]=${bob.id}&id[]=${carol.id}&id[]=99999999999`,
      { token: alice.token },
    );
    expect(rels.body.map((r) => [r.id, r.muting, r.following])).toEqual([
      [bob.id, true, true],
      [carol.id, false, false],
    ]);
    const mutes = await api<{ id: string }[]>('GET', '/api/v1/mutes', { token: alice.token });
    expect(mutes.body.map((a) => a.id)).toEqual([bob.id]);
    expect((await post(alice, `/api/v1/accounts/${bob.id}/unmute`)).body).toMatchObject({ muting: false });
    expect(await homeIds(alice)).toContain(before.id);
  });

  it('refuses yourself, unknown and malformed ids, bad durations and missing scopes, changing nothing', async () => {
    const alice = await signup();
    expect((await post(alice, `/api/v1/accounts/${alice.id}/block`)).status).toBe(400);
    expect((await post(alice, '/api/v1/accounts/1234567890123/mute')).status).toBe(404);
    expect((await post(alice, '/api/v1/accounts/abc/block')).status).toBe(400);
    const bob = await signup();
    expect((await post(alice, `/api/v1/accounts/${bob.id}/mute`, { duration: -5 })).status).toBe(400);
    expect((await api('POST', `/api/v1/accounts/${bob.id}/block`)).status).toBe(401);
    expect((await api<unknown[]>('GET', '/api/v1/mutes', { token: alice.token })).body).toEqual([]);
    expect((await api('GET', '/api/v1/blocks?limit=500', { token: alice.token })).status).toBe(400);
  });
});

describe('Mastodon API: notifications and markers', () => {
  it('lists favourite, reblog, follow and mention (a reply) with types[] and exclude_types[], pages by Link', async () => {
    const [alice, bob] = [await signup(), await signup()];
    const mine = await createPost(alice, 'notify me');
    await follow(bob, alice);
    await api('POST', `/api/v1/statuses/${mine.id}/favourite`, { token: bob.token });
    await api('POST', `/api/v1/statuses/${mine.id}/reblog`, { token: bob.token });
    const reply = await api<{ id: string }>('POST', '/api/v1/statuses', {
      token: bob.token,
      body: { status: `@${alice.handle} hello`, in_reply_to_id: mine.id },
    });
    const all = await api<Notification[]>('GET', '/api/v1/notifications', { token: alice.token });
    expect(all.status).toBe(200);
    // The reply notifies as a comment and as a mention; both are Mastodon mentions of the reply.
    expect(all.body.map((n) => n.type).sort()).toEqual(['favourite', 'follow', 'mention', 'mention', 'reblog']);
    expect(all.body.find((n) => n.type === 'follow')?.status).toBeNull();
    expect(all.body.find((n) => n.type === 'favourite')?.status?.id).toBe(mine.id);
    expect(all.body.filter((n) => n.type === 'mention').map((n) => n.status?.id)).toEqual([
      reply.body.id,
      reply.body.id,
    ]);
    const only = await api<Notification[]>('GET', '/api/v1/notifications?types[]=favourite&types[]=follow', {
      token: alice.token,
    });
    expect(only.body.map((n) => n.type).sort()).toEqual(['favourite', 'follow']);
    const without = await api<Notification[]>(
      'GET',
      '/api/v1/notifications?exclude_types[]=mention&exclude_types[]=poll&exclude_types[]=follow_request',
      { token: alice.token },
    );
    expect(without.body.map((n) => n.type).sort()).toEqual(['favourite', 'follow', 'reblog']);
    // Pages of two, newest first, following the absolute Link.
    const seen: string[] = [];
    let url: string | undefined = '/api/v1/notifications?limit=2';
    while (url) {
      const page: Awaited<ReturnType<typeof api<Notification[]>>> = await api<Notification[]>('GET', url, {
        token: alice.token,
      });
      seen.push(...page.body.map((n) => n.id));
      const next = links(page.headers.get('Link')).next;
      expect(next === undefined || next.startsWith('https://feed.test/api/v1/notifications?')).toBe(true);
      url = page.body.length > 0 && next ? next.replace('https://feed.test', '') : undefined;
    }
    expect(seen).toEqual(all.body.map((n) => n.id));
    const newer = await api<Notification[]>('GET', `/api/v1/notifications?min_id=${all.body[2]!.id}`, {
      token: alice.token,
    });
    expect(newer.body.map((n) => n.id)).toEqual(all.body.slice(0, 2).map((n) => n.id));
  });

  it('gets one, dismisses one, clears all; only your own', async () => {
    const [alice, bob] = [await signup(), await signup()];
    await follow(bob, alice);
    const mine = await createPost(alice, 'dismiss me');
    await api('POST', `/api/v1/statuses/${mine.id}/favourite`, { token: bob.token });
    const [fav, followed] = (await api<Notification[]>('GET', '/api/v1/notifications', { token: alice.token })).body;
    expect(fav?.type).toBe('favourite');
    const one = await api<Notification>('GET', `/api/v1/notifications/${fav!.id}`, { token: alice.token });
    expect(one.body).toMatchObject({ id: fav!.id, type: 'favourite', account: { id: bob.id } });
    expect((await api('GET', `/api/v1/notifications/${fav!.id}`, { token: bob.token })).status).toBe(404);
    expect((await api('POST', `/api/v1/notifications/${fav!.id}/dismiss`, { token: bob.token })).status).toBe(404);
    const dismissed = await api('POST', `/api/v1/notifications/${fav!.id}/dismiss`, { token: alice.token });
    expect(dismissed).toMatchObject({ status: 200, body: {} });
    const left = await api<Notification[]>('GET', '/api/v1/notifications', { token: alice.token });
    expect(left.body.map((n) => n.id)).toEqual([followed!.id]);
    expect((await api('POST', '/api/v1/notifications/clear', { token: alice.token })).status).toBe(200);
    expect((await api<unknown[]>('GET', '/api/v1/notifications', { token: alice.token })).body).toEqual([]);
    expect((await api('GET', '/api/v1/notifications?limit=0', { token: alice.token })).status).toBe(400);
  });

  it('markers: POST sets home and notifications (JSON or form), GET reads them, never moving back', async () => {
    const alice = await signup();
    expect((await api('GET', '/api/v1/markers', { token: alice.token })).body).toEqual({});
    const set = await api<Record<string, { last_read_id: string; version: number; updated_at: string }>>(
      'POST',
      '/api/v1/markers',
      { token: alice.token, body: { home: { last_read_id: '7311251012255744' } } },
    );
    expect(set.status).toBe(200);
    expect(Object.keys(set.body)).toEqual(['home']);
    expect(set.body.home).toMatchObject({ last_read_id: '7311251012255744', version: expect.any(Number) });
    const form = await api('POST', '/api/v1/markers', {
      token: alice.token,
      rawBody: 'notifications[last_read_id]=7311251012255999&home[last_read_id]=7311251012255000',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
    const read = await api<Record<string, { last_read_id: string }>>(
      'GET',
      '/api/v1/markers?timeline[]=home&timeline[]=notifications',
      { token: alice.token },
    );
    expect(read.body.home?.last_read_id).toBe('7311251012255744');
    expect(read.body.notifications?.last_read_id).toBe('7311251012255999');
    const onlyHome = await api('GET', '/api/v1/markers?timeline[]=home', { token: alice.token });
    expect(Object.keys(onlyHome.body)).toEqual(['home']);
    expect((await api('POST', '/api/v1/markers', { token: alice.token, body: {} })).status).toBe(400);
    const bad = await api('POST', '/api/v1/markers', { token: alice.token, body: { home: { last_read_id: 'x' } } });
    expect(bad.status).toBe(400);
  });
});

interface Filter {
  id: string;
  title: string;
  context: string[];
  expires_at: string | null;
  filter_action: string;
  keywords: { id: string; keyword: string; whole_word: boolean }[];
}

describe('Mastodon API: filters v2', () => {
  it('creates, reads, updates (keywords added, changed, destroyed) and deletes a filter, JSON or form', async () => {
    const alice = await signup();
    const created = await api<Filter>('POST', '/api/v2/filters', {
      token: alice.token,
      body: {
        title: 'Spoilers',
        context: ['home', 'public'],
        filter_action: 'hide',
        expires_in: 3600,
        keywords_attributes: [{ keyword: 'finale' }, { keyword: 'plot twist', whole_word: false }],
      },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      title: 'Spoilers',
      context: ['home', 'public'],
      filter_action: 'hide',
      expires_at: expect.any(String),
    });
    expect(created.body.keywords.map((k) => [k.keyword, k.whole_word])).toEqual([
      ['finale', true],
      ['plot twist', false],
    ]);
    // The keywords are muted words as v1 lists them.
    const v1 = await api<{ items: { phrase: string }[] }>('GET', '/v1/filters', { token: alice.token });
    expect(v1.body.items.map((f) => f.phrase).sort()).toEqual(['finale', 'plot twist']);
    const [finale, twist] = created.body.keywords;
    const updated = await api<Filter>('PUT', `/api/v2/filters/${created.body.id}`, {
      token: alice.token,
      body: {
        title: 'TV',
        expires_in: '',
        keywords_attributes: [
          { id: finale!.id, keyword: 'season finale' },
          { id: twist!.id, _destroy: true },
          { keyword: 'cliffhanger' },
        ],
      },
    });
    expect(updated.status).toBe(200);
    // What the update leaves out stays as it was (the action too).
    expect(updated.body).toMatchObject({
      title: 'TV',
      context: ['home', 'public'],
      expires_at: null,
      filter_action: 'hide',
    });
    expect(updated.body.keywords.map((k) => k.keyword).sort()).toEqual(['cliffhanger', 'season finale']);
    const form = await api<Filter>('POST', '/api/v2/filters', {
      token: alice.token,
      rawBody:
        'title=Form&context[]=notifications&keywords_attributes[][keyword]=one&keywords_attributes[][whole_word]=false&keywords_attributes[][keyword]=two',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(200);
    expect(form.body.filter_action).toBe('warn');
    expect(form.body.keywords.map((k) => [k.keyword, k.whole_word])).toEqual([
      ['one', false],
      ['two', true],
    ]);
    const list = await api<Filter[]>('GET', '/api/v2/filters', { token: alice.token });
    expect(list.body.map((f) => f.title)).toEqual(['TV', 'Form']);
    const kw = await api<{ id: string; keyword: string }>('POST', `/api/v2/filters/${form.body.id}/keywords`, {
      token: alice.token,
      body: { keyword: 'three' },
    });
    expect(kw.body.keyword).toBe('three');
    const renamed = await api('PUT', `/api/v2/filters/keywords/${kw.body.id}`, {
      token: alice.token,
      body: { keyword: 'four', whole_word: false },
    });
    expect(renamed.body).toEqual({ id: kw.body.id, keyword: 'four', whole_word: false });
    expect((await api('DELETE', `/api/v2/filters/keywords/${kw.body.id}`, { token: alice.token })).body).toEqual({});
    const keywords = await api<unknown[]>('GET', `/api/v2/filters/${form.body.id}/keywords`, { token: alice.token });
    expect(keywords.body).toHaveLength(2);
    expect((await api('DELETE', `/api/v2/filters/${created.body.id}`, { token: alice.token })).body).toEqual({});
    expect((await api('GET', `/api/v2/filters/${created.body.id}`, { token: alice.token })).status).toBe(404);
    const left = await api<{ items: { phrase: string }[] }>('GET', '/v1/filters', { token: alice.token });
    expect(left.body.items.map((f) => f.phrase).sort()).toEqual(['one', 'two']);
  });

  it('hide drops matching statuses from home; warn keeps them, marked in `filtered`', async () => {
    const [alice, bob] = [await signup(), await signup()];
    await follow(alice, bob);
    await createPost(bob, 'the finale was great');
    const warned = await createPost(bob, 'a spider in my bath');
    const plain = await createPost(bob, 'nothing to see');
    await expect.poll(() => homeIds(alice), eventually).toContain(plain.id);
    const body = (title: string, action: string, word: string) => ({
      title,
      context: ['home'],
      filter_action: action,
      keywords_attributes: [{ keyword: word }],
    });
    await api('POST', '/api/v2/filters', { token: alice.token, body: body('tv', 'hide', 'finale') });
    const warn = await api<Filter>('POST', '/api/v2/filters', {
      token: alice.token,
      body: body('bugs', 'warn', 'spider'),
    });
    const home = await api<{ id: string; filtered: { filter: { id: string }; keyword_matches: string[] }[] }[]>(
      'GET',
      '/api/v1/timelines/home?limit=40',
      { token: alice.token },
    );
    expect(home.body.map((s) => s.id)).toEqual([plain.id, warned.id]);
    expect(home.body[1]!.filtered).toEqual([
      expect.objectContaining({ filter: expect.objectContaining({ id: warn.body.id }), keyword_matches: ['spider'] }),
    ]);
    expect(home.body[0]!.filtered).toEqual([]);
  });

  it('serves the older /api/v1/filters over the same filters: each keyword a filter, irreversible as hide', async () => {
    const alice = await signup();
    const created = await api<{ id: string; phrase: string; irreversible: boolean; context: string[] }>(
      'POST',
      '/api/v1/filters',
      { token: alice.token, body: { phrase: 'spoiler', context: ['home'], irreversible: true } },
    );
    expect(created.body).toMatchObject({ phrase: 'spoiler', irreversible: true, context: ['home'], whole_word: true });
    const v2 = await api<Filter[]>('GET', '/api/v2/filters', { token: alice.token });
    expect(v2.body).toEqual([
      expect.objectContaining({
        title: 'spoiler',
        filter_action: 'hide',
        keywords: [expect.objectContaining({ id: created.body.id })],
      }),
    ]);
    const updated = await api('PUT', `/api/v1/filters/${created.body.id}`, {
      token: alice.token,
      body: { phrase: 'spoilers', context: ['home', 'thread'] },
    });
    expect(updated.body).toMatchObject({ phrase: 'spoilers', irreversible: true, context: ['home', 'thread'] });
    expect((await api('DELETE', `/api/v1/filters/${created.body.id}`, { token: alice.token })).body).toEqual({});
    expect((await api<unknown[]>('GET', '/api/v2/filters', { token: alice.token })).body).toEqual([]);
    expect((await api('GET', `/api/v1/filters/${created.body.id}`, { token: alice.token })).status).toBe(404);
  });

  it('refuses bad filters and other users', async () => {
    const [alice, bob] = [await signup(), await signup()];
    const send = (body: unknown) => api('POST', '/api/v2/filters', { token: alice.token, body });
    expect((await send({ context: ['home'] })).status).toBe(400);
    expect((await send({ title: 'x', context: ['everywhere'] })).status).toBe(400);
    expect((await send({ title: 'x', context: ['home'], filter_action: 'blur' })).status).toBe(400);
    expect((await send({ title: 'x', context: ['home'], expires_in: -1 })).status).toBe(400);
    expect((await send({ title: 'x', context: ['home'], keywords_attributes: [{ keyword: '  ' }] })).status).toBe(400);
    expect((await api<unknown[]>('GET', '/api/v2/filters', { token: alice.token })).body).toEqual([]);
    const mine = await api<Filter>('POST', '/api/v2/filters', {
      token: alice.token,
      body: { title: 'mine', context: ['home'], keywords_attributes: [{ keyword: 'a' }] },
    });
    expect((await api('GET', `/api/v2/filters/${mine.body.id}`, { token: bob.token })).status).toBe(404);
    expect((await api('DELETE', `/api/v2/filters/${mine.body.id}`, { token: bob.token })).status).toBe(404);
    const kwId = mine.body.keywords[0]!.id;
    expect((await api('GET', `/api/v2/filters/keywords/${kwId}`, { token: bob.token })).status).toBe(404);
    const foreign = await api('PUT', `/api/v2/filters/${mine.body.id}`, {
      token: alice.token,
      body: { keywords_attributes: [{ id: '123456789', keyword: 'b' }] },
    });
    expect(foreign.status).toBe(422);
    expect(
      (await api<Filter>('GET', `/api/v2/filters/${mine.body.id}`, { token: alice.token })).body.keywords,
    ).toHaveLength(1);
  });
});
