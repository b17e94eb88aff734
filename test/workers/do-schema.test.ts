import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { AUTHOR_FEED_SCHEMA, AuthorFeed } from '../../durable-objects/author-feed.ts';
import { RATE_LIMITER_SCHEMA, RateLimiter } from '../../durable-objects/rate-limiter.ts';
import {
  SCHEMA_VERSION_KEY,
  SchemaMigrationError,
  migrateStorage,
  sqlMigration,
  type SchemaMigration,
  type StorageSchema,
} from '../../durable-objects/schema.ts';
import { TRENDING_SCHEMA, Trending } from '../../durable-objects/trending.ts';
import { USER_TIMELINE_SCHEMA, UserTimeline } from '../../durable-objects/user-timeline.ts';
import { createIdGenerator } from '../../src/ids.ts';

const newId = createIdGenerator({ node: 9 });

type Start = (state: DurableObjectState) => unknown;

/** Each class, a fresh object of it, how to start it again on the same storage, and what its storage holds. */
const CLASSES = [
  {
    name: 'UserTimeline',
    schema: USER_TIMELINE_SCHEMA,
    stub: () => env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(newId())),
    start: ((state) => new UserTimeline(state, env)) satisfies Start,
    objects: [
      'author_feedback',
      'engagements',
      'engagements_at',
      'entries',
      'entries_author',
      'entries_repost_by',
      'entries_sort',
      'follows',
      'meta',
      'seen',
      'seen_keys',
      'snapshots',
    ],
    drop: { sql: 'DROP TABLE snapshots', name: 'snapshots' },
  },
  {
    name: 'AuthorFeed',
    schema: AUTHOR_FEED_SCHEMA,
    stub: () => env.AUTHOR_FEED.get(env.AUTHOR_FEED.idFromName(newId())),
    start: ((state) => new AuthorFeed(state, env)) satisfies Start,
    objects: ['meta', 'recent', 'reposts', 'reposts_recent', 'watchers'],
    drop: { sql: 'DROP TABLE recent', name: 'recent' },
  },
  {
    name: 'Trending',
    schema: TRENDING_SCHEMA,
    stub: () => env.TRENDING.get(env.TRENDING.idFromName(`schema-${newId()}`)),
    start: ((state) => new Trending(state, env)) satisfies Start,
    objects: ['posts', 'posts_bucket'],
    // Its constructor reads the posts table, so the index goes.
    drop: { sql: 'DROP INDEX posts_bucket', name: 'posts_bucket' },
  },
  {
    name: 'RateLimiter',
    schema: RATE_LIMITER_SCHEMA,
    stub: () => env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`user:${newId()}`)),
    start: ((state) => new RateLimiter(state, env)) satisfies Start,
    objects: ['windows'],
    drop: { sql: 'DROP TABLE windows', name: 'windows' },
  },
] as const;

/**
 * The tables and indexes the class created, with the SQL SQLite keeps for them, whitespace collapsed (internal
 * `_cf_` ones left out).
 */
function schemaObjects(sql: SqlStorage): Array<{ name: string; sql: string }> {
  return sql
    .exec<{ name: string; sql: string }>(
      "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND sql IS NOT NULL ORDER BY name",
    )
    .toArray()
    .map((o) => ({ name: o.name, sql: o.sql.replace(/\s+/g, ' ') }));
}

function version(storage: DurableObjectStorage): unknown {
  return storage.kv.get(SCHEMA_VERSION_KEY);
}

/** Storage as it was before schemas had versions: no stamp, and (until the legacy DDL runs) no tables. */
function wipe(storage: DurableObjectStorage): void {
  const tables = storage.sql
    .exec<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
    )
    .toArray();
  // Dropping a table drops its indexes.
  for (const { name } of tables) storage.sql.exec(`DROP TABLE ${name}`);
  storage.kv.delete(SCHEMA_VERSION_KEY);
}

/** The DDL every UserTimeline constructor ran before versions, verbatim: what objects stored then hold. */
const LEGACY_USER_TIMELINE_DDL = `
  CREATE TABLE IF NOT EXISTS entries (
    post_id TEXT PRIMARY KEY, author_id TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS entries_author ON entries (author_id);
  CREATE TABLE IF NOT EXISTS follows (
    author_id TEXT PRIMARY KEY, mode TEXT NOT NULL, changed_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS engagements (
    key TEXT PRIMARY KEY, author_id TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS engagements_at ON engagements (at);
  CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, items TEXT NOT NULL) WITHOUT ROWID;
`;

/** A step that counts its runs and records its order in the storage it migrates. */
function recordingStep(name: string, runs: string[]): SchemaMigration {
  return {
    name,
    up(sql) {
      runs.push(name);
      sql.exec('CREATE TABLE IF NOT EXISTS steps (name TEXT NOT NULL)');
      sql.exec('INSERT INTO steps (name) VALUES (?)', name);
    },
  };
}

