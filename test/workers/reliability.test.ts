import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createRepositories } from '../../db/repositories/index.ts';
import type { QueueMessage } from '../../src/messages.ts';
import { createApp } from '../../workers/api/app.ts';
import { ConfigError, depsFor, parseConfig, type Deps } from '../../workers/composition.ts';
import { setFollowing } from '../../workers/follows.ts';
import worker from '../../workers/index.ts';
import { drainAll } from '../../workers/outbox.ts';
import { consumeBatch } from '../../workers/queue/consumer.ts';
import { api, createPost, feedIds, follow, signup, type PostView } from '../support/api.ts';
import { failingWhen, settled, shardBindings, snapshot, testShards } from '../support/db.ts';

const ADMIN = { Authorization: `Bearer ${env.ADMIN_TOKEN}` };

const reposFailing = (fails: (query: string) => boolean, message?: string) =>
  createRepositories(testShards(failingWhen(fails, message)));

/** A queue that is down: the fast path is lost and only the outbox is left. */
const downQueue: Queue<QueueMessage> = {
  send: () => Promise.reject(new Error('queue down')),
  sendBatch: () => Promise.reject(new Error('queue down')),
  metrics: () => Promise.reject(new Error('queue down')),
};

function quiet() {
  const spies = [vi.spyOn(console, 'warn'), vi.spyOn(console, 'error')].map((s) => s.mockImplementation(() => {}));
  return () => spies.forEach((s) => s.mockRestore());
}

async function counts(userId: string) {
  const res = await api<{ user: { counts: { followers: number; following: number; posts: number } } }>(
    'GET',
    `/v1/users/${userId}`,
  );
  return res.body.user.counts;
}

async function pending(deps: Deps = depsFor(env)) {
  return deps.repos.outbox.pendingCounts();
}

/** Drains every shard as if the outbox delay had passed, and lets the queue consumer run what it sent. */
async function drainLater(deps: Deps = depsFor(env)) {
  return drainAll(deps, Date.now() + 3_600_000);
}

/** The real app with some dependencies replaced, called as the Worker would be. */
function appWith(overrides: Partial<Deps>) {
  const app = createApp(overrides);
  return { fetch: (request: Request) => app.fetch(request, env, createExecutionContext()) };
}

const occurrences = (ids: string[], id: string) => ids.filter((x) => x === id).length;

