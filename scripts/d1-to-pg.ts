/**
 * `npm run d1-to-pg [-- --replace]`: copies every row of the local D1 shards (wrangler's local state, as `npm run
 * dev` leaves it) into the Postgres shards, shard i to shard i, so the bucket map places every key where it was;
 * then compares the row counts of every table on every shard and exits 1 on any difference.
 *
 * Targets: PG_SHARD_URLS (space-separated connection strings, one per shard), else databases edge_feed_shard_<i> on
 * PG_URL or 127.0.0.1:5432, created and migrated when missing. A target that already holds rows is refused unless
 * --replace (which empties it first). Remote D1 shards: `wrangler d1 export <db> --remote --output shard.sql`, then
 * `wrangler d1 execute <db> --local --file shard.sql`, then this script (README "Deploying on Postgres").
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type postgresType from 'postgres';
import { getPlatformProxy } from 'wrangler';
import * as schema from '../db/schema.ts';
import { devShardDatabase, ensurePostgres, ensureShardDatabases } from './postgres.ts';

const postgres = createRequire(import.meta.url)('postgres') as typeof postgresType;
const ROOT = path.resolve(import.meta.dirname, '..');
/** Rows per INSERT: well below Postgres's 65,535 parameters for the widest table (posts, 15 columns). */
const ROWS_PER_INSERT = 1000;

const log = (line: string) => console.log(`[d1-to-pg] ${line}`);

/** What this script uses of a local D1 binding (Node has no Workers types). */
interface D1Shard {
  prepare(query: string): {
    all(): Promise<{ results: Record<string, unknown>[] }>;
    first<T>(): Promise<T | null>;
  };
}

function isD1(binding: unknown): binding is D1Shard {
  return typeof binding === 'object' && binding !== null && 'prepare' in binding;
}

interface TableSpec {
  name: string;
  columns: string[];
  /** Columns D1 hands back as BLOB bytes. */
  blobs: Set<string>;
}

/**
 * The tables in copy order: the counted rows (likes, follows, ...) before the users and posts that count them, so
 * the counter triggers find no row to update and the counters arrive as D1 has them, not doubled.
 */
export function tableSpecs(): TableSpec[] {
  const counting = new Set(['users', 'posts']);
  return (Object.values(schema) as unknown[])
    .filter((value): value is SQLiteTable => is(value, SQLiteTable))
    .map((table) => {
      const columns = Object.values(getTableColumns(table));
      return {
        name: getTableName(table),
        columns: columns.map((c) => c.name),
        blobs: new Set(columns.filter((c) => c.getSQLType() === 'blob').map((c) => c.name)),
      };
    })
    .sort((a, b) => Number(counting.has(a.name)) - Number(counting.has(b.name)));
}

/** A D1 row as postgres.js binds it: BLOBs (arrays or ArrayBuffers) as bytes; 0/1 flags Postgres casts itself. */
function toPgRow(row: Record<string, unknown>, spec: TableSpec): Record<string, postgresType.ParameterOrJSON<never>> {
  const out: Record<string, postgresType.ParameterOrJSON<never>> = {};
  for (const column of spec.columns) {
    const value = row[column];
    if (spec.blobs.has(column) && value !== null && value !== undefined) {
      out[column] = value instanceof ArrayBuffer ? new Uint8Array(value) : Uint8Array.from(value as ArrayLike<number>);
    } else {
      out[column] = (value ?? null) as postgresType.ParameterOrJSON<never>;
    }
  }
  return out;
}

async function targets(count: number): Promise<{ urls: string[]; stop: () => Promise<void> }> {
  const given = process.env.PG_SHARD_URLS?.split(/\s+/).filter(Boolean);
  if (given) {
    if (given.length !== count) throw new Error(`PG_SHARD_URLS has ${given.length} URLs for ${count} shards`);
    return { urls: given, stop: () => Promise.resolve() };
  }
  const server = await ensurePostgres({ throwaway: false });
  const names = Array.from({ length: count }, (_, i) => devShardDatabase(i));
  return { urls: await ensureShardDatabases(server.url, names), stop: () => server.stop() };
}

export async function main(argv: readonly string[]): Promise<number> {
  const replace = argv.includes('--replace');
  const toml = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8');
  const count = Number(/^SHARD_COUNT = "(\d+)"/m.exec(toml)?.[1] ?? 4);
  const specs = tableSpecs();
  const proxy = await getPlatformProxy<Record<string, unknown>>({ configPath: path.join(ROOT, 'wrangler.toml') });
  const target = await targets(count);
  const mismatches: string[] = [];
  try {
    for (let shard = 0; shard < count; shard++) {
      const d1 = proxy.env[`DB_SHARD_${shard}`];
      if (!isD1(d1)) throw new Error(`wrangler.toml has no D1 binding DB_SHARD_${shard}`);
      const sql = postgres(target.urls[shard]!, { max: 1, onnotice: () => undefined });
      try {
        const started = Date.now();
        const counts = await sql.begin(async (tx) => {
          const [held] = await tx.unsafe<{ n: string }[]>(
            specs.map((s) => `SELECT count(*) AS n FROM "${s.name}"`).join(' UNION ALL ') + ' ORDER BY n DESC LIMIT 1',
          );
          if (Number(held?.n ?? 0) > 0 && !replace) {
            throw new Error(`Postgres shard ${shard} already holds rows: run with --replace to empty it first`);
          }
          if (replace) await tx.unsafe(`TRUNCATE ${specs.map((s) => `"${s.name}"`).join(', ')}`);
          const copied = new Map<string, number>();
          for (const spec of specs) {
            const { results } = await d1
              .prepare(`SELECT ${spec.columns.map((c) => `"${c}"`).join(', ')} FROM "${spec.name}"`)
              .all();
            for (let i = 0; i < results.length; i += ROWS_PER_INSERT) {
              const rows = results.slice(i, i + ROWS_PER_INSERT).map((row) => toPgRow(row, spec));
              await tx`INSERT INTO ${tx(spec.name)} ${tx(rows, spec.columns)}`;
            }
            copied.set(spec.name, results.length);
          }
          return copied;
        });
        let rows = 0;
        for (const spec of specs) {
          const d1Count = (await d1.prepare(`SELECT count(*) AS n FROM "${spec.name}"`).first<{ n: number }>())!.n;
          const [pg] = await sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM "${spec.name}"`);
          const pgCount = Number(pg!.n);
          rows += pgCount;
          if (d1Count !== pgCount || counts.get(spec.name) !== d1Count) {
            mismatches.push(`shard ${shard} ${spec.name}: D1 ${d1Count}, Postgres ${pgCount}`);
          }
        }
        log(`shard ${shard}: ${rows} rows in ${specs.length} tables, ${Date.now() - started} ms; counts compared`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
  } finally {
    await proxy.dispose();
    await target.stop();
  }
  for (const line of mismatches) log(`MISMATCH ${line}`);
  log(mismatches.length === 0 ? 'every table has the same row count on D1 and Postgres' : 'counts differ');
  return mismatches.length === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(`[d1-to-pg] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
