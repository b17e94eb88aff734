/**
 * Versioned storage schemas for SQLite-backed Durable Objects. Each class lists its migrations in order; the
 * version an object's storage has reached is stamped in its synchronous KV storage (`ctx.storage.kv`, which lives
 * in the same SQLite database; `PRAGMA user_version` is not available to Durable Objects). A start reads that one
 * key and, when the schema is current, does nothing else: no DDL, not even `IF NOT EXISTS`.
 */

/** The KV key holding the number of migrations applied to this object's storage. */
export const SCHEMA_VERSION_KEY = 'schema_version';

/**
 * One step of a schema. Synchronous SQL only, so that the step and its stamp commit in one transaction and the
 * constructor can apply it before the object handles any event. Append only: a shipped step is never edited or
 * reordered, since stored objects have applied it as it was. A step must leave storage usable by the code of the
 * previous release, since a rollback runs that code on objects already migrated.
 */
export interface SchemaMigration {
  /** What the step does, for errors. */
  readonly name: string;
  up(sql: SqlStorage): void;
}

export interface StorageSchema {
  /** The Durable Object class, for errors. */
  readonly name: string;
  /** Version n is the storage after migrations[0..n-1]. */
  readonly migrations: readonly SchemaMigration[];
}

export class SchemaMigrationError extends Error {
  override name = 'SchemaMigrationError';
}

/** What a start found and did: the version stored before it, and the version it left. */
export interface SchemaOutcome {
  from: number;
  to: number;
}

/**
 * Brings `storage` to the latest version of `schema`, one transaction per step (a failed step rolls back with its
 * stamp, and the next start retries it). Meant for the constructor: it is synchronous, so no request or alarm
 * can reach the object before it returns, which is what `blockConcurrencyWhile` would otherwise be needed for.
 * Storage stamped newer than this code knows (after a rollback) is left as it is.
 */
export function migrateStorage(storage: DurableObjectStorage, schema: StorageSchema): SchemaOutcome {
  const stored = storage.kv.get<unknown>(SCHEMA_VERSION_KEY);
  const from = stored === undefined ? 0 : stored;
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 0) {
    throw new SchemaMigrationError(`${schema.name}: stored schema version ${JSON.stringify(stored)} is not a version`);
  }
  const latest = schema.migrations.length;
  for (let version = from + 1; version <= latest; version++) {
    const step = schema.migrations[version - 1]!;
    try {
      storage.transactionSync(() => {
        step.up(storage.sql);
        storage.kv.put(SCHEMA_VERSION_KEY, version);
      });
    } catch (error) {
      throw new SchemaMigrationError(`${schema.name}: migration ${version} (${step.name}) failed`, { cause: error });
    }
  }
  return { from, to: Math.max(from, latest) };
}

/** A step that runs fixed SQL (several statements may be separated by semicolons). */
export function sqlMigration(name: string, statements: string): SchemaMigration {
  return {
    name,
    up(sql) {
      sql.exec(statements);
    },
  };
}
