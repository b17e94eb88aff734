/**
 * The real @upstash/redis and @upstash/ratelimit clients, inside workerd, against the local Upstash bridge in
 * front of a real redis-server (scripts/upstash-bridge.ts; started by the `workers-l2` project's global setup).
 * What passes here is what the L2 cache and the rate limits may rely on locally.
 */
import { env } from 'cloudflare:workers';
import { Ratelimit } from '@upstash/ratelimit';
import { Redis } from '@upstash/redis/cloudflare';
import { describe, expect, it } from 'vitest';

const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env as unknown as Record<string, string>;
if (!url || !token) {
  throw new Error('UPSTASH_REDIS_REST_URL/_TOKEN are not bound: run this file in the workers-l2 vitest project');
}

// Keys of this run only: REDIS_URL may point at a server that outlives it.
const run = `contract:${crypto.randomUUID()}`;
const key = (name: string) => `${run}:${name}`;

/** The client as the Worker builds it (workers/redis.ts): base64 responses and auto-pipelining, the defaults. */
const redis = new Redis({ url, token, enableTelemetry: false });
/** The same without JSON deserialization, to see exactly the bytes Redis holds. */
const raw = new Redis({ url, token, enableTelemetry: false, automaticDeserialization: false });

/** The REST protocol itself, for what the clients hide (status codes, the encoding of replies). */
async function rest(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json<unknown>() };
}

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

