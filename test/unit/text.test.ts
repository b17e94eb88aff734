import { describe, expect, it } from 'vitest';
import {
  HANDLE_PATTERN,
  LIMITS,
  checkText,
  codePointLength,
  normalizeHandle,
  parseHashtags,
  parseMentions,
  textRejectionMessage,
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

describe('checkText', () => {
  const rules = { max: 10 };

  it('accepts ordinary text with newlines and tabs, unchanged', () => {
    expect(checkText('hello\n\tworld 👍', { max: 100 })).toEqual({ ok: true, text: 'hello\n\tworld 👍' });
  });

  it('refuses lone surrogates, high or low, anywhere', () => {
    for (const bad of ['\ud800', 'a\udc00b', 'ok \ud83d', '\ude00\ud83d']) {
      expect(checkText(bad, rules)).toEqual({ ok: false, reason: 'lone_surrogate' });
    }
    expect(checkText('\ud83d\ude00', rules)).toEqual({ ok: true, text: '😀' });
  });

  it('refuses NUL, other C0 controls, DEL and C1 controls', () => {
    for (const bad of [
      'a\u0000b',
      '\u0007',
      'x\u000b',
      'x\u000c',
      '\u001b[31mred',
      'a\u007f',
      '\u0080',
      'a\u0085b',
      '\u009f',
    ]) {
      expect(checkText(bad, rules), JSON.stringify(bad)).toEqual({ ok: false, reason: 'control' });
    }
  });

  it('turns CR LF and a lone CR into LF, so a line break counts once', () => {
    expect(checkText('a\r\nb\rc', rules)).toEqual({ ok: true, text: 'a\nb\nc' });
    expect(checkText('12345\r\n6789', rules)).toEqual({ ok: true, text: '12345\n6789' });
  });

  it('normalises to NFC before measuring, so a decomposed "é" counts as 1', () => {
    const decomposed = 'e\u0301'.repeat(10);
    expect(codePointLength(decomposed)).toBe(20);
    expect(checkText(decomposed, rules)).toEqual({ ok: true, text: '\u00e9'.repeat(10) });
    expect(checkText(`${decomposed}e\u0301`, rules)).toEqual({ ok: false, reason: 'too_long' });
    // Hangul jamo compose into syllables.
    expect(checkText('\u1100\u1161', rules)).toEqual({ ok: true, text: '\uac00' });
  });

  it('measures after NFC even when NFC makes the text longer', () => {
    // U+0958 is a composition exclusion: NFC decomposes it into two code points.
    expect('\u0958'.normalize('NFC')).toBe('\u0915\u093c');
    expect(checkText('\u0958'.repeat(5), rules)).toEqual({ ok: true, text: '\u0915\u093c'.repeat(5) });
    expect(checkText('\u0958'.repeat(6), rules)).toEqual({ ok: false, reason: 'too_long' });
  });

  it('counts code points, accepting exactly max and refusing max + 1', () => {
    expect(checkText('😀'.repeat(10), rules)).toEqual({ ok: true, text: '😀'.repeat(10) });
    expect(checkText('a'.repeat(11), rules)).toEqual({ ok: false, reason: 'too_long' });
  });

  it('treats whitespace-only and default-ignorable-only text as empty', () => {
    const blanks = [
      '',
      ' \n\t ',
      '\u00a0\u3000\u2028',
      '\u200b\u200b', // zero-width space
      '\u200c\u200d\u2060', // ZWNJ, ZWJ, word joiner
      '\ufeff', // BOM
      '\u00ad', // soft hyphen
      '\u200e\u202e', // bidi marks and overrides
      '\ufe0f', // variation selector
      '\u3164', // Hangul filler
      '\uffa0', // halfwidth Hangul filler
      '\u115f\u1160', // Hangul choseong and jungseong fillers
      '\u{e0041}\u{e0042}', // tag characters
    ];
    for (const blank of blanks) {
      expect(checkText(blank, rules), JSON.stringify(blank)).toEqual({ ok: false, reason: 'empty' });
    }
    // Ignorables next to visible text are kept: ZWJ sequences and variation selectors are real content.
    expect(checkText('\u200ba', rules)).toEqual({ ok: true, text: '\u200ba' });
    expect(checkText('❤\ufe0f', rules)).toEqual({ ok: true, text: '❤\ufe0f' });
  });

  it('trims surrounding whitespace only when asked, before measuring', () => {
    const padded = `  ${'n'.repeat(10)} \u3000`;
    expect(checkText(padded, { max: 10, trim: true })).toEqual({ ok: true, text: 'n'.repeat(10) });
    expect(checkText(padded, rules)).toEqual({ ok: false, reason: 'too_long' });
    expect(checkText(' a b\n', { max: 10, trim: true })).toEqual({ ok: true, text: 'a b' });
  });

  it('checks surrogates and controls before emptiness, so a refused text says why', () => {
    expect(checkText(' \u0000 ', rules)).toEqual({ ok: false, reason: 'control' });
    expect(checkText('\u200b\ud800', rules)).toEqual({ ok: false, reason: 'lone_surrogate' });
  });

  it('has a message for every reason', () => {
    expect(textRejectionMessage('too_long', 50)).toBe('at most 50 characters');
    for (const reason of ['lone_surrogate', 'control', 'empty'] as const) {
      expect(textRejectionMessage(reason, 50)).toMatch(/^must /);
    }
  });
});
