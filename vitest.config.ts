import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

const migrations = await readD1Migrations('db/migrations');

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                JWT_SECRET: 'test-secret-0123456789abcdef0123456789abcdef',
                ADMIN_TOKEN: 'test-admin-token',
                // Small thresholds, so a handful of followers exercises all three fan-out classes and
                // paging: small < 3 <= medium < 6 <= celebrity, two followers per fan-out page.
                FANOUT_PUSH_MAX: '3',
                FANOUT_PULL_MIN: '6',
                FANOUT_PAGE_SIZE: '2',
              },
            },
          }),
        ],
        test: {
          name: 'workers',
          // End-to-end tests wait on real queues (batch timeouts of 1-2 s locally).
          testTimeout: 30_000,
          include: ['test/workers/**/*.test.ts'],
          setupFiles: ['test/support/apply-migrations.ts'],
        },
      },
    ],
  },
});