describe('posts: the outbox and Idempotency-Key', () => {
  it('a post whose fan-out message was lost reaches every follower once the drainer re-sends it', async () => {
    const author = await signup();
    const readers = [await signup(), await signup()];
    for (const r of readers) await follow(r, author);
    // Readers who have read before: their next read does not catch up from the indexes, so only delivery counts.
    for (const r of readers) await feedIds(r);
    const app = appWith({ queues: { fanout: downQueue, low: downQueue } });
    const restore = quiet();
    const res = await api<{ post: PostView }>('POST', '/v1/posts', {
      app,
      token: author.token,
      body: { text: 'lost?' },
    });
    restore();
    // Accepted: the post, its index entry and its outbox record committed together.
    expect(res.status).toBe(201);
    const postId = res.body.post.id;
    expect((await pending()).posts).toBeGreaterThanOrEqual(1);
    expect(await feedIds(readers[0]!)).not.toContain(postId);
    expect((await drainLater()).postsResent).toBeGreaterThanOrEqual(1);
    await vi.waitFor(
      async () => {
        for (const r of readers) expect(occurrences(await feedIds(r), postId)).toBe(1);
      },
      { timeout: 10_000, interval: 100 },
    );
    // The consumer cleared the record: a later drain re-sends nothing for it, and a replay doubles nothing.
    await vi.waitFor(async () => expect((await pending()).posts).toBe(0), { timeout: 5000, interval: 100 });
    expect((await drainLater()).postsResent).toBe(0);
    for (const r of readers) expect(occurrences(await feedIds(r), postId)).toBe(1);
  });

  it('a retry with the same Idempotency-Key returns the first post, not a second one', async () => {
    const author = await signup();
    const key = crypto.randomUUID();
    const send = (text: string) =>
      api<{ post: PostView }>('POST', '/v1/posts', {
        token: author.token,
        headers: { 'Idempotency-Key': key },
        body: { text },
      });
    const first = await send('once');
    expect(first.status).toBe(201);
    const again = await Promise.all([send('once'), send('once'), send('once')]);
    for (const r of again) {
      expect(r.status).toBe(201);
      expect(r.body.post.id).toBe(first.body.post.id);
      expect(r.headers.get('Idempotent-Replayed')).toBe('true');
    }
    expect((await counts(author.id)).posts).toBe(1);
    // The same key with another body is the client's bug, not a retry.
    const other = await send('something else');
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    expect((await counts(author.id)).posts).toBe(1);
  });

  it('concurrent first requests with one key create one post', async () => {
    const author = await signup();
    const key = crypto.randomUUID();
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        api<{ post: PostView }>('POST', '/v1/posts', {
          token: author.token,
          headers: { 'Idempotency-Key': key },
          body: { text: 'race' },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(new Set(results.map((r) => r.body.post.id)).size).toBe(1);
    expect((await counts(author.id)).posts).toBe(1);
  });

  it('a malformed Idempotency-Key is a 400 and writes nothing', async () => {
    const author = await signup();
    await settled();
    const before = await snapshot();
    const res = await api('POST', '/v1/posts', {
      token: author.token,
      headers: { 'Idempotency-Key': 'x'.repeat(256) },
      body: { text: 'no' },
    });
    expect(res.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('a transient D1 failure of the write is a 503 with Retry-After and X-Request-Id, and leaves no trace', async () => {
    const author = await signup();
    await settled();
    const before = await snapshot();
    const app = appWith({ repos: reposFailing((q) => q.includes('"user_posts"'), 'D1_ERROR: database is busy') });
    const restore = quiet();
    const res = await api('POST', '/v1/posts', { app, token: author.token, body: { text: 'not now' } });
    restore();
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('1');
    expect(res.headers.get('X-Request-Id')).toMatch(/^[\w-]+$/);
    expect(res.body).toMatchObject({ error: { code: 'unavailable' } });
    // One transaction: no post without its index entry, no index entry without its post.
    expect(await snapshot()).toEqual(before);
    expect((await counts(author.id)).posts).toBe(0);
  });

  it('a permanent failure stays a 500, naming the request id the response carries', async () => {
    const author = await signup();
    const app = appWith({ repos: reposFailing((q) => q.includes('"user_posts"'), 'no such column: oops') });
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const res = await api('POST', '/v1/posts', { app, token: author.token, body: { text: 'bug' } });
    const requestId = res.headers.get('X-Request-Id');
    expect(res.status).toBe(500);
    expect(res.headers.get('Retry-After')).toBeNull();
    expect(requestId).toBeTruthy();
    expect(JSON.stringify(res.body)).toContain(requestId);
    expect(error).toHaveBeenCalledWith('unhandled error', requestId, expect.any(Error));
    error.mockRestore();
  });
});

describe('follows: intent, then effects until done', () => {
  const steps: Array<[string, (deps: Deps) => Deps]> = [
    [
      "the followee's edge and count",
      (d) => ({ ...d, repos: reposFailing((q) => q.includes('"follows_by_followee"')) }),
    ],
    [
      "the follower's timeline",
      (d) => ({
        ...d,
        objects: {
          ...d.objects,
          timeline: (id) =>
            new Proxy(d.objects.timeline(id), {
              get(t, k): unknown {
                if (k === 'follow') return () => Promise.reject(new Error('timeline down'));
                const value: unknown = Reflect.get(t, k);
                return value;
              },
            }),
        },
      }),
    ],
    [
      'clearing the record',
      (d) => ({ ...d, repos: reposFailing((q) => /^delete/i.test(q) && q.includes('"follow_outbox"')) }),
    ],
  ];

  for (const [step, breakAt] of steps) {
    it(`a follow interrupted at ${step} converges`, async () => {
      const [reader, author] = [await signup(), await signup()];
      const deps = { ...breakAt(depsFor(env)), queues: { fanout: downQueue, low: downQueue } };
      const restore = quiet();
      await setFollowing(deps, reader.id, author.id, true);
      restore();
      // The answer's source of truth is there at once; what is still owed is recorded.
      expect((await counts(reader.id)).following).toBe(1);
      expect((await pending()).follows).toBeGreaterThanOrEqual(1);
      await drainLater();
      expect((await pending()).follows).toBe(0);
      expect(await counts(author.id)).toMatchObject({ followers: 1 });
      const post = await createPost(author, `after ${step}`);
      await vi.waitFor(async () => expect(occurrences(await feedIds(reader), post.id)).toBe(1), {
        timeout: 10_000,
        interval: 100,
      });
      // Draining again changes nothing: the effects are idempotent and counted once.
      await drainLater();
      expect(await counts(author.id)).toMatchObject({ followers: 1 });
    });
  }

  it('an unfollow interrupted before the followee side converges too', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    const old = await createPost(author, 'before the unfollow');
    await vi.waitFor(async () => expect(await feedIds(reader)).toContain(old.id), { timeout: 10_000, interval: 100 });
    const deps = { ...steps[0]![1](depsFor(env)), queues: { fanout: downQueue, low: downQueue } };
    const restore = quiet();
    await setFollowing(deps, reader.id, author.id, false);
    restore();
    expect((await counts(author.id)).followers).toBe(1);
    await drainLater();
    expect((await counts(author.id)).followers).toBe(0);
    expect(await feedIds(reader)).not.toContain(old.id);
    expect((await pending()).follows).toBe(0);
  });

  it('a timeline that gets a post from an author it does not know asks the graph instead of dropping it', async () => {
    const [reader, author] = [await signup(), await signup()];
    const deps = { ...steps[1]![1](depsFor(env)), queues: { fanout: downQueue, low: downQueue } };
    const restore = quiet();
    await setFollowing(deps, reader.id, author.id, true);
    restore();
    // The follow's timeline step never ran and nothing was drained, yet the delivery is kept.
    const post = await createPost(author, 'delivered anyway');
    await vi.waitFor(async () => expect(occurrences(await feedIds(reader), post.id)).toBe(1), {
      timeout: 10_000,
      interval: 100,
    });
  });
});

describe('dead letters', () => {
  async function deliver(queue: string, id: string, body: unknown, attempts: number) {
    const batch = createMessageBatch(queue, [{ id, body, attempts, timestamp: new Date() }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    return getQueueResult(batch, ctx);
  }

  it('a message that ran out of retries is recorded with its last error, listed, counted and replayed', async () => {
    const [reader, author] = [await signup(), await signup()];
    // A follow whose every effect was lost, and no outbox record left to repair it: only the dead letter can.
    const deps = { ...depsFor(env), repos: reposFailing((q) => q.includes('"follows_by_followee"')) };
    const restore = quiet();
    await setFollowing({ ...deps, queues: { fanout: downQueue, low: downQueue } }, reader.id, author.id, true);
    for (const db of shardBindings()) await db.prepare('DELETE FROM follow_outbox').run();
    const repair = { type: 'follow.repair', followerId: reader.id, followeeId: author.id, at: Date.now() };
    // Its last attempt fails in the consumer (attempt 6 of max_retries 5 + 1), then the queue dead-letters it.
    const batch = createMessageBatch('edge-feed-fanout', [
      { id: 'm1', body: repair, attempts: 6, timestamp: new Date() },
    ]);
    await consumeBatch(deps, batch);
    const dead = await deliver('edge-feed-dlq', 'd1', repair, 1);
    restore();
    expect(dead.explicitAcks).toEqual(['d1']);
    const list = await api<{
      items: { id: string; kind: string; payload: unknown; lastError: string; attempts: number }[];
    }>('GET', '/v1/admin/dead-letters', { headers: ADMIN });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    const letter = list.body.items[0]!;
    expect(letter).toMatchObject({ kind: 'follow.repair', payload: repair, attempts: 6 });
    expect(letter.lastError).toContain('injected failure');
    const health = await api<{ deadLetters: number }>('GET', '/v1/health', { headers: ADMIN });
    expect(health.body.deadLetters).toBe(1);
    expect((await counts(author.id)).followers).toBe(0);
    // Replayed onto the real queue: the consumer completes the follow.
    const replay = await api('POST', `/v1/admin/dead-letters/${letter.id}/replay`, { headers: ADMIN });
    expect(replay.status).toBe(200);
    await vi.waitFor(async () => expect((await counts(author.id)).followers).toBe(1), {
      timeout: 10_000,
      interval: 100,
    });
    const after = await api<{ items: unknown[] }>('GET', '/v1/admin/dead-letters', { headers: ADMIN });
    expect(after.body.items).toEqual([]);
    expect((await api<{ deadLetters: number }>('GET', '/v1/health', { headers: ADMIN })).body.deadLetters).toBe(0);
  });

  it('dead letters are for the admin only, and an unknown one is a 404', async () => {
    const user = await signup();
    expect((await api('GET', '/v1/admin/dead-letters')).status).toBe(401);
    expect((await api('GET', '/v1/admin/dead-letters', { token: user.token })).status).toBe(403);
    const missing = await api('POST', `/v1/admin/dead-letters/${'0'.repeat(32)}/replay`, { headers: ADMIN });
    expect(missing.status).toBe(404);
    expect((await api('POST', '/v1/admin/dead-letters/nope/replay', { headers: ADMIN })).status).toBe(400);
  });
});

describe('reconciliation and configuration', () => {
  it('a reader whose delivery was lost for good gets the post at the next reconciling read, once', async () => {
    const [reader, author] = [await signup(), await signup()];
    await follow(reader, author);
    await feedIds(reader);
    // Written like a post, then every trace of its fan-out lost: no message, no outbox record.
    const deps = depsFor(env);
    const id = (
      await api<{ post: PostView }>('POST', '/v1/posts', {
        app: appWith({ queues: { fanout: downQueue, low: downQueue } }),
        token: author.token,
        body: { text: 'lost for good' },
      })
    ).body.post.id;
    await deps.repos.outbox.clearPost(author.id, id);
    expect(await feedIds(reader)).not.toContain(id);
    const later = appWith({ now: () => Date.now() + deps.config.reliability.reconcileIntervalMs + 1000 });
    const ids = await feedIds(reader, { app: later });
    expect(occurrences(ids, id)).toBe(1);
    expect(occurrences(await feedIds(reader, { app: later }), id)).toBe(1);
  });

  it('the fault injector is refused in production and its spec is checked', () => {
    const vars = { ...env, FAULTS: 'd1.write=0.1', ENVIRONMENT: undefined };
    expect(() => parseConfig({ ...vars, ENVIRONMENT: 'production' })).toThrow(ConfigError);
    expect(() => parseConfig(vars)).toThrow(/refused when ENVIRONMENT is production/);
    expect(parseConfig({ ...vars, ENVIRONMENT: 'test' }).reliability.faults).toEqual({
      rates: { 'd1.write': 0.1 },
      seed: 1,
    });
    expect(() => parseConfig({ ...vars, ENVIRONMENT: 'test', FAULTS: 'disk=0.1' })).toThrow(/unknown fault point/);
    // And the deployed configuration has no injector.
    expect(depsFor(env).faults).toBeNull();
  });
});
