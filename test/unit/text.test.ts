import { describe, expect, it } from 'vitest';
import {
  HANDLE_PATTERN,
  LIMITS,
  codePointLength,
  normalizeHandle,
  parseHashtags,
  parseMentions,
} from '../../src/text.ts';

describe('parseHashtags', () => {
  it('finds word-start tags, lower-cased and deduplicated, skipping pure digits and mid-word #', () => {
    expect(parseHashtags('#Hello world #hello #été #123 a#b #ok_1')).toEqual(['hello', 'été', 'ok_1']);
  });

  it('returns nothing for text without tags', () => {
    expect(parseHashtags('')).toEqual([]);
    expect(parseHashtags('no tags here # alone, #, ## and #!')).toEqual([]);
  });

  it('keeps the order of first use', () => {
    expect(parseHashtags('#b #A #c #a #B')).toEqual(['b', 'a', 'c']);
  });

  it('accepts tags after punctuation and at the start and end of the text', () => {
    expect(parseHashtags('#start (#paren) "#quoted", end.#dot #last')).toEqual([
      'start',
      'paren',
      'quoted',
      'dot',
      'last',
    ]);
  });

  it('stops a tag at punctuation and allows digits and underscores after a letter', () => {
    expect(parseHashtags('#web3-dev #2024Goals #_x #a.b')).toEqual(['web3', '2024goals', '_x', 'a']);
  });

  it('does not take HTML entities or doubled hashes for tags', () => {
    expect(parseHashtags('&#x27; &#amp; ##double')).toEqual([]);
  });

  it('accepts tags in other scripts, including ones with combining marks', () => {
    expect(parseHashtags('#東京 #Москва #हिन्दी #ไทย')).toEqual(['東京', 'москва', 'हिन्दी', 'ไทย']);
    // A decomposed "café" keeps its accent instead of being cut before it.
    const decomposed = 'cafe\u0301';
    expect(parseHashtags(`#${decomposed} latte`)).toEqual([decomposed]);
    expect(parseHashtags(`x\u0301#tag`)).toEqual([]);
  });

  it(`caps the result at ${LIMITS.hashtagsPerPost} tags, keeping the first ones`, () => {
    const tags = Array.from({ length: LIMITS.hashtagsPerPost + 10 }, (_, i) => `tag${i}`);
    const parsed = parseHashtags(tags.map((t) => `#${t}`).join(' '));
    expect(parsed).toHaveLength(LIMITS.hashtagsPerPost);
    expect(parsed).toEqual(tags.slice(0, LIMITS.hashtagsPerPost));
  });

  it('does not count repeated tags towards the cap', () => {
    const tags = Array.from({ length: LIMITS.hashtagsPerPost }, (_, i) => `t${i}`);
    const text = ['#t0', '#T0', '#t0', ...tags.map((t) => `#${t}`)].join(' ');
    expect(parseHashtags(text)).toEqual(tags);
  });

  it(`skips tags longer than ${LIMITS.hashtag} code points and keeps tags of exactly that length`, () => {
    const longest = 'a'.repeat(LIMITS.hashtag);
    const tooLong = 'b'.repeat(LIMITS.hashtag + 1);
    expect(parseHashtags(`#${tooLong} #${longest} #short`)).toEqual([longest, 'short']);
  });

  it('measures tag length in code points, not UTF-16 units', () => {
    const astral = '𝒜'.repeat(LIMITS.hashtag); // 100 code points, 200 UTF-16 units
    expect(astral.length).toBe(LIMITS.hashtag * 2);
    expect(parseHashtags(`#${astral}`)).toEqual([astral]);
    expect(parseHashtags(`#${astral}𝒜`)).toEqual([]);
  });

  it('does not count skipped over-long tags towards the cap', () => {
    const tooLong = Array.from({ length: LIMITS.hashtagsPerPost }, (_, i) => `#${'z'.repeat(LIMITS.hashtag)}${i}x`);
    expect(parseHashtags(`${tooLong.join(' ')} #kept`)).toEqual(['kept']);
  });
});

