/**
 * Word vectors from co-occurrence counts, for the local text model (scripts/train-model.ts, docs/embeddings.md):
 * the BERT tokenizer's pre-tokenisation, a whole-word vocabulary, windowed co-occurrence counts, positive PMI,
 * a truncated SVD by randomised subspace iteration, and smooth-inverse-frequency weighting, so that the mean of
 * a text's word vectors (what transformers.js' mean pooling computes) is a usable sentence vector. Everything is
 * deterministic: float64 arithmetic in a fixed order and a seeded generator.
 */
import { createRng } from './random.ts';

export const PAD = '[PAD]';
export const UNK = '[UNK]';
export const CLS = '[CLS]';
export const SEP = '[SEP]';
export const MASK = '[MASK]';
/** Ids 0-4 of every vocabulary built here; words follow. */
export const SPECIAL_TOKENS = [PAD, UNK, CLS, SEP, MASK] as const;
const FIRST_WORD_ID = SPECIAL_TOKENS.length;

// ---------------------------------------------------------------------------------------------- tokenizer

// The tokenizers library's BERT punctuation class: Unicode punctuation plus every ASCII symbol.
const PUNCTUATION = '\\p{P}\\u0021-\\u002F\\u003A-\\u0040\\u005B-\\u0060\\u007B-\\u007E';
const PRE_TOKEN = new RegExp(`[^\\s${PUNCTUATION}]+|[${PUNCTUATION}]`, 'gu');
const CONTROL = /^(?:\p{Cc}|\p{Cf}|\p{Co}|\p{Cs})$/u;
const MARK = /\p{Mn}/gu;

function isChinese(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * The words the exported tokenizer.json sees (BertNormalizer with lower-casing and accent stripping, then
 * BertPreTokenizer), reproduced exactly so that training counts the same tokens the model is later given.
 * Mirrors @huggingface/tokenizers, including its quirks (CJK detection per UTF-16 unit).
 */
export function basicTokens(text: string): string[] {
  let cleaned = '';
  for (const char of text) {
    const cp = char.charCodeAt(0);
    if (cp === 0 || cp === 0xfffd || (char !== '\t' && char !== '\n' && char !== '\r' && CONTROL.test(char))) continue;
    cleaned += /^\s$/.test(char) ? ' ' : char;
  }
  let spaced = '';
  for (let i = 0; i < cleaned.length; i++) {
    const unit = cleaned[i]!;
    spaced += isChinese(unit.charCodeAt(0)) ? ` ${unit} ` : unit;
  }
  const normalized = spaced.toLowerCase().normalize('NFD').replace(MARK, '');
  return normalized.trim().match(PRE_TOKEN) ?? [];
}

export interface Vocabulary {
  /** Id -> token: the special tokens, then words by falling count (ties in code-unit order). */
  tokens: string[];
  ids: Map<string, number>;
  /** Occurrences of each token in the corpus (0 for the special tokens). */
  counts: Float64Array;
  /** Token occurrences in the corpus, known or not. */
  totalTokens: number;
}

/**
 * Whole words seen at least `minCount` times, at most `maxWords` of them. WordPiece maps a word outside the
 * vocabulary to [UNK] as a whole (no piece of it is in the vocabulary under the `##` prefix), so a word is either
 * its own id or unknown; the tokenizers library also makes any word over 100 characters unknown.
 */
export function buildVocabulary(
  texts: readonly string[][],
  options: { minCount: number; maxWords: number },
): Vocabulary {
  const seen = new Map<string, number>();
  let totalTokens = 0;
  for (const words of texts) {
    for (const word of words) {
      totalTokens++;
      seen.set(word, (seen.get(word) ?? 0) + 1);
    }
  }
  const special = new Set<string>(SPECIAL_TOKENS);
  const words = [...seen]
    .filter(([word, count]) => count >= options.minCount && !special.has(word) && [...word].length <= 100)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, options.maxWords);
  const tokens = [...SPECIAL_TOKENS, ...words.map(([word]) => word)];
  const counts = new Float64Array(tokens.length);
  words.forEach(([, count], i) => (counts[FIRST_WORD_ID + i] = count));
  return { tokens, ids: new Map(tokens.map((token, id) => [token, id])), counts, totalTokens };
}

