/**
 * Embedding vectors as stored and compared. Post vectors are L2-normalised by the model; they are stored as
 * int8 with one float32 scale (4 + d bytes, a quarter of float32), which keeps dot products within about 1%
 * of the float result for 384 dimensions, far below what changes a ranking. Serving only takes dot products.
 */

const SCALE_BYTES = 4;

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vector lengths differ: ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

export function norm(v: ArrayLike<number>): number {
  return Math.sqrt(dot(v, v));
}

/** A unit vector in the same direction, or null for the zero vector (it has no direction to compare). */
export function normalize(v: ArrayLike<number>): Float32Array | null {
  const n = norm(v);
  if (!(n > 0) || !Number.isFinite(n)) return null;
  return Float32Array.from(v, (x) => x / n);
}

/** Symmetric int8 quantisation: each component as round(x / scale) with scale = max|x| / 127. */
export function encodeVector(v: ArrayLike<number>): Uint8Array {
  let max = 0;
  for (let i = 0; i < v.length; i++) max = Math.max(max, Math.abs(v[i]!));
  const scale = max > 0 ? max / 127 : 1;
  const bytes = new Uint8Array(SCALE_BYTES + v.length);
  new DataView(bytes.buffer).setFloat32(0, scale, true);
  const q = new Int8Array(bytes.buffer, SCALE_BYTES);
  for (let i = 0; i < v.length; i++) q[i] = Math.round(v[i]! / scale);
  return bytes;
}

export function decodeVector(bytes: Uint8Array): Float32Array {
  if (bytes.length <= SCALE_BYTES) throw new RangeError('not an encoded vector');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const scale = view.getFloat32(0, true);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + SCALE_BYTES, bytes.length - SCALE_BYTES);
  return Float32Array.from(q, (x) => x * scale);
}
