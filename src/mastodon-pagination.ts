/**
 * Mastodon's pagination: a page of items newest first, and a `Link` header whose `next` asks for older items
 * (`max_id` = the last id) and whose `prev` asks for newer ones (`min_id` = the first id), as absolute URLs built
 * on the request's own URL, so clients follow them as they are (masto.js and megalodon do).
 */
export interface PageBounds {
  /** The newest item's pagination id (prev link), or undefined for an empty page. */
  first?: string;
  /** The oldest item's pagination id (next link), when there may be more. */
  last?: string;
}

function withParams(requestUrl: string, set: Record<string, string>): string {
  const url = new URL(requestUrl);
  for (const key of ['max_id', 'min_id', 'since_id', 'cursor']) url.searchParams.delete(key);
  for (const [key, value] of Object.entries(set)) url.searchParams.set(key, value);
  return url.toString();
}

/** The `Link` header value, or undefined when neither direction has a link. */
export function linkHeader(
  requestUrl: string,
  bounds: PageBounds,
  nextParams?: Record<string, string>,
): string | undefined {
  const parts: string[] = [];
  const next = nextParams ?? (bounds.last === undefined ? undefined : { max_id: bounds.last });
  if (next) parts.push(`<${withParams(requestUrl, next)}>; rel="next"`);
  if (bounds.first !== undefined) parts.push(`<${withParams(requestUrl, { min_id: bounds.first })}>; rel="prev"`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/**
 * A page cut from items sorted newest first (ids compare as strings of one width): `max_id` keeps older ones,
 * `since_id` newer ones from the newest down, `min_id` the ones just above it (the oldest newer first).
 */
export function pageOf<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  params: { max_id?: string; since_id?: string; min_id?: string; limit: number },
): T[] {
  let kept = items.filter((item) => {
    const id = idOf(item);
    if (params.max_id !== undefined && !(id < params.max_id)) return false;
    if (params.since_id !== undefined && !(id > params.since_id)) return false;
    if (params.min_id !== undefined && !(id > params.min_id)) return false;
    return true;
  });
  if (params.min_id !== undefined && params.since_id === undefined) kept = kept.slice(-params.limit);
  return kept.slice(0, params.limit);
}
