/**
 * `npm run train-model [-- --report] [--corpus FILE]`: trains the local text model, word vectors by PPMI and a
 * truncated SVD (src/word-vectors.ts) on the GoEmotions comments in ../shared/data/texts/goemotions/train.tsv,
 * and exports it in the layout of the MODELS bucket: a BERT WordPiece tokenizer.json over whole words, and an ONNX
 * graph (input_ids, attention_mask, token_type_ids -> last_hidden_state) that looks up each token's vector, so
 * transformers.js' feature-extraction pipeline, with mean pooling and normalisation, gives the (SIF-weighted)
 * mean of a text's word vectors. It loads through the same code path as MiniLM (workers/embedding, dtype q8).
 * Without the shared corpus it trains on a tiny built-in one, under another model id, and says so.
 *
 * Output: `.fixtures/models/<model>/<revision>/` (git-ignored), the revision a hash of the files. Training is
 * deterministic and cached by a hash of its inputs (corpus bytes, options, trainer version). `--report` also
 * measures, with transformers.js in Node: whether cosine similarity separates same-emotion pairs of
 * GoEmotions dev/test comments from different-emotion pairs (AUC), against the random-weight fixture and plain
 * word overlap; the model's size; and the time per text.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import { createRng } from '../src/random.ts';
import {
  CLS,
  DEFAULT_WORD_VECTOR_OPTIONS,
  SEP,
  basicTokens,
  encodeWords,
  quantizeRows,
  rocAuc,
  sentenceVector,
  trainWordVectors,
  type WordVectorOptions,
  type WordVectors,
} from '../src/word-vectors.ts';
import {
  DEFAULT_FIXTURE_ROOT,
  encodeEncoderGraph,
  ensureFixtureModel,
  fixtureDir,
  fixtureTokenizerConfig,
  fixtureTokenizerJson,
  onnxFileName,
} from './make-fixture-model.ts';

const { onnx } = onnxProto;

const ROOT = path.resolve(import.meta.dirname, '..');
const GOEMOTIONS = path.resolve(ROOT, '..', 'shared', 'data', 'texts', 'goemotions');
export const DEFAULT_CORPUS = path.join(GOEMOTIONS, 'train.tsv');

/** The model ids: the real corpus, or the built-in stand-in (a different model, so never mistaken for it). */
export const LOCAL_MODEL = 'local/goemotions-ppmi';
export const BUILTIN_MODEL = 'local/builtin-ppmi';
/** Bumped whenever training or export changes the bytes for the same inputs. */
const TRAINER_VERSION = 1;
/** Texts are truncated to this many tokens, as MiniLM's tokenizer does; word order does not matter here. */
const MAX_TOKENS = 512;
/** q8: the file name EMBEDDING_DTYPE's default loads (`onnx/model_quantized.onnx`), as for MiniLM. */
const DTYPE = 'q8';

/** Chosen on GoEmotions dev (docs/embeddings.md): lighter frequency weighting than SIF's 1e-3 keeps "thanks". */
export const LOCAL_MODEL_OPTIONS: WordVectorOptions = { ...DEFAULT_WORD_VECTOR_OPTIONS, sifA: 0.01 };

export class TrainModelError extends Error {
  override name = 'TrainModelError';
}

// ---------------------------------------------------------------------------------------------- corpus

/**
 * A stand-in for when ../shared is absent: a few sentences on four themes, enough to exercise training, export
 * and loading end to end (and for the unit tests), far too little for vectors that mean much.
 */
export const BUILTIN_CORPUS: readonly string[] = [
  'thank you so much for sharing this, really appreciate it',
  'thanks for the help, I appreciate you taking the time',
  'thank you, that was kind and helpful of you',
  'many thanks, your advice helped me a lot',
  'I really appreciate the kind words, thank you',
  'this is so sad, I am sorry for your loss',
  'I feel so sad and lonely today, I miss her',
  'sorry to hear that, losing a pet is so sad',
  'my heart breaks for you, I am so sorry',
  'I cried when I heard the sad news',
  'that game was amazing, what a goal by the team',
  'great match tonight, the team played so well',
  'the coach should bench him, the team lost again',
  'what a season for the team, best game in years',
  'the referee ruined the game for both teams',
  'lol that is hilarious, I laughed so hard',
  'haha this made me laugh, so funny',
  'lol I cannot stop laughing at this joke',
  'this is the funniest thing I have seen, lol',
  'haha good one, you made my day with that joke',
];

