/**
 * Uploaded media: what a file is, decided from its first bytes (magic numbers) and never from the type the client
 * declared, since a declared type is only a claim (an HTML page sent as image/png would be served as what it is not).
 * Images also yield their dimensions from the header. Platform-free: the route reads the bytes, this looks at them.
 */

export type MediaKind = 'image' | 'gif' | 'video';

export interface Sniffed {
  kind: MediaKind;
  contentType: 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif' | 'video/mp4';
  width: number | null;
  height: number | null;
}

/** Largest upload per kind, in bytes (Mastodon's defaults are 16 MB for images and 99 MB for video). */
export const MEDIA_MAX_BYTES: Readonly<Record<MediaKind, number>> = Object.freeze({
  image: 10 * 1024 * 1024,
  gif: 10 * 1024 * 1024,
  video: 40 * 1024 * 1024,
});

/** The largest of the above: the request body limit of the upload route (plus multipart framing). */
export const MEDIA_UPLOAD_MAX_BYTES = Math.max(...Object.values(MEDIA_MAX_BYTES)) + 64 * 1024;

/** Larger than any real image; a header claiming more is not trusted. */
const MAX_DIMENSION = 65_535;

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0) =>
  bytes.length >= at + prefix.length && prefix.every((b, i) => bytes[at + i] === b);
const ascii = (text: string) => [...text].map((ch) => ch.charCodeAt(0));
const be16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const le16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const le24 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
const be32 = (b: Uint8Array, at: number) =>
  ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);

function dims(width: number, height: number): { width: number | null; height: number | null } {
  const ok = (n: number) => Number.isInteger(n) && n > 0 && n <= MAX_DIMENSION;
  return ok(width) && ok(height) ? { width, height } : { width: null, height: null };
}

/** What the bytes are, or null when they are none of the accepted formats. */
export function sniffMedia(bytes: Uint8Array): Sniffed | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    // The IHDR chunk comes first: width and height, 4 bytes each, big-endian.
    const size =
      startsWith(bytes, ascii('IHDR'), 12) && bytes.length >= 24 ? dims(be32(bytes, 16), be32(bytes, 20)) : null;
    return size ? { kind: 'image', contentType: 'image/png', ...size } : null;
  }
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) {
    if (bytes.length < 10) return null;
    return { kind: 'gif', contentType: 'image/gif', ...dims(le16(bytes, 6), le16(bytes, 8)) };
  }
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) {
    const size = jpegSize(bytes);
    return size ? { kind: 'image', contentType: 'image/jpeg', ...size } : null;
  }
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) {
    const size = webpSize(bytes);
    return size ? { kind: 'image', contentType: 'image/webp', ...size } : null;
  }
  // ISO base media (MP4): a box of type `ftyp` first.
  if (startsWith(bytes, ascii('ftyp'), 4))
    return { kind: 'video', contentType: 'video/mp4', width: null, height: null };
  return null;
}

/** Walks the JPEG markers to the first start-of-frame, which holds height then width (big-endian). */
function jpegSize(b: Uint8Array): { width: number | null; height: number | null } | null {
  let at = 2;
  while (at + 9 < b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    // Markers without a length: TEM, RST0-7, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2;
      continue;
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) return dims(be16(b, at + 7), be16(b, at + 5));
    if (marker === 0xd9 || marker === 0xda) return null;
    at += 2 + be16(b, at + 2);
  }
  return null;
}

function webpSize(b: Uint8Array): { width: number | null; height: number | null } | null {
  if (b.length < 30) return null;
  if (startsWith(b, ascii('VP8X'), 12)) return dims(le24(b, 24) + 1, le24(b, 27) + 1);
  if (startsWith(b, ascii('VP8L'), 12) && b[20] === 0x2f) {
    const bits = b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24);
    return dims((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (startsWith(b, ascii('VP8 '), 12) && startsWith(b, [0x9d, 0x01, 0x2a], 23)) {
    return dims(le16(b, 26) & 0x3fff, le16(b, 28) & 0x3fff);
  }
  return null;
}
