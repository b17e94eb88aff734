import { describe, expect, it } from 'vitest';
import { escapeHtml, statusContent } from '../../src/mastodon-content.ts';
import {
  commentToStatus,
  postToStatus,
  reblogId,
  reblogStatus,
  toNotification,
  toRelationship,
} from '../../src/mastodon-entities.ts';
import { isMastodonPath, mastodonErrorBody } from '../../src/mastodon-errors.ts';
import { instanceV1, instanceV2, nodeinfo, nodeinfoLinks, streamingBase } from '../../src/mastodon-instance.ts';
import { parseRedirectUris, pkceMatches, redirectWithCode, secretDigest } from '../../src/mastodon-oauth.ts';
import { linkHeader, pageOf } from '../../src/mastodon-pagination.ts';
import { InvalidScopeError, grants, parseScopes, withinScopes } from '../../src/mastodon-scopes.ts';
import { idTimestamp } from '../../src/ids.ts';
import type { PostRecord, UserRecord } from '../../src/model.ts';

const base = 'https://feed.example';
const alice: UserRecord = {
  id: '1577000000000000001',
  handle: 'alice',
  displayName: 'Alice <A>',
  createdAt: Date.UTC(2026, 0, 1),
  followersCount: 2,
  followingCount: 3,
  postsCount: 4,
};
const post: PostRecord = {
  id: '1577000000000000100',
  authorId: alice.id,
  text: 'hi @alice and @nobody #Tag <script>',
  media: [{ url: 'https://cdn.example/a.png', kind: 'image', alt: 'a cat' }],
  hashtags: ['tag'],
  mentions: ['alice', 'nobody'],
  location: null,
  createdAt: Date.UTC(2026, 5, 1),
  updatedAt: Date.UTC(2026, 5, 2),
  version: 2,
  deletedAt: null,
  likeCount: 5,
  commentCount: 6,
  shareCount: 7,
};
const links = { base, accounts: new Map([['alice', alice]]) };

describe('statusContent', () => {
  it('escapes every character that could open markup, and links tags, known mentions and URLs', () => {
    const html = statusContent('a <b>&"\'</b> #Édition @alice @ghost https://x.example/p?q=1&r=2.', {
      base,
      knownHandles: new Set(['alice']),
    });
    expect(html).toBe(
      '<p>a &#60;b&#62;&#38;&#34;&#39;&#60;/b&#62; ' +
        '<a href="https://feed.example/tags/%C3%A9dition" class="mention hashtag" rel="tag">#<span>Édition</span></a> ' +
        '<span class="h-card"><a href="https://feed.example/@alice" class="u-url mention">@<span>alice</span></a></span> ' +
        '@ghost <a href="https://x.example/p?q=1&#38;r=2" rel="nofollow noopener" target="_blank">https://x.example/p?q=1&#38;r=2</a>.</p>',
    );
  });

  it('makes paragraphs of blank lines and <br /> of line breaks; empty text is empty content', () => {
    expect(statusContent('one\ntwo\n\nthree', { base, knownHandles: new Set() })).toBe(
      '<p>one<br />two</p><p>three</p>',
    );
    expect(statusContent('', { base, knownHandles: new Set() })).toBe('');
    expect(escapeHtml('<"&\'>')).toBe('&#60;&#34;&#38;&#39;&#62;');
  });
});

describe('entities', () => {
  it('maps a post to a Status with string ids, counts, viewer state, mentions, tags and media', () => {
    const status = postToStatus(post, alice, { favourited: true, reblogged: false }, links);
    expect(status).toMatchObject({
      id: post.id,
      uri: `${base}/@alice/${post.id}`,
      visibility: 'public',
      in_reply_to_id: null,
      reblog: null,
      favourites_count: 5,
      replies_count: 6,
      reblogs_count: 7,
      favourited: true,
      reblogged: false,
      edited_at: new Date(post.updatedAt).toISOString(),
      mentions: [{ id: alice.id, username: 'alice', acct: 'alice', url: `${base}/@alice` }],
      tags: [{ name: 'tag', url: `${base}/tags/tag` }],
      media_attachments: [{ type: 'image', url: 'https://cdn.example/a.png', description: 'a cat' }],
      account: { id: alice.id, username: 'alice', display_name: 'Alice <A>', followers_count: 2 },
    });
    expect(status.content).toContain('&#60;script&#62;');
    expect(status.content).not.toContain('<script>');
    expect(postToStatus({ ...post, version: 1 }, alice, { favourited: false, reblogged: false }, links).edited_at).toBe(
      null,
    );
  });

  it('wraps a reblog in a status of its own, with a stable time-ordered id distinct from the original', () => {
    const original = postToStatus(post, alice, { favourited: false, reblogged: true }, links);
    const at = Date.UTC(2026, 6, 1);
    const wrapper = reblogStatus(original, alice, at, links);
    expect(wrapper.reblog).toBe(original);
    expect(wrapper.id).not.toBe(post.id);
    expect(wrapper.id).toBe(reblogId(post.id, alice.id, at));
    expect(wrapper.id).toMatch(/^\d{19}$/);
    expect(idTimestamp(wrapper.id)).toBe(at);
    expect(reblogId(post.id, '1577000000000000002', at)).not.toBe(wrapper.id);
  });

  it('maps a comment to a reply, relationships and notifications to their shapes', () => {
    const reply = commentToStatus(
      { id: '1577000000000000200', postId: post.id, authorId: alice.id, text: 'yes', createdAt: post.createdAt },
      alice,
      alice.id,
      links,
    );
    expect(reply).toMatchObject({ in_reply_to_id: post.id, in_reply_to_account_id: alice.id, content: '<p>yes</p>' });
    expect(toRelationship('9', { following: true, followedBy: false, showingReblogs: false })).toMatchObject({
      id: '9',
      following: true,
      followed_by: false,
      showing_reblogs: false,
      blocking: false,
    });
    const like = toNotification({ id: '5', type: 'like', createdAt: 0 }, alice, reply, base);
    expect(like).toMatchObject({ id: '5', type: 'favourite', status: reply, account: { id: alice.id } });
    expect(toNotification({ id: '6', type: 'follow', createdAt: 0 }, alice, reply, base).status).toBe(null);
    expect(toNotification({ id: '7', type: 'comment', createdAt: 0 }, alice, reply, base).type).toBe('mention');
  });
});

