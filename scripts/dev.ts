/**
 * `npm run dev [-- [--redis] <wrangler dev args>]`: a local API that is ready to explore. Creates .dev.vars, migrates
 * every shard, starts `wrangler dev`, and the first time loads a small demo data set through the HTTP API.
 * `--redis` (or REDIS=1) turns L2 on: a local Redis behind the Upstash bridge, passed to the Worker with --var.
 */
import type { ChildProcess } from 'node:child_process';
import { constants, copyFileSync } from 'node:fs';
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
import { ensureRedis, redact } from './redis-server.ts';
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
  const userArgs = allArgs.filter((arg) => arg !== '--redis');
  const ip = optionValue(userArgs, '--ip');
  const port = optionValue(userArgs, '--port') ?? DEFAULT_PORT;
  const defaults = [
    ...(ip === undefined ? ['--ip', DEFAULT_IP] : []),
    ...(userArgs.some(isPortFlag) ? [] : ['--port', port]),
  ];
  const persistTo = optionValue(userArgs, '--persist-to');
  return {
    wranglerArgs: ['dev', ...defaults, ...userArgs],
    redis: userArgs.length < allArgs.length || environment.REDIS === '1',
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

export async function main(argv: readonly string[]): Promise<number> {
  const userArgs = argv[0] === '--' ? argv.slice(1) : [...argv];
  const settings = devSettings(userArgs, process.env);
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

  log(`wrangler ${settings.wranglerArgs.join(' ')}`);
  const wrangler = spawnWrangler(settings.wranglerArgs);
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
