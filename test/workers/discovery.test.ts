import { describe, expect, it, vi } from 'vitest';
import { api, createPost, signup, type PostView, type TestUser } from '../support/api.ts';
import { eventually } from '../support/timeline.ts';

interface TagPage {
  items: { post: PostView }[];
  nextCursor: string | null;
}

async function tagPage(user: TestUser, tag: string, query = '') {
  return api<TagPage>('GET', `/v1/tags/${encodeURIComponent(tag)}/posts${query}`, { token: user.token });
}

/** Every post id of a tag, following cursors `limit` at a time. */
async function allTagPosts(user: TestUser, tag: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await tagPage(user, tag, `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    ids.push(...res.body.items.map((i) => i.post.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

describe('tag pages', () => {
  it('list a tag newest first, across cursors, without repeats or gaps; edits and deletes leave', async () => {
    const [a, b] = [await signup(), await signup()];
    const posts: PostView[] = [];
    for (let i = 0; i < 7; i++) posts.push(await createPost(i % 2 ? a : b, `number ${i} #Paging`));
    await createPost(a, 'untagged, or #other');
    const newestFirst = posts.map((p) => p.id).reverse();
    expect(await allTagPosts(a, 'paging', 3)).toEqual(newestFirst);
    expect(await allTagPosts(a, '#PAGING', 100)).toEqual(newestFirst);

    // An edit that drops the tag, and a delete: both leave the page, and paging still has no gap.
    const edited = posts[2]!;
    const deleted = posts[4]!;
    const author = (p: PostView) => (p.authorId === a.id ? a : b);
    expect(
      (await api('PATCH', `/v1/posts/${edited.id}`, { token: author(edited).token, body: { text: 'no tag' } })).status,
    ).toBe(200);
    expect((await api('DELETE', `/v1/posts/${deleted.id}`, { token: author(deleted).token })).status).toBe(200);
    const left = newestFirst.filter((id) => id !== edited.id && id !== deleted.id);
    expect(await allTagPosts(a, 'paging', 2)).toEqual(left);
  });

  it("leave out a blocked account's posts, in tag pages and search alike", async () => {
    const [reader, blocked, other] = [await signup(), await signup(), await signup()];
    const stamp = `b${Date.now().toString(36)}`;
    const hidden = await createPost(blocked, `#${stamp} hidden`);
    const shown = await createPost(other, `#${stamp} shown`);
    expect((await api('PUT', `/v1/users/${blocked.id}/block`, { token: reader.token })).status).toBe(200);
    expect(await allTagPosts(reader, stamp, 10)).toEqual([shown.id]);
    expect(await allTagPosts(other, stamp, 10)).toEqual([shown.id, hidden.id]);
    const search = await api<{ accounts: { id: string }[]; posts: PostView[] }>(
      'GET',
      `/v1/search?q=${encodeURIComponent(`#${stamp}`)}`,
      { token: reader.token },
    );
    expect(search.body.posts.map((p) => p.id)).toEqual([shown.id]);
    const people = await api<{ accounts: { id: string }[] }>('GET', `/v1/search?q=${blocked.handle}&type=accounts`, {
      token: reader.token,
    });
    expect(people.body.accounts).toEqual([]);
  });

  it('refuse what is not a tag, and a forged cursor', async () => {
    const user = await signup();
    const bad = await tagPage(user, 'not a tag');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: expect.any(String) } });
    expect((await tagPage(user, 'fine', '?cursor=forged.cursor')).status).toBe(400);
    expect((await tagPage(user, 'fine', '?limit=0')).status).toBe(400);
    expect((await api('GET', '/v1/tags/fine/posts')).status).toBe(401);
  });
});

describe('trending tags', () => {
  it('come from the Trending object with uses and accounts', async () => {
    const authors = [await signup(), await signup(), await signup()];
    for (const author of authors) await createPost(author, 'big news #trendy');
    await createPost(authors[0]!, 'more #trendy');
    await vi.waitFor(async () => {
      const res = await api<{ items: { tag: string; uses: number; accounts: number }[] }>(
        'GET',
        '/v1/trends/tags?limit=5',
        { token: authors[0]!.token },
      );
      expect(res.status).toBe(200);
      expect(res.body.items).toContainEqual({ tag: 'trendy', uses: 4, accounts: 3 });
    }, eventually);
    expect((await api('GET', '/v1/trends/tags?limit=1000', { token: authors[0]!.token })).status).toBe(400);
  });
});