describe('instance documents', () => {
  const facts = { origin: 'https://feed.example', title: 't', softwareVersion: '0.1.0', userCount: 1, statusCount: 2 };
  it('give the streaming base as a bare ws(s) origin and say "mastodon" in nodeinfo', () => {
    expect(streamingBase('http://127.0.0.1:8787')).toBe('ws://127.0.0.1:8787');
    expect(instanceV1(facts).urls.streaming_api).toBe('wss://feed.example');
    expect(instanceV2(facts).configuration.urls.streaming).toBe('wss://feed.example');
    expect(nodeinfo('2.0', facts).software.name).toBe('mastodon');
    expect(nodeinfo('2.1', facts).metadata.upstream.name).toBe('mastodon');
    expect(nodeinfoLinks(facts.origin).links.map((l) => l.href)).toEqual([
      'https://feed.example/nodeinfo/2.0',
      'https://feed.example/nodeinfo/2.1',
    ]);
  });
});

describe('scopes', () => {
  it('grant sub-scopes through their top-level scope, and follow grants follows, blocks and mutes', () => {
    expect(grants(['read'], 'read:statuses')).toBe(true);
    expect(grants(['read:statuses'], 'read:statuses')).toBe(true);
    expect(grants(['read:statuses'], 'read')).toBe(false);
    expect(grants(['read'], 'write:statuses')).toBe(false);
    expect(grants(['write:favourites'], 'write:statuses')).toBe(false);
    expect(grants(['follow'], 'write:follows')).toBe(true);
    expect(grants(['follow'], 'read:blocks')).toBe(true);
    expect(grants(['follow'], 'write:statuses')).toBe(false);
    expect(withinScopes(['read:statuses', 'write'], ['read', 'write'])).toBe(true);
    expect(withinScopes(['push'], ['read', 'write'])).toBe(false);
  });

  it('parse space- or plus-separated lists, default to read, and refuse unknown scopes', () => {
    expect(parseScopes('read write+follow')).toEqual(['read', 'write', 'follow']);
    expect(parseScopes('')).toEqual(['read']);
    expect(parseScopes(undefined)).toEqual(['read']);
    expect(() => parseScopes('read admin:write')).toThrow(InvalidScopeError);
  });
});

describe('oauth', () => {
  it('checks PKCE S256 against the RFC 7636 example, and digests secrets', async () => {
    // RFC 7636 appendix B.
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    expect(await pkceMatches(verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(true);
    expect(await pkceMatches(`${verifier}x`, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')).toBe(false);
    expect(await secretDigest('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('accepts absolute, custom-scheme and out-of-band redirect URIs, and nothing else', () => {
    expect(parseRedirectUris('https://a.example/cb\nmyapp://cb urn:ietf:wg:oauth:2.0:oob')).toEqual([
      'https://a.example/cb',
      'myapp://cb',
      'urn:ietf:wg:oauth:2.0:oob',
    ]);
    expect(parseRedirectUris('/relative')).toBeUndefined();
    expect(parseRedirectUris('https://a.example/cb#frag')).toBeUndefined();
    expect(parseRedirectUris('javascript:alert(1)')).toBeUndefined();
    expect(parseRedirectUris('')).toBeUndefined();
    expect(redirectWithCode('https://a.example/cb?x=1', 'c d', 's')).toBe('https://a.example/cb?x=1&code=c+d&state=s');
  });
});

describe('pagination', () => {
  it('links next (max_id) and prev (min_id) with absolute URLs that keep the other parameters', () => {
    expect(linkHeader('https://f.example/api/v1/timelines/home?limit=2&max_id=9', { first: '8', last: '7' })).toBe(
      '<https://f.example/api/v1/timelines/home?limit=2&max_id=7>; rel="next", ' +
        '<https://f.example/api/v1/timelines/home?limit=2&min_id=8>; rel="prev"',
    );
    expect(linkHeader('https://f.example/x', {})).toBeUndefined();
  });

  it('cuts pages by max_id, since_id and min_id, newest first', () => {
    const ids = ['9', '8', '7', '6', '5'];
    const id = (x: string) => x;
    expect(pageOf(ids, id, { max_id: '8', limit: 2 })).toEqual(['7', '6']);
    expect(pageOf(ids, id, { since_id: '5', limit: 2 })).toEqual(['9', '8']);
    expect(pageOf(ids, id, { min_id: '5', limit: 2 })).toEqual(['7', '6']);
  });
});

describe('errors', () => {
  it('are {error} on /api and RFC 6749 shaped on /oauth', () => {
    expect(isMastodonPath('/api/v1/statuses')).toBe(true);
    expect(isMastodonPath('/oauth/token')).toBe(true);
    expect(isMastodonPath('/v1/posts')).toBe(false);
    expect(isMastodonPath('/apis')).toBe(false);
    expect(mastodonErrorBody('/api/v1/x', 'not_found', 'Record not found')).toEqual({ error: 'Record not found' });
    expect(mastodonErrorBody('/oauth/token', 'invalid_grant', 'used')).toEqual({
      error: 'invalid_grant',
      error_description: 'used',
    });
  });
});