describe('parseMentions', () => {
  it('finds handles but not emails or handles of the wrong length', () => {
    const tooLong = `x_${'l'.repeat(29)}`; // 31 characters
    expect(parseMentions(`@Alice hi @bob_2 me@example.com @ab @${tooLong}`)).toEqual(['alice', 'bob_2']);
  });

  it(`accepts handles of exactly ${LIMITS.handleMin} and ${LIMITS.handleMax} characters`, () => {
    const longest = 'h'.repeat(LIMITS.handleMax);
    expect(parseMentions(`@abc @${longest} @${longest}h`)).toEqual(['abc', longest]);
  });

  it('lower-cases and deduplicates in order of first use', () => {
    expect(parseMentions('@Carol @alice @CAROL @Alice @bob')).toEqual(['carol', 'alice', 'bob']);
  });

  it('accepts mentions after punctuation and stops at punctuation', () => {
    expect(parseMentions('(@alice), "@bob": @carol. @dave!')).toEqual(['alice', 'bob', 'carol', 'dave']);
  });

  it('ignores mid-word @, doubled @ and dotted prefixes', () => {
    expect(parseMentions('x@alice _@bob 1@carol @@dave .@erin')).toEqual([]);
  });

  it(`caps the result at ${LIMITS.mentionsPerPost} handles`, () => {
    const handles = Array.from({ length: LIMITS.mentionsPerPost + 5 }, (_, i) => `user_${i}`);
    const parsed = parseMentions(handles.map((h) => `@${h}`).join(' '));
    expect(parsed).toEqual(handles.slice(0, LIMITS.mentionsPerPost));
  });

  it('returns nothing for text without mentions', () => {
    expect(parseMentions('')).toEqual([]);
    expect(parseMentions('@ @! email@host')).toEqual([]);
  });
});

describe('codePointLength', () => {
  it('counts code points, so a single emoji is 1', () => {
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('abc')).toBe(3);
    expect('👍'.length).toBe(2);
    expect(codePointLength('👍')).toBe(1);
    expect(codePointLength('𝒜')).toBe(1);
    expect(codePointLength('a👍b')).toBe(3);
  });

  it('counts every code point of a composed sequence', () => {
    expect(codePointLength('👍🏽')).toBe(2); // thumbs up + skin tone modifier
    expect(codePointLength('👨‍👩‍👧')).toBe(5); // three people joined by two ZWJs
    expect(codePointLength('é')).toBe(1);
    expect(codePointLength('e\u0301')).toBe(2);
  });

  it('counts a lone surrogate as one code point', () => {
    expect(codePointLength('\ud83d')).toBe(1);
    expect(codePointLength('a\udc4db')).toBe(3);
  });
});

describe('normalizeHandle', () => {
  it('lower-cases and is idempotent', () => {
    expect(normalizeHandle('Alice_01')).toBe('alice_01');
    expect(normalizeHandle('BOB')).toBe('bob');
    expect(normalizeHandle('carol')).toBe('carol');
    expect(normalizeHandle(normalizeHandle('MiXeD_Case'))).toBe('mixed_case');
  });

  it('keeps valid handles valid', () => {
    for (const handle of ['Abc', 'A_B_C_1', 'Z'.repeat(30)]) {
      expect(HANDLE_PATTERN.test(handle)).toBe(true);
      expect(HANDLE_PATTERN.test(normalizeHandle(handle))).toBe(true);
    }
  });
});

describe('HANDLE_PATTERN', () => {
  it('accepts 3 to 30 ASCII letters, digits and underscores only', () => {
    expect(HANDLE_PATTERN.test('abc')).toBe(true);
    expect(HANDLE_PATTERN.test('a'.repeat(30))).toBe(true);
    for (const bad of ['ab', 'a'.repeat(31), 'al ice', 'alice!', 'élise', 'alice.b', '']) {
      expect(HANDLE_PATTERN.test(bad)).toBe(false);
    }
  });
});