export interface Corpus {
  /** `goemotions` (the shared data set) or `builtin` (the stand-in). */
  source: 'goemotions' | 'builtin';
  file: string | null;
  texts: string[];
  /** What the cache key hashes: the corpus as read. */
  bytes: Uint8Array;
}

/** GoEmotions TSV (`text<TAB>label<TAB>id`, a header row): text and label ids per row. */
export function parseGoEmotions(tsv: string): { text: string; labels: string[] }[] {
  const rows = tsv.split(/\r?\n/);
  if (!rows[0]?.startsWith('text\t')) throw new TrainModelError('not a GoEmotions TSV (no "text\\tlabel\\tid" header)');
  return rows
    .slice(1)
    .filter((row) => row.trim() !== '')
    .map((row) => {
      const [text = '', labels = ''] = row.split('\t');
      return { text, labels: labels.split(',').filter(Boolean) };
    });
}

/**
 * The training corpus: `file` if given (an error if it is missing), else the shared GoEmotions train split, else
 * the built-in stand-in (the caller is told through `source`).
 */
export function readCorpus(file?: string): Corpus {
  const chosen = file ?? DEFAULT_CORPUS;
  if (existsSync(chosen)) {
    const bytes = readFileSync(chosen);
    return {
      source: 'goemotions',
      file: chosen,
      texts: parseGoEmotions(bytes.toString('utf8')).map((row) => row.text),
      bytes,
    };
  }
  if (file !== undefined) throw new TrainModelError(`corpus not found: ${file}`);
  return builtinCorpus();
}

export function builtinCorpus(): Corpus {
  return {
    source: 'builtin',
    file: null,
    texts: [...BUILTIN_CORPUS],
    bytes: new TextEncoder().encode(BUILTIN_CORPUS.join('\n')),
  };
}

// ---------------------------------------------------------------------------------------------- export

const T = onnx.TensorProto.DataType;

/**
 * last_hidden_state[b, s, :] = table[input_ids[b, s]] * attention_mask[b, s]: the int8 row times its own scale
 * (rows differ in length, so one scale for the table would waste the int8 range on most of them). The graph
 * takes MiniLM's three inputs, so the pipeline feeds it the same way; token_type_ids is accepted and unused.
 */
export function buildLookupOnnx(vectors: WordVectors): Uint8Array {
  const { q, scales } = quantizeRows(vectors.table, vectors.dims);
  const rows = vectors.vocab.tokens.length;
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const initializer = [
    { name: 'word_vectors.weight_quantized', dataType: T.INT8, dims: [rows, vectors.dims], rawData: bytes(q) },
    { name: 'word_vectors.row_scale', dataType: T.FLOAT, dims: [rows], rawData: bytes(scales) },
    { name: 'last_axis', dataType: T.INT64, dims: [1], rawData: bytes(BigInt64Array.of(-1n)) },
  ];
  const toFloat = [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }];
  const node = (opType: string, input: string[], output: string, attribute: object[] = []) => ({
    opType,
    input,
    output: [output],
    name: output,
    attribute,
  });
  const nodes = [
    node('Gather', ['word_vectors.weight_quantized', 'input_ids'], 'rows_int8'),
    node('Cast', ['rows_int8'], 'rows', toFloat),
    node('Gather', ['word_vectors.row_scale', 'input_ids'], 'scale'),
    node('Cast', ['attention_mask'], 'mask', toFloat),
    // Padding positions are zero, as a transformer's would not be, but mean pooling skips them anyway.
    node('Mul', ['scale', 'mask'], 'masked_scale'),
    node('Unsqueeze', ['masked_scale', 'last_axis'], 'row_factor'),
    node('Mul', ['rows', 'row_factor'], 'last_hidden_state'),
  ];
  return encodeEncoderGraph({
    name: 'word_vector_lookup',
    producer: 'edge-feed train-model',
    nodes,
    initializers: initializer,
    hiddenSize: vectors.dims,
  });
}

/** config.json: a BERT model type, so transformers.js picks the encoder model class and feeds its inputs. */
function modelConfig(model: string, vectors: WordVectors, corpus: Corpus, options: WordVectorOptions): object {
  return {
    _name_or_path: model,
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: vectors.dims,
    vocab_size: vectors.vocab.tokens.length,
    max_position_embeddings: MAX_TOKENS,
    num_hidden_layers: 0,
    num_attention_heads: 1,
    pad_token_id: 0,
    type_vocab_size: 2,
    // Not read by transformers.js: says what this is to whoever opens the folder.
    edge_feed_local_model: {
      description: 'word vectors (PPMI + truncated SVD, SIF-weighted); the sentence vector is their mean',
      corpus: corpus.source,
      options,
    },
  };
}