describe.each(CLASSES)('$name storage schema', ({ schema, stub, start, objects, drop }) => {
  it('a fresh object ends at the latest version, with its tables', async () => {
    await runInDurableObject(stub(), (_instance, state) => {
      expect(version(state.storage)).toBe(schema.migrations.length);
      expect(schemaObjects(state.storage.sql).map((o) => o.name)).toEqual(objects);
    });
  });

  it('a start with a current schema runs no migration and no DDL', async () => {
    await runInDurableObject(stub(), (_instance, state) => {
      // An object removed behind the stamp's back stays removed: a start that ran DDL (even IF NOT EXISTS) would
      // bring it back.
      state.storage.sql.exec(drop.sql);
      const spies = schema.migrations.map((m) => vi.spyOn(m, 'up'));
      try {
        start(state);
        for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      expect(schemaObjects(state.storage.sql).map((o) => o.name)).not.toContain(drop.name);
      expect(version(state.storage)).toBe(schema.migrations.length);
    });
  });
});

describe('objects stored before schemas had versions', () => {
  it('adopt version 1 on start and migrate on from there, keeping their rows', async () => {
    const ownerId = newId();
    const stub = env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(ownerId));
    await runInDurableObject(stub, (_instance, state) => {
      const fresh = schemaObjects(state.storage.sql);
      wipe(state.storage);
      expect(schemaObjects(state.storage.sql)).toEqual([]);
      state.storage.sql.exec(LEGACY_USER_TIMELINE_DDL);
      state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('owner', ?), ('generated_at', 1)", ownerId);
      state.storage.sql.exec("INSERT INTO follows (author_id, mode, changed_at) VALUES (?, 'push', 1)", ownerId);
      state.storage.sql.exec('INSERT INTO entries (post_id, author_id, created_at) VALUES (?, ?, 1)', newId(), ownerId);
      expect(version(state.storage)).toBeUndefined();

      const restarted = new UserTimeline(state, env);
      expect(version(state.storage)).toBe(USER_TIMELINE_SCHEMA.migrations.length);
      expect(schemaObjects(state.storage.sql)).toEqual(fresh);
      expect(restarted.size()).toBe(1);
      expect(restarted.state()).toBe('ready');
    });
  });
});

describe('migrateStorage', () => {
  /** UserTimeline's schema with further steps, as a later release would ship it. */
  function later(...steps: SchemaMigration[]): StorageSchema {
    return { name: 'UserTimeline', migrations: [...USER_TIMELINE_SCHEMA.migrations, ...steps] };
  }

  it('migrates an object stored at an older version through the newer steps only, in order', async () => {
    const stub = env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(newId()));
    await stub.init('someone', 1);
    const current = USER_TIMELINE_SCHEMA.migrations.length;
    await runInDurableObject(stub, (_instance, state) => {
      expect(version(state.storage)).toBe(current);
      const runs: string[] = [];
      const v1 = vi.spyOn(USER_TIMELINE_SCHEMA.migrations[0]!, 'up');
      const schema = later(
        recordingStep('v2', runs),
        sqlMigration('v3: entries.seen', 'ALTER TABLE entries ADD COLUMN seen INTEGER NOT NULL DEFAULT 0'),
        recordingStep('v4', runs),
      );
      try {
        expect(migrateStorage(state.storage, schema)).toEqual({ from: current, to: current + 3 });
        expect(v1).not.toHaveBeenCalled();
      } finally {
        v1.mockRestore();
      }
      expect(runs).toEqual(['v2', 'v4']);
      expect(version(state.storage)).toBe(current + 3);
      const names = state.storage.sql.exec<{ name: string }>('SELECT name FROM steps ORDER BY rowid').toArray();
      expect(names.map((r) => r.name)).toEqual(['v2', 'v4']);
      const columns = state.storage.sql.exec<{ name: string }>('PRAGMA table_info(entries)').toArray();
      expect(columns.map((c) => c.name)).toContain('seen');
      // The object's own data survived, and a second start finds nothing to do.
      expect(state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'owner'").one().value).toBe(
        'someone',
      );
      expect(migrateStorage(state.storage, schema)).toEqual({ from: current + 3, to: current + 3 });
      expect(runs).toEqual(['v2', 'v4']);
    });
  });

  it('rolls a failed step back with its stamp, and retries it at the next start', async () => {
    const stub = env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(newId()));
    await runInDurableObject(stub, (_instance, state) => {
      let fail = true;
      const schema = later({
        name: 'v2: half done, then fails',
        up(sql) {
          sql.exec('CREATE TABLE drafts (id TEXT PRIMARY KEY) WITHOUT ROWID');
          if (fail) throw new Error('boom');
        },
      });
      const current = USER_TIMELINE_SCHEMA.migrations.length;
      expect(() => migrateStorage(state.storage, schema)).toThrow(SchemaMigrationError);
      expect(version(state.storage)).toBe(current);
      expect(schemaObjects(state.storage.sql).map((o) => o.name)).not.toContain('drafts');
      fail = false;
      expect(migrateStorage(state.storage, schema)).toEqual({ from: current, to: current + 1 });
      expect(schemaObjects(state.storage.sql).map((o) => o.name)).toContain('drafts');
    });
  });

  it('leaves storage stamped newer than the code alone (a rollback), and refuses a stamp that is no version', async () => {
    const stub = env.USER_TIMELINE.get(env.USER_TIMELINE.idFromName(newId()));
    await runInDurableObject(stub, (_instance, state) => {
      const before = schemaObjects(state.storage.sql);
      const newer = USER_TIMELINE_SCHEMA.migrations.length + 1;
      state.storage.kv.put(SCHEMA_VERSION_KEY, newer);
      expect(migrateStorage(state.storage, USER_TIMELINE_SCHEMA)).toEqual({ from: newer, to: newer });
      expect(version(state.storage)).toBe(newer);
      expect(schemaObjects(state.storage.sql)).toEqual(before);
      state.storage.kv.put(SCHEMA_VERSION_KEY, 'one');
      expect(() => migrateStorage(state.storage, USER_TIMELINE_SCHEMA)).toThrow(SchemaMigrationError);
    });
  });
});
