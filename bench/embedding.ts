/**
 * `sh scripts/with-node.sh node bench/embedding.ts [--posts N]`: the embedding model inside workerd, for the
 * architecture-equivalent fixtures of MiniLM-L6 and MiniLM-L3 (int8, real sizes, random weights): cold load
 * time, posts embedded per second, and the isolate's memory, next to the same model in plain Node
 * (onnxruntime-node) in the same run. Prints a Markdown table; `runEmbeddingBench` returns the figures.
 *
 * Memory: each model runs in a fresh workerd process that hosts nothing but workers/embedding/probe.ts.
 * - JS heap: the isolate's own V8 figure through workerd's inspector (Runtime.getHeapUsage: used heap plus
 *   ArrayBuffer backing stores). `steady` is after the load and all posts, `peak` the largest of the samples
 *   taken between requests (before the load, after it, after every tenth of the posts);
 * - WASM: ORT's WebAssembly linear memory, read inside the isolate. It holds the weights, the activations and,
 *   while the session is created, the model bytes and their parsed copy; it grows and never shrinks;
 * - isolate = JS heap + WASM: what the 128 MB per-isolate limit is about;
 * - RSS: growth of the workerd process's VmRSS and VmHWM (/proc) over the idle process: an upper bound that
 *   also counts compiled WASM code, allocator slack and the local R2 simulator's buffers. Idle is VmRSS before
 *   the model loads (runtime, bundle, compiled ORT module, the uploaded model in the local bucket).
 * Node runs in a child process of its own, measured by RSS only (onnxruntime-node's memory is native).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { unstable_readConfig } from 'wrangler';
import {
  FIXTURE_SHAPES,
  FIXTURE_WORDS,
  ensureFixtureModel,
  type FixtureShapeName,
} from '../scripts/make-fixture-model.ts';
import { workerdPids } from './harness.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const MB = 2 ** 20;

export interface RuntimeFigures {
  /** Wall time of the first call, which loads the model (read from R2 or disk, parse, warm-up). */
  coldLoadMs: number;
  postsPerSecond: number;
  msPerPost: number;
  /** One post of 1,000 characters (truncated to the model's maximum tokens). */
  longPostMs: number;
  memory: {
    /** Isolate figures (JS heap, WASM): measured in workerd only. */
    heapSteadyMB: number | null;
    heapPeakMB: number | null;
    wasmMB: number | null;
    rssSteadyMB: number;
    rssPeakMB: number;
    idleMB: number;
  };
}

export interface EmbeddingBenchResult {
  posts: number;
  meanPostChars: number;
  models: {
    shape: FixtureShapeName;
    model: string;
    layers: number;
    hidden: number;
    onnxMB: number;
    workerd: RuntimeFigures;
    node: RuntimeFigures;
    nodeOneThread: RuntimeFigures;
  }[];
}

/** Deterministic posts of 5 to 50 words (about 25 to 300 characters), like short social posts. */
export function benchPosts(count: number, seed = 7): string[] {
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: count }, (_, i) => {
    const words = 5 + Math.floor(next() * 46);
    const text = Array.from({ length: words }, () => FIXTURE_WORDS[Math.floor(next() * FIXTURE_WORDS.length)]).join(
      ' ',
    );
    return `${text} #${i % 17}`;
  });
}

export function longPost(): string {
  let text = '';
  for (let i = 0; text.length < 1000; i++) text += `${FIXTURE_WORDS[(i * 31) % FIXTURE_WORDS.length]} `;
  return text.slice(0, 1000);
}

// ------------------------------------------------------------------------------------------------ /proc

function procStatus(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

// ------------------------------------------------------------------------------------------------ workerd

/** A free loopback port for workerd's inspector. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One isolate's heap figures through the DevTools protocol that workerd's inspector speaks. */
async function connectInspector(
  port: number,
  target: string,
): Promise<{ heapBytes(): Promise<number>; close(): void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    id: string;
    webSocketDebuggerUrl: string;
  }[];
  const url = targets.find((t) => t.id === target)?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target ${target}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (event: MessageEvent<string>) => {
    const message = JSON.parse(event.data) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  let nextId = 0;
  const send = (method: string) =>
    new Promise<unknown>((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method }));
    });
  return {
    async heapBytes() {
      const usage = (await send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
      return usage.usedSize + (usage.backingStorageSize ?? 0);
    },
    close: () => ws.close(),
  };
}

