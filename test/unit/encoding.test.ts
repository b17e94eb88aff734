import { describe, expect, it } from 'vitest';
import { fromBase64Url, timingSafeEqual, toBase64Url } from '../../src/encoding.ts';

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

describe('base64url', () => {
  it('round-trips all 256 byte values without +, / or =', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = toBase64Url(all);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(text).not.toMatch(/[+/=]/);
    expect(fromBase64Url(text)).toEqual(all);
    // Every rotation puts each byte value at every offset within a 3-byte group.
    for (const shift of [1, 2]) {
      const rotated = Uint8Array.from({ length: 256 }, (_, i) => (i + shift) % 256);
      expect(fromBase64Url(toBase64Url(rotated))).toEqual(rotated);
    }
  });

  it('round-trips random bytes of every length up to 100 with the unpadded length', () => {
    for (let length = 0; length <= 100; length++) {
      const bytes = randomBytes(length);
      const text = toBase64Url(bytes);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(text).toHaveLength(Math.ceil((length * 4) / 3));
      expect(fromBase64Url(text)).toEqual(bytes);
    }
  });

  it('uses the URL-safe alphabet', () => {
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(toBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe('-_-_');
    expect(toBase64Url(new TextEncoder().encode('hello'))).toBe('aGVsbG8');
    expect(toBase64Url(new Uint8Array())).toBe('');
    expect(fromBase64Url('-_8')).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(fromBase64Url('')).toEqual(new Uint8Array());
  });

  it('matches Node’s base64url encoder', () => {
    const bytes = randomBytes(1000);
    expect(toBase64Url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
  });

  it.each(['ab+c', 'ab/c', 'aGVsbG8=', 'ab c', 'ab\nc', 'é'])('rejects %j as not base64url', (text) => {
    expect(() => fromBase64Url(text)).toThrow(TypeError);
  });
});

describe('timingSafeEqual', () => {
  it('is true for equal strings', () => {
    expect(timingSafeEqual('', '')).toBe(true);
    expect(timingSafeEqual('abc', 'abc')).toBe(true);
    const text = toBase64Url(randomBytes(32));
    expect(timingSafeEqual(text, text.slice())).toBe(true);
  });

  it('is false when strings differ anywhere', () => {
    const a = 'abcdefghij';
    for (let i = 0; i < a.length; i++) {
      const b = a.slice(0, i) + 'X' + a.slice(i + 1);
      expect(timingSafeEqual(a, b)).toBe(false);
      expect(timingSafeEqual(b, a)).toBe(false);
    }
    expect(timingSafeEqual('a', 'A')).toBe(false);
    expect(timingSafeEqual('\u0100', '\u0000')).toBe(false);
  });

  it('is false for different lengths, including prefixes', () => {
    expect(timingSafeEqual('abc', 'abcd')).toBe(false);
    expect(timingSafeEqual('abcd', 'abc')).toBe(false);
    expect(timingSafeEqual('', 'a')).toBe(false);
    expect(timingSafeEqual('a', '')).toBe(false);
  });
});
