/**
 * The reader's own rules over what they read (DESIGN.md, "The social surface"): accounts hidden by blocks (either
 * way) and mutes, and muted words. Pure: the repositories load the rules, the feed pipeline's filters
 * (src/pipeline.ts) and the listings apply them.
 */
import type { PostRecord } from './model.ts';

/** A muted word or phrase as stored. */
export interface PhraseFilter {
  id: string;
  phrase: string;
  wholeWord: boolean;
  /** Epoch ms; null: until deleted. */
  expiresAt: number | null;
}

/** What a reader must not be shown, as loaded for one read (already limited to rules in force at that time). */
export interface ReaderRules {
  /** Accounts the reader blocks. */
  blocking: ReadonlySet<string>;
  /** Accounts that block the reader. */
  blockedBy: ReadonlySet<string>;
  /** Accounts the reader mutes (mutes in force). */
  muting: ReadonlySet<string>;
  /** Muted words in force, compiled. */
  phrases: readonly CompiledPhrase[];
}

export interface CompiledPhrase {
  id: string;
  matches(post: Pick<PostRecord, 'text' | 'hashtags'>): boolean;
}

export const NO_RULES: ReaderRules = Object.freeze({
  blocking: new Set<string>(),
  blockedBy: new Set<string>(),
  muting: new Set<string>(),
  phrases: [],
});

/** Why an account is hidden from the reader, or null if it is not. A block (either way) outranks a mute. */
export function hiddenBecause(rules: ReaderRules, accountId: string): 'blocking' | 'blocked-by' | 'muting' | null {
  if (rules.blocking.has(accountId)) return 'blocking';
  if (rules.blockedBy.has(accountId)) return 'blocked-by';
  if (rules.muting.has(accountId)) return 'muting';
  return null;
}

/** Neither account blocks the other. */
export function blockedEitherWay(rules: ReaderRules, accountId: string): boolean {
  return rules.blocking.has(accountId) || rules.blockedBy.has(accountId);
}

const WORD = String.raw`[\p{L}\p{M}\p{N}_]`;

function fold(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A muted phrase as Mastodon applies one: case-insensitively, to the text and to the hashtags; whole-word means
 * the phrase is not part of a longer word ("cat" hides "a cat!" and "#cat", not "concatenate"), and a phrase that
 * itself starts or ends with a non-word character ("#cat", "c++") is bounded only where it has word characters.
 */
export function compilePhrase(filter: Pick<PhraseFilter, 'id' | 'phrase' | 'wholeWord'>): CompiledPhrase {
  const phrase = fold(filter.phrase);
  const bare = phrase.replace(/^#/, '');
  if (!filter.wholeWord) {
    return {
      id: filter.id,
      matches: (post) => fold(post.text).includes(phrase) || post.hashtags.some((tag) => fold(tag).includes(bare)),
    };
  }
  const word = new RegExp(`^${WORD}`, 'u');
  const before = word.test(phrase) ? `(?<!${WORD})` : '';
  const after = new RegExp(`${WORD}$`, 'u').test(phrase) ? `(?!${WORD})` : '';
  const pattern = new RegExp(`${before}${escapeRegExp(phrase)}${after}`, 'u');
  return {
    id: filter.id,
    matches: (post) => pattern.test(fold(post.text)) || post.hashtags.some((tag) => fold(tag) === bare),
  };
}

/** The reader's rules in force at `now`, from what the repositories loaded. */
export function readerRules(
  loaded: {
    blocking: Iterable<string>;
    blockedBy: Iterable<string>;
    muting: Iterable<{ id: string; expiresAt: number | null }>;
    filters: Iterable<PhraseFilter>;
  },
  now: number,
): ReaderRules {
  const live = (expiresAt: number | null) => expiresAt === null || expiresAt > now;
  return {
    blocking: new Set(loaded.blocking),
    blockedBy: new Set(loaded.blockedBy),
    muting: new Set([...loaded.muting].filter((m) => live(m.expiresAt)).map((m) => m.id)),
    phrases: [...loaded.filters].filter((f) => live(f.expiresAt)).map(compilePhrase),
  };
}

/** Why a post is hidden from the reader by their rules (its author hidden, or a muted phrase), or null. */
export function postHiddenBecause(rules: ReaderRules, post: Pick<PostRecord, 'authorId' | 'text' | 'hashtags'>) {
  return hiddenBecause(rules, post.authorId) ?? (rules.phrases.some((p) => p.matches(post)) ? 'phrase' : null);
}

export const NOTIFICATION_TYPES = ['like', 'repost', 'follow', 'mention', 'comment'] as const;
export type NotificationKind = (typeof NOTIFICATION_TYPES)[number];
