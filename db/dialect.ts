import {
  getTableColumns,
  getTableName,
  is,
  sql,
  type AnyColumn,
  type SQL,
  type SQLWrapper,
  type Table,
} from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import * as pgSchema from './schema-pg.ts';

/**
 * The SQL that differs between D1 (SQLite) and Postgres, so the repositories are written once: everything else they
 * build with drizzle's sqlite query builder runs on both (db/shards-pg.ts numbers the placeholders).
 */
export interface Dialect {
  readonly name: 'd1' | 'postgres';
  /** `column IN values`, as one bound parameter however many values (D1 allows 100 parameters per statement). */
  inList(column: SQLWrapper, values: readonly string[]): SQL;
  /** The larger of two values (SQLite's two-argument max()). */
  greatest(a: SQLWrapper, b: SQLWrapper | number): SQL;
  /**
   * A bound value typed as `column`: what INSERT ... SELECT needs, as Postgres does not infer a select list's
   * parameter types from the target table.
   */
  typed(value: unknown, column: AnyColumn): SQL;
  /** Posts whose text matches an FTS5-style query (src/tags.ts fullTextQuery), at most `limit`, newest first. */
  postTextMatches(query: string, limit: number): SQL;
}

export const d1Dialect: Dialect = {
  name: 'd1',
  inList: (column, values) => sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`,
  greatest: (a, b) => sql`max(${a}, ${b})`,
  typed: (value) => sql`${value}`,
  // Newest matches by rowid (insertion order, which is creation order): FTS5 walks its index in rowid order and
  // stops at the limit, instead of collecting every match to sort them (docs/benchmarks.md).
  postTextMatches: (query, limit) =>
    sql`"posts"."rowid" IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ${query} ORDER BY rowid DESC LIMIT ${limit})`,
};

/** Postgres's type of each column of db/schema-pg.ts, by table and column name. */
const pgTypes = new Map<string, string>();
for (const table of Object.values(pgSchema) as unknown[]) {
  if (!is(table, PgTable)) continue;
  for (const column of Object.values(getTableColumns(table))) {
    pgTypes.set(`${getTableName(table)}.${column.name}`, column.getSQLType());
  }
}

/** `?` placeholders (drizzle's sqlite dialect) as `$1..$n`, leaving quoted strings and identifiers alone. */
export function numberedPlaceholders(query: string): string {
  let out = '';
  let n = 0;
  let quote: string | null = null;
  for (const ch of query) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

/**
 * drizzle's sqlite SQL as Postgres takes it: numbered placeholders, and conflict targets without the table name
 * (drizzle qualifies a multi-column target, which SQLite accepts and Postgres does not).
 */
export function postgresText(query: string): string {
  return numberedPlaceholders(query).replace(
    /on conflict \(([^)]*)\)/g,
    (_, target: string) => `on conflict (${target.replaceAll(/"[^"]+"\./g, '')})`,
  );
}

/** A text[] literal, so a list is one parameter without postgres.js's array type lookup on connect. */
function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}

/** An FTS5 query of quoted words, the last a prefix (src/tags.ts fullTextQuery), as a tsquery: all words, in any order. */
export function tsQuery(fts: string): string {
  const words = [...fts.matchAll(/"((?:[^"]|"")*)"(\*?)/g)].map(
    ([, word, prefix]) => `'${word!.replaceAll('""', '"').replaceAll("'", "''")}'${prefix ? ':*' : ''}`,
  );
  return words.join(' & ');
}

export const pgDialect: Dialect = {
  name: 'postgres',
  inList: (column, values) => sql`${column} = ANY(${textArray(values)}::text[])`,
  greatest: (a, b) => sql`greatest(${a}, ${b})`,
  typed(value, column) {
    const type = pgTypes.get(`${getTableName(column.table)}.${column.name}`);
    if (!type) throw new Error(`no Postgres column ${getTableName(column.table)}.${column.name} (db/schema-pg.ts)`);
    return sql`CAST(${value} AS ${sql.raw(type)})`;
  },
  // The generated tsvector column and its GIN index (db/migrations-pg/0001_counters_search.sql).
  postTextMatches: (query, limit) =>
    sql`"posts"."id" IN (SELECT id FROM posts WHERE search @@ to_tsquery('simple', ${tsQuery(query)}) ORDER BY id DESC LIMIT ${limit})`,
};

/**
 * A select list of bound values, one per column of `table` named by its keys (in table order, as INSERT ... SELECT
 * takes them), each typed as its column.
 */
export function selectValues<T extends Record<string, unknown>>(
  dialect: Dialect,
  table: Table,
  values: T,
): { [K in keyof T]: SQL.Aliased<T[K]> } {
  const columns: Record<string, AnyColumn> = getTableColumns(table);
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => {
      const column = columns[key];
      if (!column) throw new Error(`${getTableName(table)} has no column ${key}`);
      return [key, dialect.typed(value, column).as(key)];
    }),
  ) as { [K in keyof T]: SQL.Aliased<T[K]> };
}

/** The dialect of a storage backend (the STORAGE variable). */
export function dialectOf(storage: Dialect['name']): Dialect {
  return storage === 'postgres' ? pgDialect : d1Dialect;
}