/** A text's word ids as the exported tokenizer gives them, without [CLS]/[SEP]: unknown words are [UNK]. */
export function encodeWords(vocab: Vocabulary, words: readonly string[]): number[] {
  const unk = vocab.ids.get(UNK)!;
  return words.map((word) => vocab.ids.get(word) ?? unk);
}

// ---------------------------------------------------------------------------------------------- counts, PPMI

/** A sparse matrix in compressed rows. */
export interface SparseMatrix {
  rows: number;
  cols: number;
  rowStart: Int32Array;
  col: Int32Array;
  value: Float64Array;
}

/**
 * Symmetric co-occurrence counts of known words within `window` positions of each other in the same text, each
 * pair weighted 1/distance (nearer words say more). Unknown words are dropped first, as word2vec does. Rows are
 * accumulated a block at a time in a dense buffer, so memory stays at `blockRows` x vocabulary.
 */
export function cooccurrence(
  corpus: readonly number[][],
  vocabSize: number,
  window: number,
  blockRows = 256,
): SparseMatrix {
  const texts = corpus.map((ids) => ids.filter((id) => id >= FIRST_WORD_ID));
  const rowStart = new Int32Array(vocabSize + 1);
  const cols: number[] = [];
  const values: number[] = [];
  const weights = Array.from({ length: window + 1 }, (_, d) => (d === 0 ? 0 : 1 / d));
  for (let first = 0; first < vocabSize; first += blockRows) {
    const last = Math.min(vocabSize, first + blockRows);
    const dense = new Float64Array((last - first) * vocabSize);
    for (const ids of texts) {
      for (let i = 0; i < ids.length; i++) {
        const row = ids[i]!;
        if (row < first || row >= last) continue;
        const base = (row - first) * vocabSize;
        const from = Math.max(0, i - window);
        const to = Math.min(ids.length - 1, i + window);
        for (let j = from; j <= to; j++) if (j !== i) dense[base + ids[j]!]! += weights[Math.abs(i - j)]!;
      }
    }
    for (let row = first; row < last; row++) {
      const base = (row - first) * vocabSize;
      for (let c = 0; c < vocabSize; c++) {
        const v = dense[base + c]!;
        if (v !== 0) {
          cols.push(c);
          values.push(v);
        }
      }
      rowStart[row + 1] = cols.length;
    }
  }
  return { rows: vocabSize, cols: vocabSize, rowStart, col: Int32Array.from(cols), value: Float64Array.from(values) };
}

/**
 * Positive pointwise mutual information, max(0, log(P(w,c) / (P(w) P_alpha(c)))), with the context distribution
 * smoothed by `alpha` (counts^0.75, as word2vec's negative sampling), which keeps rare contexts from dominating.
 */
export function ppmi(counts: SparseMatrix, alpha: number): SparseMatrix {
  const rowSum = new Float64Array(counts.rows);
  const colSum = new Float64Array(counts.cols);
  let total = 0;
  for (let r = 0; r < counts.rows; r++) {
    for (let k = counts.rowStart[r]!; k < counts.rowStart[r + 1]!; k++) {
      const v = counts.value[k]!;
      rowSum[r]! += v;
      colSum[counts.col[k]!]! += v;
      total += v;
    }
  }
  let smoothedTotal = 0;
  const smoothed = colSum.map((c) => {
    const s = c > 0 ? Math.pow(c, alpha) : 0;
    smoothedTotal += s;
    return s;
  });
  const rowStart = new Int32Array(counts.rows + 1);
  const col: number[] = [];
  const value: number[] = [];
  for (let r = 0; r < counts.rows; r++) {
    for (let k = counts.rowStart[r]!; k < counts.rowStart[r + 1]!; k++) {
      const c = counts.col[k]!;
      const pmi = Math.log((counts.value[k]! / total / (rowSum[r]! / total)) * (smoothedTotal / smoothed[c]!));
      if (pmi > 0) {
        col.push(c);
        value.push(pmi);
      }
    }
    rowStart[r + 1] = col.length;
  }
  return { rows: counts.rows, cols: counts.cols, rowStart, col: Int32Array.from(col), value: Float64Array.from(value) };
}

// ---------------------------------------------------------------------------------------------- SVD

