import { encodeVector } from '../src/vectors.ts';
import { isLive } from '../src/model.ts';
import type { Deps } from './composition.ts';
import { embedTexts } from './embedding/index.ts';
import { forgetTrending, recordTrending } from './trending.ts';

/**
 * Consumer of `post.enrich`, after a post is created or edited: its hashtags count towards trending and its
 * text gets a vector. The post is read now, so a late or repeated message works on the current version. With
 * no model available, nothing is stored: ranking goes on with the other signals (and /v1/health says why).
 */
export async function enrichPost(deps: Deps, postId: string): Promise<void> {
  const post = await deps.repos.posts.get(postId);
  if (!isLive(post)) return forgetTrending(deps, postId);
  // After an edit, the tag index has the current tags (idempotent; the edit route wrote them first, best effort).
  await Promise.all([recordTrending(deps, post), deps.repos.tags.add(post)]);
  const embedded = await embedTexts(deps, [post.text]);
  const vector = embedded?.vectors[0];
  if (!embedded || !vector) return;
  await deps.repos.embeddings.put({
    postId,
    model: embedded.model,
    vector: encodeVector(vector),
    version: post.version,
    createdAt: deps.now(),
  });
}
