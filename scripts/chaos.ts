/**
 * `npm run chaos`: crashes the local service and reports what converged and how long it took.
 *
 * The production bundle runs in Miniflare in a child process (its own process group, so a SIGKILL takes workerd
 * with it), on loopback, with state persisted in a throwaway directory. Queued messages live in that process's
 * memory, so a kill loses them, as the issue notes; only D1 (outboxes) and Durable Object storage survive.
 *   1. Readers follow an author; the author posts, and the server is killed the moment the 201 arrives; a
 *      second post is in flight (no answer) when it is killed again.
 *   2. New followers send their follows and the server is killed while they are in flight.
 *   3. After each restart, the client does what a client should (retries the unanswered post with its
 *      Idempotency-Key, and the follows that got no answer), and the script waits until every post is in every
 *      follower's timeline exactly once and every follow has both edges, exact counts and a timeline that gets the
 *      author's posts.
 * It stops by itself (a deadline per phase) and removes its directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Log, LogLevel, Miniflare, convertV4MiniflareOptions, type V4MiniflareOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { ROOT, buildBundle, bundleModules, migrate } from '../bench/harness.ts';

const FOLLOWERS = 12;
const LATE_FOLLOWERS = 30;
const CONVERGE_TIMEOUT_MS = 90_000;

/**
 * Fast drainers, so convergence takes seconds rather than OUTBOX_DELAY's production 30 s; and half the queue sends
 * and 5% of D1 writes failing (the test-only injector), so that the crashes find work left to the outboxes rather
 * than a fast path that has always finished in the milliseconds before the kill.
 */
const VARS = {
  ENVIRONMENT: 'chaos',
  OUTBOX_DELAY: '2s',
  OUTBOX_DRAIN_INTERVAL: '1s',
  QUEUE_RETRY_MAX_SECONDS: '2',
  FAULTS: `queue.send=0.5,d1.write=0.05,seed=${Date.now() % 100_000}`,
};

/** Child mode: serve the bundle until killed. */
async function serve(workDir: string, fresh: boolean): Promise<void> {
  const outDir = path.join(workDir, 'dist');
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, 'wrangler.toml'));
  const { modulesRules: _rules, rootPath: _root, ...bindingOptions } = workerOptions;
  const vars: Record<string, string> = { ...(workerOptions.bindings as Record<string, string>), ...VARS };
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      log: new Log(LogLevel.WARN),
      cf: false,
      host: '127.0.0.1',
      port: 0,
      resourcePersistencePath: path.join(workDir, 'state'),
      workers: [
        {
          ...bindingOptions,
          name: 'edge-feed',
          modules: bundleModules(outDir),
          modulesRoot: outDir,
          bindings: { ...vars, JWT_SECRET: process.env.CHAOS_JWT_SECRET, ADMIN_TOKEN: process.env.CHAOS_ADMIN_TOKEN },
        },
      ],
    } as V4MiniflareOptions),
  );
  const url = await mf.ready;
  if (fresh) await migrate(mf, Number(vars.SHARD_COUNT ?? '1'));
  console.log(`READY ${url.origin}`);
  await new Promise(() => {});
}

interface Server {
  child: ChildProcess;
  base: string;
  startedAt: number;
}

