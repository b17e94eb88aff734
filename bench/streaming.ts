/**
 * `npm run bench -- --only streaming` (and `npm run bench:quick -- --only streaming-quick`, smaller): live updates.
 *
 * - Latency: `streams` readers follow one small author (pushed by fan-out) and one celebrity (pulled: reached through
 *   its AuthorFeed's watchers), each with a v1 WebSocket open (`GET /v1/stream`, a real client over loopback). Each
 *   round the author posts; the time from sending the POST to the `update` event on each socket is one sample.
 * - Memory: workerd's resident set before and after opening `idle` more sockets (one reader each) that then stay
 *   idle, and again after `settleMs` of idleness, when the hibernation API lets the objects go.
 * - The watchers' cost: the RPCs a stream's opening makes (one watch per pulled author, renewed every 10 minutes), and
 *   those a celebrity post makes (one per watching reader), counted from the objects' own tables.
 */
import { readFileSync } from 'node:fs';
import { mapLimit } from '../src/concurrency.ts';
import { WATCH_RENEW_MS } from '../src/streaming.ts';
import { expectStatus, signupUser, workerdPids, type Service, type ServiceOptions } from './harness.ts';
import { formatMs, summarize, table, type Summary } from './stats.ts';

export interface StreamingSizes {
  streams: number;
  rounds: number;
  idle: number;
  /** How long the idle sockets sit before the second memory reading. */
  settleMs: number;
}

export const FULL_STREAMING_SIZES: StreamingSizes = { streams: 100, rounds: 30, idle: 1000, settleMs: 20_000 };
export const QUICK_STREAMING_SIZES: StreamingSizes = { streams: 100, rounds: 8, idle: 200, settleMs: 10_000 };

/** The small author has `streams` followers; the celebrity at least PULL_MIN, so it is pulled. */
const PUSH_MAX = 150;
const PULL_MIN = 160;

export const STREAMING_VARS = { FANOUT_PUSH_MAX: String(PUSH_MAX), FANOUT_PULL_MIN: String(PULL_MIN) };

export interface StreamingResult {
  sizes: StreamingSizes;
  /** Time from sending the POST to each socket's `update` (samples: streams × rounds). */
  pushed: Summary;
  pulled: Summary;
  /** The POST's own latency, as the author sees it. */
  postAnswer: Summary;
  /** Time to open one socket (upgrade through the Worker into the UserTimeline, watches placed). */
  connect: Summary;
  rssBeforeMiB: number;
  rssOpenMiB: number;
  rssSettledMiB: number;
  /** Watches on the celebrity's AuthorFeed while the streams were open. */
  watchers: number;
}

