import { AppError, ValidationError } from '../src/errors.ts';
import type { Media } from '../src/model.ts';
import type { Deps } from './composition.ts';

export function mediaKey(id: string): string {
  return `media/${id}`;
}

export function mediaUrl(origin: string, id: string): string {
  return `${origin}/v1/media/${id}`;
}

/** An upload's body: multipart/form-data (415 otherwise), parsed (400 when it does not parse). */
export async function uploadForm(request: Request): Promise<FormData> {
  if (!(request.headers.get('Content-Type') ?? '').toLowerCase().startsWith('multipart/form-data')) {
    throw new AppError(415, 'unsupported_media_type', 'send the file as multipart/form-data, field "file"');
  }
  try {
    return await request.formData();
  } catch {
    throw new ValidationError('the body is not valid multipart/form-data');
  }
}

/**
 * A new post's `mediaIds`: each must be an upload of the author's, not deleted and not attached to another post.
 * They are attached to the post's id before the post is written, so two posts cannot take one upload; `release`
 * undoes that when the post is not written after all.
 */
export async function attachMedia(
  deps: Deps,
  ids: readonly string[],
  ownerId: string,
  postId: string,
  origin: string,
): Promise<{ media: Media[]; release: () => Promise<void> }> {
  const unique = [...new Set(ids)];
  const attached = await deps.repos.media.attach(unique, ownerId, postId);
  const release = () => deps.repos.media.release([...attached], postId);
  if (attached.size !== unique.length) {
    await release();
    throw new ValidationError('invalid body: mediaIds: each must be your own upload, not used by another post');
  }
  const records = await deps.repos.media.getMany(unique);
  const media = unique.map((id): Media => {
    const r = records.get(id)!;
    return {
      id,
      url: mediaUrl(origin, id),
      kind: r.kind,
      ...(r.alt ? { alt: r.alt } : {}),
      ...(r.width !== null && r.height !== null ? { width: r.width, height: r.height } : {}),
    };
  });
  return { media, release };
}

/** A deleted post's uploads: marked deleted (reads 404 from then on) and their bytes removed. Best effort. */
export async function deleteMediaOf(deps: Deps, media: readonly Media[]): Promise<void> {
  const ids = media.flatMap((m) => (m.id ? [m.id] : []));
  if (ids.length === 0) return;
  try {
    await deps.repos.media.markDeleted(ids, deps.now());
    await deps.media?.delete(ids.map(mediaKey));
  } catch (error) {
    console.warn('media: cleanup after a delete failed; reads check the post and answer 404', error);
  }
}
