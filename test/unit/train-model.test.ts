import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUILTIN_MODEL,
  TrainModelError,
  buildLocalModel,
  builtinCorpus,
  ensureTrainedModel,
  labelPairAuc,
  parseGoEmotions,
  putTrainedModel,
  readCorpus,
  referenceVector,
  type Corpus,
  type TrainedModel,
} from '../../scripts/train-model.ts';
import {
  DEFAULT_WORD_VECTOR_OPTIONS,
  basicTokens,
  buildVocabulary,
  cooccurrence,
  encodeWords,
  ppmi,
  rocAuc,
  symmetricEigen,
  trainWordVectors,
  truncatedSvd,
  type SparseMatrix,
  type WordVectorOptions,
} from '../../src/word-vectors.ts';
import { bucketName, userPicksModel, varValues } from '../../scripts/dev.ts';

function corpusOf(texts: string[]): Corpus {
  return { source: 'builtin', file: null, texts, bytes: new TextEncoder().encode(texts.join('\n')) };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! ** 2;
    nb += b[i]! ** 2;
  }
  return d / Math.sqrt(na * nb);
}

/** Two themes that never share a sentence, plus function words shared by both. */
const TWO_THEMES = [
  ...Array.from(
    { length: 30 },
    (_, i) =>
      [
        'the cat and the dog sat on the mat',
        'a dog chased the cat in the yard',
        'my cat purrs and my dog barks',
        'the kitten and the puppy play',
      ][i % 4]!,
  ),
  ...Array.from(
    { length: 30 },
    (_, i) =>
      [
        'the stock market fell and the bond price rose',
        'a bank raised the interest rate on the loan',
        'my stock and my bond lost value',
        'the market and the bank trade shares',
      ][i % 4]!,
  ),
];

const SMALL: WordVectorOptions = { ...DEFAULT_WORD_VECTOR_OPTIONS, dims: 8, minCount: 2, sifA: 0.03 };

function rowOf(vectors: ReturnType<typeof trainWordVectors>, word: string): Float32Array {
  const id = vectors.vocab.ids.get(word);
  if (id === undefined) throw new Error(`${word} not in the vocabulary`);
  return vectors.table.subarray(id * vectors.dims, (id + 1) * vectors.dims);
}

describe('word vectors: tokens and vocabulary', () => {
  it('pre-tokenises as BERT does: lower case, accents stripped, punctuation split off, controls dropped', () => {
    expect(basicTokens('Héllo, [NAME]! It\u0000s 10:30\u200b… 猫猫 ok')).toEqual([
      'hello',
      ',',
      '[',
      'name',
      ']',
      '!',
      'its',
      '10',
      ':',
      '30',
      '…',
      '猫',
      '猫',
      'ok',
    ]);
  });

  it('keeps words seen often enough, most frequent first, after the special tokens; others are unknown', () => {
    const vocab = buildVocabulary([['b', 'a', 'b'], ['c', 'a', 'b'], ['[UNK]']], { minCount: 2, maxWords: 10 });
    expect(vocab.tokens).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'b', 'a']);
    expect(encodeWords(vocab, ['a', 'c', 'b'])).toEqual([6, 1, 5]);
    expect(vocab.totalTokens).toBe(7);
    expect(buildVocabulary([['b', 'a', 'b', 'a', 'c']], { minCount: 1, maxWords: 2 }).tokens.slice(5)).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('word vectors: counts, PPMI, SVD', () => {
  it('counts each pair within the window once per direction, nearer pairs weighing more', () => {
    // ids 5, 6, 7 in a row, and an unknown word (1) that is dropped before counting.
    const m = cooccurrence([[5, 1, 6, 7]], 8, 1, 3);
    const at = (r: number, c: number) => {
      for (let k = m.rowStart[r]!; k < m.rowStart[r + 1]!; k++) if (m.col[k] === c) return m.value[k]!;
      return 0;
    };
    expect([at(5, 6), at(6, 5), at(6, 7), at(7, 6), at(5, 7)]).toEqual([1, 1, 1, 1, 0]);
    const wide = cooccurrence([[5, 6, 7]], 8, 2);
    for (let k = wide.rowStart[5]!; k < wide.rowStart[6]!; k++) {
      expect(wide.value[k]).toBe(wide.col[k] === 6 ? 1 : 0.5);
    }
  });

  it('PPMI is positive only for pairs seen more often than chance', () => {
    // Words 0 and 1 always together, 2 and 3 always together: cross pairs never occur.
    const counts: SparseMatrix = {
      rows: 4,
      cols: 4,
      rowStart: Int32Array.of(0, 2, 4, 6, 8),
      col: Int32Array.of(1, 2, 0, 3, 0, 3, 1, 2),
      value: Float64Array.of(10, 1, 10, 1, 1, 10, 1, 10),
    };
    const m = ppmi(counts, 1);
    expect(Array.from(m.col.subarray(m.rowStart[0], m.rowStart[1]))).toEqual([1]);
    expect(m.value[0]).toBeCloseTo(Math.log(10 / 44 / ((11 / 44) * (11 / 44))), 10);
  });

  it('symmetric eigen-decomposition reconstructs the matrix', () => {
    const a = { rows: 3, cols: 3, data: Float64Array.of(4, 1, 2, 1, 3, 0, 2, 0, 5) };
    const { values, vectors } = symmetricEigen(a);
    expect(values[0]).toBeGreaterThanOrEqual(values[1]!);
    expect(values[1]).toBeGreaterThanOrEqual(values[2]!);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let sum = 0;
        for (let k = 0; k < 3; k++) sum += vectors.data[i * 3 + k]! * values[k]! * vectors.data[j * 3 + k]!;
        expect(sum).toBeCloseTo(a.data[i * 3 + j]!, 9);
      }
    }
  });

  it('truncated SVD finds the largest singular values of a sparse matrix', () => {
    // A diagonal matrix has its absolute diagonal as singular values; the top three are 9, 7 and 5.
    const diagonal = [1, 9, 2, 7, 3, 5, 0.5, 4, 1.5, 2.5];
    const n = diagonal.length;
    const m: SparseMatrix = {
      rows: n,
      cols: n,
      rowStart: Int32Array.from({ length: n + 1 }, (_, i) => i),
      col: Int32Array.from({ length: n }, (_, i) => i),
      value: Float64Array.from(diagonal),
    };
    const { u, s } = truncatedSvd(m, 3, { oversample: 4, iterations: 3 });
    expect(Array.from(s)).toEqual([expect.closeTo(9, 4), expect.closeTo(7, 4), expect.closeTo(5, 4)]);
    // Its first singular vector is the second basis vector (up to sign).
    expect(Math.abs(u.data[1 * 3 + 0]!)).toBeCloseTo(1, 4);
  });
});