/** A dense matrix, row-major. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

function dense(rows: number, cols: number): DenseMatrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** A (rows x n) = M (rows x cols) . X (cols x n). */
function multiply(m: SparseMatrix, x: DenseMatrix): DenseMatrix {
  const n = x.cols;
  const out = dense(m.rows, n);
  for (let r = 0; r < m.rows; r++) {
    const o = r * n;
    for (let k = m.rowStart[r]!; k < m.rowStart[r + 1]!; k++) {
      const v = m.value[k]!;
      const xo = m.col[k]! * n;
      for (let j = 0; j < n; j++) out.data[o + j]! += v * x.data[xo + j]!;
    }
  }
  return out;
}

/** Mᵀ (cols x rows) . X (rows x n). */
function multiplyTransposed(m: SparseMatrix, x: DenseMatrix): DenseMatrix {
  const n = x.cols;
  const out = dense(m.cols, n);
  for (let r = 0; r < m.rows; r++) {
    const xo = r * n;
    for (let k = m.rowStart[r]!; k < m.rowStart[r + 1]!; k++) {
      const v = m.value[k]!;
      const o = m.col[k]! * n;
      for (let j = 0; j < n; j++) out.data[o + j]! += v * x.data[xo + j]!;
    }
  }
  return out;
}

/**
 * Orthonormal columns spanning X's, by modified Gram-Schmidt run twice (once loses orthogonality in float).
 * Columns are copied out to contiguous arrays first: strided access made this the slowest step of training.
 */
function orthonormalize(x: DenseMatrix, passes = 2): DenseMatrix {
  const { rows, cols, data } = x;
  const columns = Array.from({ length: cols }, (_, j) =>
    Float64Array.from({ length: rows }, (_, r) => data[r * cols + j]!),
  );
  for (let pass = 0; pass < passes; pass++) {
    for (let j = 0; j < cols; j++) {
      const cj = columns[j]!;
      for (let i = 0; i < j; i++) {
        const ci = columns[i]!;
        let d = 0;
        for (let r = 0; r < rows; r++) d += ci[r]! * cj[r]!;
        for (let r = 0; r < rows; r++) cj[r]! -= d * ci[r]!;
      }
      let n = 0;
      for (let r = 0; r < rows; r++) n += cj[r]! ** 2;
      n = Math.sqrt(n);
      // A column already in the span of the previous ones (a rank-deficient matrix) becomes zero, not noise.
      for (let r = 0; r < rows; r++) cj[r] = n > 1e-12 ? cj[r]! / n : 0;
    }
  }
  const q = dense(rows, cols);
  columns.forEach((c, j) => c.forEach((v, r) => (q.data[r * cols + j] = v)));
  return q;
}

/**
 * Eigenvalues (descending) and eigenvectors (columns) of a small symmetric matrix, by cyclic Jacobi rotations:
 * slow in theory, exact and deterministic, and the matrices here are only (dims + oversampling) wide.
 */
export function symmetricEigen(a: DenseMatrix): { values: Float64Array; vectors: DenseMatrix } {
  const n = a.rows;
  const m = Float64Array.from(a.data);
  const v = dense(n, n);
  for (let i = 0; i < n; i++) v.data[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p]!;
          const mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k]!;
          const mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v.data[k * n + p]!;
          const vkq = v.data[k * n + q]!;
          v.data[k * n + p] = c * vkp - s * vkq;
          v.data[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => m[j * n + j]! - m[i * n + i]! || i - j);
  const values = Float64Array.from(order, (i) => m[i * n + i]!);
  const vectors = dense(n, n);
  order.forEach((from, to) => {
    // Each eigenvector's sign is fixed (largest component positive), so it does not depend on rotation order.
    let big = 0;
    for (let k = 0; k < n; k++) if (Math.abs(v.data[k * n + from]!) > Math.abs(big)) big = v.data[k * n + from]!;
    const sign = big < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors.data[k * n + to] = sign * v.data[k * n + from]!;
  });
  return { values, vectors };
}

