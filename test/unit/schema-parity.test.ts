import { getTableName, is, SQL, type Column } from 'drizzle-orm';
import { getTableConfig as pgTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as pgSchema from '../../db/schema-pg.ts';
import * as sqliteSchema from '../../db/schema.ts';

interface Shape {
  columns: Array<{ name: string; notNull: boolean; primary: boolean }>;
  primaryKey: string[];
  indexes: Array<{ name: string; unique: boolean; on: string[]; where: boolean }>;
}

/** An index column: a column's name, or an expression's text with its columns' names. */
function indexPart(part: unknown): string {
  if (is(part, SQL)) {
    return part.queryChunks
      .map((chunk) => {
        if (typeof chunk === 'object' && chunk !== null && 'name' in chunk) return String((chunk as Column).name);
        if (typeof chunk === 'object' && chunk !== null && 'value' in chunk)
          return (chunk as { value: string[] }).value.join('');
        return typeof chunk === 'string' ? chunk : '?';
      })
      .join('');
  }
  return (part as Column).name;
}

function columnsOf(columns: readonly Column[]): Shape['columns'] {
  return columns.map((c) => ({ name: c.name, notNull: c.notNull, primary: c.primary }));
}

function sqliteShape(table: SQLiteTable): Shape {
  const config = sqliteTableConfig(table);
  return {
    columns: columnsOf(config.columns),
    primaryKey: config.primaryKeys.flatMap((pk) => pk.columns.map((c) => c.name)),
    indexes: config.indexes.map(({ config: i }) => ({
      name: i.name,
      unique: i.unique,
      on: i.columns.map(indexPart),
      where: i.where !== undefined,
    })),
  };
}

function pgShape(table: PgTable): Shape {
  const config = pgTableConfig(table);
  return {
    columns: columnsOf(config.columns),
    primaryKey: config.primaryKeys.flatMap((pk) => pk.columns.map((c) => c.name)),
    indexes: config.indexes.map(({ config: i }) => ({
      name: i.name!,
      unique: i.unique,
      on: i.columns.map(indexPart),
      where: i.where !== undefined,
    })),
  };
}

const sqliteTables = new Map<string, SQLiteTable>();
for (const value of Object.values(sqliteSchema) as unknown[]) {
  if (is(value, SQLiteTable)) sqliteTables.set(getTableName(value), value);
}
const pgTables = new Map<string, PgTable>();
for (const value of Object.values(pgSchema) as unknown[]) {
  if (is(value, PgTable)) pgTables.set(getTableName(value), value);
}

function lastSnapshot(): { tables: Record<string, unknown> } {
  const dir = 'db/migrations/meta';
  const last = readdirSync(dir)
    .filter((f) => f.endsWith('_snapshot.json'))
    .sort()
    .at(-1)!;
  return JSON.parse(readFileSync(path.join(dir, last), 'utf8')) as { tables: Record<string, unknown> };
}

describe('the D1 and Postgres schemas', () => {
  it('have the same tables', () => {
    expect([...pgTables.keys()].sort()).toEqual([...sqliteTables.keys()].sort());
    // And those are every table the D1 migrations create (their last snapshot), the social and OAuth ones included.
    expect([...sqliteTables.keys()].sort()).toEqual(Object.keys(lastSnapshot().tables).sort());
  });

  it.each([...sqliteTables.keys()])('%s has the same columns, primary key and indexes in both', (name) => {
    const shape = sqliteShape(sqliteTables.get(name)!);
    expect(pgShape(pgTables.get(name)!)).toEqual(shape);
    if (name === 'users') expect(shape.indexes.map((i) => i.on)).toContainEqual(['lower(display_name)']);
  });
});
