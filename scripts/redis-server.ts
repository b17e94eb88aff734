/**
 * A Redis for local runs and tests: `REDIS_URL` when set, else the server on 127.0.0.1:6379 when it answers, else a
 * throwaway `redis-server` (Debian's binary) on a free port. Never skips: without any of them it throws, saying
 * what to install.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Redis from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const INSTALL_HINT =
  'install it with `apt-get install redis-server` (Debian/Ubuntu), or point REDIS_URL at a running Redis';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export interface LocalRedis {
  url: string;
  /** Where it came from; only a throwaway server is stopped by `stop()`. */
  source: 'REDIS_URL' | 'running' | 'throwaway';
  stop(): Promise<void>;
}

export interface EnsureRedisOptions {
  /**
   * Prefer a throwaway server over the one already running on 6379, so state cannot leak between runs or from
   * other users of the machine (tests). `REDIS_URL` still wins; the running server is the fallback only when
   * no redis-server binary is installed.
   */
  fresh?: boolean;
}

/** Resolves when `url` answers PING; rejects with the reason otherwise. One connection attempt, no retries. */
export async function pingRedis(url: string, timeoutMs = 1_000): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    protocol: 2,
  });
  // The event carries the cause (ECONNREFUSED ...); connect() only rejects with "Connection is closed".
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause ??= error));
  try {
    await client.connect().catch((error: unknown) => {
      throw cause ?? error;
    });
    await client.ping();
  } finally {
    client.disconnect();
  }
}

async function answers(url: string): Promise<boolean> {
  return pingRedis(url).then(
    () => true,
    () => false,
  );
}

const noop = () => Promise.resolve();

export async function ensureRedis(options: EnsureRedisOptions = {}): Promise<LocalRedis> {
  const configured = process.env.REDIS_URL;
  if (configured) {
    // An explicit choice that does not work is an error, not a reason to pick something else.
    await pingRedis(configured, 3_000).catch((error: unknown) => {
      throw new RedisUnavailableError(`REDIS_URL=${redact(configured)} does not answer PING: ${messageOf(error)}`);
    });
    return { url: configured, source: 'REDIS_URL', stop: noop };
  }
  const binary = findRedisServer();
  if (!options.fresh || !binary) {
    if (await answers(DEFAULT_REDIS_URL)) {
      if (options.fresh) {
        console.warn(`[redis] no redis-server binary for a fresh server: using the shared one at ${DEFAULT_REDIS_URL}`);
      }
      return { url: DEFAULT_REDIS_URL, source: 'running', stop: noop };
    }
  }
  if (!binary) {
    throw new RedisUnavailableError(
      `Redis is needed here, but REDIS_URL is not set, nothing answers PING at ${DEFAULT_REDIS_URL} and there is ` +
        `no redis-server on PATH: ${INSTALL_HINT}.`,
    );
  }
  return startThrowawayRedis(binary);
}

/** The redis-server executable on PATH (or where Debian puts it), or null. */
export function findRedisServer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** A port the kernel just handed out; another process could take it before redis binds, hence the retries. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port assigned')),
      );
    });
  });
}

/**
 * `redis-server` daemonised, in-memory only (no RDB, no AOF), on loopback, with its pidfile and log in a fresh
 * temporary directory. stop() ends exactly that pid; a process exit handler does it too if stop() never ran.
 */
export async function startThrowawayRedis(binary: string): Promise<LocalRedis> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-feed-redis-'));
    const port = await freePort();
    const pidfile = path.join(dir, 'redis.pid');
    const logfile = path.join(dir, 'redis.log');
    const url = `redis://127.0.0.1:${port}`;
    try {
      const settings = {
        bind: '127.0.0.1',
        port: String(port),
        save: '',
        appendonly: 'no',
        daemonize: 'yes',
        pidfile,
        dir,
        logfile,
      };
      await promisify(execFile)(
        binary,
        Object.entries(settings).flatMap(([name, value]) => [`--${name}`, value]),
      );
      const pid = await waitForStart(url, pidfile);
      return throwawayHandle(url, pid, dir);
    } catch (error) {
      lastError = new RedisUnavailableError(
        `${binary} did not start on port ${port}: ${messageOf(error)}\n${tail(logfile)}`.trim(),
      );
      killFrom(pidfile);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

async function waitForStart(url: string, pidfile: string): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown = 'no answer';
  while (Date.now() < deadline) {
    try {
      await pingRedis(url, 500);
      const pid = readPid(pidfile);
      if (pid !== null) return pid;
      last = 'no pidfile yet';
    } catch (error) {
      last = error;
    }
    await sleep(25);
  }
  throw new Error(`not answering PING after ${START_TIMEOUT_MS / 1000} s (${messageOf(last)})`);
}

function throwawayHandle(url: string, pid: number, dir: string): LocalRedis {
  let stopped: Promise<void> | undefined;
  // A crash or an exit that skips stop() must not leave a server behind.
  const onExit = () => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  return {
    url,
    source: 'throwaway',
    stop() {
      stopped ??= (async () => {
        process.off('exit', onExit);
        if (alive(pid)) process.kill(pid, 'SIGTERM');
        const deadline = Date.now() + STOP_TIMEOUT_MS;
        while (alive(pid) && Date.now() < deadline) await sleep(20);
        if (alive(pid)) process.kill(pid, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function readPid(pidfile: string): number | null {
  try {
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function killFrom(pidfile: string): void {
  const pid = readPid(pidfile);
  if (pid !== null && alive(pid)) process.kill(pid, 'SIGKILL');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A URL fit for messages: without its password. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}
