import { defineConfig } from 'drizzle-kit';

// The Postgres shards' schema (db/schema-pg.ts), beside drizzle.config.ts's D1 one.
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema-pg.ts',
  out: './db/migrations-pg',
});