/** The probe Worker bundled by `wrangler deploy --dry-run`, with the service's compatibility settings and aliases. */
function buildProbe(outDir: string, workDir: string): { compatibilityDate: string; compatibilityFlags: string[] } {
  // wrangler's own reading of the file (its types do not resolve outside wrangler, hence the shape here).
  const config = unstable_readConfig({ config: path.join(ROOT, 'wrangler.toml') }) as unknown as {
    alias?: Record<string, string>;
    compatibility_date?: string;
    compatibility_flags: string[];
  };
  const alias = Object.fromEntries(
    Object.entries(config.alias ?? {}).map(([from, to]) => [from, to.startsWith('.') ? path.resolve(ROOT, to) : to]),
  );
  const compatibilityDate = config.compatibility_date ?? '2026-11-01';
  const compatibilityFlags = config.compatibility_flags;
  const configPath = path.join(workDir, 'wrangler.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      name: 'embedding-probe',
      main: path.join(ROOT, 'workers/embedding/probe.ts'),
      compatibility_date: compatibilityDate,
      compatibility_flags: compatibilityFlags,
      alias,
      r2_buckets: [{ binding: 'MODELS', bucket_name: 'bench-models' }],
    }),
  );
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
      'deploy',
      '--dry-run',
      '--outdir',
      outDir,
      '--config',
      configPath,
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  );
  return { compatibilityDate, compatibilityFlags };
}

interface ProbeAnswer {
  state: { status: string; reason?: string; loadMs?: number };
  embedded?: number;
  wasmMemoryBytes: number | null;
}

async function runInWorkerd(
  name: FixtureShapeName,
  probe: { outDir: string; compatibilityDate: string; compatibilityFlags: string[] },
  posts: string[],
): Promise<RuntimeFigures> {
  const fixture = await ensureFixtureModel(name);
  const before = new Set(workerdPids());
  const inspectorPort = await freePort();
  const modules = readdirSync(probe.outDir)
    .filter((f) => f.endsWith('.js') || f.endsWith('.wasm'))
    // The entry (probe.js) first: workerd takes the first module as the main one.
    .sort((a, b) => Number(b.endsWith('.js')) - Number(a.endsWith('.js')))
    .map((f): { type: 'CompiledWasm' | 'ESModule'; path: string } => ({
      type: f.endsWith('.wasm') ? 'CompiledWasm' : 'ESModule',
      path: path.join(probe.outDir, f),
    }));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      log: new Log(LogLevel.WARN),
      cf: false,
      inspectorPort,
      workers: [
        {
          name: 'embedding-probe',
          modules,
          modulesRoot: probe.outDir,
          compatibilityDate: probe.compatibilityDate,
          compatibilityFlags: probe.compatibilityFlags,
          r2Buckets: ['MODELS'],
          bindings: {
            EMBEDDING_MODEL: fixture.model,
            EMBEDDING_REVISION: fixture.revision,
            EMBEDDING_DTYPE: fixture.dtype,
            EMBEDDING_SOURCE: 'r2',
          },
        },
      ],
    }),
  );
  try {
    await mf.ready;
    const pid = workerdPids().find((p) => !before.has(p));
    if (pid === undefined) throw new Error('cannot find the workerd process Miniflare started');
    // Typed with Workers types this Node project does not load; put is all that is used.
    const bucket = (await mf.getR2Bucket('MODELS')) as unknown as {
      put(key: string, value: Uint8Array): Promise<unknown>;
    };
    for (const file of fixture.files) {
      await bucket.put(`${fixture.model}/${fixture.revision}/${file}`, readFileSync(path.join(fixture.dir, file)));
    }
    const call = async (route: string, body?: unknown): Promise<ProbeAnswer> => {
      const res = await mf.dispatchFetch(`http://probe.local${route}`, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      return (await res.json()) as ProbeAnswer;
    };
    await call('/state');
    const inspector = await connectInspector(inspectorPort, 'core:user:embedding-probe');
    try {
      const idle = procStatus(pid).rss;
      const heap = [await inspector.heapBytes()];
      let started = performance.now();
      const first = await call('/embed', { texts: ['warm-up'] });
      const coldLoadMs = performance.now() - started;
      if (first.state.status !== 'ready') throw new Error(`model did not load: ${JSON.stringify(first.state)}`);
      heap.push(await inspector.heapBytes());
      // In slices, so the heap is sampled along the way.
      const slice = Math.max(1, Math.ceil(posts.length / 10));
      let elapsed = 0;
      for (let i = 0; i < posts.length; i += slice) {
        started = performance.now();
        const answer = await call('/embed', { texts: posts.slice(i, i + slice) });
        elapsed += performance.now() - started;
        if (answer.embedded !== Math.min(slice, posts.length - i))
          throw new Error(`embedding failed: ${JSON.stringify(answer)}`);
        heap.push(await inspector.heapBytes());
      }
      const long = longPost();
      started = performance.now();
      const longs = await call('/embed', { texts: [long, long, long] });
      const longPostMs = (performance.now() - started) / 3;
      const steady = await inspector.heapBytes();
      heap.push(steady);
      const end = procStatus(pid);
      return {
        coldLoadMs,
        postsPerSecond: (posts.length / elapsed) * 1000,
        msPerPost: elapsed / posts.length,
        longPostMs,
        memory: {
          heapSteadyMB: steady / MB,
          heapPeakMB: Math.max(...heap) / MB,
          wasmMB: longs.wasmMemoryBytes === null ? null : longs.wasmMemoryBytes / MB,
          rssSteadyMB: (end.rss - idle) / MB,
          rssPeakMB: (end.hwm - idle) / MB,
          idleMB: idle / MB,
        },
      };
    } finally {
      inspector.close();
    }
  } finally {
    await mf.dispose();
  }
}

