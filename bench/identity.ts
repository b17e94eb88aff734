/**
 * What identity costs (`npm run bench -- --only identity`):
 * - the existence check of a token's subject (workers/api/auth.ts): its own Server-Timing metric (`auth`) on
 *   `GET /v1/feed?mode=latest` and `POST /v1/posts`, for a subject the isolate has not seen (one D1 read) and for
 *   one it has (an LRU hit), beside the whole request's latency;
 * - password hashing (PBKDF2-SHA-256, src/password.ts): signups with and without a password, logins with the right
 *   pair and with an unknown handle (the same work, by design), and a bare read, one client at a time.
 */
import { PASSWORD_ITERATIONS, hashPassword } from '../src/password.ts';
import type { Service } from './harness.ts';
import { formatMs, summarize, table, type Summary } from './stats.ts';

export interface IdentityResult {
  users: number;
  check: { route: string; miss: Summary; hit: Summary; requestMiss: Summary; requestHit: Summary }[];
  passwords: { label: string; latency: Summary }[];
  nodeHashMs: Summary;
  iterations: number;
}

function authMs(header: string | null): number {
  const match = /(?:^|,\s*)auth;dur=([\d.]+)/.exec(header ?? '');
  return match ? Number(match[1]) : Number.NaN;
}

async function timedFetch(service: Service, route: string, init: Parameters<Service['fetch']>[1]) {
  const started = performance.now();
  const res = await service.fetch(route, init);
  await res.text();
  return { ms: performance.now() - started, res };
}

async function signup(service: Service, handle: string, password?: string) {
  const r = await service.api<{ user: { id: string }; token: string }>('POST', '/v1/users', {
    body: password === undefined ? { handle } : { handle, password },
  });
  if (r.status !== 201) throw new Error(`signup ${handle}: ${r.status}`);
  return r.body;
}

/** Each user's first authenticated request misses the check's cache; the next ones hit it. */
async function measureCheck(service: Service, users: number, log: (line: string) => void) {
  const routes = [
    { route: 'GET /v1/feed?mode=latest', method: 'GET', path: '/v1/feed?mode=latest&limit=20', body: undefined },
    { route: 'POST /v1/posts', method: 'POST', path: '/v1/posts', body: JSON.stringify({ text: 'bench post' }) },
  ];
  const out: IdentityResult['check'] = [];
  for (const r of routes) {
    const tokens: string[] = [];
    for (let i = 0; i < users; i++) {
      tokens.push((await signup(service, `id_${r.method.toLowerCase()}_${i}_${Date.now().toString(36)}`)).token);
    }
    log(`${r.route}: ${users} users signed up`);
    const miss: number[] = [];
    const hit: number[] = [];
    const requestMiss: number[] = [];
    const requestHit: number[] = [];
    for (const [pass, auth, total] of [
      [0, miss, requestMiss],
      [1, hit, requestHit],
      [2, hit, requestHit],
    ] as const) {
      for (const token of tokens) {
        const { ms, res } = await timedFetch(service, r.path, {
          method: r.method,
          headers: { authorization: `Bearer ${token}`, ...(r.body ? { 'content-type': 'application/json' } : {}) },
          body: r.body,
        });
        if (res.status >= 300) throw new Error(`${r.route} pass ${pass}: ${res.status}`);
        auth.push(authMs(res.headers.get('server-timing')));
        total.push(ms);
      }
    }
    out.push({
      route: r.route,
      miss: summarize(miss),
      hit: summarize(hit),
      requestMiss: summarize(requestMiss),
      requestHit: summarize(requestHit),
    });
  }
  return out;
}

async function measurePasswords(service: Service, samples: number) {
  const tag = Date.now().toString(36);
  const password = 'bench password 123';
  const known = await signup(service, `pw_known_${tag}`, password);
  const runs: { label: string; request: (i: number) => Promise<{ ms: number; status: number }> }[] = [
    {
      label: 'baseline: `GET /v1/users/:id` (no hashing)',
      request: async () => {
        const { ms, res } = await timedFetch(service, `/v1/users/${known.user.id}`, { method: 'GET' });
        return { ms, status: res.status };
      },
    },
    {
      label: '`POST /v1/users` without a password',
      request: (i) => postJson(service, '/v1/users', { handle: `pw_none_${i}_${tag}` }),
    },
    {
      label: '`POST /v1/users` with a password (one PBKDF2)',
      request: (i) => postJson(service, '/v1/users', { handle: `pw_with_${i}_${tag}`, password }),
    },
    {
      label: '`POST /v1/sessions`, right pair (one PBKDF2)',
      request: () => postJson(service, '/v1/sessions', { handle: `pw_known_${tag}`, password }),
    },
    {
      label: '`POST /v1/sessions`, unknown handle (the same work)',
      request: () => postJson(service, '/v1/sessions', { handle: `pw_nobody_${tag}`, password }),
    },
  ];
  const out: IdentityResult['passwords'] = [];
  for (const run of runs) {
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) latencies.push((await run.request(i)).ms);
    out.push({ label: run.label, latency: summarize(latencies) });
  }
  return out;
}

async function postJson(service: Service, route: string, body: unknown) {
  const { ms, res } = await timedFetch(service, route, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { ms, status: res.status };
}

export async function runIdentityBench(
  service: Service,
  options: { users: number; samples: number },
  log: (line: string) => void,
): Promise<IdentityResult> {
  const check = await measureCheck(service, options.users, log);
  log('existence check measured');
  const passwords = await measurePasswords(service, options.samples);
  log('passwords measured');
  const node: number[] = [];
  for (let i = 0; i < options.samples; i++) {
    const started = performance.now();
    await hashPassword('bench password 123');
    node.push(performance.now() - started);
  }
  return { users: options.users, check, passwords, nodeHashMs: summarize(node), iterations: PASSWORD_ITERATIONS };
}

export function renderIdentity(r: IdentityResult): string {
  const ms = (s: Summary) => `${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} ms`;
  const baseline = r.passwords[0]!.latency.p50;
  return [
    `### The existence check of a token's subject`,
    '',
    `${r.users} users per route, one client at a time. Each user's first request is a miss of the isolate's cache ` +
      `(one D1 primary-key read); the next two are hits. \`auth\` is the check's own Server-Timing metric; the ` +
      'request column is the whole round trip seen by the client. p50 / p99.',
    '',
    table(
      ['route', 'check, miss', 'check, hit', 'request, first (miss)', 'request, later (hit)'],
      r.check.map((c) => [c.route, ms(c.miss), ms(c.hit), ms(c.requestMiss), ms(c.requestHit)]),
    ),
    '',
    `### Passwords (PBKDF2-SHA-256, ${r.iterations.toLocaleString('en')} iterations)`,
    '',
    `One client, ${r.passwords[0]!.latency.n} requests each; p50 and p99 of the round trip, and the p50 over the ` +
      'bare read. In Node (OpenSSL, this machine) one hash takes ' +
      `${formatMs(r.nodeHashMs.p50)} at p50; workerd (BoringSSL) shows its cost in the rows below.`,
    '',
    table(
      ['request', 'p50', 'p99', 'p50 over the bare read'],
      r.passwords.map((p) => [
        p.label,
        formatMs(p.latency.p50),
        formatMs(p.latency.p99),
        p === r.passwords[0] ? '' : `+${formatMs(p.latency.p50 - baseline)}`,
      ]),
    ),
  ].join('\n');
}
