/**
 * Global setup of the `workers-pg-*` projects: a real PostgreSQL (scripts/postgres.ts: PG_URL, the server on
 * 127.0.0.1:5432, else a throwaway cluster; never skipped) and, per project, one database per shard created and
 * migrated afresh, handed to the project's Hyperdrive bindings through provide/inject (vitest.config.ts). The
 * project runs its files one at a time and test/support/reset-postgres.ts empties the databases before each file:
 * what D1's per-file storage isolation gives the `workers` project.
 */
import type { TestProject } from 'vitest/node';
import { createShardDatabases, dropDatabases, ensurePostgres } from '../../scripts/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shard databases' connection strings, space-separated. */
    pgShardUrls: string;
  }
}

export const PG_TEST_SHARDS = 4;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await ensurePostgres({ throwaway: true });
  const names = Array.from(
    { length: PG_TEST_SHARDS },
    (_, i) => `edge_feed_test_${project.name.replaceAll(/\W/g, '_')}_${process.pid}_${i}`,
  );
  try {
    project.provide('pgShardUrls', (await createShardDatabases(server.url, names)).join(' '));
  } catch (error) {
    await server.stop();
    throw error;
  }
  return async () => {
    await dropDatabases(server.url, names);
    await server.stop();
  };
}
