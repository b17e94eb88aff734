import { describe, expect, it } from 'vitest';
import {
  TRENDING,
  bucketOf,
  createWindow,
  dropPost,
  evictOverflow,
  putPost,
  slide,
  topTags,
  windowStart,
  type TrendingWindow,
  type WindowPost,
} from '../../src/trending.ts';

const BUCKET = TRENDING.bucketMs;
const WINDOW = TRENDING.windowBuckets * BUCKET;
// The start of a bucket, so "n buckets later" is exact.
const T0 = bucketOf(Date.UTC(2026, 10, 24, 12)) * BUCKET;

let seq = 0;
function post(authorId: string, at: number, tags: string[]): WindowPost {
  seq += 1;
  return { postId: `p${String(seq).padStart(6, '0')}`, authorId, bucket: bucketOf(at), tags };
}

/** `n` distinct authors each post `tag` once at `at`. */
function byAuthors(window: TrendingWindow, tag: string, n: number, at: number, prefix = tag): WindowPost[] {
  return Array.from({ length: n }, (_, i) => {
    const p = post(`${prefix}-author-${i}`, at, [tag]);
    putPost(window, p);
    return p;
  });
}

function tagsOf(window: TrendingWindow): string[] {
  return topTags(window, TRENDING.topK).map((t) => t.tag);
}

