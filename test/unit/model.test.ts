import { describe, expect, it } from 'vitest';
import { toPostView, toUserView, type PostRecord, type UserRecord } from '../../src/model.ts';

const CREATED = Date.UTC(2025, 0, 2, 3, 4, 5, 6);
const UPDATED = Date.UTC(2025, 0, 2, 3, 14, 5, 600);

function postRecord(overrides: Partial<PostRecord> = {}): PostRecord {
  return {
    id: '1234567890123456789',
    authorId: '1111111111111111111',
    text: 'Hello #world @alice',
    media: [{ url: 'https://cdn.example.com/a.jpg', kind: 'image', alt: 'a cat' }],
    hashtags: ['world'],
    mentions: ['alice'],
    location: { lat: 48.8566, lon: 2.3522, name: 'Paris' },
    createdAt: CREATED,
    updatedAt: UPDATED,
    version: 3,
    deletedAt: null,
    likeCount: 7,
    commentCount: 2,
    shareCount: 1,
    ...overrides,
  };
}

const userRecord: UserRecord = {
  id: '2222222222222222222',
  handle: 'alice',
  displayName: 'Alice Ä. 👍',
  createdAt: CREATED,
  followersCount: 10,
  followingCount: 20,
  postsCount: 30,
};

describe('toPostView', () => {
  it('maps a live post with ISO dates and named counts', () => {
    const record = postRecord();
    expect(toPostView(record)).toStrictEqual({
      id: record.id,
      authorId: record.authorId,
      text: 'Hello #world @alice',
      media: [{ url: 'https://cdn.example.com/a.jpg', kind: 'image', alt: 'a cat' }],
      hashtags: ['world'],
      mentions: ['alice'],
      location: { lat: 48.8566, lon: 2.3522, name: 'Paris' },
      createdAt: '2025-01-02T03:04:05.006Z',
      updatedAt: '2025-01-02T03:14:05.600Z',
      version: 3,
      counts: { likes: 7, comments: 2, shares: 1 },
    });
  });

  it('has no deleted field on a live post', () => {
    const view = toPostView(postRecord());
    expect('deleted' in view).toBe(false);
    expect(JSON.parse(JSON.stringify(view))).not.toHaveProperty('deleted');
  });

  it('keeps a null location and empty lists', () => {
    const view = toPostView(postRecord({ location: null, media: [], hashtags: [], mentions: [] }));
    expect(view.location).toBeNull();
    expect(view.media).toEqual([]);
    expect(view.hashtags).toEqual([]);
    expect(view.mentions).toEqual([]);
  });

  it('blanks the content of a tombstone and marks it deleted', () => {
    const view = toPostView(postRecord({ deletedAt: UPDATED + 1000, version: 4 }));
    expect(view).toStrictEqual({
      id: '1234567890123456789',
      authorId: '1111111111111111111',
      text: '',
      media: [],
      hashtags: [],
      mentions: [],
      location: null,
      createdAt: '2025-01-02T03:04:05.006Z',
      updatedAt: '2025-01-02T03:14:05.600Z',
      version: 4,
      counts: { likes: 7, comments: 2, shares: 1 },
      deleted: true,
    });
    expect(JSON.stringify(view)).not.toContain('alice');
    expect(JSON.stringify(view)).not.toContain('Paris');
  });

  it('treats deletedAt 0 as deleted', () => {
    const view = toPostView(postRecord({ deletedAt: 0 }));
    expect(view.deleted).toBe(true);
    expect(view.text).toBe('');
  });

  it('formats epoch milliseconds as ISO 8601 UTC', () => {
    const view = toPostView(postRecord({ createdAt: 0, updatedAt: Date.UTC(2084, 11, 31, 23, 59, 59, 999) }));
    expect(view.createdAt).toBe('1970-01-01T00:00:00.000Z');
    expect(view.updatedAt).toBe('2084-12-31T23:59:59.999Z');
  });

  it('maps zero counts', () => {
    const view = toPostView(postRecord({ likeCount: 0, commentCount: 0, shareCount: 0 }));
    expect(view.counts).toEqual({ likes: 0, comments: 0, shares: 0 });
  });

  it('does not mutate the record', () => {
    const record = postRecord({ deletedAt: UPDATED });
    const copy = structuredClone(record);
    toPostView(record);
    expect(record).toEqual(copy);
  });
});

describe('toUserView', () => {
  it('maps a user with an ISO date and named counts', () => {
    expect(toUserView(userRecord)).toStrictEqual({
      id: '2222222222222222222',
      handle: 'alice',
      displayName: 'Alice Ä. 👍',
      createdAt: '2025-01-02T03:04:05.006Z',
      counts: { followers: 10, following: 20, posts: 30 },
    });
  });

  it('keeps followers, following and posts apart', () => {
    const view = toUserView({ ...userRecord, followersCount: 1, followingCount: 0, postsCount: 5 });
    expect(view.counts).toEqual({ followers: 1, following: 0, posts: 5 });
  });
});
