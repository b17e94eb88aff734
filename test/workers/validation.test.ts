import { env } from 'cloudflare:test';
import { sign } from 'hono/jwt';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createPost, signup, type PostView, type TestUser } from '../support/api.ts';
import { settled, snapshot } from '../support/db.ts';

const UNKNOWN_ID = '1234567890123456789';
let alice: TestUser;
let bob: TestUser;
let post: PostView;

beforeAll(async () => {
  alice = await signup();
  bob = await signup();
  post = await createPost(alice, 'the original');
});

/** Runs a request that must be refused: checks status and error shape, and that no table changed. */
async function refused(status: number, code: string, method: string, path: string, options = {}) {
  // An accepted post's fan-out clears its outbox row later: wait for that, or it would look like a change.
  await settled();
  const before = await snapshot();
  const res = await api(method, path, options);
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('Content-Type')).toMatch(/application\/json/);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(await snapshot()).toEqual(before);
  return res;
}

describe('bad input is refused with a JSON 4xx and writes nothing', () => {
  it('malformed JSON', async () => {
    await refused(400, 'invalid_request', 'POST', '/v1/posts', {
      token: alice.token,
      rawBody: '{"text": "unterminated',
      headers: { 'Content-Type': 'application/json' },
    });
  });

  it('missing, wrong-typed and unknown fields', async () => {
    await refused(400, 'invalid_request', 'POST', '/v1/posts', { token: alice.token, body: {} });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', { token: alice.token, body: { text: 42 } });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'hi', admin: true },
    });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', { token: alice.token, body: ['text'] });
    await refused(400, 'invalid_request', 'POST', '/v1/users', { body: { handle: 'no spaces allowed' } });
    await refused(400, 'invalid_request', 'POST', '/v1/users', { body: { handle: 'ab' } });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'x', media: [{ url: 'javascript:alert(1)', kind: 'image' }] },
    });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'x', location: { lat: 91, lon: 0 } },
    });
    await refused(400, 'invalid_request', 'POST', '/v1/events', {
      token: alice.token,
      body: { events: [{ type: 'dwell', postId: post.id }] },
    });
    await refused(400, 'invalid_request', 'POST', '/v1/events', { token: alice.token, body: { events: [] } });
  });

  it('empty and over-long text (limits count code points)', async () => {
    await refused(400, 'invalid_request', 'POST', '/v1/posts', { token: alice.token, body: { text: '' } });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', { token: alice.token, body: { text: '  \n\t ' } });
    await refused(400, 'invalid_request', 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'a'.repeat(1001) },
    });
    await refused(400, 'invalid_request', 'POST', `/v1/posts/${post.id}/comments`, {
      token: bob.token,
      body: { text: 'c'.repeat(501) },
    });
    await refused(400, 'invalid_request', 'PATCH', `/v1/posts/${post.id}`, { token: alice.token, body: { text: '' } });
    // 1000 emoji are 1000 code points (2000 UTF-16 units): at the limit, accepted.
    const atLimit = await api('POST', '/v1/posts', { token: alice.token, body: { text: '😀'.repeat(1000) } });
    expect(atLimit.status).toBe(201);
  });

  it('unknown ids', async () => {
    await refused(404, 'not_found', 'GET', `/v1/posts/${UNKNOWN_ID}`);
    await refused(404, 'not_found', 'GET', `/v1/users/${UNKNOWN_ID}`);
    await refused(404, 'not_found', 'GET', `/v1/users/${UNKNOWN_ID}/posts`);
    await refused(404, 'not_found', 'GET', `/v1/users/${UNKNOWN_ID}/followers`);
    await refused(404, 'not_found', 'PUT', `/v1/posts/${UNKNOWN_ID}/like`, { token: bob.token });
    await refused(404, 'not_found', 'POST', `/v1/posts/${UNKNOWN_ID}/comments`, {
      token: bob.token,
      body: { text: 'hi' },
    });
    await refused(404, 'not_found', 'POST', `/v1/posts/${UNKNOWN_ID}/shares`, { token: bob.token });
    await refused(404, 'not_found', 'DELETE', `/v1/posts/${UNKNOWN_ID}`, { token: bob.token });
    await refused(404, 'not_found', 'PUT', `/v1/users/${UNKNOWN_ID}/follow`, { token: bob.token });
  });

  it('non-numeric and malformed ids', async () => {
    // Well-formed ids of other widths ('12', '0123456789012345678') are unknown ids: 404 (test/workers/http.test.ts).
    for (const id of ['abc', '-1234567890123456789', '123456789012345678901', '1e18', '12.5']) {
      await refused(400, 'invalid_request', 'GET', `/v1/posts/${id}`);
    }
    await refused(400, 'invalid_request', 'PUT', '/v1/users/alice/follow', { token: bob.token });
    await refused(400, 'invalid_request', 'PUT', '/v1/posts/x/like', { token: bob.token });
  });

  it('limit outside 1-100 and garbled or forged cursors', async () => {
    for (const limit of ['0', '101', '-5', 'ten', '2.5', '']) {
      await refused(400, 'invalid_request', 'GET', `/v1/users/${alice.id}/posts?limit=${limit}`);
    }
    const forged = `${btoa(JSON.stringify({ before: UNKNOWN_ID })).replace(/=+$/, '')}.AAAAAAAAAAAAAAAAAAAAAA`;
    for (const cursor of ['garbage', 'a.b.c', forged, '%%%', 'x'.repeat(2000)]) {
      const res = await api('GET', `/v1/users/${alice.id}/posts?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: expect.stringMatching(/invalid_(cursor|request)/) } });
    }
  });

  it('oversized bodies', async () => {
    await refused(413, 'payload_too_large', 'POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'x'.repeat(70 * 1024) },
    });
  });

  it('missing, malformed, forged and expired tokens', async () => {
    const body = { text: 'sneaky' };
    await refused(401, 'unauthorized', 'POST', '/v1/posts', { body });
    await refused(401, 'unauthorized', 'POST', '/v1/posts', { body, headers: { Authorization: 'Basic abc' } });
    await refused(401, 'unauthorized', 'POST', '/v1/posts', { body, token: 'not.a.jwt' });
    const now = Math.floor(Date.now() / 1000);
    const forged = await sign({ sub: alice.id, iat: now, exp: now + 60 }, 'someone-elses-secret', 'HS256');
    await refused(401, 'unauthorized', 'POST', '/v1/posts', { body, token: forged });
    const expired = await sign({ sub: alice.id, iat: now - 120, exp: now - 60 }, env.JWT_SECRET, 'HS256');
    await refused(401, 'unauthorized', 'POST', '/v1/posts', { body, token: expired });
    const noSubject = await sign({ sub: 'alice', iat: now, exp: now + 60 }, env.JWT_SECRET, 'HS256');
    await refused(401, 'unauthorized', 'POST', '/v1/posts', { body, token: noSubject });
  });

  it("acting on another user's post", async () => {
    await refused(403, 'forbidden', 'PATCH', `/v1/posts/${post.id}`, { token: bob.token, body: { text: 'hijack' } });
    await refused(403, 'forbidden', 'DELETE', `/v1/posts/${post.id}`, { token: bob.token });
    const read = await api<{ post: PostView }>('GET', `/v1/posts/${post.id}`);
    expect(read.body.post).toMatchObject({ text: 'the original', version: 1 });
  });

  it('malformed If-Match and unknown routes', async () => {
    await refused(400, 'invalid_request', 'PATCH', `/v1/posts/${post.id}`, {
      token: alice.token,
      headers: { 'If-Match': 'version-one' },
      body: { text: 'x' },
    });
    await refused(404, 'not_found', 'GET', '/v1/nope');
    await refused(404, 'not_found', 'DELETE', '/v1/nope/1');
    await refused(405, 'method_not_allowed', 'DELETE', '/v1/users');
  });
});