async function start(workDir: string, fresh: boolean, secrets: Record<string, string>): Promise<Server> {
  const log = openSync(path.join(workDir, 'server.log'), 'a');
  const child = spawn(process.execPath, [import.meta.filename, '--serve', workDir, fresh ? 'fresh' : 'reuse'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', log],
    env: { ...process.env, ...secrets, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  const startedAt = Date.now();
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the server did not start in 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /READY (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before it was ready`)));
  });
  child.stdout!.resume();
  return { child, base, startedAt };
}

/** A crash: SIGKILL to the whole process group (Node and its workerd), nothing flushed. */
async function kill(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  if (server.child.pid !== undefined) process.kill(-server.child.pid, 'SIGKILL');
  await exited;
}

interface User {
  id: string;
  token: string;
}

function client(base: () => string) {
  /** As a client should: a 503 is retried after a pause (shorter than its Retry-After, to keep the run short). */
  async function call<T>(method: string, route: string, token?: string, body?: unknown, headers = {}) {
    for (let attempt = 1; ; attempt++) {
      const res = await once<T>(method, route, token, body, headers);
      if (res.status !== 503 || attempt === 20) return res;
      await sleep(100);
    }
  }
  async function once<T>(method: string, route: string, token?: string, body?: unknown, headers = {}) {
    const res = await fetch(`${base()}${route}`, {
      method,
      headers: {
        ...headers,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }
  let n = 0;
  return {
    call,
    async signup(): Promise<User> {
      for (let attempt = 1; ; attempt++) {
        // A fresh handle per attempt: a half-failed signup may keep its handle claimed.
        const res = await call<{ user: { id: string }; token: string }>('POST', '/v1/users', undefined, {
          handle: `chaos_${Date.now().toString(36)}_${n++}`,
        });
        if (res.status === 201) return { id: res.body.user.id, token: res.body.token };
        if (attempt === 5) throw new Error(`signup: ${res.status} ${JSON.stringify(res.body)}`);
      }
    },
    async post(author: User, text: string, key: string) {
      return call<{ post: { id: string } }>('POST', '/v1/posts', author.token, { text }, { 'Idempotency-Key': key });
    },
    follow: (follower: User, followee: User) => call('PUT', `/v1/users/${followee.id}/follow`, follower.token),
    async feed(user: User): Promise<string[]> {
      const res = await call<{ items: { post: { id: string } }[] }>(
        'GET',
        '/v1/feed?mode=latest&limit=100',
        user.token,
      );
      return res.status === 200 ? res.body.items.map((i) => i.post.id) : [];
    },
    async followers(user: User): Promise<{ count: number; ids: string[] }> {
      const [u, list] = await Promise.all([
        call<{ user: { counts: { followers: number } } }>('GET', `/v1/users/${user.id}`),
        call<{ items: { id: string }[] }>('GET', `/v1/users/${user.id}/followers?limit=100`),
      ]);
      return { count: u.body.user.counts.followers, ids: list.body.items.map((i) => i.id) };
    },
    async follows(follower: User, followee: User): Promise<boolean> {
      const res = await call<{ items: { id: string }[] }>('GET', `/v1/users/${follower.id}/following?limit=100`);
      return res.body.items.some((i) => i.id === followee.id);
    },
  };
}

/** What the restarted service still owes (admin health): outbox records and dead letters. */
async function owed(api: ReturnType<typeof client>, adminToken: string): Promise<string> {
  const res = await api.call<{ outbox: { posts: number; follows: number } | null; deadLetters: number | null }>(
    'GET',
    '/v1/health',
    adminToken,
  );
  const o = res.body.outbox;
  return `outbox ${o ? `${o.posts} posts, ${o.follows} follows` : 'unknown'}, dead letters ${res.body.deadLetters ?? '?'}`;
}

async function waitFor(what: string, check: () => Promise<string | null>, since: number): Promise<number> {
  const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
  let last: string | null = 'not checked';
  while (Date.now() < deadline) {
    last = await check().catch((error: unknown) => String(error));
    if (last === null) {
      const ms = Date.now() - since;
      console.log(`  converged: ${what} in ${(ms / 1000).toFixed(1)} s after the restart`);
      return ms;
    }
    await sleep(250);
  }
  throw new Error(`did not converge in ${CONVERGE_TIMEOUT_MS / 1000} s: ${what} (${last})`);
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'edge-feed-chaos-'));
  const secrets = {
    CHAOS_JWT_SECRET: randomBytes(32).toString('hex'),
    CHAOS_ADMIN_TOKEN: randomBytes(16).toString('hex'),
  };
  let server: Server | undefined;
  const api = client(() => server!.base);
  const count = (ids: string[], id: string) => ids.filter((x) => x === id).length;
  try {
    console.log('chaos: building the bundle');
    await buildBundle(path.join(workDir, 'dist'));
    server = await start(workDir, true, secrets);
    const author = await api.signup();
    const readers: User[] = [];
    for (let i = 0; i < FOLLOWERS; i++) readers.push(await api.signup());
    for (const r of readers) await api.follow(r, author);
    // Readers who have read once: from then on only delivery (or reconciliation) brings posts.
    for (const r of readers) await api.feed(r);

    console.log('chaos 1: a post accepted, then the server killed at once');
    const key1 = randomUUID();
    const first = await api.post(author, 'accepted, then crash', key1);
    if (first.status !== 201) throw new Error(`post: ${first.status}`);
    await kill(server);
    server = await start(workDir, false, secrets);
    const restart1 = Date.now();
    const had = (await Promise.all(readers.map((r) => api.feed(r)))).filter((ids) => ids.includes(first.body.post.id));
    console.log(
      `  at restart: ${had.length} of ${FOLLOWERS} timelines have it; ${await owed(api, secrets.CHAOS_ADMIN_TOKEN)}`,
    );
    const again = await api.post(author, 'accepted, then crash', key1);
    console.log(
      `  retry with the same Idempotency-Key: ${again.status}, same post: ${again.body.post.id === first.body.post.id}`,
    );
    await waitFor(
      `post 1 in ${FOLLOWERS} timelines, once each`,
      async () => {
        for (const r of readers) if (count(await api.feed(r), first.body.post.id) !== 1) return `reader ${r.id}`;
        return null;
      },
      restart1,
    );

    console.log('chaos 2: a post in flight when the server is killed');
    const key2 = randomUUID();
    const inFlight = api.post(author, 'in flight at the crash', key2).catch(() => null);
    await sleep(15);
    await kill(server);
    const answered = await inFlight;
    server = await start(workDir, false, secrets);
    const restart2 = Date.now();
    console.log(`  at restart: ${await owed(api, secrets.CHAOS_ADMIN_TOKEN)}`);
    const retried = await api.post(author, 'in flight at the crash', key2);
    console.log(
      `  answered before the crash: ${answered?.status ?? 'no'}; retry: ${retried.status}, post ${retried.body.post.id}`,
    );
    await waitFor(
      `post 2 in ${FOLLOWERS} timelines, once each`,
      async () => {
        for (const r of readers) if (count(await api.feed(r), retried.body.post.id) !== 1) return `reader ${r.id}`;
        return null;
      },
      restart2,
    );
    const posts = (await api.call<{ user: { counts: { posts: number } } }>('GET', `/v1/users/${author.id}`)).body.user
      .counts.posts;
    console.log(`  the author has ${posts} posts (2 expected: no duplicate from the retry)`);

    console.log(`chaos 3: ${LATE_FOLLOWERS} follows in flight when the server is killed`);
    const late: User[] = [];
    for (let i = 0; i < LATE_FOLLOWERS; i++) late.push(await api.signup());
    for (const r of late) await api.feed(r);
    // Staggered, so that the kill finds them at every stage: not arrived, half done, done.
    const sent = late.map(async (r, i) => {
      await sleep(i * 4);
      return api.follow(r, author).catch(() => null);
    });
    await sleep(LATE_FOLLOWERS * 2);
    await kill(server);
    const answers = await Promise.all(sent);
    server = await start(workDir, false, secrets);
    const restart3 = Date.now();
    console.log(`  at restart: ${await owed(api, secrets.CHAOS_ADMIN_TOKEN)}`);
    const committed = await Promise.all(late.map((r) => api.follows(r, author)));
    console.log(
      `  answered before the crash: ${answers.filter((a) => a?.status === 200).length}; ` +
        `follower edge committed: ${committed.filter(Boolean).length} of ${LATE_FOLLOWERS}`,
    );
    const before = await api.followers(author);
    console.log(
      `  at restart: followee edges ${before.ids.filter((id) => late.some((r) => r.id === id)).length}, ` +
        `follower count ${before.count} (edges ${FOLLOWERS} + ${committed.filter(Boolean).length} expected)`,
    );
    const edged = late.filter((_, i) => committed[i]);
    await waitFor(
      'every committed follow has its followee edge and an exact count',
      async () => {
        const now = await api.followers(author);
        const expected = FOLLOWERS + edged.length;
        if (now.count !== expected) return `count ${now.count} != ${expected}`;
        for (const r of edged) if (!now.ids.includes(r.id)) return `no followee edge for ${r.id}`;
        return null;
      },
      restart3,
    );
    const probe = await api.post(author, 'after the follow crash', randomUUID());
    await waitFor(
      "every committed follower's timeline gets the author's next post",
      async () => {
        for (const r of edged) if (count(await api.feed(r), probe.body.post.id) !== 1) return `reader ${r.id}`;
        return null;
      },
      restart3,
    );
    // What got no answer and left no edge, the client retries (a follow is idempotent).
    const missing = late.filter((_, i) => !committed[i]);
    for (const r of missing) await api.follow(r, author);
    const final = await api.followers(author);
    console.log(
      `  after the client retried ${missing.length} unanswered follows: ${final.count} followers ` +
        `(${FOLLOWERS + LATE_FOLLOWERS} expected)`,
    );
    if (final.count !== FOLLOWERS + LATE_FOLLOWERS) throw new Error('follower count is wrong after retries');
    console.log('chaos: everything converged');
  } finally {
    if (server) await kill(server).catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]!, process.argv[4] === 'fresh');
} else {
  await main().catch((error: unknown) => {
    console.error(`chaos: FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
