import { exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createPost, signup, type ApiOptions, type PostView, type TestUser } from '../support/api.ts';
import { shardBindings, settled, snapshot } from '../support/db.ts';

let alice: TestUser;
let bob: TestUser;
let post: PostView;

beforeAll(async () => {
  alice = await signup();
  bob = await signup();
  post = await createPost(alice, 'the original');
});

interface Target {
  name: string;
  method: string;
  path: () => string;
  token: () => string | undefined;
  /** The JSON body with `value` as the field under test. */
  body: (value: string) => Record<string, unknown>;
}

const targets: Target[] = [
  { name: 'post', method: 'POST', path: () => '/v1/posts', token: () => alice.token, body: (text) => ({ text }) },
  {
    name: 'edit',
    method: 'PATCH',
    path: () => `/v1/posts/${post.id}`,
    token: () => alice.token,
    body: (text) => ({ text }),
  },
  {
    name: 'comment',
    method: 'POST',
    path: () => `/v1/posts/${post.id}/comments`,
    token: () => bob.token,
    body: (text) => ({ text }),
  },
  {
    name: 'display name',
    method: 'POST',
    path: () => '/v1/users',
    token: () => undefined,
    body: (displayName) => ({ handle: `dn_${crypto.randomUUID().slice(0, 8)}`, displayName }),
  },
];

/** The JSON body with bytes spliced in where the field's value goes: `{..."field":"<bytes>"}`. */
function withBytes(target: Target, bytes: number[]): Uint8Array<ArrayBuffer> {
  const [head, tail] = JSON.stringify(target.body('\u0000')).split('\\u0000') as [string, string];
  const encoder = new TextEncoder();
  return new Uint8Array([...encoder.encode(head), ...bytes, ...encoder.encode(tail)]);
}

/** Sends a request that must be refused with a 400 and checks that no table changed and the post was not edited. */
async function refused(target: Target, options: ApiOptions, message: RegExp) {
  // An accepted post's fan-out clears its outbox row later: wait for that, or it would look like a change.
  await settled();
  const before = await snapshot();
  const res = await api(target.method, target.path(), { token: target.token(), ...options });
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body).toEqual({
    error: expect.objectContaining({ code: 'invalid_request', message: expect.any(String) }),
  });
  expect(JSON.stringify(res.body)).toMatch(message);
  expect(await snapshot()).toEqual(before);
  const read = await api<{ post: PostView }>('GET', `/v1/posts/${post.id}`);
  expect(read.body.post).toMatchObject({ text: 'the original', version: 1 });
}

const json = { 'Content-Type': 'application/json' };

describe.each(targets)('text policy: $name', (target) => {
  it('refuses a body that is not valid UTF-8', async () => {
    const invalid = [
      [0xff, 0xfe], // never valid in UTF-8
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0x61, 0xe2, 0x82], // a truncated sequence
    ];
    for (const bytes of invalid) {
      await refused(target, { rawBody: withBytes(target, bytes), headers: json }, /not valid UTF-8/);
    }
  });

  it('refuses JSON-escaped lone surrogates', async () => {
    for (const value of ['\ud800', 'x\udfff', '\ude00\ud83d']) {
      await refused(target, { body: target.body(value) }, /surrogate/);
    }
  });

  it('refuses NUL, other C0 controls and C1 controls', async () => {
    for (const value of ['a\u0000b', 'ding\u0007', '\u001b[2J', 'line\u0085break']) {
      await refused(target, { body: target.body(value) }, /control characters/);
    }
  });

  it('refuses text of only zero-width, Hangul filler or BOM characters as empty', async () => {
    for (const value of ['\u200b\u200b', '\u3164', '\ufeff', ' \u200d\u3164\ufeff\t']) {
      await refused(target, { body: target.body(value) }, /must not be empty/);
    }
  });
});

