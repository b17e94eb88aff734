/**
 * Post vectors from a sentence-embedding model run in this isolate (transformers.js on ONNX Runtime's WASM
 * backend; see runtime.ts and docs/embeddings.md). The model loads once per isolate, on first use, and all
 * concurrent callers share that load. When it cannot load, callers get null (never made-up vectors), the
 * reason is logged once and reported by `embedderState`, and the next attempt waits `RETRY_AFTER_MS`.
 */
import { createSingleFlight } from '../../src/single-flight.ts';
import { modelIdOf, type EmbeddingConfig } from './config.ts';
import { missingModelFiles } from './r2-fetch.ts';
import type { Extractor } from './runtime.ts';

/** What the embedder needs of the dependencies: the parsed model settings and, for the r2 source, the bucket. */
export interface EmbedderDeps {
  config: { embedding: EmbeddingConfig };
  models: R2Bucket | undefined;
}

export type EmbedderState =
  | { status: 'idle' } // nothing loaded yet
  | { status: 'loading'; model: string }
  | { status: 'ready'; model: string; dims: number; loadMs: number }
  | { status: 'unavailable'; model: string; reason: string; retryAt: number };

/** A model that failed to load is not tried again before this; each try costs a full download and parse. */
export const RETRY_AFTER_MS = 5 * 60_000;

interface Slot {
  key: string;
  state: EmbedderState;
  extractor?: Extractor;
  /** The last inference queued: runs go one after another (see embedTexts). */
  tail: Promise<unknown>;
}

/** Per isolate, per configured model and source (tests run several configurations in one isolate). */
const slots = new Map<string, Slot>();
const loads = createSingleFlight<string, Extractor | null>();

function slotKey({ embedding }: EmbedderDeps['config']): string {
  const source = embedding.source.kind === 'url' ? embedding.source.base : embedding.source.kind;
  return `${modelIdOf(embedding)} from ${source}`;
}

function slotFor(deps: EmbedderDeps): Slot {
  const key = slotKey(deps.config);
  let slot = slots.get(key);
  if (!slot) {
    slot = { key, state: { status: 'idle' }, tail: Promise.resolve() };
    slots.set(key, slot);
  }
  return slot;
}

export function embedderState(deps: EmbedderDeps): EmbedderState {
  return slots.get(slotKey(deps.config))?.state ?? { status: 'idle' };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function fail(slot: Slot, model: string, reason: string): null {
  const retryAt = Date.now() + RETRY_AFTER_MS;
  slot.state = { status: 'unavailable', model, reason, retryAt };
  console.warn(`embedding: ${model} unavailable until ${new Date(retryAt).toISOString()}: ${reason}`);
  return null;
}

async function load(slot: Slot, deps: EmbedderDeps): Promise<Extractor | null> {
  const config = deps.config.embedding;
  const model = modelIdOf(config);
  slot.state = { status: 'loading', model };
  const started = Date.now();
  try {
    // Typed as always bound, but a deployment that loads from the hub may well have no bucket.
    const bucket = deps.models;
    if (config.source.kind === 'r2') {
      if (!bucket) return fail(slot, model, 'EMBEDDING_SOURCE is "r2" but no MODELS bucket is bound');
      const missing = await missingModelFiles(bucket, config);
      if (missing.length) return fail(slot, model, `not in the MODELS bucket: ${missing.join(', ')}`);
    }
    const { loadExtractor } = await import('./runtime.ts');
    const extractor = await loadExtractor(config, bucket);
    // Workers' clocks advance only across I/O, so this is the load's wall time up to its last read.
    const loadMs = Date.now() - started;
    slot.extractor = extractor;
    slot.state = { status: 'ready', model, dims: extractor.dims, loadMs };
    console.log(`embedding: ${model} ready (${extractor.dims} dimensions, ${loadMs} ms)`);
    return extractor;
  } catch (error) {
    // Whatever stops a model from loading (missing or corrupt files, an unsupported graph, the runtime itself)
    // leaves ranking to its other signals: the reason goes to the log and to the health report, not the caller.
    return fail(slot, model, describe(error));
  }
}

function ready(slot: Slot, deps: EmbedderDeps): Promise<Extractor | null> | Extractor | null {
  if (slot.extractor) return slot.extractor;
  if (slot.state.status === 'unavailable' && Date.now() < slot.state.retryAt) return null;
  return loads.run(slot.key, () => load(slot, deps));
}

/** A macrotask turn: whatever else the isolate has ready (requests, I/O completions) runs first. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * The queue consumer handles a batch's messages concurrently; their inferences would only interleave on the one
 * thread and each hold its activations at once, so they are run one after another. Each waits for a turn of the
 * event loop first: chained on promises alone, a batch's inferences would run back to back as microtasks and
 * hold the thread for all of them, stalling any request that shares the isolate.
 */
function serially<T>(slot: Slot, run: () => Promise<T>): Promise<T> {
  const result = slot.tail.then(yieldToEventLoop).then(run);
  slot.tail = result.catch(() => undefined);
  return result;
}

/**
 * L2-normalised vectors, one per text, or null when no model can be loaded (logged once per failure, with why).
 * Texts are embedded one at a time: a batch pads every text to the longest, and its attention scores grow with
 * batch x length^2, which a 128 MB isolate cannot afford for long posts; and a text's vector then never depends
 * on which other texts shared its batch (int8 activations are quantised per batch). Each text is truncated to
 * the model's maximum number of tokens.
 */
export async function embedTexts(
  deps: EmbedderDeps,
  texts: string[],
): Promise<{ model: string; vectors: Float32Array[] } | null> {
  if (!Array.isArray(texts) || texts.some((text) => typeof text !== 'string')) {
    throw new TypeError('embedTexts takes an array of strings');
  }
  const slot = slotFor(deps);
  const extractor = await ready(slot, deps);
  if (!extractor) return null;
  const model = modelIdOf(deps.config.embedding);
  const vectors: Float32Array[] = [];
  try {
    for (const text of texts) vectors.push(await serially(slot, () => extractor.embed(text)));
  } catch (error) {
    // A model that fails on real input is dropped and reloaded after the back-off, like one that never loaded.
    if (slot.extractor === extractor) {
      slot.extractor = undefined;
      fail(slot, model, `inference failed: ${describe(error)}`);
      await extractor.dispose().catch(() => undefined);
    }
    return null;
  }
  return { model, vectors };
}

export type EmbedderHealth = EmbedderState & {
  model: string;
  source: string;
  /** With the r2 source: model files the bucket lacks (so an isolate that never loaded can still tell). */
  missingFiles?: string[];
};

/**
 * For /v1/health. The model loads in consumer isolates, so the state of the isolate answering may well be
 * `idle`; checking that the files are in the bucket (a few HEAD requests) tells an operator more.
 */
export async function embedderHealth(deps: EmbedderDeps): Promise<EmbedderHealth> {
  const config = deps.config.embedding;
  const report: EmbedderHealth = {
    ...embedderState(deps),
    model: modelIdOf(config),
    source: config.source.kind,
  };
  if (config.source.kind === 'r2') {
    report.missingFiles = deps.models ? await missingModelFiles(deps.models, config) : ['(no MODELS bucket bound)'];
  }
  return report;
}
