/**
 * OAuth scopes as Mastodon defines them (docs.joinmastodon.org/api/oauth-scopes): four top-level scopes, each
 * granting its sub-scopes (`read` grants `read:statuses`), and the legacy `follow`, which grants the follow,
 * block and mute sub-scopes of read and write.
 */
const SUB_SCOPES = {
  read: [
    'accounts',
    'blocks',
    'bookmarks',
    'favourites',
    'filters',
    'follows',
    'lists',
    'mutes',
    'notifications',
    'search',
    'statuses',
  ],
  write: [
    'accounts',
    'blocks',
    'bookmarks',
    'conversations',
    'favourites',
    'filters',
    'follows',
    'lists',
    'media',
    'mutes',
    'notifications',
    'reports',
    'statuses',
  ],
} as const;

const FOLLOW_GRANTS = new Set([
  'read:follows',
  'read:blocks',
  'read:mutes',
  'write:follows',
  'write:blocks',
  'write:mutes',
]);

export const KNOWN_SCOPES: ReadonlySet<string> = new Set([
  'read',
  'write',
  'follow',
  'push',
  'profile',
  ...SUB_SCOPES.read.map((s) => `read:${s}`),
  ...SUB_SCOPES.write.map((s) => `write:${s}`),
]);

/** Every scope a v1 bearer token stands for: it is the user's own full credential. */
export const ALL_SCOPES: readonly string[] = ['read', 'write', 'follow', 'push'];

export class InvalidScopeError extends Error {
  override name = 'InvalidScopeError';
}

/** A space-separated scope list (`+` also separates, as in query strings); `read` when empty, as Mastodon does. */
export function parseScopes(input: string | undefined | null): string[] {
  const scopes = [...new Set((input ?? '').split(/[\s+]+/).filter((s) => s.length > 0))];
  if (scopes.length === 0) return ['read'];
  const unknown = scopes.find((s) => !KNOWN_SCOPES.has(s));
  if (unknown !== undefined) throw new InvalidScopeError(`unknown scope: ${unknown}`);
  return scopes;
}

/** Whether `granted` covers `required` (a top-level scope or a sub-scope such as `write:favourites`). */
export function grants(granted: readonly string[], required: string): boolean {
  if (granted.includes(required)) return true;
  const [top] = required.split(':');
  if (top !== undefined && top !== required && granted.includes(top)) return true;
  return granted.includes('follow') && FOLLOW_GRANTS.has(required);
}

/** Whether every scope of `requested` is among `allowed` (an authorization may narrow an app's scopes, not widen). */
export function withinScopes(requested: readonly string[], allowed: readonly string[]): boolean {
  return requested.every((scope) => grants(allowed, scope));
}
