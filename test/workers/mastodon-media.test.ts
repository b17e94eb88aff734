import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, signup, type TestUser } from '../support/api.ts';

interface Attachment {
  id: string;
  type: string;
  url: string;
  preview_url: string;
  description: string | null;
  meta: { original?: { width: number; height: number } };
}

/** A PNG header (signature and IHDR) of the given size, padded. */
function png(width: number, height: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(64);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bytes.buffer).setUint32(16, width);
  new DataView(bytes.buffer).setUint32(20, height);
  return bytes;
}

async function upload(user: TestUser, path: string, bytes: Uint8Array<ArrayBuffer>, description?: string) {
  const form = new FormData();
  form.set('file', new Blob([bytes], { type: 'image/png' }), 'cat.png');
  if (description !== undefined) form.set('description', description);
  const res = await exports.default.fetch(
    new Request(`https://feed.test${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${user.token}` },
      body: form,
    }),
  );
  return { status: res.status, body: await res.json<Attachment>() };
}

describe('Mastodon API: media', () => {
  it('uploads (v2 and v1), describes, and attaches media to a status whose media_attachments show it', async () => {
    const alice = await signup();
    const up = await upload(alice, '/api/v2/media', png(640, 480), 'a cat');
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      type: 'image',
      url: `https://feed.test/v1/media/${up.body.id}`,
      description: 'a cat',
      meta: { original: { width: 640, height: 480 } },
    });
    const served = await exports.default.fetch(new Request(up.body.url));
    expect(served.status).toBe(200);
    expect(served.headers.get('Content-Type')).toBe('image/png');
    await served.arrayBuffer();
    const v1 = await upload(alice, '/api/v1/media', png(10, 10));
    expect(v1.status).toBe(200);
    const described = await api<Attachment>('PUT', `/api/v1/media/${v1.body.id}`, {
      token: alice.token,
      body: { description: 'tiny' },
    });
    expect(described.body.description).toBe('tiny');
    expect((await api<Attachment>('GET', `/api/v1/media/${v1.body.id}`, { token: alice.token })).body.description).toBe(
      'tiny',
    );
    const status = await api<{ id: string; media_attachments: Attachment[] }>('POST', '/api/v1/statuses', {
      token: alice.token,
      body: { status: 'two pictures', media_ids: [up.body.id, v1.body.id] },
    });
    expect(status.status).toBe(200);
    expect(status.body.media_attachments.map((m) => [m.id, m.description])).toEqual([
      [up.body.id, 'a cat'],
      [v1.body.id, 'tiny'],
    ]);
    const read = await api<{ media_attachments: Attachment[] }>('GET', `/api/v1/statuses/${status.body.id}`);
    expect(read.body.media_attachments.map((m) => m.url)).toEqual([up.body.url, v1.body.url]);
    // Once in a status, the description is final; an edit that keeps the same media is fine, another is refused.
    const late = await api('PUT', `/api/v1/media/${v1.body.id}`, { token: alice.token, body: { description: 'x' } });
    expect(late.status).toBe(422);
    const keep = await api('PUT', `/api/v1/statuses/${status.body.id}`, {
      token: alice.token,
      body: { status: 'two pictures, edited', media_ids: [v1.body.id, up.body.id] },
    });
    expect(keep.status).toBe(200);
    const drop = await api('PUT', `/api/v1/statuses/${status.body.id}`, {
      token: alice.token,
      body: { status: 'one picture', media_ids: [up.body.id] },
    });
    expect(drop.status).toBe(422);
  });

  it("refuses others' media, bad files, used media and missing scopes", async () => {
    const [alice, bob] = [await signup(), await signup()];
    const up = await upload(alice, '/api/v2/media', png(20, 20));
    expect((await api('GET', `/api/v1/media/${up.body.id}`, { token: bob.token })).status).toBe(404);
    expect(
      (await api('PUT', `/api/v1/media/${up.body.id}`, { token: bob.token, body: { description: 'mine' } })).status,
    ).toBe(404);
    const theirs = await api('POST', '/api/v1/statuses', {
      token: bob.token,
      body: { status: 'stolen', media_ids: [up.body.id] },
    });
    expect(theirs.status).toBe(400);
    const text = await upload(alice, '/api/v2/media', new Uint8Array(new TextEncoder().encode('not an image')));
    expect(text.status).toBe(415);
    const json = await api('POST', '/api/v2/media', { token: alice.token, body: { file: 'x' } });
    expect(json.status).toBe(415);
    const anonymous = await exports.default.fetch(new Request('https://feed.test/api/v2/media', { method: 'POST' }));
    expect(anonymous.status).toBe(401);
    await anonymous.arrayBuffer();
    expect((await api('GET', `/api/v1/media/${up.body.id}`, { token: alice.token })).body).toMatchObject({
      description: null,
    });
    const reply = await api('POST', '/api/v1/statuses', {
      token: alice.token,
      body: { status: 'a reply with media', media_ids: [up.body.id], in_reply_to_id: up.body.id },
    });
    expect(reply.status).toBe(422);
  });
});