describe('single commands', () => {
  it('strings, numbers, null and JSON values round-trip', async () => {
    expect(await redis.set(key('s'), 'hello', { ex: 100 })).toBe('OK');
    expect(await redis.get(key('s'))).toBe('hello');
    expect(await redis.ttl(key('s'))).toBeGreaterThan(90);
    expect(await redis.get(key('missing'))).toBeNull();
    expect(await redis.incr(key('n'))).toBe(1);
    expect(await redis.incrby(key('n'), 41)).toBe(42);
    expect(await redis.get<number>(key('n'))).toBe(42);
    await redis.set(key('json'), { id: '7', tags: ['a', 'b'], nested: { ok: true } });
    expect(await redis.get(key('json'))).toEqual({ id: '7', tags: ['a', 'b'], nested: { ok: true } });
    expect(await redis.exists(key('s'), key('missing'))).toBe(1);
  });

  it('arrays and hashes keep their shape (RESP2, nested arrays)', async () => {
    expect(await redis.rpush(key('list'), 'a', 'b', 'c')).toBe(3);
    expect(await redis.lrange(key('list'), 0, -1)).toEqual(['a', 'b', 'c']);
    expect(await redis.hset(key('hash'), { title: 'post', likes: 3 })).toBe(2);
    expect(await redis.hgetall(key('hash'))).toEqual({ title: 'post', likes: 3 });
    expect(await redis.hget(key('hash'), 'nope')).toBeNull();
    await redis.zadd(key('z'), { score: 1.5, member: 'x' }, { score: 3, member: 'y' });
    expect(await redis.zrange(key('z'), 0, -1, { withScores: true })).toEqual(['x', 1.5, 'y', 3]);
    expect(await redis.mget(key('missing'), key('s-none'))).toEqual([null, null]);
  });

  it('values are binary-safe: multi-byte, control characters and look-alikes of encoded replies', async () => {
    const values = ['héllo wörld 🎉 漢字', 'nul\u0000byte\r\nand "quotes" \\ back', 'OK', 'dg==', '   ', '{not json'];
    for (const [i, value] of values.entries()) {
      await raw.set(key(`bin${i}`), value);
      expect(await raw.get(key(`bin${i}`))).toBe(value);
      // Redis holds the exact UTF-8 bytes, not a re-encoding of them.
      expect(await raw.strlen(key(`bin${i}`))).toBe(new TextEncoder().encode(value).length);
    }
    const plain = new Redis({ url, token, enableTelemetry: false, responseEncoding: false });
    expect(await plain.get(key('bin0'))).toBe(values[0]);
  });

  it('Redis errors reject with their message', async () => {
    await redis.set(key('text'), 'not a number');
    await expect(redis.incr(key('text'))).rejects.toThrow(/ERR value is not an integer/);
    await expect(redis.hget(key('text'), 'field')).rejects.toThrow(/WRONGTYPE/);
  });

  it('auto-pipelining batches concurrent commands into few requests and keeps every answer in place', async () => {
    const before = (redis as unknown as { pipelineCounter: number }).pipelineCounter;
    const answers = await Promise.all(Array.from({ length: 50 }, () => redis.incr(key('batched'))));
    expect([...answers].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect((redis as unknown as { pipelineCounter: number }).pipelineCounter - before).toBeLessThan(50);
  });
});

describe('the REST contract', () => {
  it('answers 401 without the token or with a wrong one, and the client rejects', async () => {
    const response = await fetch(url, { method: 'POST', body: JSON.stringify(['GET', key('s')]) });
    expect(response.status).toBe(401);
    expect(await response.json()).toHaveProperty('error');
    const wrong = await rest('', ['GET', key('s')], { Authorization: 'Bearer wrong-token' });
    expect(wrong.status).toBe(401);
    const stranger = new Redis({ url, token: 'wrong-token', enableTelemetry: false });
    await expect(stranger.get(key('s'))).rejects.toThrow(/Unauthorized/);
  });

  it('writes result even when null, base64-encodes strings only when asked, stringifies numbers', async () => {
    expect(await rest('', ['GET', key('nothing')])).toEqual({ status: 200, body: { result: null } });
    expect(await rest('', ['SET', key('num'), 12.5, 'EX', 60])).toEqual({ status: 200, body: { result: 'OK' } });
    expect(await rest('', ['GET', key('num')])).toEqual({ status: 200, body: { result: '12.5' } });
    const encoded = { 'Upstash-Encoding': 'base64' };
    expect((await rest('', ['SET', key('b64'), 'ü'], encoded)).body).toEqual({ result: btoa('OK') });
    expect((await rest('', ['GET', key('b64')], encoded)).body).toEqual({ result: btoa('\xc3\xbc') });
    expect((await rest('', ['STRLEN', key('b64')], encoded)).body).toEqual({ result: 2 });
  });

  it('a Redis error is a 400 with the error, not encoded', async () => {
    const answer = await rest('', ['NOSUCHCOMMAND', 'x'], { 'Upstash-Encoding': 'base64' });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: expect.stringMatching(/^ERR unknown command/) });
  });

  it('refuses commands that would change or block the shared connection', async () => {
    for (const command of [['SELECT', '1'], ['BLPOP', key('l'), '0'], ['SUBSCRIBE', 'c'], ['MULTI']]) {
      const answer = await rest('', command);
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error: expect.stringContaining('not supported by the local Upstash bridge') });
    }
  });

  it('refuses malformed and oversized requests with a clear error', async () => {
    expect(await rest('', '{not json')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/JSON/) } });
    expect(await rest('', [])).toMatchObject({ status: 400, body: { error: expect.stringMatching(/non-empty/) } });
    expect(await rest('', ['SET', key('o'), { a: 1 }])).toMatchObject({ status: 400 });
    const huge = await rest('', ['SET', key('huge'), 'x'.repeat(1024 * 1024 + 1)]);
    expect(huge).toMatchObject({ status: 413, body: { error: expect.stringMatching(/larger than/) } });
    expect(await redis.exists(key('huge'))).toBe(0);
  });
});

describe('pipeline', () => {
  it('runs the commands in order and answers each', async () => {
    const results = await redis
      .pipeline()
      .set(key('p'), 1)
      .incr(key('p'))
      .get(key('p'))
      .hset(key('ph'), { a: 'x' })
      .hgetall(key('ph'))
      .exec();
    expect(results).toEqual(['OK', 2, 2, 1, { a: 'x' }]);
  });

  it('one failing command does not fail the others', async () => {
    await redis.set(key('pt'), 'text');
    const pipeline = redis.pipeline().set(key('pa'), 'a').incr(key('pt')).get(key('pa'));
    const results = await pipeline.exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: 'OK', error: undefined });
    expect(results[1].error).toMatch(/ERR value is not an integer/);
    expect(results[2]).toEqual({ result: 'a', error: undefined });
    await expect(redis.pipeline().incr(key('pt')).exec()).rejects.toThrow(/Command 1 \[ incr \] failed/);
  });
});

