import { fromBase64Url, timingSafeEqual, toBase64Url } from './encoding.ts';
import { InvalidCursorError } from './errors.ts';

/**
 * Opaque pagination cursors: base64url(JSON payload) + "." + base64url(truncated HMAC-SHA-256). Signing
 * makes a forged or edited cursor detectable, so handlers never run a query built from attacker-chosen
 * keyset values, and lets the payload change shape between versions without clients noticing.
 * Each listing has its own `kind`, so a cursor from one listing is refused by another.
 */
export interface CursorCodec<T> {
  encode(payload: T): Promise<string>;
  decode(cursor: string): Promise<T>;
}

export interface CursorSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false };
}

const MAC_BYTES = 16;
const MAX_CURSOR_LENGTH = 1024;
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    keys.set(secret, key);
  }
  return key;
}

async function mac(secret: string, kind: string, body: string): Promise<string> {
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(`${kind}\n${body}`));
  return toBase64Url(new Uint8Array(signature).slice(0, MAC_BYTES));
}

export function createCursorCodec<T>(kind: string, secret: string, schema: CursorSchema<T>): CursorCodec<T> {
  return {
    async encode(payload) {
      const body = toBase64Url(encoder.encode(JSON.stringify(payload)));
      return `${body}.${await mac(secret, kind, body)}`;
    },
    async decode(cursor) {
      if (cursor.length > MAX_CURSOR_LENGTH) throw new InvalidCursorError();
      const [body, signature, extra] = cursor.split('.');
      if (!body || !signature || extra !== undefined) throw new InvalidCursorError();
      if (!timingSafeEqual(signature, await mac(secret, kind, body))) throw new InvalidCursorError();
      let payload: unknown;
      try {
        payload = JSON.parse(new TextDecoder().decode(fromBase64Url(body)));
      } catch {
        throw new InvalidCursorError();
      }
      const parsed = schema.safeParse(payload);
      if (!parsed.success) throw new InvalidCursorError();
      return parsed.data;
    },
  };
}
