/**
 * A PostgreSQL server for the Postgres shards, from Node (tests, `npm run dev -- --postgres`, `npm run d1-to-pg`):
 * PG_URL, else the machine's server on 127.0.0.1:5432 (trust auth), else, when asked, a throwaway cluster from the
 * Debian binaries. Also creates shard databases and applies db/migrations-pg to them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, chownSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import type postgresType from 'postgres';

// Node's build of postgres.js even where a bundler resolves the "workerd" condition (the workers-pg projects' global
// setup runs in their Vite environment, which would pick the cloudflare:sockets build).
const postgres = createRequire(import.meta.url)('postgres') as typeof postgresType;

const ROOT = path.resolve(import.meta.dirname, '..');
export const PG_MIGRATIONS_DIR = path.join(ROOT, 'db/migrations-pg');
const DEFAULT_URL = 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const INSTALL_HINT =
  'No PostgreSQL server answers on 127.0.0.1:5432 (or at PG_URL), and no initdb was found to start a throwaway one: ' +
  'install it (`apt-get install postgresql`) or set PG_URL=postgres://user:password@host:port/postgres.';

export class PostgresUnavailableError extends Error {
  override name = 'PostgresUnavailableError';
}

export interface PostgresServer {
  /** An admin connection string (database `postgres`), with a password as Hyperdrive requires one. */
  url: string;
  stop(): Promise<void>;
}

/** `url` with another database, and a password (Hyperdrive's localConnectionString needs one even with trust auth). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  if (!u.password) u.password = 'postgres';
  u.pathname = `/${database}`;
  return u.toString();
}

async function answers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => undefined });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function postgresBinary(name: string): string | null {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const lib = '/usr/lib/postgresql';
  if (!existsSync(lib)) return null;
  const versions = readdirSync(lib).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(`${lib}/${v}/bin/${name}`)) return `${lib}/${v}/bin/${name}`;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * A throwaway cluster: initdb (as the postgres user when we are root, which initdb refuses), fsync and synchronous
 * commit off (its data is thrown away), on a free port of 127.0.0.1, trust auth.
 */
export async function startThrowaway(): Promise<PostgresServer> {
  const initdb = postgresBinary('initdb');
  const pgCtl = postgresBinary('pg_ctl');
  if (!initdb || !pgCtl) throw new PostgresUnavailableError(INSTALL_HINT);
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-feed-pg-'));
  const asRoot = userInfo().uid === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    execFileSync(file, argv, { stdio: 'pipe' });
  };
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), 0);
  const data = path.join(dir, 'data');
  run(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -F -c synchronous_commit=off -c full_page_writes=off`;
  run(pgCtl, ['-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', 'start']);
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop() {
      run(pgCtl, ['-D', data, '-m', 'immediate', 'stop']);
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

/** PG_URL, else 127.0.0.1:5432, else (with `throwaway`) a cluster of our own; otherwise what to install. */
export async function ensurePostgres(options: { throwaway: boolean }): Promise<PostgresServer> {
  const given = process.env.PG_URL;
  const url = withDatabase(given ?? DEFAULT_URL, given ? new URL(given).pathname.slice(1) || 'postgres' : 'postgres');
  if (await answers(url)) return { url, stop: () => Promise.resolve() };
  if (given) throw new PostgresUnavailableError(`PG_URL (${new URL(given).host}) does not answer`);
  if (!options.throwaway) throw new PostgresUnavailableError(INSTALL_HINT);
  return startThrowaway();
}

/** The statements of db/migrations-pg, in order (drizzle-kit's files, split at its breakpoints). */
export function pgMigrationStatements(dir = PG_MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('--> statement-breakpoint'))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Creates each database afresh (dropping an older one of the same name) and migrates it; returns their connection
 * strings. Byte-order collation, as SQLite compares text, so prefix ranges and id order match D1's.
 */
export async function createShardDatabases(adminUrl: string, names: readonly string[]): Promise<string[]> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  const statements = pgMigrationStatements();
  try {
    return await Promise.all(
      names.map(async (name) => {
        await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`);
        const url = withDatabase(adminUrl, name);
        const db = postgres(url, { max: 1, onnotice: () => undefined });
        try {
          await db.begin(async (tx) => {
            for (const statement of statements) await tx.unsafe(statement);
          });
        } finally {
          await db.end({ timeout: 1 });
        }
        return url;
      }),
    );
  } finally {
    await admin.end({ timeout: 1 });
  }
}

/** Drops the databases (what the tests created). */
export async function dropDatabases(adminUrl: string, names: readonly string[]): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    for (const name of names) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end({ timeout: 1 });
  }
}

/** The database of shard `i` for `npm run dev -- --postgres` and `npm run d1-to-pg`. */
export const devShardDatabase = (i: number) => `edge_feed_shard_${i}`;

/**
 * Creates the databases that do not exist yet and applies the migrations they lack with drizzle-kit migrate (which
 * records what it applied, as on a deployed database; README "Deploying on Postgres"). Returns their URLs.
 */
export async function ensureShardDatabases(adminUrl: string, names: readonly string[]): Promise<string[]> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => undefined });
  try {
    for (const name of names) {
      const [found] = await admin`SELECT 1 AS found FROM pg_database WHERE datname = ${name}`;
      if (!found) await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`);
    }
  } finally {
    await admin.end({ timeout: 1 });
  }
  const urls = names.map((name) => withDatabase(adminUrl, name));
  for (const url of urls) {
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/drizzle-kit/bin.cjs'), 'migrate', '--config', 'drizzle-pg.config.ts'],
      { cwd: ROOT, env: { ...process.env, PG_URL: url }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return urls;
}
