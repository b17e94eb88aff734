import { describe, expect, it } from 'vitest';
import { encodeReply, stripUpstashScriptFlags } from '../../scripts/upstash-bridge.ts';

describe('stripUpstashScriptFlags', () => {
  it("drops Upstash's allow-key-locking flag and keeps the line count", () => {
    const script = '#!lua flags=allow-key-locking\n  local key = KEYS[1]\n  return redis.call("GET", key)\n';
    const stripped = stripUpstashScriptFlags(script)!;
    expect(stripped).toBe('#!lua\n  local key = KEYS[1]\n  return redis.call("GET", key)\n');
    expect(stripped.split('\n')).toHaveLength(script.split('\n').length);
  });

  it('keeps the flags Redis knows, in order', () => {
    expect(stripUpstashScriptFlags('#!lua flags=no-writes,allow-key-locking,allow-stale\nreturn 1')).toBe(
      '#!lua flags=no-writes,allow-stale\nreturn 1',
    );
    expect(stripUpstashScriptFlags('#!lua name=x flags=allow-key-locking')).toBe('#!lua name=x');
  });

  it('leaves other scripts alone (null: nothing to rewrite)', () => {
    expect(stripUpstashScriptFlags('return 1')).toBeNull();
    expect(stripUpstashScriptFlags('#!lua\nreturn 1')).toBeNull();
    expect(stripUpstashScriptFlags('#!lua flags=no-writes\nreturn 1')).toBeNull();
    // Only the shebang counts, not the same words further down.
    expect(stripUpstashScriptFlags('return 1\n-- #!lua flags=allow-key-locking')).toBeNull();
  });
});

describe('encodeReply', () => {
  it('base64-encodes every string, status replies included, and keeps numbers, nil and nesting', () => {
    const reply = [Buffer.from('OK'), 7, null, [Buffer.from([0xc3, 0xbc]), Buffer.from([0xff, 0x00])]];
    expect(encodeReply(reply, true)).toEqual(['T0s=', 7, null, ['w7w=', '/wA=']]);
    expect(encodeReply(Buffer.from('ü'), false)).toBe('ü');
  });

  it('turns an error nested in an array (a Lua table) into its text', () => {
    expect(encodeReply([1, new Error('ERR boom')], false)).toEqual([1, 'ERR boom']);
  });
});
