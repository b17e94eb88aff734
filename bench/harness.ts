/**
 * Runs the production bundle in workerd, driven from Node through Miniflare, for benchmarks: the bundle that
 * `wrangler deploy` would upload, with the bindings, Durable Objects and queue consumers of wrangler.toml
 * (converted by wrangler itself, so the consumers' batch settings are the configured ones, not Miniflare's
 * defaults), four local D1 shards migrated from db/migrations, and all state in a throwaway directory. With
 * `storage: 'postgres'` the shards are instead fresh databases on the machine's PostgreSQL (scripts/postgres.ts:
 * PG_URL, else 127.0.0.1:5432), created and migrated from db/migrations-pg for the run, reached by the Worker through
 * its PG_SHARD_i Hyperdrive bindings, and dropped on dispose.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions } from 'miniflare';
import type { DurableObjectStorageHandle, V4MiniflareOptions, V4WorkerOptions } from 'miniflare';
import postgres from 'postgres';
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler';
import { createShardDatabases, dropDatabases, ensurePostgres, type PostgresServer } from '../scripts/postgres.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');
const WORKER_NAME = 'edge-feed';

export interface QueueConsumerSettings {
  maxBatchSize?: number;
  maxBatchTimeout?: number;
  maxRetries?: number;
  deadLetterQueue?: string;
}

/**
 * The part of a D1 binding that bulk loads need. Miniflare types its bindings with the Workers typings, which
 * this Node project does not load, so they are narrowed to this.
 */
interface D1Statement {
  bind(...values: unknown[]): D1Statement;
  all(): Promise<{ results?: unknown[] }>;
}
interface D1Handle {
  prepare(query: string): D1Statement;
  batch(statements: D1Statement[]): Promise<unknown[]>;
}

/** Where the service keeps its shards (wrangler.toml's STORAGE). */
export type Storage = 'd1' | 'postgres';

/** A value bound to a bench statement. */
export type SqlValue = string | number | null;

/**
 * A shard as the bench's own SQL (bulk loads, counter checks) sees it, on either storage: the D1 binding, or a
 * Node-side postgres.js connection to the shard's database.
 */
export interface ShardSql {
  readonly dialect: Storage;
  /** One statement, in its own transaction, with numbered parameters (`?1` on D1, `$1` on Postgres): its rows. */
  query<T>(statement: string, params?: readonly SqlValue[]): Promise<T[]>;
}

export interface ServiceOptions {
  /** `d1` (the default) or `postgres`: fresh databases on the machine's PostgreSQL for this run. */
  storage?: Storage;
  /** Overrides of wrangler.toml `[vars]`, e.g. fan-out thresholds. */
  vars?: Record<string, string>;
  /**
   * Further Workers run beside the service (bench probes), on the service's compatibility settings unless they
   * set their own. They may bind the service's Durable Objects (`scriptName: 'edge-feed'`).
   */
  extraWorkers?: V4WorkerOptions[];
  /**
   * A text model to embed with: its files put into the MODELS bucket before the service is returned, and the
   * EMBEDDING_* vars (source r2) pointing at it. The model loads on the consumer's first `post.enrich`.
   */
  model?: BenchModel;
  /**
   * Also serve HTTP on 127.0.0.1 at a free port (`Service.url`), for clients that make real requests (the
   * Mastodon client libraries in test/clients). Off by default: the benches dispatch requests directly.
   */
  listen?: boolean;
}

/** A model laid out as under the MODELS bucket (scripts/train-model.ts, scripts/make-fixture-model.ts). */
export interface BenchModel {
  model: string;
  revision: string;
  dtype: string;
  /** The folder holding `files`, which go under the key prefix `<model>/<revision>/`. */
  dir: string;
  files: readonly string[];
}

/** The vars that make the service load `model` from its MODELS bucket. */
export function modelVars(model: BenchModel): Record<string, string> {
  return {
    EMBEDDING_MODEL: model.model,
    EMBEDDING_REVISION: model.revision,
    EMBEDDING_DTYPE: model.dtype,
    EMBEDDING_SOURCE: 'r2',
  };
}