describe('search', () => {
  it('finds accounts by handle and display-name prefix, tags by prefix, posts by hashtag', async () => {
    const stamp = Date.now().toString(36);
    const byHandle = await signup(`zebra_${stamp}`);
    const named = await api<{ user: { id: string }; token: string }>('POST', '/v1/users', {
      body: { handle: `plain_${stamp}`, displayName: `Zebrafish ${stamp}` },
    });
    expect(named.status).toBe(201);
    const post = await createPost(byHandle, `stripes #zebrastripes${stamp}`);

    const everything = await api<{
      accounts: { id: string }[];
      tags: { tag: string; uses: number }[];
      posts: PostView[];
    }>('GET', `/v1/search?q=zebra`, { token: byHandle.token });
    expect(everything.status).toBe(200);
    expect(everything.body.accounts.map((u) => u.id)).toEqual(
      expect.arrayContaining([byHandle.id, named.body.user.id]),
    );
    expect(everything.body.tags).toContainEqual({ tag: `zebrastripes${stamp}`, uses: 1 });

    const posts = await api<{ accounts: unknown[]; tags: unknown[]; posts: PostView[] }>(
      'GET',
      `/v1/search?q=%23zebrastripes${stamp}&type=posts`,
      { token: byHandle.token },
    );
    expect(posts.body.posts.map((p) => p.id)).toEqual([post.id]);
    expect(posts.body.accounts).toEqual([]);
    expect(posts.body.tags).toEqual([]);

    const accounts = await api<{ accounts: { id: string }[] }>('GET', `/v1/search?q=@zebra_${stamp}&type=accounts`, {
      token: byHandle.token,
    });
    expect(accounts.body.accounts.map((u) => u.id)).toEqual([byHandle.id]);
  });

  it('finds posts by full text (FTS5), kept in step with edits and deletes', async () => {
    const user = await signup();
    const stamp = `w${Date.now().toString(36)}`;
    const first = await createPost(user, `The quick brown fox ${stamp} jumps`);
    const second = await createPost(user, `A lazy dog ${stamp}, not so quick`);
    const search = async (q: string) => {
      const res = await api<{ posts: PostView[] }>('GET', `/v1/search?type=posts&q=${encodeURIComponent(q)}`, {
        token: user.token,
      });
      expect(res.status).toBe(200);
      return res.body.posts.map((p) => p.id);
    };
    expect(await search(`quick ${stamp}`)).toEqual([second.id, first.id]);
    expect(await search(`fox ${stamp}`)).toEqual([first.id]);
    // The last word is also a prefix; operators in the query are only words.
    expect(await search(`${stamp} jum`)).toEqual([first.id]);
    expect(await search(`"${stamp}" OR NEAR(`)).toEqual([]);
    await api('PATCH', `/v1/posts/${first.id}`, { token: user.token, body: { text: `a slow turtle ${stamp}` } });
    expect(await search(`fox ${stamp}`)).toEqual([]);
    expect(await search(`turtle ${stamp}`)).toEqual([first.id]);
    await api('DELETE', `/v1/posts/${second.id}`, { token: user.token });
    expect(await search(`quick ${stamp}`)).toEqual([]);
  });

  it('refuses bad queries', async () => {
    const user = await signup();
    expect((await api('GET', '/v1/search', { token: user.token })).status).toBe(400);
    expect((await api('GET', '/v1/search?q=%20%20', { token: user.token })).status).toBe(400);
    expect((await api('GET', '/v1/search?q=x&type=people', { token: user.token })).status).toBe(400);
    expect((await api('GET', `/v1/search?q=${'x'.repeat(101)}`, { token: user.token })).status).toBe(400);
  });
});
