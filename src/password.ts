/**
 * Password hashing: PBKDF2-HMAC-SHA-256 through WebCrypto (workerd and Node alike), a random 16-byte salt per
 * password, stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url) so the cost can rise later and
 * old hashes still verify. Workers cap PBKDF2 at 100,000 iterations, which is what new hashes use
 * (docs/benchmarks.md has the CPU time it costs); OWASP's 600,000 for SHA-256 is not available there.
 */
import { fromBase64Url, toBase64Url } from './encoding.ts';

export const PASSWORD_ITERATIONS = 100_000;
export const PASSWORD_MIN_LENGTH = 8;
/** A bound on the work a login can ask for: PBKDF2 hashes the password once per iteration. */
export const PASSWORD_MAX_LENGTH = 256;

const SCHEME = 'pbkdf2-sha256';
const HASH_BYTES = 32;
const encoder = new TextEncoder();

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations },
    key,
    HASH_BYTES * 8,
  );
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PASSWORD_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${SCHEME}$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

/** Equal bytes, in time independent of where they differ. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Whether `password` matches `stored`; a malformed stored value matches nothing. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, rounds, salt, hash, extra] = stored.split('$');
  const iterations = Number(rounds);
  if (scheme !== SCHEME || !salt || !hash || extra !== undefined) return false;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > PASSWORD_ITERATIONS) return false;
  let expected: Uint8Array;
  let saltBytes: Uint8Array;
  try {
    expected = fromBase64Url(hash);
    saltBytes = fromBase64Url(salt);
  } catch {
    return false;
  }
  return constantTimeEqual(await derive(password, saltBytes, iterations), expected);
}

/**
 * Spends the same work as a real verification, for a login whose handle does not exist or has no password, so
 * the answer's timing does not tell which half of the pair was wrong.
 */
export async function verifyNothing(password: string): Promise<false> {
  await derive(password, new Uint8Array(16), PASSWORD_ITERATIONS);
  return false;
}
