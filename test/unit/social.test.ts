import { describe, expect, it } from 'vitest';
import { RULE_FILTERS, applyFilters, runPipeline, DEFAULT_PARAMS } from '../../src/pipeline.ts';
import { DEFAULT_WEIGHTS } from '../../src/ranking.ts';
import { compilePhrase, postHiddenBecause, readerRules } from '../../src/social.ts';
import { postRecord } from '../support/records.ts';

const NOW = Date.UTC(2026, 11, 2, 12);
const post = (text: string, hashtags: string[] = [], authorId = '7') => ({ text, hashtags, authorId });

describe('muted phrases', () => {
  it('match case-insensitively and whole-word by default, in the text or the hashtags', () => {
    const f = compilePhrase({ id: '1', phrase: 'Finale', wholeWord: true });
    expect(f.matches(post('the FINALE!'))).toBe(true);
    expect(f.matches(post('finales'))).toBe(false);
    expect(f.matches(post('semifinale'))).toBe(false);
    expect(f.matches(post('see #finale'))).toBe(true);
    expect(f.matches(post('tagged', ['finale']))).toBe(true);
    expect(f.matches(post('tagged', ['finales']))).toBe(false);
  });

  it('match inside words when wholeWord is false; phrases and non-Latin scripts work', () => {
    expect(compilePhrase({ id: '1', phrase: 'final', wholeWord: false }).matches(post('Semifinals'))).toBe(true);
    expect(compilePhrase({ id: '1', phrase: 'final', wholeWord: false }).matches(post('x', ['finals']))).toBe(true);
    const phrase = compilePhrase({ id: '1', phrase: 'red wedding', wholeWord: true });
    expect(phrase.matches(post('The Red Wedding episode'))).toBe(true);
    expect(phrase.matches(post('red weddings'))).toBe(false);
    const cyrillic = compilePhrase({ id: '1', phrase: 'Кот', wholeWord: true });
    expect(cyrillic.matches(post('мой кот спит'))).toBe(true);
    expect(cyrillic.matches(post('котик'))).toBe(false);
    // Regular-expression characters are literal.
    expect(compilePhrase({ id: '1', phrase: 'c++', wholeWord: true }).matches(post('I like C++ a lot'))).toBe(true);
    expect(compilePhrase({ id: '1', phrase: 'a.b', wholeWord: true }).matches(post('axb'))).toBe(false);
  });
});

describe('reader rules', () => {
  it('keep only mutes and filters in force, and say why a post is hidden', () => {
    const rules = readerRules(
      {
        blocking: ['1'],
        blockedBy: ['2'],
        muting: [
          { id: '3', expiresAt: null },
          { id: '4', expiresAt: NOW - 1 },
          { id: '5', expiresAt: NOW + 1 },
        ],
        filters: [
          { id: 'f1', phrase: 'spoiler', wholeWord: true, expiresAt: NOW - 1 },
          { id: 'f2', phrase: 'crypto', wholeWord: true, expiresAt: null },
        ],
      },
      NOW,
    );
    expect([...rules.muting].sort()).toEqual(['3', '5']);
    expect(postHiddenBecause(rules, post('x', [], '1'))).toBe('blocking');
    expect(postHiddenBecause(rules, post('x', [], '2'))).toBe('blocked-by');
    expect(postHiddenBecause(rules, post('x', [], '3'))).toBe('muting');
    expect(postHiddenBecause(rules, post('x', [], '4'))).toBeNull();
    expect(postHiddenBecause(rules, post('a spoiler'))).toBeNull();
    expect(postHiddenBecause(rules, post('buy CRYPTO'))).toBe('phrase');
  });

  it('run as named filters in the ranked pipeline and on their own, counted by name and reason', () => {
    const rules = readerRules(
      { blocking: ['1'], blockedBy: ['2'], muting: [{ id: '3', expiresAt: null }], filters: [] },
      NOW,
    );
    const candidates = ['1', '2', '3', '4'].map((authorId) => ({
      post: postRecord({ authorId }, NOW),
      authorFollowers: 1,
      vector: null,
    }));
    const filtered: Record<string, Record<string, number>> = {};
    expect(applyFilters(candidates, { rules }, RULE_FILTERS, filtered).map((c) => c.post.authorId)).toEqual(['4']);
    expect(filtered).toEqual({ block: { blocking: 1, 'blocked-by': 1 }, mute: { muting: 1 } });
    const ranked = runPipeline(candidates, {
      now: NOW,
      weights: DEFAULT_WEIGHTS,
      params: DEFAULT_PARAMS,
      affinity: new Map(),
      trending: new Set(),
      location: null,
      interest: null,
      seen: new Map(),
      rules,
    });
    expect(ranked.items.map((i) => i.candidate.post.authorId)).toEqual(['4']);
    expect(ranked.filtered).toEqual(filtered);
  });
});