/** Request options of Miniflare's dispatchFetch (undici's, which Node's DOM typings do not match exactly). */
export type FetchInit = Parameters<Miniflare['dispatchFetch']>[1];

export interface ApiResult<T> {
  status: number;
  body: T;
}

export interface Service {
  readonly mf: Miniflare;
  readonly storage: Storage;
  readonly vars: Record<string, string>;
  readonly queueConsumers: Record<string, QueueConsumerSettings>;
  /** The HS256 secret the service signs and verifies tokens with (random per run). */
  readonly jwtSecret: string;
  /** The admin token (random per run): the health report's details need it. */
  readonly adminToken: string;
  /** The HTTP origin the service listens on, with `listen`; undefined otherwise. */
  readonly url: string | undefined;
  /** A JSON request to the service's API, as a client would make it. */
  api<T>(method: string, route: string, options?: { token?: string; body?: unknown }): Promise<ApiResult<T>>;
  /** A shard on the service's storage, for the bench's own SQL. */
  shard(shard: number): Promise<ShardSql>;
  /** A request to one of `extraWorkers`. */
  callWorker<T>(workerName: string, route: string, body: unknown): Promise<T>;
  /** A raw request to the service (or, with `workerName`, to one of `extraWorkers`), for load generation. */
  fetch(route: string, init?: FetchInit, workerName?: string): ReturnType<Miniflare['dispatchFetch']>;
  /** SQL inside a Durable Object's own storage (Miniflare's inspection API), without calling the object. */
  objectStorage(className: string, name: string): Promise<DurableObjectStorageHandle>;
  /** Drops a Durable Object from memory, as idling does: its next request starts it again from storage. */
  evictObject(className: string, name: string): Promise<void>;
  dispose(): Promise<void>;
}

export class ServiceError extends Error {
  override name = 'ServiceError';
}

/** `wrangler deploy --dry-run`: the bundle exactly as it would be deployed, into `outDir`. */
export async function buildBundle(outDir: string): Promise<void> {
  const wrangler = path.join(ROOT, 'node_modules/wrangler/bin/wrangler.js');
  const child = spawn(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outDir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new ServiceError(`wrangler deploy --dry-run failed (${code}):\n${stderr}`);
}

/** The bundle's modules: the entry first, then any further ESM chunks and WebAssembly it imports. */
export function bundleModules(outDir: string) {
  const files = readdirSync(outDir).filter((f) => f.endsWith('.js') || f.endsWith('.mjs') || f.endsWith('.wasm'));
  files.sort((a, b) => Number(b === 'index.js') - Number(a === 'index.js') || a.localeCompare(b));
  return files.map((f) => ({
    type: f.endsWith('.wasm') ? ('CompiledWasm' as const) : ('ESModule' as const),
    path: path.join(outDir, f),
  }));
}

async function shardOf(mf: Miniflare, shard: number): Promise<D1Handle> {
  const binding: unknown = await mf.getD1Database(`DB_SHARD_${shard}`);
  return binding as D1Handle;
}

function d1Sql(db: D1Handle): ShardSql {
  return {
    dialect: 'd1',
    async query<T>(statement: string, params: readonly SqlValue[] = []) {
      const { results = [] } = await db
        .prepare(statement)
        .bind(...params)
        .all();
      return results as T[];
    },
  };
}

function pgSql(sql: postgres.Sql): ShardSql {
  return {
    dialect: 'postgres',
    async query<T>(statement: string, params: readonly SqlValue[] = []) {
      return [...(await sql.unsafe(statement, [...params]))] as T[];
    },
  };
}

/** The run's Postgres shards: their databases, the Worker's Hyperdrive bindings to them, and Node's connections. */
interface PgShards {
  hyperdrives: Record<string, string>;
  connections: postgres.Sql[];
  drop(): Promise<void>;
}

async function createPgShards(shardCount: number): Promise<PgShards> {
  const server: PostgresServer = await ensurePostgres({ throwaway: false });
  // Per run, so that two benches (or a bench and the tests) on one server never share databases.
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const names = Array.from({ length: shardCount }, (_, i) => `edge_feed_bench_${tag}_${i}`);
  let urls: string[];
  try {
    urls = await createShardDatabases(server.url, names);
  } catch (error) {
    await dropDatabases(server.url, names);
    await server.stop();
    throw error;
  }
  // A few connections per shard: the bulk load sends one statement at a time per shard.
  const connections = urls.map((url) => postgres(url, { max: 2, onnotice: () => undefined }));
  return {
    hyperdrives: Object.fromEntries(urls.map((url, i) => [`PG_SHARD_${i}`, url])),
    connections,
    async drop() {
      await Promise.all(connections.map((sql) => sql.end({ timeout: 5 })));
      await dropDatabases(server.url, names);
      await server.stop();
    },
  };
}

export async function migrate(mf: Miniflare, shardCount: number): Promise<void> {
  const dir = path.join(ROOT, 'db/migrations');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  for (let shard = 0; shard < shardCount; shard++) {
    const db = await shardOf(mf, shard);
    for (const file of files) {
      // wrangler's splitter keeps trigger bodies (BEGIN ... END) whole.
      const statements = unstable_splitSqlQuery(readFileSync(path.join(dir, file), 'utf8'));
      await db.batch(statements.map((s) => db.prepare(s)));
    }
  }
}

/**
 * wrangler.toml's vars and D1 bindings as Miniflare options, for bench-only Workers that read the same shards:
 * Miniflare keys a database's storage by its id, so a Worker binding the same ids sees the same rows.
 */
export function wranglerBindings(): { vars: Record<string, string>; d1Databases: V4WorkerOptions['d1Databases'] } {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, 'wrangler.toml'));
  return {
    vars: (workerOptions.bindings ?? {}) as Record<string, string>,
    d1Databases: workerOptions.d1Databases as V4WorkerOptions['d1Databases'],
  };
}