describe('word vectors: training', () => {
  const vectors = trainWordVectors(
    TWO_THEMES.map((text) => basicTokens(text)),
    SMALL,
  );

  it('words that share contexts are closer than words of the other theme', () => {
    const near = cosine(rowOf(vectors, 'cat'), rowOf(vectors, 'dog'));
    const far = cosine(rowOf(vectors, 'cat'), rowOf(vectors, 'stock'));
    expect(near).toBeGreaterThan(far + 0.3);
    expect(cosine(rowOf(vectors, 'stock'), rowOf(vectors, 'bond'))).toBeGreaterThan(
      cosine(rowOf(vectors, 'stock'), rowOf(vectors, 'puppy')) + 0.3,
    );
  });

  it('sentences on the same theme are closer than sentences on different ones, even with no shared word', () => {
    const pets = referenceVector(vectors, 'kitten purrs');
    const pets2 = referenceVector(vectors, 'dog barks');
    const money = referenceVector(vectors, 'loan interest');
    expect(cosine(pets, pets2)).toBeGreaterThan(cosine(pets, money) + 0.3);
  });

  it('a text of unknown words still has a direction ([CLS]/[SEP]); [UNK] itself adds nothing', () => {
    const unknown = referenceVector(vectors, 'zzz qqq');
    expect(unknown.every(Number.isFinite)).toBe(true);
    expect(cosine(unknown, unknown)).toBeCloseTo(1, 6);
    expect(cosine(referenceVector(vectors, 'cat zzz'), referenceVector(vectors, 'cat'))).toBeCloseTo(1, 6);
  });
});

describe('AUC', () => {
  it('is 1 for perfect separation, 0 reversed, 0.5 for ties, and counts ties half', () => {
    expect(rocAuc([3, 4], [1, 2])).toBe(1);
    expect(rocAuc([1, 2], [3, 4])).toBe(0);
    expect(rocAuc([1, 1], [1, 1])).toBe(0.5);
    expect(rocAuc([2, 1], [1, 0])).toBe(0.875);
    expect(() => rocAuc([], [1])).toThrow(RangeError);
  });

  it('scores same-label pairs against different-label pairs, with and without the neutral label', () => {
    const labels = ['a', 'a', 'b', 'b', '27', '27'];
    const auc = labelPairAuc(labels, (i, j) => (labels[i] === labels[j] && labels[i] !== '27' ? 1 : 0), {
      pairs: 2000,
    });
    expect(auc.nonNeutral).toBe(1);
    expect(auc.all).toBeGreaterThan(0.5);
    expect(auc.all).toBeLessThan(1);
    expect(auc.pairs).toBe(2000);
  });
});