export interface LocalModel {
  model: string;
  revision: string;
  dtype: typeof DTYPE;
  dims: number;
  /** Path inside the model folder (as transformers.js requests it) -> bytes. */
  files: Map<string, Uint8Array>;
  vectors: WordVectors;
}

/** The revision: a hash of every file's name and bytes, so the same bytes are always the same revision. */
export function contentRevision(files: ReadonlyMap<string, Uint8Array>): string {
  const hash = createHash('sha256');
  for (const name of [...files.keys()].sort()) {
    const bytes = files.get(name)!;
    hash.update(`${name}\0${bytes.length}\0`).update(bytes);
  }
  return `ppmi-${hash.digest('hex').slice(0, 12)}`;
}

/** Trains and exports (in memory). Deterministic: the same corpus and options give the same bytes. */
export function buildLocalModel(corpus: Corpus, options: WordVectorOptions = LOCAL_MODEL_OPTIONS): LocalModel {
  const model = corpus.source === 'goemotions' ? LOCAL_MODEL : BUILTIN_MODEL;
  const vectors = trainWordVectors(
    corpus.texts.map((text) => basicTokens(text)),
    options,
  );
  const json = (value: object) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  const files = new Map<string, Uint8Array>([
    ['config.json', json(modelConfig(model, vectors, corpus, options))],
    ['tokenizer.json', json(fixtureTokenizerJson(vectors.vocab.tokens, MAX_TOKENS))],
    ['tokenizer_config.json', json(fixtureTokenizerConfig(MAX_TOKENS))],
    [onnxFileName(DTYPE), buildLookupOnnx(vectors)],
  ]);
  return { model, revision: contentRevision(files), dtype: DTYPE, dims: vectors.dims, files, vectors };
}

// ---------------------------------------------------------------------------------------------- cache

export interface TrainedModel {
  model: string;
  revision: string;
  dtype: typeof DTYPE;
  dims: number;
  /** `<root>/<model>/<revision>`: the files, laid out as under the bucket key prefix `<model>/<revision>/`. */
  dir: string;
  files: string[];
  source: Corpus['source'];
  /** Wall time of the training run that produced it (recorded then; a cached model reports the original). */
  trainMs: number;
  /** Whether this call trained it (false: found in the cache). */
  trained: boolean;
}

type CacheRecord = Omit<TrainedModel, 'dir' | 'trained'>;

function inputsKey(corpus: Corpus, options: WordVectorOptions): string {
  return createHash('sha256')
    .update(JSON.stringify({ TRAINER_VERSION, options, source: corpus.source }))
    .update(corpus.bytes)
    .digest('hex')
    .slice(0, 16);
}

function cacheRecordPath(corpus: Corpus, root: string): string {
  const model = corpus.source === 'goemotions' ? LOCAL_MODEL : BUILTIN_MODEL;
  return path.join(root, ...model.split('/'), `inputs-${inputsKey(corpus, LOCAL_MODEL_OPTIONS)}.json`);
}

/** The model already trained from this corpus (by default the one ensureTrainedModel reads), or null. */
export async function cachedTrainedModel(
  corpus: Corpus = readCorpus(),
  root: string = DEFAULT_FIXTURE_ROOT,
): Promise<TrainedModel | null> {
  const record = cacheRecordPath(corpus, root);
  if (!existsSync(record)) return null;
  const cached = JSON.parse(await readFile(record, 'utf8')) as CacheRecord;
  const dir = fixtureDir(root, cached.model, cached.revision);
  if (!cached.files.every((file) => existsSync(path.join(dir, file)))) return null;
  return { ...cached, dir, trained: false };
}

/**
 * The trained model's files on disk, training it first unless the same inputs were trained before (the cache
 * record is written last, and files are renamed into place, so an interrupted run is never taken as done).
 * For `npm run dev` and the benchmarks: put `files` into a bucket under `<model>/<revision>/` (putTrainedModel),
 * then set EMBEDDING_MODEL / EMBEDDING_REVISION (and EMBEDDING_DTYPE = dtype).
 */
