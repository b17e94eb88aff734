import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCursorCodec } from '../../src/cursor.ts';
import { toBase64Url } from '../../src/encoding.ts';
import { AppError, InvalidCursorError } from '../../src/errors.ts';

const SECRET = 'cursor-test-secret-0123456789abcdef';
const KIND = 'feed-latest';
const schema = z.strictObject({ before: z.string().regex(/^[1-9][0-9]{18}$/), n: z.number().int() });
type Payload = z.infer<typeof schema>;
const payload: Payload = { before: '1234567890123456789', n: 42 };
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const codec = createCursorCodec(KIND, SECRET, schema);

async function expectInvalidCursor(decoding: Promise<unknown>): Promise<void> {
  const error: unknown = await decoding.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidCursorError);
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ status: 400, code: 'invalid_cursor', name: 'InvalidCursorError' });
}

/** Signs an arbitrary body exactly as the codec does: HMAC-SHA-256 over "kind\nbody", first 16 bytes. */
async function sign(body: string, kind = KIND, secret = SECRET): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(`${kind}\n${body}`));
  return `${body}.${toBase64Url(new Uint8Array(mac).slice(0, 16))}`;
}

function jsonBody(value: unknown): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(value)));
}

/** Replaces the character at `index` with a different base64url character. */
function flip(text: string, index: number): string {
  const current = text[index]!;
  const replacement = BASE64URL[(BASE64URL.indexOf(current) + 1) % BASE64URL.length]!;
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

describe('createCursorCodec', () => {
  it('round-trips a payload', async () => {
    const cursor = await codec.encode(payload);
    await expect(codec.decode(cursor)).resolves.toEqual(payload);
  });

  it('round-trips non-ASCII payloads', async () => {
    const loose = createCursorCodec('any', SECRET, z.object({ s: z.string() }));
    const value = { s: 'été 👍🏽 東京 "quoted" \\ / + =' };
    await expect(loose.decode(await loose.encode(value))).resolves.toEqual(value);
  });

  it('produces an opaque, URL-safe body.signature with a 16-byte signature', async () => {
    const cursor = await codec.encode(payload);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(cursor).not.toContain(payload.before);
  });

  it('is deterministic and depends on the payload', async () => {
    const a = await codec.encode(payload);
    expect(await codec.encode(payload)).toBe(a);
    expect(await codec.encode({ ...payload, n: 43 })).not.toBe(a);
  });

  it('is what an independent HMAC-SHA-256 of "kind\\nbody" produces', async () => {
    const cursor = await codec.encode(payload);
    expect(cursor).toBe(await sign(jsonBody(payload)));
  });

  it('refuses a cursor signed with another secret', async () => {
    const other = createCursorCodec(KIND, `${SECRET}x`, schema);
    await expectInvalidCursor(codec.decode(await other.encode(payload)));
    await expectInvalidCursor(other.decode(await codec.encode(payload)));
  });

  it('refuses a cursor from another kind of listing', async () => {
    const followers = createCursorCodec('followers', SECRET, schema);
    await expectInvalidCursor(codec.decode(await followers.encode(payload)));
    await expectInvalidCursor(followers.decode(await codec.encode(payload)));
  });

  it('refuses a cursor with any character of the body changed', async () => {
    const cursor = await codec.encode(payload);
    const bodyLength = cursor.indexOf('.');
    for (let i = 0; i < bodyLength; i++) await expectInvalidCursor(codec.decode(flip(cursor, i)));
  });

  it('refuses a cursor with any character of the signature changed', async () => {
    const cursor = await codec.encode(payload);
    for (let i = cursor.indexOf('.') + 1; i < cursor.length; i++) {
      await expectInvalidCursor(codec.decode(flip(cursor, i)));
    }
  });

  it('refuses an edited payload even when it is well formed', async () => {
    const cursor = await codec.encode(payload);
    const signature = cursor.slice(cursor.indexOf('.') + 1);
    const forged = `${jsonBody({ ...payload, before: '1000000000000000000' })}.${signature}`;
    await expectInvalidCursor(codec.decode(forged));
  });

  it('refuses truncated and extended cursors', async () => {
    const cursor = await codec.encode(payload);
    await expectInvalidCursor(codec.decode(cursor.slice(0, -1)));
    await expectInvalidCursor(codec.decode(`${cursor}A`));
    await expectInvalidCursor(codec.decode(`A${cursor}`));
  });

  it('refuses cursors with missing parts or extra dots', async () => {
    const cursor = await codec.encode(payload);
    const [body, signature] = cursor.split('.') as [string, string];
    for (const bad of [
      `${cursor}.`,
      `${cursor}.x`,
      `${body}..${signature}`,
      `.${cursor}`,
      `${body}.${signature}.${signature}`,
      body,
      `${body}.`,
      `.${signature}`,
      '.',
      '..',
    ]) {
      await expectInvalidCursor(codec.decode(bad));
    }
  });

  it('refuses the empty string', async () => {
    await expectInvalidCursor(codec.decode(''));
  });

  it('refuses non-base64url characters', async () => {
    const cursor = await codec.encode(payload);
    for (const bad of [
      `+${cursor.slice(1)}`,
      `${cursor.slice(0, 2)}+/${cursor.slice(4)}`,
      `${cursor}=`,
      `${cursor.replace('.', '=.')}`,
      ` ${cursor}`,
      `${cursor} `,
      `${cursor}\n`,
      cursor.replace('.', ' . '),
      '%%%.%%%',
    ]) {
      await expectInvalidCursor(codec.decode(bad));
    }
  });

  it('refuses a validly signed body that is not base64url', async () => {
    await expectInvalidCursor(codec.decode(await sign('eyJuIjoxfQ==')));
    await expectInvalidCursor(codec.decode(await sign('ab+/cd')));
    await expectInvalidCursor(codec.decode(await sign('A'))); // impossible base64 length
  });

  it('refuses a validly signed body that is not JSON', async () => {
    await expectInvalidCursor(codec.decode(await sign(toBase64Url(new TextEncoder().encode('{not json')))));
    await expectInvalidCursor(codec.decode(await sign(toBase64Url(new Uint8Array([0xff, 0xfe, 0x00])))));
  });

  it('refuses over-long input', async () => {
    await expectInvalidCursor(codec.decode('A'.repeat(1025)));
    await expectInvalidCursor(codec.decode(`${'A'.repeat(1000)}.${'B'.repeat(100)}`));
  });

  it('refuses an over-long cursor even when it is validly signed', async () => {
    const loose = createCursorCodec(KIND, SECRET, z.object({ pad: z.string() }));
    const long = await loose.encode({ pad: 'x'.repeat(1000) });
    expect(long.length).toBeGreaterThan(1024);
    await expectInvalidCursor(loose.decode(long));
  });

  it('refuses a validly signed payload that fails the schema', async () => {
    const loose = createCursorCodec(KIND, SECRET, z.unknown());
    for (const value of [
      { before: 'not-an-id', n: 1 },
      { before: payload.before },
      { before: payload.before, n: 1.5 },
      { before: payload.before, n: 1, extra: true },
      null,
      [payload],
      'string',
      42,
    ]) {
      const cursor = await loose.encode(value);
      await expect(loose.decode(cursor)).resolves.toEqual(value);
      await expectInvalidCursor(codec.decode(cursor));
    }
  });

  it('returns the parsed data of the schema', async () => {
    const coercing = createCursorCodec(
      KIND,
      SECRET,
      z.object({ t: z.number().transform((t) => new Date(t).toISOString()) }),
    );
    await expect(coercing.decode(await sign(jsonBody({ t: 0 })))).resolves.toEqual({ t: '1970-01-01T00:00:00.000Z' });
  });
});
