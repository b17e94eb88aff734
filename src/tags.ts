import { parseHashtags } from './text.ts';

/**
 * A tag as a path or query names it ("Rust", "#rust"): the form parseHashtags stores (lower case), or null when it
 * is not a hashtag at all, so that a listing is never asked for something no post can carry.
 */
export function normalizeTag(raw: string): string | null {
  const bare = raw.startsWith('#') ? raw.slice(1) : raw;
  const [tag] = parseHashtags(`#${bare}`);
  return tag !== undefined && tag === bare.toLowerCase() ? tag : null;
}

/** A search prefix for tags: lower case, without '#'; null when it could start no tag. */
export function tagPrefix(raw: string): string | null {
  const bare = (raw.startsWith('#') ? raw.slice(1) : raw).toLowerCase();
  return bare !== '' && /^[\p{L}\p{M}\p{N}_]+$/u.test(bare) ? bare : null;
}

/** Most words of a full-text query that are used; the rest are ignored. */
const MAX_QUERY_WORDS = 8;

/**
 * A user's words as an FTS5 query that cannot be a syntax error: each word a quoted phrase (all must match), the
 * last one also as a prefix ("feed" finds "feeds"). Null when there is no word to look for.
 */
export function fullTextQuery(raw: string): string | null {
  const words = raw.match(/[\p{L}\p{M}\p{N}_]+/gu)?.slice(0, MAX_QUERY_WORDS) ?? [];
  if (words.length === 0) return null;
  return words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}
