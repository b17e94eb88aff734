import { describe, expect, it } from 'vitest';
import { hashPassword, verifyNothing, verifyPassword } from '../../src/password.ts';

describe('passwords', () => {
  it('verifies the password it hashed and nothing else', async () => {
    const stored = await hashPassword('correct horse battery', 1_000);
    expect(stored).toMatch(/^pbkdf2-sha256\$1000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('salts each hash, so equal passwords store differently', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', 1_000), hashPassword('same password', 1_000)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });

  it('a malformed or tampered stored value matches nothing', async () => {
    const stored = await hashPassword('pw-12345678', 1_000);
    const [scheme, rounds, salt, hash] = stored.split('$');
    expect(await verifyPassword('pw-12345678', `${scheme}$${rounds}$${salt}`)).toBe(false);
    expect(await verifyPassword('pw-12345678', `md5$${rounds}$${salt}$${hash}`)).toBe(false);
    expect(await verifyPassword('pw-12345678', `${scheme}$999999999$${salt}$${hash}`)).toBe(false);
    expect(await verifyPassword('pw-12345678', `${scheme}$${rounds}$${salt}$${hash}x`)).toBe(false);
    expect(await verifyPassword('pw-12345678', `${scheme}$${rounds}$!!$${hash}`)).toBe(false);
  });

  it('the dummy verification never matches', async () => {
    expect(await verifyNothing('anything')).toBe(false);
  });
});