describe('trending window', () => {
  it('counts distinct authors, so one author repeating a tag never makes it trend', () => {
    const window = createWindow();
    slide(window, T0);
    for (let i = 0; i < 50; i++) putPost(window, post('spammer', T0, ['buynow']));
    expect(window.tags.get('buynow')?.posts).toBe(50);
    expect(window.tags.get('buynow')?.authors.size).toBe(1);
    expect(tagsOf(window)).not.toContain('buynow');

    byAuthors(window, 'buynow', TRENDING.minAuthors - 1, T0);
    expect(topTags(window, TRENDING.topK)).toEqual([
      { tag: 'buynow', count: TRENDING.minAuthors, posts: 50 + TRENDING.minAuthors - 1 },
    ]);
  });

  it(`needs ${TRENDING.minAuthors} distinct authors within the window`, () => {
    const window = createWindow();
    slide(window, T0);
    byAuthors(window, 'almost', TRENDING.minAuthors - 1, T0);
    byAuthors(window, 'enough', TRENDING.minAuthors, T0);
    expect(tagsOf(window)).toEqual(['enough']);
  });

  it('returns at most k tags, by distinct authors, then posts, then name', () => {
    const window = createWindow();
    slide(window, T0);
    const sizes = Array.from({ length: TRENDING.topK + 5 }, (_, i) => TRENDING.minAuthors + i);
    for (const n of sizes) byAuthors(window, `tag${n}`, n, T0);
    // Two tags with equal authors: the one with more posts first; equal on both: by name.
    byAuthors(window, 'tie-b', TRENDING.minAuthors + 3, T0);
    byAuthors(window, 'tie-a', TRENDING.minAuthors + 3, T0);
    putPost(window, post('tie-b-author-0', T0, ['tie-b']));

    const top = topTags(window, TRENDING.topK);
    expect(top).toHaveLength(TRENDING.topK);
    expect(top.map((t) => t.count)).toEqual([...top.map((t) => t.count)].sort((a, b) => b - a));
    expect(top[0]).toEqual({ tag: `tag${sizes.at(-1)}`, count: sizes.at(-1), posts: sizes.at(-1) });
    const tied = TRENDING.minAuthors + 3;
    const expected = sizes.toReversed().flatMap((n) => (n === tied ? ['tie-b', `tag${n}`, 'tie-a'] : [`tag${n}`]));
    expect(topTags(window, 100).map((t) => t.tag)).toEqual(expected);
    expect(topTags(window, 3)).toEqual(top.slice(0, 3));
  });

  it('slides in buckets: a post counts until its bucket leaves the window', () => {
    const window = createWindow();
    slide(window, T0);
    byAuthors(window, 'early', TRENDING.minAuthors, T0 + BUCKET - 1);
    expect(windowStart(T0 + WINDOW, TRENDING)).toBe(bucketOf(T0) + 1);

    expect(slide(window, T0 + WINDOW - 1)).toBe(0);
    expect(tagsOf(window)).toEqual(['early']);
    // The window ending at T0 + WINDOW starts one bucket after the posts' bucket.
    expect(slide(window, T0 + WINDOW)).toBe(TRENDING.minAuthors);
    expect(tagsOf(window)).toEqual([]);
    expect(window.tags.size).toBe(0);
    expect(window.posts.size).toBe(0);
    expect(window.size).toBe(0);
  });

  it('loses authors one by one as their posts expire', () => {
    const window = createWindow();
    slide(window, T0);
    const n = TRENDING.minAuthors + 2;
    for (let i = 0; i < n; i++) putPost(window, post(`a${i}`, T0 + i * BUCKET, ['wave']));
    const counts: number[] = [];
    for (let i = 0; i <= n; i++) {
      slide(window, T0 + WINDOW + i * BUCKET - 1);
      counts.push(window.tags.get('wave')?.authors.size ?? 0);
    }
    expect(counts).toEqual(Array.from({ length: n + 1 }, (_, i) => n - i));
  });

  it('keeps an author counted while any of their posts with the tag is in the window', () => {
    const window = createWindow();
    slide(window, T0);
    const first = post('a', T0, ['x']);
    const second = post('a', T0 + BUCKET, ['x']);
    putPost(window, first);
    putPost(window, second);
    expect(window.tags.get('x')?.authors.get('a')).toBe(2);
    slide(window, T0 + WINDOW);
    expect(window.tags.get('x')?.authors.size).toBe(1);
    expect(window.tags.get('x')?.posts).toBe(1);
    expect(dropPost(window, second.postId)).toBe(true);
    expect(window.tags.has('x')).toBe(false);
  });

  it('ignores a post older than the window and never slides back', () => {
    const window = createWindow();
    slide(window, T0 + WINDOW);
    expect(putPost(window, post('a', T0, ['old']))).toBe(false);
    expect(window.posts.size).toBe(0);
    slide(window, T0);
    expect(window.start).toBe(windowStart(T0 + WINDOW));
    expect(putPost(window, post('a', T0, ['old']))).toBe(false);
  });

  it('counts a post once however often it is put, and an edit replaces its tags', () => {
    const window = createWindow();
    slide(window, T0);
    const p = post('a', T0, ['one', 'two', 'one']);
    expect(putPost(window, p)).toBe(true);
    expect(putPost(window, p)).toBe(false);
    expect(putPost(window, { ...p, tags: ['two', 'one'] })).toBe(true);
    expect(window.tags.get('one')?.posts).toBe(1);
    expect(window.size).toBe(2);

    expect(putPost(window, { ...p, tags: ['two', 'three'] })).toBe(true);
    expect([...window.tags.keys()].sort()).toEqual(['three', 'two']);
    expect(window.tags.get('two')?.posts).toBe(1);

    expect(putPost(window, { ...p, tags: [] })).toBe(true);
    expect(window.tags.size).toBe(0);
    expect(window.size).toBe(1);
    expect(dropPost(window, p.postId)).toBe(true);
    expect(dropPost(window, p.postId)).toBe(false);
    expect(window.size).toBe(0);
  });

  it('evicts the oldest posts first to stay within the size bound', () => {
    const window = createWindow();
    slide(window, T0);
    const old = [post('a', T0, ['t1', 't2']), post('b', T0, [])];
    const newer = [post('c', T0 + BUCKET, ['t1']), post('d', T0 + 2 * BUCKET, ['t1', 't2', 't3'])];
    for (const p of [...newer, ...old]) putPost(window, p);
    expect(window.size).toBe(2 + 1 + 1 + 3);

    expect(evictOverflow(window, 7)).toEqual([]);
    expect(evictOverflow(window, 5)).toEqual([old[0]!.postId]);
    expect(evictOverflow(window, 4)).toEqual([old[1]!.postId]);
    expect(window.size).toBe(4);
    expect(evictOverflow(window, 3)).toEqual([newer[0]!.postId]);
    expect([...window.posts.keys()]).toEqual([newer[1]!.postId]);
    expect(window.tags.get('t1')?.posts).toBe(1);
  });

  it('follows its configuration', () => {
    const config = { ...TRENDING, bucketMs: 1000, windowBuckets: 3, minAuthors: 2, topK: 1 };
    const window = createWindow();
    slide(window, 10_000, config);
    putPost(window, { postId: '1', authorId: 'a', bucket: bucketOf(10_000, config), tags: ['x', 'y'] });
    putPost(window, { postId: '2', authorId: 'b', bucket: bucketOf(10_500, config), tags: ['x', 'y'] });
    putPost(window, { postId: '3', authorId: 'c', bucket: bucketOf(11_000, config), tags: ['y'] });
    expect(topTags(window, config.topK, config)).toEqual([{ tag: 'y', count: 3, posts: 3 }]);
    slide(window, 12_999, config);
    expect(topTags(window, 2, config).map((t) => t.tag)).toEqual(['y', 'x']);
    slide(window, 13_000, config);
    expect(topTags(window, 2, config)).toEqual([]);
  });
});
