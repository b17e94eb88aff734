import { describe, expect, it } from 'vitest';
import type { PostRecord } from '../../src/model.ts';
import {
  DEFAULT_PARAMS,
  authorDiversityScorer,
  demote,
  runPipeline,
  seenFilter,
  type PipelineContext,
} from '../../src/pipeline.ts';
import { DEFAULT_WEIGHTS, type Candidate } from '../../src/ranking.ts';
import { summarizeSeen, type SeenRow } from '../../src/seen.ts';
import { postRecord } from '../support/records.ts';

const NOW = Date.UTC(2026, 11, 2, 12);
function candidate(authorId: string, overrides: Partial<PostRecord> = {}, newer = 0): Candidate {
  return { post: postRecord({ authorId, ...overrides }, NOW), authorFollowers: 10, vector: null, newer };
}

function context(overrides: Partial<PipelineContext> = {}): PipelineContext {
  return {
    now: NOW,
    weights: DEFAULT_WEIGHTS,
    params: DEFAULT_PARAMS,
    affinity: new Map(),
    trending: new Set(),
    location: null,
    interest: null,
    seen: new Map(),
    ...overrides,
  };
}

describe('the ranked pipeline', () => {
  it('the seen filter drops engaged and "less" posts and counts them', () => {
    const [a, b, c] = [candidate('1'), candidate('2'), candidate('3')];
    const seen = new Map([
      [a.post.id, { impressions: 1, engaged: true, less: false }],
      [b.post.id, { impressions: 0, engaged: false, less: true }],
    ]);
    const result = runPipeline([a, b, c], context({ seen }));
    expect(result.items.map((i) => i.candidate.post.id)).toEqual([c.post.id]);
    expect(result.filtered).toEqual({ seen: { engaged: 1, less: 1 } });
    expect(seenFilter.drop(c, context({ seen }))).toBeNull();
  });

  it('impressions sink a post through the unseen signal', () => {
    const [shown, fresh] = [candidate('1'), candidate('2', {}, 1)];
    const impressions = new Map([[shown.post.id, 2]]);
    const result = runPipeline([shown, fresh], context({ impressions }));
    expect(result.items.map((i) => i.candidate.post.id)).toEqual([fresh.post.id, shown.post.id]);
    expect(result.items[1]!.signals.unseen).toBe(0.25);
  });

  it('author diversity demotes repeats of an author in score order, with a floor', () => {
    const posts = [candidate('1'), candidate('1'), candidate('1'), candidate('1'), candidate('2', {}, 5)];
    const result = runPipeline(posts, context());
    const factors = result.items.map((i) => i.stages['author-diversity']?.factor ?? 1);
    // Author 2's post, older and so lower on its own, passes the repeats of author 1.
    expect(result.items[1]!.candidate.post.authorId).toBe('2');
    const { diversityDecay: d, diversityFloor: f } = DEFAULT_PARAMS;
    expect(factors).toEqual([1, 1, (1 - f) * d + f, (1 - f) * d ** 2 + f, (1 - f) * d ** 3 + f]);
    expect(authorDiversityScorer.name).toBe('author-diversity');
  });

  it('demotion lowers negative scores too', () => {
    expect(demote(2, 0.5)).toBe(1);
    expect(demote(-2, 0.5)).toBe(-4);
  });
});

describe('summarizeSeen', () => {
  const row = (overrides: Partial<SeenRow>): SeenRow => ({
    postId: 'p',
    authorId: 'a',
    categories: '',
    served: 0,
    viewed: 0,
    dwellMs: 0,
    engaged: false,
    feedback: 0,
    ...overrides,
  });

  it('a served page and its views are one impression; exposure per author and category counts posts', () => {
    const s = summarizeSeen([
      row({ postId: 'p1', served: 1, viewed: 1, categories: '#cooking #recipes', engaged: true, dwellMs: 60_000 }),
      row({ postId: 'p2', served: 2, viewed: 1, categories: '#cooking' }),
      row({ postId: 'p3', authorId: 'b', viewed: 1, feedback: -1 }),
    ]);
    expect(s.posts).toEqual({
      p1: { impressions: 1, engaged: true, less: false },
      p2: { impressions: 2, engaged: false, less: false },
      p3: { impressions: 1, engaged: false, less: true },
    });
    expect(s.byAuthor.a).toEqual({ seen: 2, engaged: 1, dwellMs: 30_000 });
    expect(s.overall).toEqual({ seen: 3, engaged: 1, dwellMs: 30_000 });
    expect(s.byCategory['#cooking']).toEqual({ seen: 2, engaged: 1, dwellMs: 30_000 });
    expect(s.byCategory['#recipes']).toEqual({ seen: 1, engaged: 1, dwellMs: 30_000 });
  });
});
