/**
 * The generated fixture embedding model (scripts/make-fixture-model.ts), carried into workerd by vitest.config.ts
 * as the TEST_EMBEDDING_FIXTURE binding, and the means to put it into the real (local) MODELS bucket.
 * It proves the loading and inference path, not semantic quality: its weights are random.
 */
import { env } from 'cloudflare:workers';

export interface EmbeddingFixture {
  model: string;
  revision: string;
  dtype: string;
  /** The model's hidden size: the length of its vectors. */
  dims: number;
  /** Path inside the model folder -> base64 of its bytes. */
  files: Record<string, string>;
}

declare global {
  // Workers' Env lives in this namespace: augmenting it takes one.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Cloudflare {
    interface Env {
      TEST_EMBEDDING_FIXTURE: EmbeddingFixture;
    }
  }
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Uploads the fixture's files under `<model>/<revision>/` (defaults: the fixture's own id and revision). */
export async function putFixtureModel(
  bucket: R2Bucket = env.MODELS,
  at: { model?: string; revision?: string } = {},
): Promise<{ model: string; revision: string }> {
  const fixture = env.TEST_EMBEDDING_FIXTURE;
  const model = at.model ?? fixture.model;
  const revision = at.revision ?? fixture.revision;
  await Promise.all(
    Object.entries(fixture.files).map(([file, data]) => bucket.put(`${model}/${revision}/${file}`, fromBase64(data))),
  );
  return { model, revision };
}
