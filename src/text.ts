/** Limits and parsing of user-written text. Lengths count Unicode code points, as people count them. */
export const LIMITS = {
  postText: 1000,
  commentText: 500,
  displayName: 50,
  mediaAlt: 1000,
  locationName: 100,
  handleMin: 3,
  handleMax: 30,
  hashtag: 100,
  hashtagsPerPost: 30,
  mentionsPerPost: 50,
  mediaPerPost: 4,
  mediaUrl: 2048,
  eventsPerRequest: 100,
  /** Largest request body accepted anywhere, in bytes. */
  bodyBytes: 64 * 1024,
} as const;

export const HANDLE_PATTERN = /^[A-Za-z0-9_]{3,30}$/;

export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Handles are unique case-insensitively; the stored form is lower case. */
export function normalizeHandle(handle: string): string {
  return handle.toLowerCase();
}

// A tag or mention starts at the beginning of the text or after a character that cannot be part of a word,
// so "a#b" and "me@example.com" are neither. Combining marks (\p{M}) belong to words: without them "#हिन्दी"
// or a decomposed "#café" would be cut at the first mark.
export const HASHTAG_PATTERN = /(?<![\p{L}\p{M}\p{N}_&#])#([\p{L}\p{M}\p{N}_]*[\p{L}_][\p{L}\p{M}\p{N}_]*)/gu;
export const MENTION_PATTERN = /(?<![\p{L}\p{N}_@.])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])/gu;

/** Hashtags, lower-cased and deduplicated in order of first use; pure digits ("#1") are not tags. */
export function parseHashtags(text: string): string[] {
  const tags = new Set<string>();
  for (const match of text.matchAll(HASHTAG_PATTERN)) {
    const tag = match[1]!.toLowerCase();
    if (codePointLength(tag) <= LIMITS.hashtag) tags.add(tag);
    if (tags.size === LIMITS.hashtagsPerPost) break;
  }
  return [...tags];
}

/** Mentioned handles, lower-cased and deduplicated. */
export function parseMentions(text: string): string[] {
  const handles = new Set<string>();
  for (const match of text.matchAll(MENTION_PATTERN)) {
    handles.add(normalizeHandle(match[1]!));
    if (handles.size === LIMITS.mentionsPerPost) break;
  }
  return [...handles];
}

/** Why a text was refused; the API turns each into a 400 naming the field. */
export type TextRejection = 'lone_surrogate' | 'control' | 'empty' | 'too_long';

export type TextCheck = { ok: true; text: string } | { ok: false; reason: TextRejection };

export interface TextRules {
  /** Most code points allowed, counted after NFC. */
  max: number;
  /** Drop leading and trailing whitespace (names), after NFC and before measuring. */
  trim?: boolean;
}

// Every Cc character (C0, DEL, C1) but \n and \t: NUL, escapes and C1 codes like NEL only corrupt or spoof.
const CONTROL = /[\p{Cc}--[\n\t]]/v;
// Nothing visible: whitespace and default-ignorables (zero-width, BOM, bidi marks, Hangul fillers, variation selectors).
const BLANK = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}]*$/u;
const EDGE_WHITESPACE = /^\p{White_Space}+|\p{White_Space}+$/gu;

/**
 * The one policy for user-written text (posts, comments, names, alt text): refuses lone surrogates and
 * control characters, and returns the NFC text. CR LF and a lone CR become LF: form submissions send CR LF,
 * and one form of line break makes the same text count and compare the same however it was typed.
 */
export function checkText(input: string, rules: TextRules): TextCheck {
  if (!input.isWellFormed()) return { ok: false, reason: 'lone_surrogate' };
  const lines = input.replace(/\r\n?/g, '\n');
  if (CONTROL.test(lines)) return { ok: false, reason: 'control' };
  let text = lines.normalize('NFC');
  if (rules.trim) text = text.replace(EDGE_WHITESPACE, '');
  if (BLANK.test(text)) return { ok: false, reason: 'empty' };
  if (codePointLength(text) > rules.max) return { ok: false, reason: 'too_long' };
  return { ok: true, text };
}

export function textRejectionMessage(reason: TextRejection, max: number): string {
  switch (reason) {
    case 'lone_surrogate':
      return 'must be valid Unicode (no unpaired surrogates)';
    case 'control':
      return 'must not contain control characters other than newline and tab';
    case 'empty':
      return 'must not be empty or only whitespace or invisible characters';
    case 'too_long':
      return `at most ${max} characters`;
  }
}
