import { getTableName } from 'drizzle-orm';
import { env } from 'cloudflare:workers';
import * as pgSchema from '../../db/schema-pg.ts';
import { depsFor, shardDatabases } from '../../workers/composition.ts';

// The Postgres shards outlive a test file (D1's storage does not): empty them before each file, which the project
// runs one at a time (vitest.config.ts), so every file starts as on fresh D1 databases.
const tables = Object.values(pgSchema).map((table) => `"${getTableName(table)}"`);
const { config } = depsFor(env);
await Promise.all(
  shardDatabases(env, config.storage, config.shardCount).map((db) => db.exec(`TRUNCATE ${tables.join(', ')}`)),
);
