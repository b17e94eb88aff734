/**
 * `npm run dev [-- [--redis] <wrangler dev args>]`: a local API that is ready to explore. Creates .dev.vars, migrates
 * every shard, starts `wrangler dev`, and the first time loads a small demo data set through the HTTP API.
 * `--redis` (or REDIS=1) turns L2 on: a local Redis behind the Upstash bridge, passed to the Worker with --var.
 * `--postgres` keeps the shards in PostgreSQL (PG_URL, else 127.0.0.1:5432): one database per shard, created and
 * migrated here, reached through the PG_SHARD_i Hyperdrive bindings' local connection strings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  SEED_MARKER_PATH,
  buildDemoPlan,
  createApiClient,
  ApiError,
  readSeedMarker,
  seedDemo,
  writeSeedMarker,
} from './demo-data.ts';
import type { SeedMarker } from './demo-data.ts';
import { ROOT, exitCodeOf, migrateLocal, spawnWrangler } from './migrate-local.ts';
import { devShardDatabase, ensurePostgres, ensureShardDatabases } from './postgres.ts';
import { ensureRedis, redact } from './redis-server.ts';
import { cachedTrainedModel, type TrainedModel } from './train-model.ts';
import { randomBridgeToken, startUpstashBridge } from './upstash-bridge.ts';

const DEFAULT_IP = '127.0.0.1';
const DEFAULT_PORT = '8787';
const HEALTH_TIMEOUT_MS = 90_000;

const log = (line: string) => console.log(`[dev] ${line}`);

/** The value of `--name value` or `--name=value` in `args`; the last one wins, as with yargs. */
export function optionValue(args: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  args.forEach((arg, i) => {
    if (arg === name) value = args[i + 1];
    else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
  });
  return value;
}

export interface DevSettings {
  wranglerArgs: string[];
  /** `--redis` (ours, not wrangler's) or REDIS=1: start Redis and the Upstash bridge, so L2 is on. */
  redis: boolean;
  /** `--postgres` (ours): STORAGE=postgres over local databases. */
  postgres: boolean;
  migrateArgs: string[];
  baseUrl: string;
  /** Demo seeding needs plain HTTP: Node's fetch rejects the self-signed certificate of --local-protocol https. */
  canSeed: boolean;
}

/**
 * Our defaults only fill in what the user did not pass: yargs turns a repeated `--port` into an array, so
 * appending the user's flags after ours would break rather than override.
 */
export function devSettings(allArgs: readonly string[], environment: NodeJS.ProcessEnv = {}): DevSettings {
  const userArgs = allArgs.filter((arg) => arg !== '--redis' && arg !== '--postgres');
  const ip = optionValue(userArgs, '--ip');
  const port = optionValue(userArgs, '--port') ?? DEFAULT_PORT;
  const defaults = [
    ...(ip === undefined ? ['--ip', DEFAULT_IP] : []),
    ...(userArgs.some(isPortFlag) ? [] : ['--port', port]),
  ];
  const persistTo = optionValue(userArgs, '--persist-to');
  return {
    wranglerArgs: ['dev', ...defaults, ...userArgs],
    redis: allArgs.includes('--redis') || environment.REDIS === '1',
    postgres: allArgs.includes('--postgres'),
    // The migrations must land in the same local state that wrangler dev reads.
    migrateArgs: persistTo === undefined ? [] : ['--persist-to', persistTo],
    baseUrl: `http://${clientHost(ip)}:${port}`,
    canSeed: optionValue(userArgs, '--local-protocol') !== 'https',
  };
}

/** Where to reach a server listening on `ip`: a wildcard address is reachable on loopback, IPv6 needs brackets. */
function clientHost(ip: string | undefined): string {
  if (ip === undefined || ip === '0.0.0.0' || ip === '*') return DEFAULT_IP;
  if (ip === '::') return '[::1]';
  return ip.includes(':') ? `[${ip}]` : ip;
}

function isPortFlag(arg: string): boolean {
  return arg === '--port' || arg.startsWith('--port=');
}

