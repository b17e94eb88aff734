import type { PostRecord } from '../../src/model.ts';

let next = 1n;

/** A live post record for pure tests: a fresh canonical id each call, 60 characters of text, no engagement. */
export function postRecord(overrides: Partial<PostRecord> = {}, createdAt = 0): PostRecord {
  return {
    id: String(7_300_000_000_000_000_000n + next++),
    authorId: '7300000000000000001',
    text: 'x'.repeat(60),
    media: [],
    hashtags: [],
    mentions: [],
    location: null,
    createdAt,
    updatedAt: createdAt,
    version: 1,
    deletedAt: null,
    likeCount: 0,
    commentCount: 0,
    shareCount: 0,
    ...overrides,
  };
}