// ------------------------------------------------------------------------------------------------ Node

/** The same model and posts in plain Node (transformers.js on onnxruntime-node), in a child process of its own. */
async function runInNode(name: FixtureShapeName, postsFile: string, threads: number | null): Promise<RuntimeFigures> {
  const fixture = await ensureFixtureModel(name);
  const child = spawn(
    process.execPath,
    [import.meta.filename, '--node-child', fixture.dir, fixture.dtype, postsFile, String(threads ?? 0)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`node baseline exited with ${code}`);
  return JSON.parse(out) as RuntimeFigures;
}

async function nodeChild(dir: string, dtype: string, postsFile: string, threads: number): Promise<void> {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  const posts = JSON.parse(readFileSync(postsFile, 'utf8')) as string[];
  const idle = procStatus(process.pid).rss;
  let started = performance.now();
  const extractor = await pipeline('feature-extraction', dir, {
    dtype: dtype as 'q8',
    ...(threads > 0 ? { session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 } } : {}),
  });
  await extractor('warm-up', { pooling: 'mean', normalize: true });
  const coldLoadMs = performance.now() - started;
  started = performance.now();
  for (const post of posts) await extractor(post, { pooling: 'mean', normalize: true });
  const elapsed = performance.now() - started;
  const long = longPost();
  started = performance.now();
  for (let i = 0; i < 3; i++) await extractor(long, { pooling: 'mean', normalize: true });
  const longPostMs = (performance.now() - started) / 3;
  const end = procStatus(process.pid);
  const figures: RuntimeFigures = {
    coldLoadMs,
    postsPerSecond: (posts.length / elapsed) * 1000,
    msPerPost: elapsed / posts.length,
    longPostMs,
    memory: {
      heapSteadyMB: null,
      heapPeakMB: null,
      wasmMB: null,
      rssSteadyMB: (end.rss - idle) / MB,
      rssPeakMB: (end.hwm - idle) / MB,
      idleMB: idle / MB,
    },
  };
  process.stdout.write(JSON.stringify(figures));
}

// ------------------------------------------------------------------------------------------------ run