/** Created from the example only when absent: an existing .dev.vars holds the developer's own secrets. */
function ensureDevVars(): void {
  try {
    copyFileSync(path.join(ROOT, '.dev.vars.example'), path.join(ROOT, '.dev.vars'), constants.COPYFILE_EXCL);
    log('created .dev.vars from .dev.vars.example');
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) throw error;
  }
}

// ---------------------------------------------------------------------------------------------- local model

/** The values given to wrangler's `--var` (`--var K:V [K:V ...]` or `--var=K:V`). */
export function varValues(args: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--var=')) values.push(arg.slice('--var='.length));
    else if (arg === '--var')
      for (; args[i + 1] !== undefined && !args[i + 1]!.startsWith('-'); i++) values.push(args[i + 1]!);
  }
  return values;
}

/** Whether the developer picked a model (a `--var` or .dev.vars entry): then `npm run dev` leaves it alone. */
export function userPicksModel(wranglerArgs: readonly string[], devVars: string): boolean {
  return (
    varValues(wranglerArgs).some((value) => value.startsWith('EMBEDDING_MODEL:')) ||
    /^\s*EMBEDDING_MODEL\s*=/m.test(devVars)
  );
}

/** `bucket_name` of wrangler.toml's `[[r2_buckets]]` entry for `binding` (as shardBindings, no TOML library). */
export function bucketName(wranglerToml: string, binding: string): string {
  let section = '';
  let entry: Record<string, string> = {};
  const found: Record<string, string>[] = [];
  for (const raw of wranglerToml.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(line);
    if (header) {
      section = header[1]!;
      entry = {};
      if (section === 'r2_buckets') found.push(entry);
      continue;
    }
    const pair = /^([A-Za-z0-9_]+)\s*=\s*"([^"]*)"$/.exec(line);
    if (pair && section === 'r2_buckets') entry[pair[1]!] = pair[2]!;
  }
  const name = found.find((bucket) => bucket.binding === binding)?.bucket_name;
  if (!name) throw new Error(`wrangler.toml: no [[r2_buckets]] entry with binding = "${binding}"`);
  return name;
}

async function runWrangler(args: readonly string[], onChild: (child: ChildProcess | undefined) => void): Promise<void> {
  const child = spawnWrangler(args, { stdio: ['ignore', 'ignore', 'inherit'] });
  onChild(child);
  const code = await exitCodeOf(child).finally(() => onChild(undefined));
  if (code !== 0) throw new Error(`wrangler ${args.join(' ')} failed with exit code ${code}`);
}

/**
 * The local model (scripts/train-model.ts), trained on first use in a child process (about half a minute, and
 * interruptible) and cached in .fixtures/ after that; its files put into the local MODELS bucket once per
 * revision and local state. The marker sits in the state folder, so removing .wrangler uploads again.
 */
async function prepareLocalModel(
  settings: DevSettings,
  onChild: (child: ChildProcess | undefined) => void,
): Promise<TrainedModel> {
  let made = await cachedTrainedModel();
  if (!made) {
    log('training the local text model (once; cached in .fixtures/models)');
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'train-model.ts')], { stdio: 'inherit' });
    onChild(child);
    const code = await exitCodeOf(child).finally(() => onChild(undefined));
    if (code !== 0) throw new Error(`scripts/train-model.ts failed with exit code ${code}`);
    made = await cachedTrainedModel();
    if (!made) throw new Error('scripts/train-model.ts finished but left no model');
  }
  const persistTo = optionValue(settings.migrateArgs, '--persist-to');
  const marker = path.join(
    persistTo === undefined ? path.join(ROOT, '.wrangler', 'state') : path.resolve(ROOT, persistTo),
    'edge-feed-models.json',
  );
  const uploaded = existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as string[]) : [];
  const id = `${made.model}@${made.revision}`;
  if (!uploaded.includes(id)) {
    const bucket = bucketName(readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'), 'MODELS');
    log(`putting ${id} into the local ${bucket} bucket`);
    for (const file of made.files) {
      const key = `${made.model}/${made.revision}/${file}`;
      await runWrangler(
        [
          'r2',
          'object',
          'put',
          `${bucket}/${key}`,
          '--file',
          path.join(made.dir, file),
          '--local',
          ...settings.migrateArgs,
        ],
        onChild,
      );
    }
    writeFileSync(marker, JSON.stringify([...uploaded, id]));
  }
  return made;
}

