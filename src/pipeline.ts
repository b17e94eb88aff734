import { modelScore, type LearnedModel } from './learned-model.ts';
import type { SeenPost } from './seen.ts';
import { hiddenBecause, type ReaderRules } from './social.ts';
import {
  signalsFrom,
  signalsOf,
  weightedScore,
  type Candidate,
  type RankingContext,
  type SignalInputs,
  type Signals,
} from './ranking.ts';
import type { Repost, TimelineEntry } from './timeline.ts';

/**
 * The ranked feed's stages after hydration, as named parts (in the manner of X's candidate pipeline and Bluesky's
 * AppView): filters drop candidates, scorers set or adjust scores, selection orders what is left. Each part
 * declares what it reads of the context; each leaves a note on the items it touched, which `explain` shows.
 */

export interface StageNote {
  /** The factor the scorer multiplied the score by (a demotion below 1). */
  factor: number;
  [detail: string]: number;
}

export interface PipelineItem {
  candidate: Candidate;
  signals: Signals;
  /** The base score: the learned model's, or the weighted sum of the signals. */
  base: number;
  score: number;
  /** What each scorer after the weighted sum did to this item, by scorer name. */
  stages: Record<string, StageNote>;
}

/** Tunables of the scorers; experiments may change them per arm. */
export interface PipelineParams {
  /** The k-th earlier post of the same author in the page multiplies it by (1 - floor) * decay^k + floor. */
  diversityDecay: number;
  diversityFloor: number;
}

/**
 * Gentler than X's (0.5 and 0.25): X multiplies probabilities, while a weighted sum carries a large common part
 * (recency, content, priors), so the same factor would sink a favourite author's second post below anything.
 */
export const DEFAULT_PARAMS: Readonly<PipelineParams> = Object.freeze({
  diversityDecay: 0.8,
  diversityFloor: 0.5,
});

/** What the reader's own rules (blocks, mutes, muted words) need: every feed mode has it, ranked or not. */
export interface RulesContext {
  /** Absent: no rules (as for a reader who has none). */
  rules?: ReaderRules;
}

export interface PipelineContext extends RankingContext, RulesContext {
  params: PipelineParams;
  /** The seen memory, by post id. */
  seen: ReadonlyMap<string, SeenPost>;
  /** The learned model (RANKING_MODEL) for this arm; absent or null: the weighted sum ranks. */
  model?: LearnedModel | null;
}

export interface Filter<C = PipelineContext, T = Candidate> {
  name: string;
  /** Why the candidate is dropped, or null to keep it. */
  drop(candidate: T, context: C): string | null;
}

/** A filter of the reader's rules: it reads only the post and the rules, so `latest` runs it too. */
export type RuleFilter = Filter<RulesContext, Pick<Candidate, 'post' | 'repost'>>;

/** What a filter on ids alone reads: the post's id and author, and the sharer of a repost (stage 1 has these). */
export interface IdRef {
  post: { id: string; authorId: string };
  repost?: Repost;
}

/** A rule filter that needs no post body, so stage 1 (lightRank) runs it on timeline entries. */
export type IdRuleFilter = Filter<RulesContext, IdRef>;

/** Blocks, either way: neither account sees the other's posts, however they reached the timeline. */
export const blockFilter: IdRuleFilter = {
  name: 'block',
  drop(candidate, context) {
    if (!context.rules) return null;
    const why = hiddenBecause(context.rules, candidate.post.authorId);
    return why === 'blocking' || why === 'blocked-by' ? why : null;
  },
};

/** Mutes in force: the muted account's posts leave the muter's feeds (and come back when the mute expires). */
export const muteFilter: IdRuleFilter = {
  name: 'mute',
  drop: (candidate, context) => (context.rules?.muting.has(candidate.post.authorId) ? 'muting' : null),
};

/**
 * Reposts by an account hidden from the reader: a repost BY a blocked (either way) or muted account never shows,
 * whoever wrote the post (the author's own rules are the filters above).
 */
export const repostByFilter: IdRuleFilter = {
  name: 'repost-by',
  drop(candidate, context) {
    const by = candidate.repost?.by;
    return by === undefined || !context.rules ? null : hiddenBecause(context.rules, by);
  },
};