export async function runEmbeddingBench(
  options: { posts?: number; shapes?: FixtureShapeName[]; log?: (line: string) => void } = {},
): Promise<EmbeddingBenchResult> {
  const log = options.log ?? (() => {});
  const posts = benchPosts(options.posts ?? 200);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'edge-feed-embedding-bench-'));
  try {
    const postsFile = path.join(workDir, 'posts.json');
    writeFileSync(postsFile, JSON.stringify(posts));
    const outDir = path.join(workDir, 'dist');
    log('bundling the probe worker');
    const probe = { outDir, ...buildProbe(outDir, workDir) };
    const models: EmbeddingBenchResult['models'] = [];
    for (const shape of options.shapes ?? (['minilm-l6', 'minilm-l3'] as const)) {
      log(`${shape}: generating the fixture (once; cached in .fixtures/)`);
      const fixture = await ensureFixtureModel(shape);
      const onnx = fixture.files.find((f) => f.endsWith('.onnx'))!;
      log(`${shape}: workerd`);
      const workerd = await runInWorkerd(shape, probe, posts);
      log(`${shape}: node`);
      const node = await runInNode(shape, postsFile, null);
      log(`${shape}: node, one thread`);
      const nodeOneThread = await runInNode(shape, postsFile, 1);
      models.push({
        shape,
        model: fixture.model,
        layers: FIXTURE_SHAPES[shape].layers,
        hidden: FIXTURE_SHAPES[shape].hidden,
        onnxMB: readFileSync(path.join(fixture.dir, onnx)).byteLength / MB,
        workerd,
        node,
        nodeOneThread,
      });
    }
    return { posts: posts.length, meanPostChars: posts.reduce((n, p) => n + p.length, 0) / posts.length, models };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

const fmt = (n: number | null, digits = 0) => (n === null ? '–' : n.toFixed(digits));

export function renderEmbedding(result: EmbeddingBenchResult): string {
  const rows = result.models.flatMap((m) =>
    (
      [
        ['workerd (WASM, 1 thread)', m.workerd],
        ['Node (onnxruntime-node)', m.node],
        ['Node, 1 thread', m.nodeOneThread],
      ] as const
    ).map(([where, f]) => {
      const { heapSteadyMB: heap, heapPeakMB: heapPeak, wasmMB: wasm } = f.memory;
      const isolate =
        heap === null || heapPeak === null || wasm === null ? '–' : `${fmt(heap + wasm)} / ${fmt(heapPeak + wasm)}`;
      return (
        `| ${m.shape} (${m.layers}×${m.hidden}, ${fmt(m.onnxMB, 1)} MB int8) | ${where} | ${fmt(f.coldLoadMs)} | ` +
        `${fmt(f.postsPerSecond, 1)} | ${fmt(f.msPerPost, 1)} | ${fmt(f.longPostMs, 1)} | ` +
        `${heap === null ? '–' : `${fmt(heap)} / ${fmt(heapPeak)}`} | ${fmt(wasm)} | ${isolate} | ` +
        `${fmt(f.memory.rssSteadyMB)} / ${fmt(f.memory.rssPeakMB)} | ${fmt(f.memory.idleMB)} |`
      );
    }),
  );
  return [
    `Embedding one post at a time, ${result.posts} posts of ${fmt(result.meanPostChars)} characters on average. ` +
      'Memory in MB, steady / peak: isolate JS heap, ORT WASM memory, isolate total (JS heap + WASM, against the ' +
      '128 MB limit), process RSS growth, idle process RSS; bench/embedding.ts says how each is measured.',
    '',
    '| model | runtime | cold load ms | posts/s | ms/post | 1,000-char post ms | JS heap | WASM | isolate | RSS growth | idle RSS |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args[0] === '--node-child') {
    await nodeChild(args[1]!, args[2]!, args[3]!, Number(args[4]));
  } else {
    const postsAt = args.indexOf('--posts');
    const result = await runEmbeddingBench({
      posts: postsAt >= 0 ? Number(args[postsAt + 1]) : 200,
      log: (line) => console.error(`[bench:embedding] ${line}`),
    });
    console.log(renderEmbedding(result));
  }
}
