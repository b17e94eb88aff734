/**
 * transformers.js (ONNX Runtime Web, WASM backend) inside workerd. Imported lazily, on the first embedding, so an
 * isolate that never embeds (the API) never evaluates it. Four things stand between the library and workerd;
 * each is handled here, where it happens, and nowhere else:
 *
 * 1. With `nodejs_compat`, `process.release.name` is "node", and transformers.js then takes its Node branch
 *    (onnxruntime-node, file paths instead of buffers). It decides once, when its module is evaluated, so the
 *    name is reported differently only while that import runs.
 * 2. transformers.js imports `onnxruntime-web/webgpu`, whose runtime finds its glue script and binary through
 *    `import.meta.url` (undefined in workerd) and checks for Node. The build aliases that import to ORT's plain
 *    WASM bundle (`ort.wasm.bundle.min.mjs`: glue inlined, no Node branch, no WebGPU; see wrangler.toml and
 *    vitest.config.ts), which loads neither file once it is handed the binary, and is half the size.
 * 3. workerd forbids compiling WebAssembly from bytes at run time. The binary is imported as a module, which
 *    workerd compiles at deploy, and ORT is handed a marker instead of bytes; while the pipeline is created,
 *    `WebAssembly.instantiate` recognises the marker and instantiates the precompiled module instead.
 * 4. transformers.js v4 seeds a random generator at module scope, which workerd refuses outside a request: the
 *    dynamic import below only ever runs inside one.
 *
 * Single-threaded (workerd has no threads for WASM) and unproxied (no Web Workers).
 */
import ortWasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import type * as TransformersModule from '@huggingface/transformers';
import type { FeatureExtractionPipeline } from '@huggingface/transformers';
import type { EmbeddingConfig } from './config.ts';
import { R2_PREFIX, r2ModelFetch } from './r2-fetch.ts';

type Transformers = typeof TransformersModule;

export class EmbeddingModelError extends Error {
  override name = 'EmbeddingModelError';
}