/** Builds the bundle, starts it with empty migrated shards, and returns handles to drive and inspect it. */
export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'edge-feed-bench-'));
  const outDir = path.join(workDir, 'dist');
  await buildBundle(outDir);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, 'wrangler.toml'));
  const configured = (workerOptions.bindings ?? {}) as Record<string, string>;
  const storage = options.storage ?? 'd1';
  const vars: Record<string, string> = {
    ...configured,
    ...options.vars,
    ...(options.model ? modelVars(options.model) : {}),
    ...(storage === 'postgres' ? { STORAGE: 'postgres' } : {}),
  };
  const shardCount = Number(vars.SHARD_COUNT ?? '1');
  const pg = storage === 'postgres' ? await createPgShards(shardCount) : null;
  const jwtSecret = randomBytes(32).toString('hex');
  const adminToken = randomBytes(16).toString('hex');
  // Module rules and the root path describe how wrangler finds sources; the bundle lists its modules itself.
  const { modulesRules: _rules, rootPath: _root, ...bindingOptions } = workerOptions;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      log: new Log(LogLevel.WARN),
      cf: false,
      ...(options.listen ? { host: '127.0.0.1', port: 0 } : {}),
      resourcePersistencePath: path.join(workDir, 'state'),
      unsafeInspectDurableObjects: true,
      ...(process.env.BENCH_INSPECTOR_PORT ? { inspectorPort: Number(process.env.BENCH_INSPECTOR_PORT) } : {}),
      workers: [
        {
          ...bindingOptions,
          name: WORKER_NAME,
          modules: bundleModules(outDir),
          modulesRoot: outDir,
          bindings: { ...vars, JWT_SECRET: jwtSecret, ADMIN_TOKEN: adminToken },
          // The run's databases instead of wrangler.toml's localConnectionString ones.
          ...(pg ? { hyperdrives: pg.hyperdrives } : {}),
        },
        // Each extra Worker answers on its own host name, which is how callWorker reaches it.
        ...(options.extraWorkers ?? []).map((w) => ({
          compatibilityDate: workerOptions.compatibilityDate,
          compatibilityFlags: workerOptions.compatibilityFlags,
          routes: [`${w.name}.bench/*`],
          ...w,
        })),
      ],
    } as V4MiniflareOptions),
  );
  let url: string | undefined;
  try {
    const ready = await mf.ready;
    if (options.listen) url = ready.origin;
    // D1 too on Postgres: its bindings stay bound (wrangler.toml), so they carry the schema whatever reads them.
    await migrate(mf, shardCount);
    if (options.model) {
      // Typed with Workers types this Node project does not load; put is all that is used.
      const bucket = (await mf.getR2Bucket('MODELS')) as unknown as {
        put(key: string, value: Uint8Array): Promise<unknown>;
      };
      const { model, revision, dir, files } = options.model;
      for (const file of files) await bucket.put(`${model}/${revision}/${file}`, readFileSync(path.join(dir, file)));
    }
  } catch (error) {
    await mf.dispose();
    await pg?.drop();
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    mf,
    storage,
    vars,
    url,
    jwtSecret,
    adminToken,
    queueConsumers: (workerOptions.queueConsumers ?? {}) as Record<string, QueueConsumerSettings>,
    async api<T>(method: string, route: string, opts: { token?: string; body?: unknown } = {}) {
      const headers: Record<string, string> = {};
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await mf.dispatchFetch(`http://edge-feed.bench${route}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
    },
    async shard(shard) {
      if (!pg) return d1Sql(await shardOf(mf, shard));
      const sql = pg.connections[shard];
      if (!sql) throw new ServiceError(`no Postgres shard ${shard} (SHARD_COUNT ${shardCount})`);
      return pgSql(sql);
    },
    async callWorker<T>(workerName: string, route: string, body: unknown) {
      const res = await mf.dispatchFetch(`http://${workerName}.bench${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new ServiceError(`${workerName}${route}: ${res.status} ${text}`);
      return JSON.parse(text) as T;
    },
    fetch: (route, init = {}, workerName = WORKER_NAME) => mf.dispatchFetch(`http://${workerName}.bench${route}`, init),
    objectStorage: (className, name) => mf.unsafeGetDurableObjectStorage(WORKER_NAME, className, { name }),
    async evictObject(className, name) {
      try {
        await mf.unsafeEvictDurableObject(WORKER_NAME, className, { name });
      } catch (error) {
        // Idle objects are evicted by workerd on its own: already where we wanted it.
        if (!(error instanceof Error && error.message.includes('not currently running'))) throw error;
      }
    },
    async dispose() {
      await mf.dispose();
      await pg?.drop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * A bearer token for a user who never signed up through the API (bulk-loaded): an HS256 JWT `{sub, iat, exp}`,
 * what the service's signup issues, signed with `service.jwtSecret`.
 */
export function signToken(userId: string, secret: string, nowMs: number = Date.now()): string {
  const iat = Math.floor(nowMs / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: userId, iat, exp: iat + 30 * 24 * 3600 })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** What the figures depend on: printed with every result. */
export function machineInfo(): Record<string, string> {
  const cpus = os.cpus();
  const version = (pkg: string) =>
    (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
      .version;
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    workerd: version('workerd'),
    miniflare: version('miniflare'),
    wrangler: version('wrangler'),
    loadAverage: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(' '),
  };
}

export class BenchRequestError extends Error {
  override name = 'BenchRequestError';
}

/** A request that must answer `status` (setup steps of the benches): its body, or an error that says what came. */
export async function expectStatus<T>(
  service: Service,
  status: number,
  method: string,
  route: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<T> {
  const res = await service.api<T>(method, route, opts);
  if (res.status !== status) {
    throw new BenchRequestError(
      `${method} ${route}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`,
    );
  }
  return res.body;
}

/** A user signed up through the API, with their token. */
export async function signupUser(service: Service, handle: string): Promise<{ id: string; token: string }> {
  const body = await expectStatus<{ user: { id: string }; token: string }>(service, 201, 'POST', '/v1/users', {
    body: { handle },
  });
  return { id: body.user.id, token: body.token };
}

/** The workerd processes descending from this one (Miniflare starts one per instance). */
export function workerdPids(): number[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // The process ended while the list was read.
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => name === 'workerd' && descends(pid)).map(([pid]) => pid);
}