describe('text policy: accepted text', () => {
  it('posts: 1000 × "e\\u0301" are 1000 characters after NFC, stored composed', async () => {
    const decomposed = 'e\u0301'.repeat(1000);
    const res = await api<{ post: PostView }>('POST', '/v1/posts', { token: alice.token, body: { text: decomposed } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.post.text).toBe('\u00e9'.repeat(1000));
    const read = await api<{ post: PostView }>('GET', `/v1/posts/${res.body.post.id}`);
    expect(read.body.post.text).toBe('\u00e9'.repeat(1000));
    const tooLong = await api('POST', '/v1/posts', { token: alice.token, body: { text: `${decomposed}e\u0301` } });
    expect(tooLong.status).toBe(400);
  });

  it('posts keep newlines and tabs, and CR LF becomes LF', async () => {
    const res = await api<{ post: PostView }>('POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'line one\r\nline\ttwo\n#tagged' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.post).toMatchObject({ text: 'line one\nline\ttwo\n#tagged', hashtags: ['tagged'] });
  });

  it('edits are stored NFC, and hashtags are parsed from the NFC text', async () => {
    const own = await createPost(alice, 'to be edited');
    const res = await api<{ post: PostView }>('PATCH', `/v1/posts/${own.id}`, {
      token: alice.token,
      body: { text: '#cafe\u0301\n\tnoted' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.post).toMatchObject({ text: '#caf\u00e9\n\tnoted', hashtags: ['caf\u00e9'], version: 2 });
  });

  it('comments are stored NFC with newlines and tabs', async () => {
    const text = 'Cafe\u0301\n\tseconded';
    const res = await api<{ comment: { id: string; text: string } }>('POST', `/v1/posts/${post.id}/comments`, {
      token: bob.token,
      body: { text },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.comment.text).toBe('Caf\u00e9\n\tseconded');
    const stored = await Promise.all(
      shardBindings().map((db) =>
        db.prepare('SELECT text FROM comments WHERE id = ?').bind(res.body.comment.id).first<{ text: string }>(),
      ),
    );
    expect(stored.filter((row) => row !== null)).toEqual([{ text: 'Caf\u00e9\n\tseconded' }]);
  });

  it('display names are trimmed and NFC, measured after NFC; \\n and \\t are accepted', async () => {
    const name = `  ${'e\u0301'.repeat(48)}\n\t `;
    const res = await api<{ user: { id: string; displayName: string } }>('POST', '/v1/users', {
      body: { handle: `dn_${crypto.randomUUID().slice(0, 8)}`, displayName: name },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.user.displayName).toBe('\u00e9'.repeat(48));
    const read = await api<{ user: { displayName: string } }>('GET', `/v1/users/${res.body.user.id}`);
    expect(read.body.user.displayName).toBe('\u00e9'.repeat(48));
    const inner = await api<{ user: { displayName: string } }>('POST', '/v1/users', {
      body: { handle: `dn_${crypto.randomUUID().slice(0, 8)}`, displayName: 'Ada\tLovelace\nCountess' },
    });
    expect(inner.status, JSON.stringify(inner.body)).toBe(201);
    expect(inner.body.user.displayName).toBe('Ada\tLovelace\nCountess');
  });

  it('media alt text and location names follow the same policy', async () => {
    const before = await snapshot();
    const media = (alt: string) => [{ url: 'https://img.example/a.png', kind: 'image', alt }];
    for (const body of [
      { text: 'x', media: media('\u200b') },
      { text: 'x', media: media('a\u0000') },
      { text: 'x', location: { lat: 0, lon: 0, name: '\u3164' } },
      { text: 'x', location: { lat: 0, lon: 0, name: 'x\ud800' } },
    ]) {
      const res = await api('POST', '/v1/posts', { token: alice.token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await snapshot()).toEqual(before);
    const ok = await api<{ post: { media: { alt?: string }[]; location: { name?: string } } }>('POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'x', media: media('Cafe\u0301'), location: { lat: 0, lon: 0, name: ' Cafe\u0301 ' } },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.post.media[0]?.alt).toBe('Caf\u00e9');
    expect(ok.body.post.location.name).toBe('Caf\u00e9');
  });
});

describe('request bodies', () => {
  it('malformed JSON is a 400 that says so', async () => {
    await refused(targets[0]!, { rawBody: '{"text": "unterminated', headers: json }, /Malformed JSON/);
  });

  it('bodies over the limit are still a 413, with or without Content-Length', async () => {
    const before = await snapshot();
    const big = JSON.stringify({ text: 'x'.repeat(70 * 1024) });
    const sized = await api('POST', '/v1/posts', { token: alice.token, rawBody: big, headers: json });
    expect(sized.status).toBe(413);
    const streamed = await exports.default.fetch(
      new Request('https://feed.test/v1/posts', {
        method: 'POST',
        headers: { ...json, Authorization: `Bearer ${alice.token}` },
        body: new Blob([big]).stream(),
      }),
    );
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(await snapshot()).toEqual(before);
  });

  it('a streamed body without Content-Length is checked and then parsed', async () => {
    const send = (bytes: Uint8Array<ArrayBuffer>) =>
      exports.default.fetch(
        new Request('https://feed.test/v1/posts', {
          method: 'POST',
          headers: { ...json, Authorization: `Bearer ${alice.token}` },
          body: new Blob([bytes]).stream(),
        }),
      );
    const bad = await send(withBytes(targets[0]!, [0xff]));
    expect(bad.status).toBe(400);
    const good = await send(withBytes(targets[0]!, [...new TextEncoder().encode('stre\u0301amed')]));
    expect(good.status).toBe(201);
    expect(await good.json()).toMatchObject({ post: { text: 'stréamed' } });
  });
});