describe('corpus', () => {
  it('parses GoEmotions rows and rejects a file without its header', () => {
    expect(parseGoEmotions('text\tlabel\tid\nhi there\t4,27\tx1\n\nbye\t2\tx2\n')).toEqual([
      { text: 'hi there', labels: ['4', '27'] },
      { text: 'bye', labels: ['2'] },
    ]);
    expect(() => parseGoEmotions('hello\n')).toThrow(TrainModelError);
  });

  it('an explicit corpus that is missing is an error, not a silent fallback', () => {
    expect(() => readCorpus('/nonexistent/train.tsv')).toThrow(/corpus not found/);
  });
});

describe('the exported model', () => {
  let root: string;
  let made: TrainedModel;
  const corpus = corpusOf(TWO_THEMES);

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'train-model-test-'));
    made = await ensureTrainedModel({ root, corpus: builtinCorpus() });
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('is byte-identical when trained twice on the same input, and its revision is its content hash', () => {
    const a = buildLocalModel(corpus, SMALL);
    const b = buildLocalModel(corpus, SMALL);
    expect(b.revision).toBe(a.revision);
    expect([...b.files.keys()]).toEqual([
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/model_quantized.onnx',
    ]);
    for (const [file, bytes] of a.files) expect(Buffer.compare(b.files.get(file)!, bytes)).toBe(0);
    const other = buildLocalModel(corpusOf(TWO_THEMES.slice(1)), SMALL);
    expect(other.revision).not.toBe(a.revision);
  });

  it('is cached by its inputs: a second call trains nothing and finds the same files', async () => {
    expect(made.model).toBe(BUILTIN_MODEL);
    expect(made.trained).toBe(true);
    const again = await ensureTrainedModel({ root, corpus: builtinCorpus() });
    expect(again.trained).toBe(false);
    expect(again.revision).toBe(made.revision);
    const stored = new Map<string, Uint8Array>();
    await putTrainedModel({ put: (key, value) => Promise.resolve(stored.set(key, value)) }, made);
    expect([...stored.keys()]).toEqual(made.files.map((file) => `${made.model}/${made.revision}/${file}`));
  });

  it('transformers.js loads it as a feature-extraction model and gives the reference sentence vectors', async () => {
    const { AutoTokenizer, env, pipeline } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    const tokenizer = await AutoTokenizer.from_pretrained(made.dir);
    // The same training in memory: the same revision as the files on disk, and its vectors as the reference.
    const built = buildLocalModel(builtinCorpus());
    expect(built.revision).toBe(made.revision);
    // The exported tokenizer produces exactly the ids training counted.
    for (const text of [
      'Thank you SO much!',
      'sorry, [NAME] :( so sad',
      'lol... Ünknöwn wörds',
      'Héllo, [NAME]! It\u0000s 10:30\u200b… 猫猫 ok 😂😂',
    ]) {
      const ids = tokenizer.encode(text);
      const cls = built.vectors.vocab.ids.get('[CLS]')!;
      const sep = built.vectors.vocab.ids.get('[SEP]')!;
      expect(ids).toEqual([cls, ...encodeWords(built.vectors.vocab, basicTokens(text)), sep]);
    }
    const extractor = await pipeline('feature-extraction', made.dir, { dtype: 'q8' });
    try {
      for (const text of ['thanks for the help', 'so sad, I miss her', 'zzz qqq']) {
        const output = await extractor(text, { pooling: 'mean', normalize: true });
        expect(output.dims).toEqual([1, made.dims]);
        const got = Array.from(output.data as Float32Array);
        const want = Array.from(referenceVector(built.vectors, text));
        got.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 5));
      }
    } finally {
      await extractor.dispose();
    }
    const config = JSON.parse(await readFile(path.join(made.dir, 'config.json'), 'utf8')) as { hidden_size: number };
    expect(config.hidden_size).toBe(made.dims);
  });
});

describe('npm run dev and the local model', () => {
  it('leaves the model alone when the developer picked one, with --var or in .dev.vars', () => {
    expect(varValues(['dev', '--var', 'A:1', 'B:2', '--port', '1', '--var=C:3'])).toEqual(['A:1', 'B:2', 'C:3']);
    expect(userPicksModel(['dev', '--var', 'EMBEDDING_MODEL:Xenova/all-MiniLM-L6-v2'], '')).toBe(true);
    expect(userPicksModel(['dev'], 'JWT_SECRET = "x"\nEMBEDDING_MODEL = "fixture/minilm-tiny"\n')).toBe(true);
    expect(userPicksModel(['dev', '--var', 'EMBEDDING_REVISION:main'], '# EMBEDDING_MODEL = "x"\n')).toBe(false);
  });

  it("finds the MODELS bucket's name in wrangler.toml", async () => {
    const toml = await readFile(path.resolve(import.meta.dirname, '../../wrangler.toml'), 'utf8');
    expect(bucketName(toml, 'MODELS')).toBe('edge-feed-models');
    expect(() => bucketName(toml, 'NOPE')).toThrow(/no \[\[r2_buckets\]\]/);
  });
});
