/**
 * The read-path cost of reconciliation (durable-objects/user-timeline.ts reconcileIfDue): latest-feed reads of
 * readers following many authors, with RECONCILE_INTERVAL at its 1 s minimum, measured in one run as pairs: the
 * first read after more than the interval (reconciling: one index query per shard, up to 200 rows each, inserted
 * OR IGNORE) against the read right after it (not due: the baseline, the same reader, timeline and service).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Service } from './harness.ts';
import { formatMs, summarize, table, type Summary } from './stats.ts';

export interface ReconcileOptions {
  authors: number;
  postsPerAuthor: number;
  readers: number;
  rounds: number;
}

export interface ReconcileResult {
  options: ReconcileOptions;
  reconciling: Summary;
  baseline: Summary;
}

interface User {
  id: string;
  token: string;
}

async function signup(service: Service, handle: string): Promise<User> {
  const res = await service.api<{ user: { id: string }; token: string }>('POST', '/v1/users', { body: { handle } });
  if (res.status !== 201) throw new Error(`signup ${handle}: ${res.status}`);
  return { id: res.body.user.id, token: res.body.token };
}

async function timedRead(service: Service, reader: User): Promise<number> {
  const t0 = performance.now();
  const res = await service.fetch('/v1/feed?mode=latest&limit=50', {
    headers: { authorization: `Bearer ${reader.token}` },
  });
  await res.text();
  if (res.status !== 200) throw new Error(`feed: ${res.status}`);
  return performance.now() - t0;
}

export async function runReconcileBench(
  service: Service,
  options: ReconcileOptions,
  log: (line: string) => void,
): Promise<ReconcileResult> {
  log(`${options.authors} authors x ${options.postsPerAuthor} posts, ${options.readers} readers following all`);
  const authors: User[] = [];
  for (let i = 0; i < options.authors; i++) authors.push(await signup(service, `rc_author_${i}`));
  const readers: User[] = [];
  for (let i = 0; i < options.readers; i++) readers.push(await signup(service, `rc_reader_${i}`));
  for (const r of readers) {
    for (const a of authors) await service.api('PUT', `/v1/users/${a.id}/follow`, { token: r.token });
  }
  for (const a of authors) {
    for (let p = 0; p < options.postsPerAuthor; p++) {
      await service.api('POST', '/v1/posts', { token: a.token, body: { text: `post ${p} of ${a.id}` } });
    }
  }
  // Warm-up: the first reads catch up (activity never recorded) and start every object.
  for (const r of readers) await timedRead(service, r);
  await sleep(1100);
  const reconciling: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const r of readers) {
      reconciling.push(await timedRead(service, r));
      baseline.push(await timedRead(service, r));
    }
    await sleep(1100);
  }
  return { options, reconciling: summarize(reconciling), baseline: summarize(baseline) };
}

export function renderReconcile(result: ReconcileResult): string {
  const { options: o, reconciling, baseline } = result;
  const row = (name: string, s: Summary) => [name, String(s.n), formatMs(s.p50), formatMs(s.p95), formatMs(s.max)];
  return [
    `Latest-feed reads (limit 50) of ${o.readers} readers each following ${o.authors} authors with ` +
      `${o.postsPerAuthor} recent posts each (${o.authors * o.postsPerAuthor} posts, all inside the reconciliation ` +
      'window, so every reconciling read reads its full bound of index rows); RECONCILE_INTERVAL 1 s.',
    '',
    table(
      ['read', 'n', 'p50', 'p95', 'max'],
      [row('reconciling (first read after > 1 s)', reconciling), row('not due (the read right after)', baseline)],
    ),
    '',
    `Ratio of p50: ${(reconciling.p50 / baseline.p50).toFixed(2)}x; of p95: ${(reconciling.p95 / baseline.p95).toFixed(2)}x.`,
  ].join('\n');
}
