/**
 * The bulk-load path: rows written straight into the D1 shards, for data sets far too large to create through
 * the API (half a million follows would be a million requests). Each table's rows go to the shard that
 * db/shards.ts would pick for the table's placement key (src/sharding.ts), as multi-row `INSERT ... SELECT FROM
 * json_each(?)` statements: one bound parameter per statement carrying up to CHUNK_BYTES of rows as a JSON array,
 * which stays inside D1's limits (100 bound parameters per statement, 100 KB of SQL text, 2 MB per value), so the
 * same statements work against a remote database through a binding. Each statement is its own transaction.
 *
 * Counters: the triggers of migration 0001 stay in place and move the counts as the rows arrive, exactly as for
 * API writes. That is why users are written before the edges and posts that count towards them (a trigger's
 * UPDATE of a missing user changes nothing), and why a repeated load is harmless: rows are inserted with
 * `ON CONFLICT DO NOTHING`, and an ignored row fires no trigger. `verifyCounters` recomputes every count in SQL
 * and compares.
 *
 * What is not written: timelines. A bulk-loaded user's UserTimeline object does not exist, so it is `cold`: its
 * first feed read answers 206 and regenerates it from D1 (the production path for returning users), and fan-out
 * pushes to it are ignored until then. AuthorFeed objects fill themselves from `user_posts` on first use.
 */
import { shardOf, type ShardMap } from '../src/sharding.ts';
import { parseHashtags, parseMentions } from '../src/text.ts';
import type { ShardSql, Storage } from './harness.ts';

export interface BulkUser {
  id: string;
  /** As stored: lower case (src/text.ts normalizeHandle). */
  handle: string;
  displayName: string;
  createdAt: number;
  /** users.last_active_at: null for users who have not read their feed since (cold, inactive). */
  lastActiveAt: number | null;
}

export interface BulkFollow {
  followerId: string;
  followeeId: string;
  createdAt: number;
}

export interface BulkPost {
  id: string;
  authorId: string;
  text: string;
  createdAt: number;
}

export interface BulkData {
  users: readonly BulkUser[];
  follows: readonly BulkFollow[];
  posts: readonly BulkPost[];
}

/** Rows written per table, and how long the table took (all shards in parallel). */
export interface TableLoad {
  table: string;
  rows: number;
  ms: number;
}

/** A JSON parameter is kept under this size; D1 allows 2 MB per value. */
const CHUNK_BYTES = 900_000;
/**
 * Rows per statement on Postgres. Each row's counter trigger updates its user, and a celebrity's 100,000 follows
 * update the same row: within one statement every update walks that row's versions from the statement's earlier
 * updates (not yet prunable), quadratic in the rows per statement. 50,000 follows of one user took 12.5 s at
 * 10,000 rows per statement and 2.3 s at 500 (0.7 s for 50,000 different users), on this machine.
 */
const PG_CHUNK_ROWS = 500;

interface TableSpec<T> {
  table: string;
  columns: readonly string[];
  /** The row's placement key (db/schema.ts notes it per table). */
  key(row: T): string;
  values(row: T): readonly (string | number | null)[];
}

const TABLES = {
  users: {
    table: 'users',
    columns: ['id', 'handle', 'display_name', 'created_at', 'last_active_at'],
    key: (u: BulkUser) => u.id,
    values: (u: BulkUser) => [u.id, u.handle, u.displayName, u.createdAt, u.lastActiveAt],
  },
  handles: {
    table: 'handles',
    columns: ['handle', 'user_id', 'created_at'],
    key: (u: BulkUser) => u.handle,
    values: (u: BulkUser) => [u.handle, u.id, u.createdAt],
  },
  followsByFollower: {
    table: 'follows_by_follower',
    columns: ['follower_id', 'followee_id', 'created_at'],
    key: (f: BulkFollow) => f.followerId,
    values: (f: BulkFollow) => [f.followerId, f.followeeId, f.createdAt],
  },
  followsByFollowee: {
    table: 'follows_by_followee',
    columns: ['followee_id', 'follower_id', 'created_at'],
    key: (f: BulkFollow) => f.followeeId,
    values: (f: BulkFollow) => [f.followeeId, f.followerId, f.createdAt],
  },
  posts: {
    table: 'posts',
    columns: ['id', 'author_id', 'text', 'hashtags', 'mentions', 'created_at', 'updated_at'],
    key: (p: BulkPost) => p.id,
    // Parsed as POST /v1/posts parses them, so bulk-loaded posts rank and render like created ones.
    values: (p: BulkPost) => [
      p.id,
      p.authorId,
      p.text,
      JSON.stringify(parseHashtags(p.text)),
      JSON.stringify(parseMentions(p.text)),
      p.createdAt,
      p.createdAt,
    ],
  },
  userPosts: {
    table: 'user_posts',
    columns: ['user_id', 'post_id', 'created_at'],
    key: (p: BulkPost) => p.authorId,
    values: (p: BulkPost) => [p.authorId, p.id, p.createdAt],
  },
} satisfies Record<string, TableSpec<never>>;

