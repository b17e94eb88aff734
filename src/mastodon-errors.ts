/**
 * Error bodies of the Mastodon-compatible API: `{"error": "message"}` on /api (docs.joinmastodon.org "Error"),
 * and RFC 6749's `{"error": code, "error_description": message}` on /oauth. Which one a path gets is decided here.
 */
export function isMastodonPath(pathname: string): boolean {
  return /^\/(api|oauth)(\/|$)/.test(pathname);
}

export function mastodonErrorBody(pathname: string, code: string, message: string) {
  return pathname.startsWith('/oauth') ? { error: code, error_description: message } : { error: message };
}