/** Muted words in force, matched against the text and the hashtags (src/social.ts compilePhrase). */
export const phraseFilter: RuleFilter = {
  name: 'phrase',
  drop: (candidate, context) => (context.rules?.phrases.find((p) => p.matches(candidate.post)) ? 'phrase' : null),
};

/** The reader's rules, in both feed modes (and the listings that show posts). */
export const RULE_FILTERS: readonly RuleFilter[] = [blockFilter, muteFilter, repostByFilter, phraseFilter];

/** Runs rule filters over candidates, counting what each dropped (by name and reason) into `filtered`. */
export function applyFilters<C, T>(
  candidates: readonly T[],
  context: C,
  filters: readonly Filter<C, T>[],
  filtered: Record<string, Record<string, number>> = {},
): T[] {
  return candidates.filter((candidate) => {
    for (const filter of filters) {
      const reason = filter.drop(candidate, context);
      if (reason === null) continue;
      const counts = (filtered[filter.name] ??= {});
      counts[reason] = (counts[reason] ?? 0) + 1;
      return false;
    }
    return true;
  });
}

export interface Scorer {
  name: string;
  score(items: readonly PipelineItem[], context: PipelineContext): PipelineItem[];
}

/** Lowers a score whatever its sign (or, with a factor above 1, raises it): refitted weights can make it negative. */
export function demote(score: number, factor: number): number {
  return score >= 0 ? score * factor : score / Math.max(factor, 1e-9);
}

function withFactor(item: PipelineItem, name: string, note: StageNote): PipelineItem {
  return { ...item, score: demote(item.score, note.factor), stages: { ...item.stages, [name]: note } };
}

/** Previously seen: posts the reader engaged with, or asked to see less of, leave the ranked feed. */
export const seenFilter: Filter<PipelineContext, IdRef> = {
  name: 'seen',
  drop(candidate, context) {
    const seen = context.seen.get(candidate.post.id);
    if (seen?.engaged) return 'engaged';
    if (seen?.less) return 'less';
    return null;
  },
};

/**
 * The base score: the learned model's probability (src/learned-model.ts) when the arm has one, else the weighted
 * sum of the signals with the arm's weights (src/ranking.ts), the fallback.
 */
export const baseScorer: Scorer = {
  name: 'base',
  score: (items, context) =>
    items.map((item) => {
      const base = baseScoreOf(item.signals, context);
      return { ...item, base, score: base };
    }),
};

export function baseScoreOf(signals: Signals, context: PipelineContext): number {
  return context.model ? modelScore(context.model, signals) : weightedScore(signals, context.weights);
}

/** Highest score first; ties go to the newer post, so the order is total and stable across pages. */
export function byScore(a: PipelineItem, b: PipelineItem): number {
  const [x, y] = [a.candidate.post.id, b.candidate.post.id];
  return b.score - a.score || (x < y ? 1 : x > y ? -1 : 0);
}

/**
 * Author diversity (X's author-diversity scorer): in score order, an author's second post is multiplied by
 * (1 - floor) * decay + floor, the third by (1 - floor) * decay^2 + floor, and so on, so no author fills the top.
 */
export const authorDiversityScorer: Scorer = {
  name: 'author-diversity',
  score(items, context) {
    const { diversityDecay: decay, diversityFloor: floor } = context.params;
    const count = new Map<string, number>();
    return [...items].sort(byScore).map((item) => {
      const author = item.candidate.post.authorId;
      const repeat = count.get(author) ?? 0;
      count.set(author, repeat + 1);
      if (repeat === 0) return item;
      return withFactor(item, 'author-diversity', { factor: (1 - floor) * decay ** repeat + floor, repeat });
    });
  },
};

/** Each sharer among the accounts the reader follows adds this much to the boost, log-scaled; capped below. */
export const SOCIAL_PROOF_STEP = 0.1;
export const SOCIAL_PROOF_MAX = 1.3;

