import { describe, expect, it } from 'vitest';
import { mergeCandidates, reasonOf } from '../../src/feed.ts';
import { sniffMedia } from '../../src/media.ts';
import {
  DEFAULT_PARAMS,
  SOCIAL_PROOF_MAX,
  runPipeline,
  socialProofScorer,
  type PipelineContext,
} from '../../src/pipeline.ts';
import { DEFAULT_WEIGHTS, type Candidate } from '../../src/ranking.ts';
import { fullTextQuery, normalizeTag, tagPrefix } from '../../src/tags.ts';
import { feedKey, type TimelineEntry } from '../../src/timeline.ts';
import { postRecord } from '../support/records.ts';

const post = (id: string, authorId = 'a'): TimelineEntry => ({ postId: id, authorId, createdAt: 0 });
const repost = (id: string, by: string, repostId: string, authorId = 'a'): TimelineEntry => ({
  ...post(id, authorId),
  repost: { by, id: repostId, at: 1 },
});

describe('candidates with reposts', () => {
  it('sort by feed key: a repost where it was shared, a post where it was written', () => {
    const merged = mergeCandidates([[post('100'), repost('050', 'b', '200')]], undefined);
    expect(merged.map(feedKey)).toEqual(['200', '100']);
  });

  it('keep a post once: the post itself over any repost, else the first repost', () => {
    const merged = mergeCandidates(
      [[repost('100', 'b', '300')], [post('100'), repost('090', 'c', '250')], [repost('090', 'd', '400')]],
      undefined,
    );
    expect(merged).toEqual([repost('090', 'c', '250'), post('100')]);
  });

  it('the choice survives paging: below a cursor between two reposts, the same one is kept', () => {
    const sources = [[repost('100', 'b', '300'), repost('100', 'c', '200')]];
    const first = mergeCandidates(sources, undefined);
    const below = mergeCandidates(sources, '250');
    expect(first.map(feedKey)).toEqual(['200']);
    expect(below.map(feedKey)).toEqual(['200']);
  });

  it('drop reposts by sharers whose reposts are hidden, not their posts', () => {
    const merged = mergeCandidates([[post('100', 'b'), repost('090', 'b', '200')]], undefined, {
      hiddenReposts: new Set(['b']),
    });
    expect(merged).toEqual([post('100', 'b')]);
  });

  it('give reposts a reason and plain posts none', () => {
    expect(reasonOf(repost('1', 'b', '2'))).toEqual({ kind: 'repost', by: 'b', at: new Date(1).toISOString() });
    expect(reasonOf(post('1'))).toBeUndefined();
  });
});

describe('the social-proof scorer', () => {
  const context: PipelineContext = {
    now: 0,
    weights: DEFAULT_WEIGHTS,
    params: DEFAULT_PARAMS,
    affinity: new Map(),
    trending: new Set(),
    location: null,
    interest: null,
    seen: new Map(),
  };
  const candidate = (sharers: number): Candidate => ({
    post: postRecord({}, 0),
    authorFollowers: 10,
    vector: null,
    sharers,
  });

  it('lifts posts shared by followed accounts, more with more sharers, up to a cap, and says so', () => {
    const [none, one, three, many] = [candidate(0), candidate(1), candidate(3), candidate(1000)];
    const items = runPipeline([none, one, three, many], context).items;
    const by = (c: Candidate) => items.find((i) => i.candidate === c)!;
    expect(by(none).stages['social-proof']).toBeUndefined();
    expect(by(one).stages['social-proof']).toEqual({ factor: 1.1, sharers: 1 });
    expect(by(three).stages['social-proof']!.factor).toBeCloseTo(1.2);
    expect(by(many).stages['social-proof']!.factor).toBe(SOCIAL_PROOF_MAX);
    expect(by(three).score).toBeGreaterThan(by(one).score);
    expect(by(one).score).toBeGreaterThan(by(none).score);
  });

  it('raises a negative score too (refitted weights can make one)', () => {
    const [item] = socialProofScorer.score(
      [{ candidate: candidate(1), signals: { ...DEFAULT_WEIGHTS }, base: -1, score: -1, stages: {} }],
      context,
    );
    expect(item!.score).toBeGreaterThan(-1);
  });
});

describe('tags and queries', () => {
  it('normalise a tag as posts store it, or refuse what is not one', () => {
    expect(normalizeTag('#Rust')).toBe('rust');
    expect(normalizeTag('café')).toBe('café');
    expect(normalizeTag('123')).toBeNull();
    expect(normalizeTag('two words')).toBeNull();
    expect(normalizeTag('')).toBeNull();
    expect(tagPrefix('#Ru')).toBe('ru');
    expect(tagPrefix('a b')).toBeNull();
  });

  it('turn words into an FTS5 query no input can break', () => {
    expect(fullTextQuery('quick fox')).toBe('"quick" "fox"*');
    expect(fullTextQuery('"x" OR NEAR(')).toBe('"x" "OR" "NEAR"*');
    expect(fullTextQuery('!!! ???')).toBeNull();
  });
});

describe('media sniffing', () => {
  const bytes = (...parts: Array<string | number[]>) =>
    new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

  it('knows WebP (lossy, lossless, extended) and MP4 by their bytes', () => {
    const lossy = bytes(
      'RIFF',
      [0, 0, 0, 0],
      'WEBP',
      'VP8 ',
      [0, 0, 0, 0, 0, 0, 0],
      [0x9d, 0x01, 0x2a],
      [0x80, 0x02, 0xe0, 0x01],
    );
    expect(sniffMedia(lossy)).toEqual({ kind: 'image', contentType: 'image/webp', width: 640, height: 480 });
    // VP8L: 14 bits of width - 1, then 14 of height - 1 (99 x 49).
    const bits = 98 | (48 << 14);
    const lossless = bytes(
      'RIFF',
      [0, 0, 0, 0],
      'WEBP',
      'VP8L',
      [0, 0, 0, 0],
      [0x2f],
      [bits & 0xff, (bits >> 8) & 0xff, (bits >> 16) & 0xff, bits >>> 24],
      [0, 0, 0, 0, 0],
    );
    expect(sniffMedia(lossless)).toMatchObject({ width: 99, height: 49 });
    const extended = bytes(
      'RIFF',
      [0, 0, 0, 0],
      'WEBP',
      'VP8X',
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0x1f, 0x03, 0],
      [0xdf, 0x01, 0],
      [0, 0],
    );
    expect(sniffMedia(extended)).toMatchObject({ width: 800, height: 480 });
    expect(sniffMedia(bytes([0, 0, 0, 0x18], 'ftypmp42', [0, 0, 0, 0]))).toMatchObject({
      kind: 'video',
      contentType: 'video/mp4',
    });
  });

  it('refuses a truncated or unknown file, and a header that claims absurd dimensions has none', () => {
    expect(sniffMedia(bytes([0x89], 'PNG'))).toBeNull();
    expect(sniffMedia(bytes('%PDF-1.7'))).toBeNull();
    expect(sniffMedia(bytes([0xff, 0xd8, 0xff, 0xd9]))).toBeNull();
    const huge = bytes(
      [0x89],
      'PNG',
      [0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13],
      'IHDR',
      [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1],
    );
    expect(sniffMedia(huge)).toEqual({ kind: 'image', contentType: 'image/png', width: null, height: null });
  });
});