class StreamingBenchError extends Error {
  override name = 'StreamingBenchError';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMiB(pids: readonly number[]): number {
  let kib = 0;
  for (const pid of pids) {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    kib += Number(match?.[1] ?? 0);
  }
  return kib / 1024;
}

interface Socket {
  ws: WebSocket;
  /** Arrival time (performance.now()) of each post id's update. */
  arrivals: Map<string, number>;
}

async function openSocket(base: string, token: string): Promise<Socket> {
  const ws = new WebSocket(`${base}/v1/stream?access_token=${encodeURIComponent(token)}`);
  const arrivals = new Map<string, number>();
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { event: string; post?: { id: string } };
    if (message.event === 'update' && message.post) arrivals.set(message.post.id, performance.now());
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new StreamingBenchError('socket failed to open')), { once: true });
  });
  return { ws, arrivals };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > limitMs) throw new StreamingBenchError(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** One round: the author posts; the samples are each socket's wait for it. */
async function round(service: Service, author: { token: string }, sockets: Socket[], text: string) {
  const sent = performance.now();
  const body = await expectStatus<{ post: { id: string } }>(service, 201, 'POST', '/v1/posts', {
    token: author.token,
    body: { text },
  });
  const answered = performance.now() - sent;
  const id = body.post.id;
  await waitFor(() => sockets.every((s) => s.arrivals.has(id)), `the update of ${id} on every socket`);
  return { answered, latencies: sockets.map((s) => s.arrivals.get(id)! - sent) };
}

export async function runStreamingBench(
  start: (options: ServiceOptions) => Promise<Service>,
  vars: Record<string, string>,
  sizes: StreamingSizes,
  log: (line: string) => void,
): Promise<StreamingResult> {
  log('building the bundle and starting workerd');
  const service = await start({ vars: { ...vars, ...STREAMING_VARS } });
  const sockets: Socket[] = [];
  try {
    const base = (await service.mf.ready).href.replace(/^http/, 'ws').replace(/\/$/, '');
    const tag = Date.now().toString(36);
    const author = await signupUser(service, `s_author_${tag}`);
    const celebrity = await signupUser(service, `s_celeb_${tag}`);
    // Extra followers first, so that the celebrity is past PULL_MIN when the readers follow: they pull from the start.
    log(`signing up ${PULL_MIN} followers of the celebrity and ${sizes.streams} readers`);
    const extras = await mapLimit(PULL_MIN, 8, (i) => signupUser(service, `s_fan_${tag}_${i}`));
    await mapLimit(extras.length, 8, (i) =>
      expectStatus(service, 200, 'PUT', `/v1/users/${celebrity.id}/follow`, { token: extras[i]!.token }),
    );
    const readers = await mapLimit(sizes.streams, 8, (i) => signupUser(service, `s_reader_${tag}_${i}`));
    await mapLimit(readers.length, 8, async (i) => {
      const token = readers[i]!.token;
      await expectStatus(service, 200, 'PUT', `/v1/users/${author.id}/follow`, { token });
      await expectStatus(service, 200, 'PUT', `/v1/users/${celebrity.id}/follow`, { token });
    });
    // The first PUSH_MAX fans were switched to pull by a queued reclassification: let it finish.
    await waitFor(async () => {
      const storage = await service.objectStorage('UserTimeline', extras[0]!.id);
      const [row] = await storage.exec<{ mode: string }>('SELECT mode FROM follows WHERE author_id = ?', celebrity.id);
      return row?.mode === 'pull';
    }, 'the celebrity reclassification');

    log(`opening ${sizes.streams} streams`);
    const connect: number[] = [];
    for (const reader of readers) {
      const started = performance.now();
      sockets.push(await openSocket(base, reader.token));
      connect.push(performance.now() - started);
    }
    const feed = await service.objectStorage('AuthorFeed', celebrity.id);
    const [watching] = await feed.exec<{ n: number }>('SELECT count(*) AS n FROM watchers');
    const watchers = watching?.n ?? 0;

    const pushed: number[] = [];
    const pulled: number[] = [];
    const answers: number[] = [];
    for (let r = 0; r < sizes.rounds; r++) {
      const push = await round(service, author, sockets, `pushed round ${r}`);
      pushed.push(...push.latencies);
      answers.push(push.answered);
      const pull = await round(service, celebrity, sockets, `pulled round ${r}`);
      pulled.push(...pull.latencies);
      answers.push(pull.answered);
    }
    log(`pushed p50 ${formatMs(summarize(pushed).p50)}, pulled p50 ${formatMs(summarize(pulled).p50)}`);

    log(`memory: opening ${sizes.idle} idle streams`);
    const idleUsers = await mapLimit(sizes.idle, 8, (i) => signupUser(service, `s_idle_${tag}_${i}`));
    await sleep(2000);
    const pids = workerdPids();
    const rssBeforeMiB = rssMiB(pids);
    for (const user of idleUsers) sockets.push(await openSocket(base, user.token));
    await sleep(2000);
    const rssOpenMiB = rssMiB(pids);
    await sleep(sizes.settleMs);
    const rssSettledMiB = rssMiB(pids);
    return {
      sizes,
      pushed: summarize(pushed),
      pulled: summarize(pulled),
      postAnswer: summarize(answers),
      connect: summarize(connect),
      rssBeforeMiB,
      rssOpenMiB,
      rssSettledMiB,
      watchers,
    };
  } finally {
    for (const s of sockets) s.ws.close(1000, 'bench over');
    await service.dispose();
  }
}

export function renderStreaming(result: StreamingResult): string {
  const { sizes } = result;
  const row = (name: string, s: Summary) => [name, String(s.n), formatMs(s.p50), formatMs(s.p99), formatMs(s.max)];
  const perSocketKiB = (mib: number) => ((mib - result.rssBeforeMiB) * 1024) / sizes.idle;
  return [
    `${sizes.streams} open v1 streams, ${sizes.rounds} rounds (one post of a pushed author, one of a pulled celebrity).`,
    '',
    table(
      ['from POST to the event on every stream', 'samples', 'p50', 'p99', 'max'],
      [
        row('pushed author (fan-out delivers, the timeline streams)', result.pushed),
        row('pulled celebrity (AuthorFeed watchers)', result.pulled),
        row('the POST itself (author sees 201)', result.postAnswer),
        row('opening one stream (upgrade, watches placed)', result.connect),
      ],
    ),
    '',
    table(
      ['workerd resident memory', 'MiB', 'per idle stream'],
      [
        ['before', result.rssBeforeMiB.toFixed(1), ''],
        [
          `${sizes.idle} idle streams open (2 s)`,
          result.rssOpenMiB.toFixed(1),
          `${perSocketKiB(result.rssOpenMiB).toFixed(1)} KiB`,
        ],
        [
          `after ${sizes.settleMs / 1000} s idle`,
          result.rssSettledMiB.toFixed(1),
          `${perSocketKiB(result.rssSettledMiB).toFixed(1)} KiB`,
        ],
      ],
    ),
    '',
    `Watches on the celebrity's AuthorFeed with the streams open: ${result.watchers} (one per reader). A stream's`,
    `opening costs one watch RPC per pulled author it follows, renewed every ${WATCH_RENEW_MS / 60_000} minutes;`,
    `a celebrity post costs one RPC per watching reader.`,
  ].join('\n');
}
