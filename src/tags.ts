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