function gaussian(rows: number, cols: number, random: () => number): DenseMatrix {
  const out = dense(rows, cols);
  for (let i = 0; i < out.data.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const theta = 2 * Math.PI * random();
    out.data[i] = r * Math.cos(theta);
    if (i + 1 < out.data.length) out.data[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/**
 * The top `rank` left singular vectors and values of a sparse matrix, by randomised subspace iteration (Halko,
 * Martinsson, Tropp 2011): a seeded Gaussian sketch, `iterations` rounds of M Mᵀ, then the exact SVD of the small
 * projected matrix through the eigenvectors of B Bᵀ. The basis is re-orthonormalised once per round, by one
 * Gram-Schmidt pass (two for the last): PPMI spectra fall slowly, so a round of M Mᵀ only squares a small
 * condition number, and orthonormalisation is most of the cost.
 */
export function truncatedSvd(
  m: SparseMatrix,
  rank: number,
  options: { oversample?: number; iterations?: number; seed?: number } = {},
): { u: DenseMatrix; s: Float64Array } {
  const width = Math.min(rank + (options.oversample ?? 10), m.rows, m.cols);
  const iterations = options.iterations ?? 4;
  let q = orthonormalize(multiply(m, gaussian(m.cols, width, createRng(options.seed ?? 1))), iterations ? 1 : 2);
  for (let i = 0; i < iterations; i++) {
    q = orthonormalize(multiply(m, multiplyTransposed(m, q)), i === iterations - 1 ? 2 : 1);
  }
  // B = Qᵀ M is width x cols; held as its transpose (Mᵀ Q, cols x width).
  const bt = multiplyTransposed(m, q);
  const bbt = dense(width, width);
  for (let r = 0; r < bt.rows; r++) {
    const o = r * width;
    for (let i = 0; i < width; i++) {
      const x = bt.data[o + i]!;
      if (x === 0) continue;
      for (let j = i; j < width; j++) bbt.data[i * width + j]! += x * bt.data[o + j]!;
    }
  }
  for (let i = 0; i < width; i++) for (let j = 0; j < i; j++) bbt.data[i * width + j] = bbt.data[j * width + i]!;
  const { values, vectors } = symmetricEigen(bbt);
  const k = Math.min(rank, width);
  const u = dense(m.rows, k);
  for (let r = 0; r < m.rows; r++) {
    for (let j = 0; j < k; j++) {
      let sum = 0;
      for (let i = 0; i < width; i++) sum += q.data[r * width + i]! * vectors.data[i * width + j]!;
      u.data[r * k + j] = sum;
    }
  }
  return { u, s: Float64Array.from(values.subarray(0, k), (x) => Math.sqrt(Math.max(0, x))) };
}

// ---------------------------------------------------------------------------------------------- word vectors

export interface WordVectorOptions {
  dims: number;
  /** Co-occurrence window, in words either side. */
  window: number;
  minCount: number;
  maxWords: number;
  /** Context distribution smoothing of PPMI. */
  alpha: number;
  /** Word vectors are U Σ^p: 0.5 weights the dimensions by how much of the matrix each explains, but less than 1. */
  eigenPower: number;
  /** Smooth inverse frequency a / (a + p(w)) (Arora, Liang, Ma 2017): frequent words weigh less in a mean. */
  sifA: number;
  seed: number;
  svdIterations: number;
}

export const DEFAULT_WORD_VECTOR_OPTIONS: WordVectorOptions = {
  dims: 128,
  window: 5,
  minCount: 3,
  maxWords: 20_000,
  alpha: 0.75,
  eigenPower: 0.5,
  sifA: 1e-3,
  seed: 42,
  svdIterations: 4,
};

export interface WordVectors {
  vocab: Vocabulary;
  dims: number;
  /** One row per token id (vocab.tokens order), row-major: what the model's embedding table holds. */
  table: Float32Array;
  /** Singular values of the PPMI matrix that the dimensions come from, largest first. */
  singularValues: Float64Array;
  /** Nonzeros of the PPMI matrix. */
  nonzeros: number;
}

/** The direction shared by most sentence means (SIF's common component): the top eigenvector of Σ x xᵀ. */
function commonDirection(sentences: readonly Float64Array[], dims: number): Float64Array {
  const moment = dense(dims, dims);
  for (const x of sentences) {
    for (let i = 0; i < dims; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      for (let j = i; j < dims; j++) moment.data[i * dims + j]! += xi * x[j]!;
    }
  }
  for (let i = 0; i < dims; i++) for (let j = 0; j < i; j++) moment.data[i * dims + j] = moment.data[j * dims + i]!;
  const { vectors } = symmetricEigen(moment);
  return Float64Array.from({ length: dims }, (_, i) => vectors.data[i * dims]!);
}

/**
 * Trains word vectors on pre-tokenised texts (basicTokens). Each word's row is its unit-length SVD vector times
 * its SIF weight, with the corpus's common direction projected out; a text's mean row is then SIF's sentence
 * vector. [CLS] and [SEP] (in every text the tokenizer makes) get a tiny fixed vector, so a text of only unknown
 * words still has a direction; [UNK], [PAD] and [MASK] are zero.
 */
export function trainWordVectors(texts: readonly string[][], options: WordVectorOptions): WordVectors {
  const vocab = buildVocabulary(texts, options);
  const corpus = texts.map((words) => encodeWords(vocab, words));
  const matrix = ppmi(cooccurrence(corpus, vocab.tokens.length, options.window), options.alpha);
  const { u, s } = truncatedSvd(matrix, options.dims, { seed: options.seed, iterations: options.svdIterations });
  const dims = u.cols;
  const V = vocab.tokens.length;
  const rows = new Float64Array(V * dims);
  for (let w = FIRST_WORD_ID; w < V; w++) {
    let n = 0;
    for (let j = 0; j < dims; j++) {
      const x = u.data[w * dims + j]! * Math.pow(s[j]!, options.eigenPower);
      rows[w * dims + j] = x;
      n += x * x;
    }
    // A word with no positive PMI with anything (every context is a frequent word) has no vector.
    const weight = n > 0 ? options.sifA / (options.sifA + vocab.counts[w]! / vocab.totalTokens) / Math.sqrt(n) : 0;
    for (let j = 0; j < dims; j++) rows[w * dims + j]! *= weight;
  }
  const means = corpus.map((ids) => {
    const mean = new Float64Array(dims);
    for (const id of ids) for (let j = 0; j < dims; j++) mean[j]! += rows[id * dims + j]!;
    return mean;
  });
  const common = commonDirection(means, dims);
  for (let w = 0; w < V; w++) {
    let d = 0;
    for (let j = 0; j < dims; j++) d += rows[w * dims + j]! * common[j]!;
    for (let j = 0; j < dims; j++) rows[w * dims + j]! -= d * common[j]!;
  }
  // Far below any word's weight (SIF weights are at least a / (a + 1) ~ 1e-3 for the commonest word).
  const marker = 1e-6 / Math.sqrt(dims);
  for (const token of [CLS, SEP]) {
    const id = vocab.ids.get(token)!;
    for (let j = 0; j < dims; j++) rows[id * dims + j] = marker;
  }
  return { vocab, dims, table: Float32Array.from(rows), singularValues: s, nonzeros: matrix.value.length };
}

// ---------------------------------------------------------------------------------------------- export, use

/** Each row as int8 with its own float32 scale (max |x| / 127): rows differ in length by SIF weighting. */
export function quantizeRows(table: Float32Array, dims: number): { q: Int8Array; scales: Float32Array } {
  const rows = table.length / dims;
  const q = new Int8Array(table.length);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let j = 0; j < dims; j++) max = Math.max(max, Math.abs(table[r * dims + j]!));
    const scale = max > 0 ? max / 127 : 1;
    scales[r] = scale;
    for (let j = 0; j < dims; j++) q[r * dims + j] = Math.round(table[r * dims + j]! / scale);
  }
  return { q, scales };
}

/**
 * What the exported model gives for a text's token ids (with [CLS]/[SEP]): the mean of their rows, unit length,
 * with float32 rounding as ONNX Runtime and transformers.js do it. A reference for tests and evaluation.
 */
export function sentenceVector(table: ArrayLike<number>, dims: number, ids: readonly number[]): Float32Array {
  const sum = new Float32Array(dims);
  for (const id of ids) for (let j = 0; j < dims; j++) sum[j]! += table[id * dims + j]!;
  let n = 0;
  for (let j = 0; j < dims; j++) {
    sum[j] = sum[j]! / ids.length;
    n += sum[j]! ** 2;
  }
  n = Math.sqrt(n);
  return sum.map((x) => (n > 0 ? x / n : 0));
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative, ties
 * counting half (Mann-Whitney U). 0.5 is chance.
 */
export function rocAuc(positives: readonly number[], negatives: readonly number[]): number {
  if (!positives.length || !negatives.length) throw new RangeError('AUC needs positives and negatives');
  const all = [
    ...positives.map((score) => ({ score, positive: true })),
    ...negatives.map((score) => ({ score, positive: false })),
  ].sort((a, b) => a.score - b.score);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.score === all[i]!.score) j++;
    // Tied scores share the mean of their ranks (1-based).
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.positive) rankSum += rank;
    i = j;
  }
  const p = positives.length;
  return (rankSum - (p * (p + 1)) / 2) / (p * negatives.length);
}
