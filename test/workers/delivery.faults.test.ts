/**
 * Under the fault injector (vitest.config.ts, project workers-faults): 20% of D1 writes and queue sends and 30% of
 * queue deliveries fail, the drainers' alarms run every second. Clients behave as clients should: they retry a 503
 * (posts with the same Idempotency-Key). Whatever was accepted must reach every follower exactly once.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { depsFor } from '../../workers/composition.ts';
import { api, type ApiOptions, type ApiResponse, type PostView, type TestUser } from '../support/api.ts';

async function retrying<T>(method: string, path: string, options: ApiOptions = {}): Promise<ApiResponse<T>> {
  for (let attempt = 1; ; attempt++) {
    const res = await api<T>(method, path, options);
    if (res.status < 500 || attempt === 20) return res;
    // A 503 must say when to come back; a client that honours it waits (kept short here).
    if (res.status === 503) expect(res.headers.get('Retry-After')).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let n = 0;
async function signup(): Promise<TestUser> {
  for (;;) {
    // A fresh handle per attempt: a half-failed signup may keep its handle claimed.
    const res = await retrying<{ user: { id: string; handle: string }; token: string }>('POST', '/v1/users', {
      body: { handle: `f_${Date.now().toString(36)}_${n++}` },
    });
    if (res.status === 201) return { id: res.body.user.id, handle: res.body.user.handle, token: res.body.token };
  }
}

async function feedIds(user: TestUser): Promise<string[]> {
  const res = await retrying<{ items: { post: { id: string } }[] }>('GET', '/v1/feed?mode=latest&limit=100', {
    token: user.token,
  });
  expect(res.status).toBe(200);
  return res.body.items.map((i) => i.post.id);
}

describe('under injected faults', () => {
  it('every post accepted reaches every follower exactly once, and every follow converges', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const authors = [await signup(), await signup(), await signup()];
    const readers = [await signup(), await signup()];
    for (const reader of readers) {
      for (const author of authors) {
        const res = await retrying('PUT', `/v1/users/${author.id}/follow`, { token: reader.token });
        expect(res.status).toBe(200);
      }
    }
    const posted: string[] = [];
    for (const author of authors) {
      for (let i = 0; i < 3; i++) {
        const key = crypto.randomUUID();
        const res = await retrying<{ post: PostView }>('POST', '/v1/posts', {
          token: author.token,
          headers: { 'Idempotency-Key': key },
          body: { text: `post ${i} under faults` },
        });
        expect(res.status).toBe(201);
        posted.push(res.body.post.id);
      }
    }
    await vi.waitFor(
      async () => {
        for (const reader of readers) {
          const ids = await feedIds(reader);
          for (const id of posted) expect(ids.filter((x) => x === id)).toHaveLength(1);
        }
      },
      { timeout: 40_000, interval: 500 },
    );
    for (const author of authors) {
      const res = await retrying<{ user: { counts: { followers: number; posts: number } } }>(
        'GET',
        `/v1/users/${author.id}`,
      );
      expect(res.body.user.counts).toMatchObject({ followers: 2, posts: 3 });
    }
    const { injected } = depsFor(env).faults!;
    // The run really was under faults (the Worker's own injector counted them).
    expect(injected['d1.write'] + injected['queue.send']).toBeGreaterThan(0);
    warn.mockRestore();
    error.mockRestore();
  }, 60_000);
});