/** The insert of one chunk, a JSON array bound as the only parameter: tuples on D1, objects on Postgres. */
function insertSql(dialect: Storage, spec: { table: string; columns: readonly string[] }): string {
  const columns = spec.columns.join(', ');
  if (dialect === 'postgres') {
    // Bound as text: a parameter the server types as json, postgres.js would encode again, as a JSON string.
    return `INSERT INTO ${spec.table} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${spec.table}, $1::text::json)
      ON CONFLICT DO NOTHING`;
  }
  const select = spec.columns.map((_, i) => `value ->> ${i}`).join(', ');
  return `INSERT INTO ${spec.table} (${columns}) SELECT ${select} FROM json_each(?1) WHERE true
    ON CONFLICT DO NOTHING`;
}

/** A row as the dialect's insert reads it: json_populate_recordset takes objects keyed by column. */
function rowJson(dialect: Storage, columns: readonly string[], values: readonly (string | number | null)[]) {
  return dialect === 'postgres' ? Object.fromEntries(columns.map((c, i) => [c, values[i]])) : values;
}

/** Rows (tuples or objects) as JSON arrays, cut so that no parameter exceeds maxBytes, nor maxRows rows. */
export function chunkRows(
  rows: readonly unknown[],
  maxBytes: number = CHUNK_BYTES,
  maxRows: number = Infinity,
): string[] {
  const chunks: string[] = [];
  let parts: string[] = [];
  let bytes = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    const size = Buffer.byteLength(json) + 1;
    if (parts.length > 0 && (bytes + size > maxBytes || parts.length >= maxRows)) {
      chunks.push(`[${parts.join(',')}]`);
      parts = [];
      bytes = 2;
    }
    parts.push(json);
    bytes += size;
  }
  if (parts.length > 0) chunks.push(`[${parts.join(',')}]`);
  return chunks;
}

async function loadTable<T>(
  shards: readonly ShardSql[],
  map: ShardMap,
  spec: TableSpec<T>,
  rows: readonly T[],
): Promise<TableLoad> {
  const started = performance.now();
  const byShard = shards.map(() => [] as unknown[]);
  for (const row of rows) {
    const shard = shardOf(map, spec.key(row));
    byShard[shard]!.push(rowJson(shards[shard]!.dialect, spec.columns, spec.values(row)));
  }
  // Shards are separate databases: loading them side by side uses both cores.
  await Promise.all(
    shards.map(async (db, shard) => {
      const sql = insertSql(db.dialect, spec);
      const maxRows = db.dialect === 'postgres' ? PG_CHUNK_ROWS : Infinity;
      for (const chunk of chunkRows(byShard[shard]!, CHUNK_BYTES, maxRows)) await db.query(sql, [chunk]);
    }),
  );
  return { table: spec.table, rows: rows.length, ms: performance.now() - started };
}

/**
 * Writes users (and their handles), then follows (both directions), then posts (and the authors' indexes), each
 * row on its placement shard. Returns what each table took.
 */
export async function bulkLoad(
  shards: readonly ShardSql[],
  map: ShardMap,
  data: BulkData,
  log: (line: string) => void = () => {},
): Promise<TableLoad[]> {
  if (shards.length !== map.shardCount) {
    throw new Error(`the shard map has ${map.shardCount} shards, ${shards.length} databases given`);
  }
  const loads: TableLoad[] = [];
  const step = async <T>(spec: TableSpec<T>, rows: readonly T[]) => {
    const load = await loadTable(shards, map, spec, rows);
    log(`${load.table}: ${load.rows} rows in ${(load.ms / 1000).toFixed(1)} s`);
    loads.push(load);
  };
  await step(TABLES.users, data.users);
  await step(TABLES.handles, data.users);
  await step(TABLES.followsByFollower, data.follows);
  await step(TABLES.followsByFollowee, data.follows);
  await step(TABLES.posts, data.posts);
  await step(TABLES.userPosts, data.posts);
  return loads;
}

/** A counter column and the edge table whose rows it counts (migration 0001's triggers). */
const COUNTERS = [
  { column: 'followers_count', table: 'follows_by_followee', key: 'followee_id' },
  { column: 'following_count', table: 'follows_by_follower', key: 'follower_id' },
  { column: 'posts_count', table: 'user_posts', key: 'user_id' },
] as const;

export interface CounterCheck {
  users: number;
  /** Users whose stored count differs from the count of their rows, per counter. */
  wrong: Record<(typeof COUNTERS)[number]['column'], number>;
}

/** Recomputes every user's counters from the edge rows of their shard and counts the users that disagree. */
export async function verifyCounters(shards: readonly ShardSql[]): Promise<CounterCheck> {
  const check: CounterCheck = { users: 0, wrong: { followers_count: 0, following_count: 0, posts_count: 0 } };
  const statements = [
    'SELECT count(*) AS n FROM users',
    ...COUNTERS.map(
      (c) =>
        `SELECT count(*) AS n FROM users u WHERE u.${c.column} != (SELECT count(*) FROM ${c.table} t WHERE t.${c.key} = u.id)`,
    ),
  ];
  for (const db of shards) {
    // Postgres counts are int8, which postgres.js returns as strings.
    const results = await Promise.all(statements.map((s) => db.query<{ n: number | string }>(s)));
    const n = results.map((rows) => Number(rows[0]?.n ?? Number.NaN));
    check.users += n[0]!;
    COUNTERS.forEach((c, i) => (check.wrong[c.column] += n[i + 1]!));
  }
  return check;
}
