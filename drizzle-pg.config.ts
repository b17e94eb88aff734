import { defineConfig } from 'drizzle-kit';

// The Postgres shards' schema (db/schema-pg.ts), beside drizzle.config.ts's D1 one. `drizzle-kit migrate` applies
// db/migrations-pg to the database at PG_URL, one shard at a time (README "Deploying on Postgres").
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema-pg.ts',
  out: './db/migrations-pg',
  dbCredentials: { url: process.env.PG_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/edge_feed_shard_0' },
});
