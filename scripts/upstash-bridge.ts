/**
 * Upstash's REST protocol in front of a real redis-server, so the real `@upstash/redis` and `@upstash/ratelimit`
 * clients run unchanged in `wrangler dev` and in the workerd tests. No package emulates Upstash, and the community
 * bridge needs Docker; the contract it must honour is in ../shared/notes/upstash-local.md and is checked by
 * test/workers/upstash-contract.test.ts.
 *
 *   node scripts/upstash-bridge.ts [--redis redis://127.0.0.1:6379] [--port 8079] [--token T] [--max-body BYTES]
 *
 * Without --redis it uses REDIS_URL, the server on 6379, or a throwaway one (scripts/redis-server.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { ensureRedis, redact } from './redis-server.ts';

export const DEFAULT_BRIDGE_PORT = 8079;
/** Upstash's own request limit on its smaller plans: what fails there should fail here first. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface UpstashBridgeOptions {
  redisUrl: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** Loopback unless told otherwise: the bridge has no TLS and one shared token. */
  host?: string;
  token: string;
  maxBodyBytes?: number;
}

export interface UpstashBridge {
  url: string;
  token: string;
  close(): Promise<void>;
}

export class UpstashBridgeError extends Error {
  override name = 'UpstashBridgeError';
}

/** A request the bridge refuses as a whole, answered with `status` and `{"error"}`. */
class RequestError extends Error {
  override name = 'RequestError';
  readonly status: number;
  constructor(message: string, status = 400) {
    super(message);
    this.status = status;
  }
}

type Json = string | number | null | Json[];
type Outcome = { result: Json } | { error: string };

interface Command {
  /** Upper-cased: ioredis reshapes replies of some lower-case command names (hgetall into an object, ...). */
  name: string;
  args: string[];
  /** Maps Redis's reply back to what Upstash would answer (script hashes). */
  finish?: (reply: unknown) => unknown;
}

/**
 * Commands that change or hold the state of a connection, or block it: every HTTP request shares one connection,
 * so these would leak into other requests or stall them. Upstash runs transactions through /multi-exec.
 */
// prettier-ignore
const REFUSED = new Set([
  'AUTH', 'CLIENT', 'DISCARD', 'EXEC', 'HELLO', 'MONITOR', 'MULTI', 'PSUBSCRIBE', 'PUNSUBSCRIBE', 'QUIT', 'RESET',
  'SELECT', 'SHUTDOWN', 'SSUBSCRIBE', 'SUBSCRIBE', 'SUNSUBSCRIBE', 'SYNC', 'PSYNC', 'UNSUBSCRIBE', 'UNWATCH', 'WATCH',
  'BLMOVE', 'BLMPOP', 'BLPOP', 'BRPOP', 'BRPOPLPUSH', 'BZMPOP', 'BZPOPMAX', 'BZPOPMIN', 'WAIT', 'WAITAOF',
]);

function refusal(command: Command): string | null {
  const blocksStream =
    (command.name === 'XREAD' || command.name === 'XREADGROUP') &&
    command.args.some((arg) => arg.toUpperCase() === 'BLOCK');
  if (!REFUSED.has(command.name) && !blocksStream) return null;
  return (
    `ERR '${command.name}' is not supported by the local Upstash bridge: it would change, hold or block the ` +
    `connection that all requests share` +
    (command.name === 'MULTI' ? ' (use a multi-exec transaction)' : '')
  );
}

const KEY_LOCKING_FLAG = 'allow-key-locking';

/**
 * `script` without Upstash's `allow-key-locking` shebang flag, which Redis 7.0 rejects ("Unexpected flag in script
 * shebang"), or null when it has none. Only the first line changes, so error line numbers stay right.
 */
export function stripUpstashScriptFlags(script: string): string | null {
  const newline = script.indexOf('\n');
  const first = newline === -1 ? script : script.slice(0, newline);
  if (!first.startsWith('#!')) return null;
  const match = /(\s)flags=(\S*)/.exec(first);
  const flags = match?.[2]?.split(',') ?? [];
  if (!match || !flags.includes(KEY_LOCKING_FLAG)) return null;
  const kept = flags.filter((flag) => flag !== KEY_LOCKING_FLAG);
  const shebang = first.replace(match[0], kept.length ? `${match[1]}flags=${kept.join(',')}` : '').trimEnd();
  return shebang + script.slice(first.length);
}

