import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { MEDIA_MAX_BYTES, sniffMedia } from '../../src/media.ts';
import { api, signup, type TestUser } from '../support/api.ts';

interface MediaView {
  id: string;
  url: string;
  kind: string;
  alt: string | null;
  width: number | null;
  height: number | null;
}

/** A PNG header (signature and IHDR) of the given size, padded to `total` bytes. */
function png(width: number, height: number, total = 64): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(total);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bytes.buffer).setUint32(16, width);
  new DataView(bytes.buffer).setUint32(20, height);
  return bytes;
}

function gif(width: number, height: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(32);
  bytes.set([...'GIF89a'].map((ch) => ch.charCodeAt(0)));
  bytes[6] = width & 0xff;
  bytes[7] = width >> 8;
  bytes[8] = height & 0xff;
  bytes[9] = height >> 8;
  return bytes;
}

function jpeg(width: number, height: number): Uint8Array<ArrayBuffer> {
  // SOI, an APP0 segment of 16 bytes, then SOF0 with height and width.
  const app0 = [0xff, 0xe0, 0x00, 0x10, ...new Array<number>(14).fill(0)];
  const sof = [
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 0xff,
    width >> 8,
    width & 0xff,
    3,
    ...new Array<number>(9).fill(0),
  ];
  return new Uint8Array([0xff, 0xd8, ...app0, ...sof]);
}

async function upload(user: TestUser, bytes: Uint8Array<ArrayBuffer>, type: string, alt?: string) {
  const form = new FormData();
  form.set('file', new Blob([bytes], { type }), 'upload.bin');
  if (alt !== undefined) form.set('alt', alt);
  const response = await exports.default.fetch(
    new Request('https://feed.test/v1/media', {
      method: 'POST',
      headers: { Authorization: `Bearer ${user.token}` },
      body: form,
    }),
  );
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as { media: MediaView; error?: { code: string } } };
}

async function fetchMedia(url: string) {
  return exports.default.fetch(new Request(url));
}

describe('media sniffing', () => {
  it('reads the format and dimensions from the bytes', () => {
    expect(sniffMedia(png(640, 480))).toEqual({ kind: 'image', contentType: 'image/png', width: 640, height: 480 });
    expect(sniffMedia(gif(32, 16))).toEqual({ kind: 'gif', contentType: 'image/gif', width: 32, height: 16 });
    expect(sniffMedia(jpeg(1024, 768))).toMatchObject({ contentType: 'image/jpeg', width: 1024, height: 768 });
    expect(sniffMedia(new TextEncoder().encode('<!doctype html><script>alert(1)</script>'))).toBeNull();
  });
});

describe('POST /v1/media', () => {
  it('accepts a PNG declared as text/plain as an image with its dimensions, and serves it immutable', async () => {
    const user = await signup();
    const res = await upload(user, png(300, 200), 'text/plain', 'a small square');
    expect(res.status).toBe(201);
    expect(res.body.media).toMatchObject({ kind: 'image', alt: 'a small square', width: 300, height: 200 });
    const served = await fetchMedia(res.body.media.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('Content-Type')).toBe('image/png');
    expect(served.headers.get('Cache-Control')).toContain('immutable');
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(png(300, 200));
  });

  it('refuses an HTML file declared as image/png, and what is not an upload', async () => {
    const user = await signup();
    const html = new Uint8Array(new TextEncoder().encode('<html><body>not an image</body></html>'));
    const res = await upload(user, html, 'image/png');
    expect(res.status).toBe(415);
    expect(res.body.error?.code).toBe('unsupported_media_type');
    const json = await api('POST', '/v1/media', { token: user.token, body: { file: 'x' } });
    expect(json.status).toBe(415);
    expect((await upload(user, png(1, 1), 'image/png', '\u0000')).status).toBe(400);
    expect((await api('GET', '/v1/media/99999')).status).toBe(404);
    expect((await api('GET', '/v1/media/nope')).status).toBe(400);
  });

  it('limits the size per kind', async () => {
    const user = await signup();
    const res = await upload(user, png(10, 10, MEDIA_MAX_BYTES.image + 1), 'image/png');
    expect(res.status).toBe(413);
    expect(res.body.error?.code).toBe('payload_too_large');
  });

  it("posts take their author's uploads; a deleted post's media is a 404", async () => {
    const [user, other] = [await signup(), await signup()];
    const { media } = (await upload(user, png(8, 8), 'image/png', 'eight')).body;
    const stranger = await api('POST', '/v1/posts', {
      token: other.token,
      body: { text: 'mine?', mediaIds: [media.id] },
    });
    expect(stranger.status).toBe(400);
    const created = await api<{
      post: { id: string; media: { id: string; url: string; kind: string; alt: string }[] };
    }>('POST', '/v1/posts', { token: user.token, body: { text: 'with a picture', mediaIds: [media.id] } });
    expect(created.status).toBe(201);
    expect(created.body.post.media).toEqual([
      { id: media.id, url: media.url, kind: 'image', alt: 'eight', width: 8, height: 8 },
    ]);
    const again = await api('POST', '/v1/posts', { token: user.token, body: { text: 'reuse', mediaIds: [media.id] } });
    expect(again.status).toBe(400);
    expect((await fetchMedia(media.url)).status).toBe(200);
    expect((await api('DELETE', `/v1/posts/${created.body.post.id}`, { token: user.token })).status).toBe(200);
    expect((await fetchMedia(media.url)).status).toBe(404);
    const tooMany = await api('POST', '/v1/posts', {
      token: user.token,
      body: { text: 'many', mediaIds: ['1', '2', '3', '4', '5'] },
    });
    expect(tooMany.status).toBe(400);
  });
});
