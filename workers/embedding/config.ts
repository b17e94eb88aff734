/** Which embedding model to run and where its files come from, parsed from the Worker's vars. */

/** dtype -> the ONNX file transformers.js loads for it (its DEFAULT_DTYPE_SUFFIX_MAPPING). */
const ONNX_FILES = {
  q8: 'onnx/model_quantized.onnx',
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  int8: 'onnx/model_int8.onnx',
  uint8: 'onnx/model_uint8.onnx',
  q4: 'onnx/model_q4.onnx',
} as const;
export type EmbeddingDtype = keyof typeof ONNX_FILES;
const DTYPES = Object.keys(ONNX_FILES);

/**
 * - `r2`: the MODELS bucket, keys `<model>/<revision>/<file>` (no network at all);
 * - `hub`: the Hugging Face hub, pinned to the revision;
 * - `url`: any HTTPS base laid out like the bucket, `<base>/<model>/<revision>/<file>` (a public bucket, a CDN).
 */
export type EmbeddingSource = { kind: 'r2' } | { kind: 'hub' } | { kind: 'url'; base: string };

export interface EmbeddingConfig {
  model: string;
  revision: string;
  dtype: EmbeddingDtype;
  source: EmbeddingSource;
}

export class EmbeddingConfigError extends Error {
  override name = 'EmbeddingConfigError';
}

type EmbeddingVars = Partial<
  Record<'EMBEDDING_MODEL' | 'EMBEDDING_REVISION' | 'EMBEDDING_DTYPE' | 'EMBEDDING_SOURCE', string | undefined>
>;

/** A model id as the hub spells it: `owner/name`, with no path tricks, since it becomes part of keys and URLs. */
const MODEL_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const REVISION = /^[\w.-]+$/;

/** Identifies what produced a vector (`<model>@<revision>/<dtype>`): vectors are only ever compared within one. */
export function modelIdOf(config: Pick<EmbeddingConfig, 'model' | 'revision' | 'dtype'>): string {
  return `${config.model}@${config.revision}/${config.dtype}`;
}

export function readEmbeddingConfig(v: EmbeddingVars): EmbeddingConfig {
  const model = v.EMBEDDING_MODEL?.trim() ?? '';
  if (!MODEL_ID.test(model) || model.includes('..')) {
    throw new EmbeddingConfigError(`EMBEDDING_MODEL must be a model id like "owner/name", got "${model}"`);
  }
  const revision = v.EMBEDDING_REVISION?.trim() || 'main';
  if (!REVISION.test(revision) || revision.includes('..')) {
    throw new EmbeddingConfigError(`EMBEDDING_REVISION must be a branch, tag or commit, got "${revision}"`);
  }
  const dtype = v.EMBEDDING_DTYPE?.trim() || 'q8';
  if (!DTYPES.includes(dtype)) {
    throw new EmbeddingConfigError(`EMBEDDING_DTYPE must be one of ${DTYPES.join(', ')}, got "${dtype}"`);
  }
  return { model, revision, dtype: dtype as EmbeddingDtype, source: parseSource(v.EMBEDDING_SOURCE?.trim() || 'r2') };
}

function parseSource(raw: string): EmbeddingSource {
  if (raw === 'r2' || raw === 'hub') return { kind: raw };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new EmbeddingConfigError(`EMBEDDING_SOURCE must be "r2", "hub" or an https:// base URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new EmbeddingConfigError(`EMBEDDING_SOURCE URL must be http(s), got "${raw}"`);
  }
  return { kind: 'url', base: url.href.endsWith('/') ? url.href : `${url.href}/` };
}

/** The bucket key of one of a model's files. */
export function modelFileKey(config: Pick<EmbeddingConfig, 'model' | 'revision'>, file: string): string {
  return `${config.model}/${config.revision}/${file}`;
}

/** The files a feature-extraction pipeline reads for this model (tokenizer, config, weights). */
export function modelFiles(config: Pick<EmbeddingConfig, 'dtype'>): string[] {
  return ['config.json', 'tokenizer.json', 'tokenizer_config.json', ONNX_FILES[config.dtype]];
}