const sha1 = (text: string) => createHash('sha1').update(text, 'utf8').digest('hex');

/**
 * Clients compute a script's hash from the text they send, but Redis stores the rewritten text under another
 * hash: EVALSHA and SCRIPT EXISTS are translated. An unknown hash goes to Redis as is, whose NOSCRIPT makes the
 * clients fall back to EVAL, which records the translation again (after a bridge restart, say).
 */
class ScriptHashes {
  static readonly MAX = 1_000;
  private readonly redisHashOf = new Map<string, string>();

  /** The text to send to Redis, remembering the translation of its hash. */
  rewrite(script: string): string {
    const rewritten = stripUpstashScriptFlags(script);
    if (rewritten === null) return script;
    if (this.redisHashOf.size >= ScriptHashes.MAX) {
      this.redisHashOf.delete(this.redisHashOf.keys().next().value!);
    }
    this.redisHashOf.set(sha1(script), sha1(rewritten));
    return rewritten;
  }

  resolve(hash: string): string {
    return this.redisHashOf.get(hash.toLowerCase()) ?? hash;
  }
}

function prepare(raw: unknown, index: number, scripts: ScriptHashes): Command {
  const where = `command ${index + 1}`;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new RequestError(`ERR ${where} must be a non-empty JSON array, like ["SET","key","value"]`);
  }
  const parts = raw.map((part: unknown, i) => {
    // Upstash accepts numbers and booleans and passes them on as their text.
    if (typeof part === 'string') return part;
    if (typeof part === 'number' || typeof part === 'boolean') return String(part);
    throw new RequestError(`ERR ${where}, element ${i + 1}: expected a string, number or boolean, got ${kind(part)}`);
  });
  const name = parts[0]!.toUpperCase();
  const args = parts.slice(1);
  const sub = args[0]?.toUpperCase();
  if ((name === 'EVAL' || name === 'EVAL_RO') && args[0] !== undefined) {
    args[0] = scripts.rewrite(args[0]);
  } else if ((name === 'EVALSHA' || name === 'EVALSHA_RO') && args[0] !== undefined) {
    args[0] = scripts.resolve(args[0]);
  } else if (name === 'SCRIPT' && sub === 'EXISTS') {
    for (let i = 1; i < args.length; i++) args[i] = scripts.resolve(args[i]!);
  } else if (name === 'SCRIPT' && sub === 'LOAD' && args[1] !== undefined) {
    const original = args[1];
    args[1] = scripts.rewrite(original);
    // Upstash answers with the hash of the text it was sent, the one the client will use with EVALSHA.
    return { name, args, finish: () => sha1(original) };
  }
  return { name, args };
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Redis's reply as Upstash writes it: integers as numbers, nil as null, arrays nested, and with
 * `Upstash-Encoding: base64` every string (status replies too) as base64 of its raw bytes.
 */
export function encodeReply(reply: unknown, base64: boolean): Json {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString('base64') : reply.toString('utf8');
  if (typeof reply === 'string') return base64 ? Buffer.from(reply, 'utf8').toString('base64') : reply;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64));
  // An error inside an array (a Lua table holding one): its text, as redis-cli shows it.
  if (reply instanceof Error) return encodeReply(reply.message, base64);
  throw new UpstashBridgeError(`unexpected reply from Redis: ${kind(reply)}`);
}

/** Redis answered with an error (as opposed to a lost connection or a timeout). */
function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

function connect(redisUrl: string): Redis {
  const client = new Redis(redisUrl, {
    // RESP3 would turn hashes into maps and doubles into numbers: Upstash speaks RESP2 shapes.
    protocol: 2,
    // ioredis 6.0.0 malformed raw buffer calls when auto-pipelining; one connection pipelines anyway.
    enableAutoPipelining: false,
    lazyConnect: true,
    // Fail fast and visibly instead of queueing for long or sending a non-idempotent command twice.
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    commandTimeout: 30_000,
    connectTimeout: 5_000,
  });
  let reported = false;
  client.on('error', (error: Error) => {
    if (!reported) console.warn(`[upstash-bridge] Redis at ${redact(redisUrl)}: ${error.message}`);
    reported = true;
  });
  client.on('ready', () => (reported = false));
  return client;
}