export async function ensureTrainedModel(
  options: { root?: string; corpus?: string | Corpus; log?: (line: string) => void } = {},
): Promise<TrainedModel> {
  const root = options.root ?? DEFAULT_FIXTURE_ROOT;
  const log = options.log ?? (() => {});
  const corpus = typeof options.corpus === 'object' ? options.corpus : readCorpus(options.corpus);
  if (corpus.source === 'builtin' && options.corpus === undefined) {
    log(`${DEFAULT_CORPUS} not found: training on the tiny built-in corpus instead (model ${BUILTIN_MODEL})`);
  }
  const cached = await cachedTrainedModel(corpus, root);
  if (cached) return cached;
  const model = corpus.source === 'goemotions' ? LOCAL_MODEL : BUILTIN_MODEL;
  log(`training ${model} on ${corpus.texts.length} texts (${corpus.source})`);
  const started = performance.now();
  const built = buildLocalModel(corpus, LOCAL_MODEL_OPTIONS);
  const trainMs = Math.round(performance.now() - started);
  const dir = fixtureDir(root, built.model, built.revision);
  for (const [file, bytes] of built.files) {
    const target = path.join(dir, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(`${target}.tmp`, bytes);
    await rename(`${target}.tmp`, target);
  }
  const made: CacheRecord = {
    model: built.model,
    revision: built.revision,
    dtype: built.dtype,
    dims: built.dims,
    files: [...built.files.keys()],
    source: corpus.source,
    trainMs,
  };
  const record = cacheRecordPath(corpus, root);
  await writeFile(`${record}.tmp`, JSON.stringify(made, null, 2));
  await rename(`${record}.tmp`, record);
  return { ...made, dir, trained: true };
}

/** What putTrainedModel needs of a bucket: an R2 binding, or Miniflare's `getR2Bucket` in Node. */
export interface PutBucket {
  put(key: string, value: Uint8Array): Promise<unknown>;
}

/** Uploads the model's files under `<model>/<revision>/<file>`, the keys workers/embedding reads. */
export async function putTrainedModel(
  bucket: PutBucket,
  made: Pick<TrainedModel, 'model' | 'revision' | 'dir' | 'files'>,
): Promise<void> {
  for (const file of made.files) {
    await bucket.put(`${made.model}/${made.revision}/${file}`, await readFile(path.join(made.dir, file)));
  }
}

// ---------------------------------------------------------------------------------------------- report

/** Pairs of comments drawn for the AUC; about 15% of them share their emotion label. */
const REPORT_PAIRS = 200_000;

export interface PairAuc {
  /** Same label vs different label, over every single-label comment. */
  all: number;
  /** The same over comments not labelled neutral (a third of them; "neutral" names no shared content). */
  nonNeutral: number;
  samePairs: number;
  pairs: number;
}

/**
 * AUC of `similarity` at telling same-label pairs from different-label pairs, over `pairs` pairs of distinct
 * comments drawn with a fixed seed (so every model is scored on the same pairs).
 */
export function labelPairAuc(
  labels: readonly string[],
  similarity: (i: number, j: number) => number,
  options: { pairs?: number; seed?: number; neutral?: string } = {},
): PairAuc {
  const random = createRng(options.seed ?? 7);
  const neutral = options.neutral ?? '27';
  const same: number[] = [];
  const different: number[] = [];
  const sameOther: number[] = [];
  const differentOther: number[] = [];
  const pairs = options.pairs ?? REPORT_PAIRS;
  for (let n = 0; n < pairs;) {
    const i = Math.floor(random() * labels.length);
    const j = Math.floor(random() * labels.length);
    if (i === j) continue;
    n++;
    const score = similarity(i, j);
    const isSame = labels[i] === labels[j];
    (isSame ? same : different).push(score);
    if (labels[i] !== neutral && labels[j] !== neutral) (isSame ? sameOther : differentOther).push(score);
  }
  return { all: rocAuc(same, different), nonNeutral: rocAuc(sameOther, differentOther), samePairs: same.length, pairs };
}

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!;
  return d;
}

interface Embedder {
  embed(text: string): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** A model folder through transformers.js in Node (onnxruntime-node), embedding as workers/embedding does. */
async function nodeEmbedder(dir: string, dtype: 'q8' | 'fp32'): Promise<Embedder> {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  const pipe = await pipeline('feature-extraction', dir, { dtype });
  return {
    async embed(text) {
      const output = await pipe(text, { pooling: 'mean', normalize: true });
      const vector = Float32Array.from(output.data as Float32Array);
      output.dispose();
      return vector;
    },
    dispose: () => pipe.dispose(),
  };
}

async function embedAll(
  embedder: Embedder,
  texts: readonly string[],
): Promise<{ vectors: Float32Array[]; ms: number }> {
  const vectors: Float32Array[] = [];
  const started = performance.now();
  for (const text of texts) vectors.push(await embedder.embed(text));
  return { vectors, ms: performance.now() - started };
}

function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
}