function readDevVars(): string {
  const file = path.join(ROOT, '.dev.vars');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Polls until the health route answers 200; gives up when wrangler exits first or after the timeout. */
async function waitForHealth(baseUrl: string, wranglerExited: Promise<number>, signal: AbortSignal): Promise<void> {
  let exited = false;
  const markExited = () => (exited = true);
  wranglerExited.then(markExited, markExited);
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited) throw new Error('wrangler dev exited before the API became healthy');
    signal.throwIfAborted();
    try {
      const response = await fetch(`${baseUrl}/v1/health`, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
      });
      if (response.status === 200) return;
      last = `${response.status}: ${(await response.text()).slice(0, 300)}`;
    } catch (error) {
      if (signal.aborted) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(250, undefined, { signal });
  }
  throw new Error(`GET ${baseUrl}/v1/health did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s (last: ${last})`);
}

/**
 * The marker is trusted only while the state still has its users: after `rm -rf .wrangler/state`, or with
 * another --persist-to, the same marker would point at nobody.
 */
async function existingSeed(baseUrl: string, signal: AbortSignal): Promise<SeedMarker | null> {
  const marker = readSeedMarker();
  const first = marker?.users[0];
  if (!marker || !first) return null;
  try {
    await createApiClient(baseUrl, signal).call('GET', `/v1/users/${first.id}`);
    return marker;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      log(`${path.relative(ROOT, SEED_MARKER_PATH)} lists users this local state does not have: seeding again`);
      return null;
    }
    throw error;
  }
}

function printSummary(marker: SeedMarker, baseUrl: string, fresh: boolean): void {
  const { counts, source } = marker;
  const first = marker.users[0]!;
  const lines = [
    fresh
      ? `demo data loaded (graph: ${source.graph}, texts: ${source.texts}): ${counts.users} users, ${counts.follows} follows, ` +
        `${counts.posts} posts, ${counts.likes} likes, ${counts.comments} comments, ${counts.shares} shares`
      : `demo data already loaded on ${marker.createdAt} (graph: ${source.graph}, texts: ${source.texts}); ` +
        `rm -rf .wrangler to start over`,
    `users and tokens: ${path.relative(ROOT, SEED_MARKER_PATH)}; \`npm run -s token -- <handle>\` prints a token`,
    `first demo user: ${first.handle} (${first.id})`,
    `  curl -s ${baseUrl}/v1/users/${first.id}`,
    `  curl -s ${baseUrl}/v1/users/${first.id}/posts`,
    `  curl -s -H "Authorization: Bearer $(npm run -s token -- ${first.handle})" ${baseUrl}/v1/feed`,
  ];
  for (const line of lines) log(line);
}

/**
 * Sends SIGINT/SIGTERM on to the running child (a migration or wrangler dev). Every signal is forwarded rather
 * than escalated to SIGKILL: bin/wrangler.js is a wrapper around the real CLI, and killing the wrapper hard
 * would orphan the CLI and its workerd.
 */
