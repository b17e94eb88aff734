/** Limits and parsing of user-written text. Lengths count Unicode code points, as people count them. */
export const LIMITS = {
  postText: 1000,
  commentText: 500,
  displayName: 50,
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
const HASHTAG = /(?<![\p{L}\p{M}\p{N}_&#])#([\p{L}\p{M}\p{N}_]*[\p{L}_][\p{L}\p{M}\p{N}_]*)/gu;
const MENTION = /(?<![\p{L}\p{N}_@.])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])/gu;

/** Hashtags, lower-cased and deduplicated in order of first use; pure digits ("#1") are not tags. */
export function parseHashtags(text: string): string[] {
  const tags = new Set<string>();
  for (const match of text.matchAll(HASHTAG)) {
    const tag = match[1]!.toLowerCase();
    if (codePointLength(tag) <= LIMITS.hashtag) tags.add(tag);
    if (tags.size === LIMITS.hashtagsPerPost) break;
  }
  return [...tags];
}

/** Mentioned handles, lower-cased and deduplicated. */
export function parseMentions(text: string): string[] {
  const handles = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    handles.add(normalizeHandle(match[1]!));
    if (handles.size === LIMITS.mentionsPerPost) break;
  }
  return [...handles];
}