describe('multi-exec', () => {
  it('runs the commands as one transaction and answers each', async () => {
    const results = await redis.multi().set(key('m'), 10).incrby(key('m'), 5).get(key('m')).exec();
    expect(results).toEqual(['OK', 15, 15]);
  });

  it('a command failing at run time fails alone; the rest is applied', async () => {
    await redis.set(key('mt'), 'text');
    const results = await redis
      .multi()
      .set(key('ma'), 'a')
      .incr(key('mt'))
      .set(key('mb'), 'b')
      .exec({ keepErrors: true });
    expect(results.map((r) => r.error === undefined)).toEqual([true, false, true]);
    expect(results[1].error).toMatch(/ERR value is not an integer/);
    expect(await redis.mget(key('ma'), key('mb'))).toEqual(['a', 'b']);
  });

  it('a command refused while queueing aborts the whole transaction (400 EXECABORT), nothing applied', async () => {
    const answer = await rest('/multi-exec', [
      ['SET', key('aborted'), 'x'],
      ['NOSUCHCOMMAND', 'y'],
    ]);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: expect.stringMatching(/^EXECABORT.*command 2: ERR unknown command/) });
    expect(await redis.exists(key('aborted'))).toBe(0);
  });
});

describe('scripts', () => {
  it('EVAL returns nested values; EVALSHA of an unknown hash is NOSCRIPT', async () => {
    const result = await redis.eval('return {KEYS[1], ARGV[1], 7, {false, "x"}}', [key('k')], ['v']);
    expect(result).toEqual([key('k'), 'v', 7, [null, 'x']]);
    await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it("Upstash's allow-key-locking flag works: NOSCRIPT fallback, then EVALSHA by the client's own hash", async () => {
    const lua = `#!lua flags=allow-key-locking\nreturn redis.call("INCRBY", KEYS[1], ARGV[1])`;
    const hash = await sha1Hex(lua);
    expect(await redis.scriptExists(hash)).toEqual([0]);
    const script = redis.createScript<number>(lua);
    // The first exec is EVALSHA -> NOSCRIPT -> EVAL; the second finds the script by the hash the client computed.
    expect(await script.exec([key('sc')], ['2'])).toBe(2);
    expect(await redis.scriptExists(hash)).toEqual([1]);
    expect(await script.exec([key('sc')], ['3'])).toBe(5);
    expect(await redis.evalsha(hash, [key('sc')], ['1'])).toBe(6);
  });

  it('SCRIPT LOAD answers the hash of the text sent; errors keep their line numbers', async () => {
    const lua = `#!lua flags=allow-key-locking\nlocal a = 1\nreturn missing_table.field`;
    const hash = await redis.scriptLoad(lua);
    expect(hash).toBe(await sha1Hex(lua));
    await expect(redis.evalsha(hash, [], [])).rejects.toThrow(/:3:/);
  });
});

describe('@upstash/ratelimit', () => {
  // A day-long window: the test cannot straddle a window boundary, which would shift the counts.
  const limiter = (name: string, algorithm: ReturnType<typeof Ratelimit.slidingWindow>) =>
    new Ratelimit({ redis, limiter: algorithm, prefix: key(name), analytics: false, ephemeralCache: false });

  for (const [name, algorithm] of [
    ['slidingWindow', Ratelimit.slidingWindow(3, '1 d')],
    ['fixedWindow', Ratelimit.fixedWindow(3, '1 d')],
  ] as const) {
    it(`${name} allows the limit, then refuses, per identifier`, async () => {
      const limit = limiter(name, algorithm);
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const answer = await limit.limit('user-1');
        await answer.pending;
        answers.push(answer);
      }
      // reason is set when an answer did not come from Redis (a timeout lets requests through).
      expect(answers.map((a) => [a.success, a.remaining, a.limit, a.reason])).toEqual([
        [true, 2, 3, undefined],
        [true, 1, 3, undefined],
        [true, 0, 3, undefined],
        [false, 0, 3, undefined],
      ]);
      expect(answers[3]!.reset).toBeGreaterThan(Date.now());
      expect((await limit.getRemaining('user-1')).remaining).toBe(0);
      expect((await limit.limit('user-2')).success).toBe(true);
      await limit.resetUsedTokens('user-1');
      expect((await limit.limit('user-1')).success).toBe(true);
    });

    it(`${name} stays exact under concurrent requests`, async () => {
      const limit = limiter(`${name}-concurrent`, algorithm);
      const answers = await Promise.all(Array.from({ length: 10 }, () => limit.limit('burst')));
      expect(answers.filter((a) => a.success)).toHaveLength(3);
      expect(answers.every((a) => a.reason === undefined)).toBe(true);
    });
  }
});
