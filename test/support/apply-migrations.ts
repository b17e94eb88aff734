import { applyD1Migrations, env } from 'cloudflare:test';

// Storage is isolated per test file; migrations are idempotent, so running this before each file is safe.
await Promise.all(
  Array.from({ length: Number(env.SHARD_COUNT) }, (_, i) =>
    applyD1Migrations(env[`DB_SHARD_${i}` as 'DB_SHARD_0'], env.TEST_MIGRATIONS),
  ),
);
