import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ensureRedis } from '../../scripts/redis-server.ts';
import { encodeReply, startUpstashBridge, stripUpstashScriptFlags } from '../../scripts/upstash-bridge.ts';

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

describe('a refused body', () => {
  it('is answered 413 after the client has sent it all, not reset mid-upload', async () => {
    // The machine's Redis, or a throwaway one where none runs; a refused request never reaches it.
    const redis = await ensureRedis();
    const bridge = await startUpstashBridge({ redisUrl: redis.url, token: 't', maxBodyBytes: 1024 });
    try {
      const { hostname, port } = new URL(bridge.url);
      const socket = connect(Number(port), hostname);
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const body = Buffer.alloc(256 * 1024, 'x');
      socket.write(
        `POST / HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer t\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, 1024));
      await setTimeout(100);
      // An answer now, then a close with the rest of the upload still coming, is what lets the kernel reset the
      // connection and the client lose the answer (workerd: "Network connection lost"); so none yet.
      expect(chunks).toEqual([]);
      socket.write(body.subarray(1024));
      await once(socket, 'close');
      const answer = Buffer.concat(chunks).toString('utf8');
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
        error: expect.stringMatching(/larger than 1024 bytes/),
      });
    } finally {
      await bridge.close();
      await redis.stop();
    }
  });
});
