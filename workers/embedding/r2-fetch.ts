import { modelFileKey, modelFiles, type EmbeddingConfig } from './config.ts';

/**
 * transformers.js reads "local" model files through `env.fetch(<localModelPath><model>/<file>)`. Pointing
 * `localModelPath` at this prefix and `env.fetch` at the hook below serves those reads from the MODELS bucket:
 * nothing else in the library changes, and nothing leaves the Worker. Not an http(s) URL on purpose: the
 * library checks whether a local file exists only for non-URL paths.
 */
export const R2_PREFIX = 'r2://MODELS/';

export interface R2ModelFetch {
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Bucket keys that were asked for and absent, so a failed load can say which file is missing. */
  missing: string[];
}

/** A fetch that answers only this model's files, from `<model>/<revision>/<file>` in `bucket`. */
export function r2ModelFetch(bucket: R2Bucket, config: Pick<EmbeddingConfig, 'model' | 'revision'>): R2ModelFetch {
  const prefix = `${R2_PREFIX}${config.model}/`;
  const missing: string[] = [];
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(prefix)) {
      return new Response(`not a file of ${config.model}: ${url}`, { status: 404 });
    }
    const key = modelFileKey(config, decodeURIComponent(url.slice(prefix.length)));
    const object = await bucket.get(key);
    if (!object) {
      missing.push(key);
      return new Response(`no object ${key}`, { status: 404 });
    }
    return new Response(object.body, {
      headers: { 'content-length': String(object.size), 'content-type': object.httpMetadata?.contentType ?? '' },
    });
  };
  return { fetch, missing };
}

/**
 * Keys of the model's files that are not in the bucket. Checked before anything is imported or downloaded, so an
 * empty bucket costs a few HEAD requests, not an evaluation of the whole library.
 */
export async function missingModelFiles(
  bucket: R2Bucket,
  config: Pick<EmbeddingConfig, 'model' | 'revision' | 'dtype'>,
): Promise<string[]> {
  const keys = modelFiles(config).map((file) => modelFileKey(config, file));
  const heads = await Promise.all(keys.map((key) => bucket.head(key)));
  return keys.filter((_, i) => heads[i] === null);
}