function forwardSignals(current: () => ChildProcess | undefined, onSignal: () => void): void {
  const forward = (signal: NodeJS.Signals) => {
    onSignal();
    const child = current();
    if (!child) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
}

/** Redis (the running one, or a throwaway server) behind the Upstash bridge, and the --var flags that point at it. */
async function startL2(): Promise<{ vars: string[]; stop(): Promise<void> }> {
  const redis = await ensureRedis();
  const bridge = await startUpstashBridge({ redisUrl: redis.url, token: randomBridgeToken() }).catch(
    async (error: unknown) => {
      await redis.stop();
      throw error;
    },
  );
  log(`L2 on: Upstash bridge ${bridge.url} in front of ${redact(redis.url)} (${redis.source})`);
  return {
    vars: ['--var', `UPSTASH_REDIS_REST_URL:${bridge.url}`, '--var', `UPSTASH_REDIS_REST_TOKEN:${bridge.token}`],
    async stop() {
      await bridge.close();
      await redis.stop();
    },
  };
}

/**
 * One database per shard on the local PostgreSQL, created and migrated when needed; the Worker reaches them through
 * its Hyperdrive bindings, whose local connection strings wrangler takes from the environment. Returns the --var.
 */
async function preparePostgres(): Promise<string[]> {
  const server = await ensurePostgres({ throwaway: false });
  const count = Number(
    /^SHARD_COUNT = "(\d+)"/m.exec(readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'))?.[1] ?? 4,
  );
  const names = Array.from({ length: count }, (_, i) => devShardDatabase(i));
  const urls = await ensureShardDatabases(server.url, names);
  urls.forEach((url, i) => (process.env[`CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_PG_SHARD_${i}`] = url));
  log(`postgres shards: ${names.join(', ')} on ${new URL(server.url).host} (migrated)`);
  return ['--var', 'STORAGE:postgres'];
}

export async function main(argv: readonly string[]): Promise<number> {
  const userArgs = argv[0] === '--' ? argv.slice(1) : [...argv];
  const given = devSettings(userArgs, process.env);
  const settings = given.postgres
    ? { ...given, wranglerArgs: [...given.wranglerArgs, ...(await preparePostgres())] }
    : given;
  log(`storage: ${settings.postgres ? 'postgres' : 'd1'}`);
  if (!settings.redis) return serve(settings);
  const l2 = await startL2();
  try {
    return await serve({ ...settings, wranglerArgs: [...settings.wranglerArgs, ...l2.vars] });
  } finally {
    await l2.stop();
  }
}

async function serve(settings: DevSettings): Promise<number> {
  const stop = new AbortController();
  let child: ChildProcess | undefined;
  forwardSignals(
    () => child,
    () => stop.abort(),
  );

  ensureDevVars();
  try {
    await migrateLocal({ extraArgs: settings.migrateArgs, onChild: (c) => (child = c) });
  } catch (error) {
    if (stop.signal.aborted) return 130;
    throw error;
  }

  // Without a model of the developer's choice, posts are embedded with the local one (docs/embeddings.md):
  // MiniLM's weights cannot be downloaded everywhere, and the random-weight fixture would rank by noise.
  const wranglerArgs = [...settings.wranglerArgs];
  if (userPicksModel(wranglerArgs, readDevVars())) {
    log('EMBEDDING_MODEL is set (--var or .dev.vars): not using the local text model');
  } else {
    try {
      const made = await prepareLocalModel(settings, (c) => (child = c));
      log(`embedding with the local text model ${made.model}@${made.revision} (${made.dims} dims, ${made.source})`);
      wranglerArgs.push(
        '--var',
        `EMBEDDING_MODEL:${made.model}`,
        '--var',
        `EMBEDDING_REVISION:${made.revision}`,
        '--var',
        `EMBEDDING_DTYPE:${made.dtype}`,
      );
    } catch (error) {
      if (stop.signal.aborted) return 130;
      throw error;
    }
  }

  log(`wrangler ${wranglerArgs.join(' ')}`);
  const wrangler = spawnWrangler(wranglerArgs);
  child = wrangler;
  const exited = exitCodeOf(wrangler);

  if (settings.canSeed) {
    try {
      const started = Date.now();
      await waitForHealth(settings.baseUrl, exited, stop.signal);
      log(`API healthy at ${settings.baseUrl} after ${Date.now() - started} ms`);
      let marker = await existingSeed(settings.baseUrl, stop.signal);
      const fresh = marker === null;
      if (!marker) {
        const plan = buildDemoPlan();
        log(`seeding demo data through the API (graph: ${plan.source.graph}, texts: ${plan.source.texts})`);
        marker = await seedDemo(settings.baseUrl, plan, { concurrency: 8, signal: stop.signal, log });
        writeSeedMarker(marker);
      }
      printSummary(marker, settings.baseUrl, fresh);
    } catch (error) {
      // A signal aborts the wait or the seeding on purpose; wrangler's own exit code is the answer then.
      if (!stop.signal.aborted) {
        console.error(`[dev] ${error instanceof Error ? error.message : String(error)}`);
        console.error('[dev] stopping wrangler dev');
        if (wrangler.exitCode === null) wrangler.kill('SIGTERM');
        await exited;
        return 1;
      }
    }
  } else {
    log('--local-protocol https: skipping the health wait and demo seeding');
  }
  return exited;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    console.error(`[dev] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