const send = (client: Redis, command: Command) =>
  client.callBuffer(command.name, command.args).then((reply) => (command.finish ? command.finish(reply) : reply));

/** Bearer token check in constant time (comparing digests, which have equal lengths). */
function authorized(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return given.length > 0 && timingSafeEqual(digest(given), digest(token));
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () =>
    new RequestError(`ERR request body larger than ${maxBytes} bytes (the bridge's maxBodyBytes / --max-body)`, 413);
  if (Number(req.headers['content-length']) > maxBytes) return Promise.reject(tooLarge());
  // Events, not `for await`: leaving an async iteration early destroys the socket, and the answer with it.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.pause();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** How much of a refused body the bridge reads, to answer cleanly, before it drops the connection instead. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

function discardBody(req: IncomingMessage, limit: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (req.readableEnded) return resolve();
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) reject(new RequestError('ERR refused body too large to drain', 413));
    });
    req.once('end', () => resolve());
    req.once('error', reject);
    req.resume();
  });
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(text);
}

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const { redisUrl, token, port = 0, host = '127.0.0.1', maxBodyBytes = DEFAULT_MAX_BODY_BYTES } = options;
  if (!token) throw new UpstashBridgeError('a token is required (clients send it as a Bearer token)');
  // One connection for plain commands and pipelines; transactions get their own, so the MULTI..EXEC blocks
  // (written contiguously) never share a connection with anything else.
  const shared = connect(redisUrl);
  const transactions = connect(redisUrl);
  try {
    await Promise.all([shared.connect(), transactions.connect()]);
  } catch (error) {
    shared.disconnect();
    transactions.disconnect();
    throw new UpstashBridgeError(
      `cannot reach Redis at ${redact(redisUrl)}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const scripts = new ScriptHashes();
  const unreachable = (error: unknown) =>
    new RequestError(
      `ERR Redis at ${redact(redisUrl)} did not answer: ${error instanceof Error ? error.message : String(error)}`,
      502,
    );

  async function single(raw: unknown, base64: boolean): Promise<Json> {
    const command = prepare(raw, 0, scripts);
    const refused = refusal(command);
    if (refused) throw new RequestError(refused);
    try {
      return encodeReply(await send(shared, command), base64);
    } catch (error) {
      if (isReplyError(error)) throw new RequestError(error.message);
      throw unreachable(error);
    }
  }

  async function pipeline(commands: Command[], base64: boolean): Promise<Outcome[]> {
    const settled = await Promise.all(
      commands.map((command): Promise<Outcome> => {
        const refused = refusal(command);
        if (refused) return Promise.resolve({ error: refused });
        return send(shared, command).then(
          (result) => ({ result: encodeReply(result, base64) }),
          (error: unknown) => {
            if (isReplyError(error)) return { error: error.message };
            throw unreachable(error);
          },
        );
      }),
    );
    return settled;
  }

  async function multiExec(commands: Command[], base64: boolean): Promise<Outcome[]> {
    for (const command of commands) {
      const refused = refusal(command);
      if (refused) throw new RequestError(refused);
    }
    // Issued synchronously, so the block reaches the socket in one piece.
    const begin = transactions.callBuffer('MULTI', []);
    const queued = commands.map((command) => transactions.callBuffer(command.name, command.args));
    const exec = transactions.callBuffer('EXEC', []);
    const [, queueReplies, execReply] = await Promise.all([
      begin.catch((error: unknown) => error),
      Promise.all(
        queued.map((promise) =>
          promise.then(
            () => null,
            (error: unknown) => error,
          ),
        ),
      ),
      exec.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    ]);
    if ('error' in execReply) {
      const { error } = execReply;
      if (!isReplyError(error)) throw unreachable(error);
      // A command refused while queueing (unknown command, wrong arity) aborts the whole transaction.
      const index = queueReplies.findIndex((queueError) => queueError !== null);
      const cause = index === -1 ? '' : ` (command ${index + 1}: ${errorText(queueReplies[index])})`;
      throw new RequestError(`${error.message}${cause}`);
    }
    const results = execReply.value;
    if (!Array.isArray(results) || results.length !== commands.length) {
      throw new RequestError(`ERR unexpected EXEC reply: ${kind(results)}`, 502);
    }
    return results.map((result: unknown, i): Outcome => {
      if (result instanceof Error) return { error: result.message };
      const finish = commands[i]!.finish;
      return { result: encodeReply(finish ? finish(result) : result, base64) };
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req.headers.authorization, token)) {
      return reply(res, 401, { error: 'Unauthorized: missing or wrong Bearer token' });
    }
    const route = new URL(req.url ?? '/', 'http://bridge').pathname.replace(/\/+$/, '') || '/';
    if (req.method !== 'POST' || !['/', '/pipeline', '/multi-exec'].includes(route)) {
      return reply(res, req.method === 'POST' ? 404 : 405, {
        error: `ERR the local Upstash bridge answers POST /, /pipeline and /multi-exec, not ${req.method} ${route}`,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, maxBodyBytes)).toString('utf8'));
    } catch (error) {
      if (error instanceof RequestError) throw error;
      throw new RequestError(`ERR the request body is not JSON: ${errorText(error)}`);
    }
    const base64 = String(req.headers['upstash-encoding']).toLowerCase() === 'base64';
    if (route === '/') return reply(res, 200, { result: await single(body, base64) });
    if (!Array.isArray(body) || body.length === 0) {
      throw new RequestError(`ERR ${route} takes a non-empty JSON array of commands`);
    }
    const commands = body.map((raw, i) => prepare(raw, i, scripts));
    const outcomes = route === '/pipeline' ? await pipeline(commands, base64) : await multiExec(commands, base64);
    return reply(res, 200, outcomes);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      if (error instanceof RequestError) {
        if (error.status !== 413) return reply(res, error.status, { error: error.message });
        // Closing a socket with unread bytes resets it, and the client loses the answer ("Network connection
        // lost" in workerd): read the rest of the body first, up to a bound, then answer on a closing connection.
        return void discardBody(req, DISCARD_LIMIT_BYTES).then(
          () => reply(res, 413, { error: error.message }, true),
          () => res.destroy(),
        );
      }
      console.error('[upstash-bridge]', error);
      reply(res, 500, { error: `ERR bridge failure: ${errorText(error)}` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    token,
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections of the clients would hold close() open for seconds.
        server.closeAllConnections();
        await stopped;
        await Promise.all([shared.quit(), transactions.quit()]).catch(() => undefined);
      })();
      return closed;
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A token for a local bridge: random, since the bridge is reachable by everything on the machine. */
export function randomBridgeToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      redis: { type: 'string' },
      port: { type: 'string', default: String(DEFAULT_BRIDGE_PORT) },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string' },
      'max-body': { type: 'string', default: String(DEFAULT_MAX_BODY_BYTES) },
    },
    strict: true,
  });
  const port = Number(values.port);
  const maxBodyBytes = Number(values['max-body']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UpstashBridgeError(`bad --port ${values.port}`);
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new UpstashBridgeError(`bad --max-body ${values['max-body']}`);
  }
  const redis = values.redis ? null : await ensureRedis();
  const redisUrl = values.redis ?? redis!.url;
  const token = values.token ?? process.env.UPSTASH_REDIS_REST_TOKEN ?? randomBridgeToken();
  const bridge = await startUpstashBridge({ redisUrl, port, host: values.host, token, maxBodyBytes }).catch(
    async (error: unknown) => {
      await redis?.stop();
      throw error;
    },
  );
  console.log(`[upstash-bridge] ${bridge.url} -> ${redact(redisUrl)}${redis ? ` (${redis.source})` : ''}`);
  console.log(`UPSTASH_REDIS_REST_URL=${bridge.url}`);
  console.log(`UPSTASH_REDIS_REST_TOKEN=${bridge.token}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await bridge.close();
  await redis?.stop();
}

if (import.meta.main) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    console.error(`[upstash-bridge] ${errorText(error)}`);
    process.exitCode = 1;
  }
}