/**
 * Social proof of reposts (Twitter's "retweeted by people you follow"): a post that accounts the reader follows have
 * shared is lifted by 1 + SOCIAL_PROOF_STEP * log2(1 + sharers), at most SOCIAL_PROOF_MAX. A factor after the sum
 * rather than a weight in it: the sum's signals are the refit's, logged with each impression, and a repost's worth
 * is relative to the post's own score. `explain` shows it as the `social-proof` stage, with the sharer count.
 */
export const socialProofScorer: Scorer = {
  name: 'social-proof',
  score: (items) =>
    items.map((item) => {
      const sharers = item.candidate.sharers ?? 0;
      if (sharers <= 0) return item;
      const factor = Math.min(SOCIAL_PROOF_MAX, 1 + SOCIAL_PROOF_STEP * Math.log2(1 + sharers));
      return withFactor(item, 'social-proof', { factor, sharers });
    }),
};

export const RANKED_FILTERS: readonly Filter[] = [...RULE_FILTERS, seenFilter];
/**
 * Previously served posts sink through the `unseen` signal inside the weighted sum (src/ranking.ts), not a factor
 * after it: the sum is not a probability, so a multiplicative demotion would sink a strong post below any weak one
 * never shown, and as a signal its weight is learned by the refit with the others.
 */
export const RANKED_SCORERS: readonly Scorer[] = [baseScorer, socialProofScorer, authorDiversityScorer];

/** Stage 1's filters: those that read ids only. The phrase filter needs the text, so it runs in stage 2. */
export const LIGHT_FILTERS: readonly Filter<PipelineContext, IdRef>[] = [
  blockFilter,
  muteFilter,
  repostByFilter,
  seenFilter,
];
/** Stage 2's, on hydrated posts: what stage 1 could not check. */
export const FULL_FILTERS: readonly Filter[] = [phraseFilter];

/**
 * A candidate as stage 1 sees it: the timeline entry, and stand-ins for its post from the entry's features and the
 * isolate's counter cache (workers/cache/counters.ts), with priors where neither knows.
 */
export interface LightCandidate extends IdRef {
  entry: TimelineEntry;
  inputs: SignalInputs;
  authorFollowers: number;
  /** How many of the reader's candidates are newer (as Candidate.newer). */
  newer: number;
}

export interface LightItem {
  candidate: LightCandidate;
  signals: Signals;
  score: number;
}

/**
 * Stage 1 (`lightRank`): the id filters, then the base score from the light inputs (no similarity: post vectors
 * are stage 2's), best first. It only chooses which candidates stage 2 scores exactly; its scores are never shown.
 */
export function lightRank(
  candidates: readonly LightCandidate[],
  context: PipelineContext,
): { items: LightItem[]; filtered: Record<string, Record<string, number>> } {
  const filtered: Record<string, Record<string, number>> = {};
  const items = applyFilters<PipelineContext, LightCandidate>(candidates, context, LIGHT_FILTERS, filtered).map(
    (candidate) => {
      const signals = signalsFrom(candidate.inputs, { ...candidate, vector: null }, context);
      return { candidate, signals, score: baseScoreOf(signals, context) };
    },
  );
  items.sort((a, b) => {
    const [x, y] = [a.candidate.post.id, b.candidate.post.id];
    return b.score - a.score || (x < y ? 1 : x > y ? -1 : 0);
  });
  return { items, filtered };
}

export interface PipelineResult {
  /** Selection: in final score order. */
  items: PipelineItem[];
  /** How many candidates each filter dropped, by filter name and reason. */
  filtered: Record<string, Record<string, number>>;
}

export function runPipeline(
  candidates: readonly Candidate[],
  context: PipelineContext,
  filters: readonly Filter[] = RANKED_FILTERS,
  scorers: readonly Scorer[] = RANKED_SCORERS,
): PipelineResult {
  const filtered: Record<string, Record<string, number>> = {};
  const kept = applyFilters(candidates, context, filters, filtered);
  // The signals hydrator: every scorer reads the same signals.
  let items: PipelineItem[] = kept.map((candidate) => ({
    candidate,
    signals: signalsOf(candidate, context),
    base: 0,
    score: 0,
    stages: {},
  }));
  for (const scorer of scorers) items = scorer.score(items, context);
  return { items: items.sort(byScore), filtered };
}
