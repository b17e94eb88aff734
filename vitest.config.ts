import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { ensureFixtureModel, fixtureBinding } from './scripts/make-fixture-model.ts';

const migrations = await readD1Migrations('db/migrations');
// A generated model with random weights (cached in .fixtures/): it proves the embedding path, not its quality.
const embeddingFixture = await fixtureBinding(await ensureFixtureModel('tiny'));

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
                // The embedder reads the fixture model; a test puts it into MODELS (test/support/fixture-model.ts).
                TEST_EMBEDDING_FIXTURE: embeddingFixture,
                EMBEDDING_MODEL: embeddingFixture.model,
                EMBEDDING_REVISION: embeddingFixture.revision,
              },
            },
          }),
        ],
        // As wrangler.toml's [alias]: ONNX Runtime's plain WASM build instead of its WebGPU one (workers/embedding).
        resolve: {
          alias: {
            'onnxruntime-web/webgpu': fileURLToPath(
              new URL('./node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs', import.meta.url),
            ),
          },
        },
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