export interface Extractor {
  dims: number;
  /** One text's L2-normalised mean-pooled vector. */
  embed(text: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** Stands in for the WASM bytes; only its identity matters (see 3 above). */
const WASM_MARKER = new ArrayBuffer(8);
let wasmMemory: WebAssembly.Memory | undefined;
let transformers: Promise<Transformers> | undefined;
/** Loads change transformers.js's global `env` (source, fetch hook): one at a time. */
let loadChain: Promise<unknown> = Promise.resolve();

interface NodeProcessLike {
  release?: { name?: string };
}

/** Reports a non-Node runtime name until the returned function is called (see 1 above). */
function hideNodeRelease(): () => void {
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  if (proc?.release?.name !== 'node') return () => {};
  const own = Object.getOwnPropertyDescriptor(proc, 'release');
  Object.defineProperty(proc, 'release', {
    value: { ...proc.release, name: 'workerd' },
    configurable: true,
    enumerable: true,
    writable: true,
  });
  return () => {
    if (own) Object.defineProperty(proc, 'release', own);
    else delete proc.release;
  };
}

function importTransformers(): Promise<Transformers> {
  transformers ??= (async () => {
    const restore = hideNodeRelease();
    let tf: Transformers;
    try {
      tf = await import('@huggingface/transformers');
    } finally {
      restore();
    }
    const wasm = tf.env.backends.onnx.wasm;
    if (!wasm) throw new EmbeddingModelError('onnxruntime-web has no WASM backend in this build');
    wasm.numThreads = 1;
    wasm.proxy = false;
    // transformers.js points these at a CDN when unset; the binary comes from the bundle instead.
    wasm.wasmPaths = undefined;
    wasm.wasmBinary = WASM_MARKER;
    // No Cache API or filesystem copies: the bucket (or hub) is the store, and copies cost isolate memory.
    tf.env.useBrowserCache = false;
    tf.env.useFSCache = false;
    tf.env.useWasmCache = false;
    tf.env.useCustomCache = false;
    tf.env.useFS = false;
    return tf;
  })();
  return transformers;
}

function isMarker(source: unknown): boolean {
  if (source === WASM_MARKER) return true;
  return ArrayBuffer.isView(source) && source.buffer === WASM_MARKER;
}

/** The threaded build imports its memory (created by the glue) instead of exporting it; either is looked for. */
function findMemory(values: object): WebAssembly.Memory | undefined {
  return Object.values(values).find((value): value is WebAssembly.Memory => value instanceof WebAssembly.Memory);
}

/** Runs `create` while `WebAssembly.instantiate` swaps the marker for the precompiled ORT module (see 3 above). */
async function withPrecompiledOrt<T>(create: () => Promise<T>): Promise<T> {
  const original = WebAssembly.instantiate;
  const instantiate = async (source: unknown, imports?: WebAssembly.Imports): Promise<unknown> => {
    if (!isMarker(source)) {
      return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>).call(WebAssembly, source, imports);
    }
    const instance = await original.call(WebAssembly, ortWasmModule, imports);
    wasmMemory =
      findMemory(instance.exports) ??
      Object.values(imports ?? {})
        .map(findMemory)
        .find(Boolean);
    return { instance, module: ortWasmModule };
  };
  (WebAssembly as { instantiate: unknown }).instantiate = instantiate;
  try {
    return await create();
  } finally {
    (WebAssembly as { instantiate: unknown }).instantiate = original;
  }
}

/** Size of ORT's WASM linear memory (it only grows), or null before ORT is instantiated. */
export function wasmMemoryBytes(): number | null {
  return wasmMemory ? wasmMemory.buffer.byteLength : null;
}

/** Points transformers.js at the configured source; returns the files found missing, for error messages. */
function useSource(tf: Transformers, config: EmbeddingConfig, bucket: R2Bucket | undefined): string[] {
  const { env } = tf;
  switch (config.source.kind) {
    case 'r2': {
      if (!bucket) throw new EmbeddingModelError('EMBEDDING_SOURCE is "r2" but no MODELS bucket is bound');
      const hook = r2ModelFetch(bucket, config);
      env.allowLocalModels = true;
      env.allowRemoteModels = false;
      env.localModelPath = R2_PREFIX;
      env.fetch = hook.fetch;
      return hook.missing;
    }
    case 'hub':
      env.allowLocalModels = false;
      env.allowRemoteModels = true;
      env.remoteHost = 'https://huggingface.co/';
      env.remotePathTemplate = '{model}/resolve/{revision}/';
      env.fetch = (input, init) => fetch(input, init as RequestInit);
      return [];
    case 'url':
      env.allowLocalModels = false;
      env.allowRemoteModels = true;
      env.remoteHost = config.source.base;
      env.remotePathTemplate = '{model}/{revision}/';
      env.fetch = (input, init) => fetch(input, init as RequestInit);
      return [];
  }
}

async function embedWith(pipe: FeatureExtractionPipeline, text: string): Promise<Float32Array> {
  const output = await pipe(text, { pooling: 'mean', normalize: true });
  const dims = output.dims;
  if (dims.length !== 2 || dims[0] !== 1 || !(output.data instanceof Float32Array)) {
    throw new EmbeddingModelError(`unexpected output ${JSON.stringify(dims)} of ${output.type}`);
  }
  const vector = Float32Array.from(output.data);
  output.dispose();
  let sum = 0;
  for (const x of vector) sum += x * x;
  // normalize: true gives unit length; anything else (NaN from a broken graph, a zero vector) is no embedding.
  if (!(Math.abs(sum - 1) < 1e-3)) throw new EmbeddingModelError(`model produced a vector of squared norm ${sum}`);
  return vector;
}

async function createExtractor(config: EmbeddingConfig, bucket: R2Bucket | undefined): Promise<Extractor> {
  const tf = await importTransformers();
  const missing = useSource(tf, config, bucket);
  let pipe: FeatureExtractionPipeline;
  try {
    pipe = await withPrecompiledOrt(() =>
      tf.pipeline('feature-extraction', config.model, {
        revision: config.revision,
        dtype: config.dtype,
        device: 'wasm',
      }),
    );
  } catch (error) {
    if (missing.length) throw new EmbeddingModelError(`not in the MODELS bucket: ${[...new Set(missing)].join(', ')}`);
    throw error;
  }
  try {
    // One embedding now: it fixes the dimension and proves the graph runs, before anything is reported ready.
    const probe = await embedWith(pipe, 'warm-up');
    return {
      dims: probe.length,
      embed: (text) => embedWith(pipe, text),
      dispose: () => pipe.dispose(),
    };
  } catch (error) {
    await pipe.dispose();
    throw error;
  }
}

/** Longer than any healthy load (a 23 MB download and parse); a load that never settles must not block forever. */
export const LOAD_TIMEOUT_MS = 120_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EmbeddingModelError(`loading took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Loads the configured model (one load at a time per isolate; callers share it, see index.ts). */
export function loadExtractor(config: EmbeddingConfig, bucket: R2Bucket | undefined): Promise<Extractor> {
  const load = loadChain.then(() => withTimeout(createExtractor(config, bucket), LOAD_TIMEOUT_MS));
  loadChain = load.catch(() => undefined);
  return load;
}
