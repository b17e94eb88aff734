import postgres from 'postgres';
import { postgresText } from './dialect.ts';
import { workerSocket } from './pg-socket.ts';

/**
 * The D1 surface the repositories use (prepare / bind / first / all / run / raw, and batch as one transaction) over
 * a Postgres database through postgres.js, so drizzle's D1 driver, and with it every repository, runs unchanged on
 * Postgres shards. The SQL that differs between the two is chosen by db/dialect.ts, not here.
 *
 * A connection lives for one call (one statement, or one batch's transaction): a Worker may not use a socket opened
 * by another request, and the shared dependencies outlive requests. Hyperdrive pools the real connections, so a
 * fresh one per call is the pattern it is built for.
 */

/**
 * Types as the repositories (drizzle's sqlite columns) use them. Postgres returns int8 (counts, epoch ms) and numeric
 * (sums) as strings: parsed as numbers. postgres.js binds each parameter by the type the server infers for it, and
 * SQLite's flags arrive as 1/0, which its boolean serializer would turn into false: 1 and true bind as true.
 */
const PG_TYPES = {
  number: { to: 20, from: [20, 1700], serialize: String, parse: Number },
  flag: {
    to: 16,
    from: [16],
    serialize: (x: unknown) => (x === true || x === 1 || x === '1' ? 't' : 'f'),
    parse: (x: string) => x === 't',
  },
};

/** Bound values as postgres.js takes them: BLOBs arrive from drizzle as ArrayBuffers, bytea wants bytes. */
function toParameter(value: unknown): postgres.ParameterOrJSON<never> {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value === undefined) return null;
  return value as postgres.ParameterOrJSON<never>;
}

export class PgQueryError extends Error {
  override name = 'PgQueryError';
}

/** Postgres's message with the statement that failed (its parameters left out), the original as the cause. */
function queryError(error: unknown, query: string): PgQueryError {
  const message = error instanceof Error ? error.message : String(error);
  return new PgQueryError(`${message} in: ${query}`, { cause: error });
}

type Rows = postgres.RowList<postgres.Row[]>;

function d1Result<T>(rows: Rows, started: number): D1Result<T> {
  return {
    success: true,
    results: [...rows] as T[],
    meta: {
      duration: Date.now() - started,
      size_after: 0,
      rows_read: rows.length,
      rows_written: rows.command === 'SELECT' ? 0 : rows.count,
      last_row_id: 0,
      changed_db: rows.command !== 'SELECT' && rows.count > 0,
      changes: rows.command === 'SELECT' ? 0 : rows.count,
    },
  };
}

class PgStatement implements D1PreparedStatement {
  constructor(
    private readonly db: PgDatabase,
    readonly query: string,
    readonly values: readonly unknown[] = [],
  ) {}

  bind(...values: unknown[]): PgStatement {
    return new PgStatement(this.db, this.query, values);
  }

  /** Runs on `sql` (a connection or a transaction) and returns the rows. */
  async execute(sql: postgres.Sql | postgres.TransactionSql): Promise<Rows> {
    try {
      return await sql.unsafe(postgresText(this.query), this.values.map(toParameter), { prepare: false });
    } catch (error) {
      throw queryError(error, this.query);
    }
  }

  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const started = Date.now();
    return d1Result<T>(await this.db.connected((sql) => this.execute(sql)), started);
  }

  run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.all<T>();
  }

  first<T = unknown>(colName: string): Promise<T | null>;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  async first<T>(colName?: string): Promise<T | null> {
    const [row] = await this.db.connected((sql) => this.execute(sql));
    if (!row) return null;
    return (colName === undefined ? row : row[colName]) as T;
  }

  raw<T = unknown[]>(options: { columnNames: true }): Promise<[string[], ...T[]]>;
  raw<T = unknown[]>(options?: { columnNames?: false }): Promise<T[]>;
  async raw<T>(options?: { columnNames?: boolean }): Promise<T[] | [string[], ...T[]]> {
    const rows = await this.db
      .connected((sql) =>
        sql.unsafe(postgresText(this.query), this.values.map(toParameter), { prepare: false }).values(),
      )
      .catch((error: unknown) => {
        throw queryError(error, this.query);
      });
    const values = [...rows] as T[];
    return options?.columnNames ? [rows.columns.map((c) => c.name), ...values] : values;
  }
}

/**
 * Connections one isolate opens to one database at once. Hyperdrive pools behind its binding, but a burst (50
 * concurrent likes on one post) would otherwise open 50 connections, and a plain server (the local one, the tests')
 * refuses past max_connections (100 by default) with "too many clients".
 */
const MAX_CONNECTIONS = 8;

/** A counting semaphore: at most `limit` holders, the rest wait in order. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async hold<R>(work: () => Promise<R>): Promise<R> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const slotsByDatabase = new Map<string, Slots>();

/** One Postgres shard with the D1 surface drizzle's D1 driver takes (db/shards.ts createShards). */
export class PgDatabase implements D1Database {
  constructor(readonly connectionString: string) {}

  prepare(query: string): PgStatement {
    return new PgStatement(this, query);
  }

  /** Like D1's batch: the statements in order, in one transaction; any failure rolls all of them back. */
  async batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    const started = Date.now();
    return this.connected(async (sql) => {
      const results = await sql.begin(async (tx) => {
        const out: Rows[] = [];
        for (const statement of statements) {
          if (!(statement instanceof PgStatement)) throw new TypeError('a batch takes statements of the same database');
          out.push(await statement.execute(tx));
        }
        return out;
      });
      return results.map((rows) => d1Result<T>(rows, started));
    });
  }

  /** Statements separated by semicolons, without parameters (migrations, scripts). */
  async exec(query: string): Promise<D1ExecResult> {
    const started = Date.now();
    const results = await this.connected((sql) => sql.unsafe(query).simple());
    return { count: Array.isArray(results[0]) ? results.length : 1, duration: Date.now() - started };
  }

  /** Reads always go to the primary here: there is no replica whose position a bookmark would record. */
  withSession(): D1DatabaseSession {
    return {
      prepare: (query) => this.prepare(query),
      batch: (statements) => this.batch(statements),
      getBookmark: () => null,
    };
  }

  /** D1's deprecated export of alpha databases; Postgres has pg_dump. */
  dump(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('dump() exists only for D1 alpha databases; use pg_dump'));
  }

  /** Runs `work` on a connection of its own, closed afterwards (see the file comment). */
  connected<R>(work: (sql: postgres.Sql) => Promise<R>): Promise<R> {
    let slots = slotsByDatabase.get(this.connectionString);
    if (!slots) slotsByDatabase.set(this.connectionString, (slots = new Slots(MAX_CONNECTIONS)));
    return slots.hold(async () => {
      const sql = postgres(this.connectionString, {
        max: 1,
        fetch_types: false,
        prepare: false,
        types: PG_TYPES,
        onnotice: () => undefined,
        socket: workerSocket,
      });
      try {
        return await work(sql);
      } finally {
        await sql.end({ timeout: 5 });
      }
    });
  }
}
