import { fileURLToPath } from 'node:url';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { configDefaults, defineConfig } from 'vitest/config';
import { ensureFixtureModel, fixtureBinding } from './scripts/make-fixture-model.ts';

const migrations = await readD1Migrations('db/migrations');
// A generated model with random weights (cached in .fixtures/): it proves the embedding path, not its quality.
const embeddingFixture = await fixtureBinding(await ensureFixtureModel('tiny'));

/** The Worker as wrangler.toml declares it, with test settings; `extra` adds bindings (the L2 project's Redis). */
function workersPool(extra: Record<string, string> = {}) {
  return {
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
        // Not production, and no drainer alarms: tests drain outboxes themselves (workers/outbox.ts drainAll), so
        // nothing runs behind their backs. The faults project turns the alarms and the injector on.
        ENVIRONMENT: 'test',
        OUTBOX_DRAIN_INTERVAL: 'off',
        ...extra,
      },
    },
  };
}

// As wrangler.toml's [alias]: ONNX Runtime's plain WASM build instead of its WebGPU one (workers/embedding).
const resolve = {
  alias: {
    'onnxruntime-web/webgpu': fileURLToPath(
      new URL('./node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs', import.meta.url),
    ),
  },
};

const workersTest = {
  // End-to-end tests wait on real queues (batch timeouts of 1-2 s locally).
  testTimeout: 30_000,
  setupFiles: ['test/support/apply-migrations.ts'],
};

// Tests that also run with L2 on (real Redis through the Upstash bridge), and those that only make sense with it.
const L2_ONLY = ['test/workers/upstash*.test.ts', 'test/workers/**/*.l2.test.ts'];
// Tests under injected faults (workers/faults.ts), in a project of their own whose bindings enable the injector.
const FAULTS_ONLY = ['test/workers/**/*.faults.test.ts'];
const WITH_L2 = ['test/workers/cache*.test.ts', 'test/workers/rate-limit*.test.ts', ...L2_ONLY];
// The workers tests again with STORAGE=postgres, in two projects of about equal time (files A-M, N-Z), each with
// its own databases on a real PostgreSQL (test/support/postgres-global-setup.ts).
const PG_HALVES = [
  ['workers-pg-1', ['test/workers/[a-m]*.test.ts']],
  ['workers-pg-2', ['test/workers/[n-z]*.test.ts']],
] as const;

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        // Real Mastodon client libraries over HTTP against the bundle in workerd (bench/harness.ts startService).
        test: {
          name: 'clients',
          include: ['test/clients/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 240_000,
        },
      },
      {
        plugins: [cloudflareTest(workersPool())],
        resolve,
        test: {
          name: 'workers',
          ...workersTest,
          include: ['test/workers/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...L2_ONLY, ...FAULTS_ONLY],
        },
      },
      {
        // 20% of D1 writes and queue sends and 30% of queue deliveries fail; drainers run every second and re-send
        // after 1 s; retries wait at most 1 s, so a test sees many faults and their repair in a few seconds.
        plugins: [
          cloudflareTest(
            workersPool({
              FAULTS: 'd1.write=0.2,queue.send=0.2,delivery=0.3,seed=13',
              OUTBOX_DELAY: '1s',
              OUTBOX_DRAIN_INTERVAL: '1s',
              QUEUE_RETRY_MAX_SECONDS: '1',
            }),
          ),
        ],
        resolve,
        test: { name: 'workers-faults', ...workersTest, include: FAULTS_ONLY },
      },
      {
        // The bridge's URL and token exist only once the global setup has started it, hence inject().
        plugins: [
          cloudflareTest(({ inject }) =>
            workersPool({
              UPSTASH_REDIS_REST_URL: inject('upstashUrl'),
              UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'),
            }),
          ),
        ],
        resolve,
        test: {
          name: 'workers-l2',
          ...workersTest,
          include: WITH_L2,
          globalSetup: ['test/support/redis-global-setup.ts'],
        },
      },
      ...PG_HALVES.map(([name, include]) => ({
        plugins: [
          cloudflareTest(({ inject }) => {
            const pool = workersPool({ STORAGE: 'postgres' });
            const urls = inject('pgShardUrls').split(' ');
            return {
              ...pool,
              miniflare: {
                ...pool.miniflare,
                hyperdrives: Object.fromEntries(urls.map((url, i) => [`PG_SHARD_${i}`, url])),
              },
            };
          }),
        ],
        resolve,
        test: {
          name,
          ...workersTest,
          setupFiles: ['test/support/reset-postgres.ts'],
          include: [...include],
          exclude: [...configDefaults.exclude, ...L2_ONLY, ...FAULTS_ONLY],
          globalSetup: ['test/support/postgres-global-setup.ts'],
          // One file at a time over the project's databases, emptied before each (test/support/reset-postgres.ts).
          fileParallelism: false,
        },
      })),
    ],
  },
});
