/** OAuth 2 pieces that need no platform: secrets, their digests, PKCE (RFC 7636) and redirect URI rules. */

export const OOB_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';

const toHex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A fresh random secret (256 bits, base64url): client ids, client secrets, codes and access tokens. */
export function randomSecret(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** What is stored instead of a secret: its SHA-256, hex. A leaked table gives no usable token. */
export async function secretDigest(secret: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret))));
}

/** PKCE S256: BASE64URL(SHA-256(verifier)) must equal the challenge the authorization request carried. */
export async function pkceMatches(verifier: string, challenge: string): Promise<boolean> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  return base64url(digest) === challenge;
}

/** RFC 7636 §4.1: 43-128 characters of [A-Z a-z 0-9 - . _ ~]; the challenge (S256) is 43 base64url ones. */
export const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
export const PKCE_CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;

/**
 * The redirect URIs an app registers (newline- or space-separated, as Mastodon accepts them): absolute URLs without
 * fragments, or the out-of-band URN. Custom schemes (`myapp://cb`) are allowed, as native apps use them.
 */
export function parseRedirectUris(input: string): string[] | undefined {
  const uris = input.split(/\s+/).filter((u) => u.length > 0);
  if (uris.length === 0 || uris.length > 10) return undefined;
  for (const uri of uris) {
    if (uri === OOB_REDIRECT_URI) continue;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return undefined;
    }
    if (url.hash !== '' || /^(javascript|data|vbscript):$/i.test(url.protocol)) return undefined;
  }
  return uris;
}

/** Where an authorization sends the browser: the registered URI with `code` (and the client's `state`) added. */
export function redirectWithCode(redirectUri: string, code: string, state?: string): string {
  const url = new URL(redirectUri);
  url.searchParams.set('code', code);
  if (state !== undefined) url.searchParams.set('state', state);
  return url.toString();
}
