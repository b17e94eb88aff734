import { AsyncLocalStorage } from 'node:async_hooks';
import postgres from 'postgres';
import { postgresText } from './dialect.ts';
import { workerSocket } from './pg-socket.ts';

/**
 * The D1 surface the repositories use (prepare / bind / first / all / run / raw, and batch as one transaction) over
 * a Postgres database through postgres.js, so drizzle's D1 driver, and with it every repository, runs unchanged on
 * Postgres shards. The SQL that differs between the two is chosen by db/dialect.ts, not here.
 *
 * A Worker may not use a socket opened by another request, and the shared dependencies outlive requests, so a
 * connection belongs to one request: the Worker's handlers run inside `withRequestConnections`, which keeps one
 * connection per database for the request's statements and closes it once the request is done. Anywhere else (a
 * Durable Object, a script) a connection lives for one call. Hyperdrive pools the real connections behind either.
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

/** How often a caller waiting for a connection slot looks again. */
const SLOT_POLL_MS = 2;

/**
 * A counting semaphore whose waiters poll rather than being woken. The holders are other requests: in workerd, a
 * promise resolved by one request resumes its awaiter inside that request's I/O context, so a waiter woken by the
 * releasing request would open its socket on the wrong request ("Cannot perform I/O on behalf of a different
 * request") and hang when that request ends. A timer of the waiter's own fires in its own context.
 */
class Slots {
  private active = 0;

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    while (this.active >= this.limit) await new Promise((resolve) => setTimeout(resolve, SLOT_POLL_MS));
    this.active++;
  }

  release(): void {
    this.active--;
  }
}

/**
 * How long a request keeps an idle connection. Short, because an idle connection holds one of the isolate's slots
 * that other requests may be waiting for, while this request waits on something else (another database's slot:
 * holding it for the whole request could deadlock two requests that touch the same two shards).
 */
const LINGER_MS = 20;

type Open = () => postgres.Sql;

/** One request's connection to one database, opened on first use and closed when idle or when the request ends. */
class Lease {
  private sql: Promise<postgres.Sql> | undefined;
  private inFlight = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;
  private closing: Promise<void> | undefined;
  private ending = false;
  private readonly whenClosed: Array<() => void> = [];

  constructor(
    private readonly slots: Slots,
    private readonly open: Open,
  ) {}

  /** Whether `run` may still be called: false once the lease has closed, or is closing, for being idle. */
  get usable(): boolean {
    return this.closing === undefined;
  }

  async run<R>(work: (sql: postgres.Sql) => Promise<R>): Promise<R> {
    clearTimeout(this.idle);
    this.inFlight++;
    try {
      this.sql ??= this.slots.acquire().then(this.open);
      return await work(await this.sql);
    } finally {
      if (--this.inFlight === 0) {
        if (this.ending) void this.close();
        else this.idle = setTimeout(() => void this.close(), LINGER_MS);
      }
    }
  }

  /** Closes once the statements in flight are done; resolves when closed. */
  end(): Promise<void> {
    this.ending = true;
    return this.inFlight === 0 ? this.close() : new Promise((resolve) => this.whenClosed.push(resolve));
  }

  private close(): Promise<void> {
    clearTimeout(this.idle);
    this.closing ??= (async () => {
      const sql = this.sql;
      if (sql) {
        try {
          await (await sql).end({ timeout: 5 });
        } finally {
          this.slots.release();
        }
      }
      for (const resolve of this.whenClosed.splice(0)) resolve();
    })();
    return this.closing;
  }
}

/** The connections of one request, one lease per database. */
class RequestConnections {
  private readonly leases = new Map<string, Lease>();
  private ended = false;

  /** This request's lease on the database (a new one if the last closed), or undefined once the request is done. */
  lease(database: string, slots: Slots, open: Open): Lease | undefined {
    if (this.ended) return undefined;
    let lease = this.leases.get(database);
    if (!lease?.usable) this.leases.set(database, (lease = new Lease(slots, open)));
    return lease;
  }

  async end(): Promise<void> {
    this.ended = true;
    await Promise.all([...this.leases.values()].map((lease) => lease.end()));
  }
}

const requests = new AsyncLocalStorage<RequestConnections>();

/**
 * Runs a request's `work` with connections it reuses across its statements, closed when `work` is done (after the
 * response; through `waitUntil`, which keeps the request alive until they are). Statements after that, from
 * `waitUntil` work, get a connection per call.
 */
export async function withRequestConnections<R>(
  ctx: { waitUntil(promise: Promise<unknown>): void },
  work: () => Promise<R>,
): Promise<R> {
  const connections = new RequestConnections();
  try {
    return await requests.run(connections, work);
  } finally {
    ctx.waitUntil(connections.end());
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

  /** Runs `work` on the request's connection, or on one of its own closed afterwards (see the file comment). */
  async connected<R>(work: (sql: postgres.Sql) => Promise<R>): Promise<R> {
    let slots = slotsByDatabase.get(this.connectionString);
    if (!slots) slotsByDatabase.set(this.connectionString, (slots = new Slots(MAX_CONNECTIONS)));
    const lease = requests.getStore()?.lease(this.connectionString, slots, this.open);
    if (lease) return lease.run(work);
    await slots.acquire();
    try {
      const sql = this.open();
      try {
        return await work(sql);
      } finally {
        await sql.end({ timeout: 5 });
      }
    } finally {
      slots.release();
    }
  }

  private readonly open = (): postgres.Sql =>
    postgres(this.connectionString, {
      max: 1,
      fetch_types: false,
      prepare: false,
      types: PG_TYPES,
      onnotice: () => undefined,
      socket: workerSocket,
    });
}