/** Prints the model's figures and its similarity AUC on GoEmotions dev and test, next to two baselines. */
async function report(made: TrainedModel, log: (line: string) => void): Promise<void> {
  const onnxFile = made.files.find((file) => file.endsWith('.onnx'))!;
  const onnxBytes = readFileSync(path.join(made.dir, onnxFile)).length;
  const totalBytes = made.files.reduce((sum, file) => sum + readFileSync(path.join(made.dir, file)).length, 0);
  const tokenizer = JSON.parse(readFileSync(path.join(made.dir, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  };
  log(
    `${made.model}@${made.revision}/${made.dtype}: ${Object.keys(tokenizer.model.vocab).length} tokens x ${made.dims} ` +
      `dims; ${onnxFile} ${(onnxBytes / 2 ** 20).toFixed(2)} MB, all files ${(totalBytes / 2 ** 20).toFixed(2)} MB; ` +
      `trained in ${(made.trainMs / 1000).toFixed(1)} s`,
  );
  const fixture = await ensureFixtureModel('tiny');
  const local = await nodeEmbedder(made.dir, made.dtype);
  const random = await nodeEmbedder(fixture.dir, fixture.dtype);
  const vocab = new Map(Object.entries(tokenizer.model.vocab));
  try {
    for (const split of ['dev', 'test']) {
      const file = path.join(GOEMOTIONS, `${split}.tsv`);
      if (!existsSync(file)) {
        log(`${file} not found: no AUC for ${split}`);
        continue;
      }
      // One label each: a comment with several shares some and not others, which is neither kind of pair.
      const rows = parseGoEmotions(readFileSync(file, 'utf8')).filter((row) => row.labels.length === 1);
      const texts = rows.map((row) => row.text);
      const labels = rows.map((row) => row.labels[0]!);
      const ours = await embedAll(local, texts);
      const theirs = await embedAll(random, texts);
      const words = texts.map((text) => new Set(basicTokens(text).filter((word) => vocab.has(word))));
      const scores = [
        ['local model (transformers.js)', labelPairAuc(labels, (i, j) => cosine(ours.vectors[i]!, ours.vectors[j]!))],
        ['random-weight fixture', labelPairAuc(labels, (i, j) => cosine(theirs.vectors[i]!, theirs.vectors[j]!))],
        ['word overlap (Jaccard)', labelPairAuc(labels, (i, j) => jaccard(words[i]!, words[j]!))],
      ] as const;
      log(
        `${split}: ${rows.length} single-label comments, ${scores[0][1].pairs} pairs, ${scores[0][1].samePairs} with ` +
          `the same label; ${(ours.ms / texts.length).toFixed(3)} ms per text (local model, Node, one at a time)`,
      );
      for (const [name, auc] of scores) {
        log(`  ${name.padEnd(30)} AUC ${auc.all.toFixed(3)}  without neutral ${auc.nonNeutral.toFixed(3)}`);
      }
    }
  } finally {
    await local.dispose();
    await random.dispose();
  }
}

/** The reference (pure TS) sentence vector of a text, for checking the exported graph against. */
export function referenceVector(vectors: WordVectors, text: string): Float32Array {
  const { q, scales } = quantizeRows(vectors.table, vectors.dims);
  const table = Float32Array.from(q, (x, k) => x * scales[Math.floor(k / vectors.dims)]!);
  const ids = [CLS, SEP].map((token) => vectors.vocab.ids.get(token)!);
  const words = encodeWords(vectors.vocab, basicTokens(text)).slice(0, MAX_TOKENS - 2);
  return sentenceVector(table, vectors.dims, [ids[0]!, ...words, ids[1]!]);
}

async function main(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: { report: { type: 'boolean', default: false }, corpus: { type: 'string' } },
    allowPositionals: true,
  });
  const log = (line: string) => console.log(`[train-model] ${line}`);
  const made = await ensureTrainedModel({ ...(values.corpus ? { corpus: path.resolve(values.corpus) } : {}), log });
  log(
    `${made.trained ? 'trained' : 'cached'}: ${made.model}@${made.revision} (${made.dims} dims, dtype ${made.dtype}, ` +
      `corpus ${made.source}) in ${path.relative(ROOT, made.dir)}`,
  );
  if (values.report) await report(made, log);
}

if (import.meta.main) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    console.error(`[train-model] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
