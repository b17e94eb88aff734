import { createExecutionContext, env } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../workers/api/app.ts';
import { api } from '../support/api.ts';
import { shardBindings } from '../support/db.ts';

type Fetcher = { fetch(request: Request): Response | Promise<Response> };

const ORIGIN = 'https://feed.test';
const REDIRECT = 'https://client.example/cb';
let counter = 0;

async function call(
  method: string,
  path: string,
  init: { body?: BodyInit; headers?: Record<string, string>; app?: Fetcher } = {},
) {
  const request = new Request(`${ORIGIN}${path}`, {
    method,
    body: init.body,
    headers: init.headers,
    redirect: 'manual',
  });
  return (init.app ?? exports.default).fetch(request);
}

async function userWithPassword(password = 'a long password') {
  const handle = `oauth_${Date.now().toString(36)}_${counter++}`;
  const res = await api<{ user: { id: string }; token: string }>('POST', '/v1/users', { body: { handle, password } });
  expect(res.status).toBe(201);
  return { id: res.body.user.id, token: res.body.token, handle, password };
}

async function registerApp(scopes = 'read write follow', redirect = REDIRECT) {
  const res = await api<{ client_id: string; client_secret: string; id: string; scopes: string[] }>(
    'POST',
    '/api/v1/apps',
    {
      body: { client_name: 'test app <b>', redirect_uris: redirect, scopes },
    },
  );
  expect(res.status).toBe(200);
  return res.body;
}

function authorizeQuery(clientId: string, extra: Record<string, string> = {}) {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'read write',
    ...extra,
  });
}

/** Submits the login form the way a browser would: its hidden fields plus handle and password. */
async function login(query: URLSearchParams, handle: string, password: string, app?: Fetcher) {
  const form = new URLSearchParams(query);
  form.set('handle', handle);
  form.set('password', password);
  return call('POST', '/oauth/authorize', {
    body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    app,
  });
}

async function codeFor(query: URLSearchParams, handle: string, password: string, app?: Fetcher) {
  const res = await login(query, handle, password, app);
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('Location')!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  return location.searchParams.get('code')!;
}

async function exchange(body: Record<string, string>, app?: Fetcher) {
  const res = await call('POST', '/oauth/token', {
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
    app,
  });
  return { status: res.status, body: await res.json<Record<string, string>>() };
}

async function sha256(text: string) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function s256(verifier: string) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

async function tokenFor(scope = 'read write follow') {
  const user = await userWithPassword();
  const app = await registerApp();
  const query = authorizeQuery(app.client_id, { scope });
  const code = await codeFor(query, user.handle, user.password);
  const res = await exchange({
    grant_type: 'authorization_code',
    client_id: app.client_id,
    client_secret: app.client_secret,
    code,
    redirect_uri: REDIRECT,
  });
  expect(res.status).toBe(200);
  return { user, app, token: res.body.access_token! };
}

describe('OAuth: apps and the authorize form', () => {
  it('registers an app and shows a login form carrying the request, every value escaped', async () => {
    const app = await registerApp();
    expect(app.scopes).toEqual(['read', 'write', 'follow']);
    const query = authorizeQuery(app.client_id, { state: '"><script>alert(1)</script>' });
    const res = await call('GET', `/oauth/authorize?${String(query)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('<input name="handle"');
    expect(html).toContain('name="password" type="password"');
    expect(html).toContain(`<input type="hidden" name="client_id" value="${app.client_id}">`);
    expect(html).toContain('value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"');
    expect(html).not.toContain('<script>');
    expect(html).toContain('test app &#60;b&#62;');
  });

  it('refuses unknown clients, unregistered redirect URIs, scopes beyond the app and bad registrations', async () => {
    const app = await registerApp('read');
    const unknown = await call('GET', `/oauth/authorize?${String(authorizeQuery('nope', { scope: 'read' }))}`);
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: 'invalid_client' });
    const elsewhere = authorizeQuery(app.client_id, { scope: 'read', redirect_uri: 'https://evil.example/cb' });
    expect((await call('GET', `/oauth/authorize?${String(elsewhere)}`)).status).toBe(400);
    const wider = await call(
      'GET',
      `/oauth/authorize?${String(authorizeQuery(app.client_id, { scope: 'read write' }))}`,
    );
    expect(wider.status).toBe(400);
    expect(await wider.json()).toMatchObject({ error: 'invalid_scope' });
    const relative = await api('POST', '/api/v1/apps', { body: { client_name: 'x', redirect_uris: '/cb' } });
    expect(relative.status).toBe(422);
    expect(relative.body).toEqual({ error: expect.any(String) });
    const badScope = await api('POST', '/api/v1/apps', {
      body: { client_name: 'x', redirect_uris: REDIRECT, scopes: 'admin' },
    });
    expect(badScope.status).toBe(400);
  });

  it('answers a wrong password with the form again and no code; the out-of-band URI shows the code in #code', async () => {
    const user = await userWithPassword();
    const app = await registerApp('read', 'urn:ietf:wg:oauth:2.0:oob');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: app.client_id,
      redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
      scope: 'read',
    });
    const wrong = await login(query, user.handle, 'not the password');
    expect(wrong.status).toBe(401);
    const again = await wrong.text();
    expect(again).toContain('name="password"');
    expect(again).toContain('Handle or password is wrong.');
    const unknownUser = await login(query, 'nobody_here_at_all', 'whatever password');
    expect(unknownUser.status).toBe(401);
    const ok = await login(query, user.handle, user.password);
    expect(ok.status).toBe(200);
    const code = /<code id="code">([^<]+)<\/code>/.exec(await ok.text())?.[1];
    expect(code).toBeTruthy();
    const token = await exchange({
      grant_type: 'authorization_code',
      client_id: app.client_id,
      client_secret: app.client_secret,
      code: code!,
      redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
    });
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
  });
});

describe('OAuth: tokens', () => {
  it('exchanges a code once, checks PKCE, and stores only digests', async () => {
    const user = await userWithPassword();
    const app = await registerApp();
    const verifier = 'v'.repeat(50);
    const query = authorizeQuery(app.client_id, {
      code_challenge: await s256(verifier),
      code_challenge_method: 'S256',
    });
    const wrongVerifierCode = await codeFor(query, user.handle, user.password);
    const base = { grant_type: 'authorization_code', client_id: app.client_id, redirect_uri: REDIRECT };
    const wrong = await exchange({ ...base, code: wrongVerifierCode, code_verifier: 'w'.repeat(50) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    // A failed exchange still used the code up.
    expect((await exchange({ ...base, code: wrongVerifierCode, code_verifier: verifier })).status).toBe(400);

    // PKCE stands in for the secret: a public client sends none.
    const code = await codeFor(query, user.handle, user.password);
    const ok = await exchange({ ...base, code, code_verifier: verifier });
    expect(ok.status).toBe(200);
    expect(ok.body.scope).toBe('read write');
    const replay = await exchange({ ...base, code, code_verifier: verifier });
    expect(replay.status).toBe(400);

    const hashes = new Set<string>();
    for (const db of shardBindings()) {
      const rows = await db
        .prepare(
          'SELECT token_hash AS h FROM oauth_tokens UNION ALL SELECT code_hash FROM oauth_codes UNION ALL SELECT secret_hash FROM oauth_apps',
        )
        .all<{ h: string }>();
      for (const row of rows.results) hashes.add(row.h);
    }
    expect(hashes.has(await sha256(ok.body.access_token!))).toBe(true);
    expect(hashes.has(await sha256(code))).toBe(true);
    expect(hashes.has(await sha256(app.client_secret))).toBe(true);
    expect(hashes.has(ok.body.access_token!)).toBe(false);
    expect(hashes.has(code)).toBe(false);

    const me = await api<{ id: string }>('GET', '/api/v1/accounts/verify_credentials', { token: ok.body.access_token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
  });

  it('refuses a code after ten minutes, for another client, or without secret or PKCE', async () => {
    const clock = { now: Date.now() };
    const app = createApp({ now: () => clock.now });
    const onClock: Fetcher = { fetch: (r) => app.fetch(r, env, createExecutionContext()) };
    const user = await userWithPassword();
    const client = await registerApp();
    const other = await registerApp();
    const query = authorizeQuery(client.client_id);
    const base = { grant_type: 'authorization_code', redirect_uri: REDIRECT };
    const late = await codeFor(query, user.handle, user.password, onClock);
    clock.now += 10 * 60_000 + 1;
    const expired = await exchange(
      { ...base, client_id: client.client_id, client_secret: client.client_secret, code: late },
      onClock,
    );
    expect(expired.status).toBe(400);
    const stolen = await codeFor(query, user.handle, user.password);
    expect(
      (await exchange({ ...base, client_id: other.client_id, client_secret: other.client_secret, code: stolen }))
        .status,
    ).toBe(400);
    const bare = await codeFor(query, user.handle, user.password);
    expect((await exchange({ ...base, client_id: client.client_id, code: bare })).status).toBe(401);
    const wrongSecret = await exchange({ ...base, client_id: client.client_id, client_secret: 'x', code: bare });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.error).toBe('invalid_client');
  });

  it('takes form-encoded token requests, issues app-only client_credentials tokens, and revokes', async () => {
    const app = await registerApp('read write');
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.client_id,
      client_secret: app.client_secret,
      scope: 'read',
    });
    const res = await call('POST', '/oauth/token', {
      body: form,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    const { access_token: appToken } = await res.json<{ access_token: string }>();
    const verified = await api<{ name: string }>('GET', '/api/v1/apps/verify_credentials', { token: appToken });
    expect(verified.status).toBe(200);
    expect(verified.body.name).toBe('test app <b>');
    const asUser = await api('GET', '/api/v1/accounts/verify_credentials', { token: appToken });
    expect(asUser.status).toBe(422);
    expect(asUser.body).toEqual({ error: 'This method requires an authenticated user' });

    const { token, app: userApp } = await tokenFor();
    expect((await api('GET', '/api/v1/timelines/home', { token })).status).toBe(200);
    const revoke = await api('POST', '/oauth/revoke', {
      body: { client_id: userApp.client_id, client_secret: userApp.client_secret, token },
    });
    expect(revoke.status).toBe(200);
    expect(revoke.body).toEqual({});
    const after = await api('GET', '/api/v1/timelines/home', { token });
    expect(after.status).toBe(401);
    expect(after.body).toEqual({ error: 'The access token is invalid' });
  });
});

describe('scopes per endpoint', () => {
  it('lets a read token read but not write, and a write:favourites token favourite but not post', async () => {
    const { token: readOnly, user } = await tokenFor('read');
    expect((await api('GET', '/api/v1/timelines/home', { token: readOnly })).status).toBe(200);
    const post = await api('POST', '/api/v1/statuses', { token: readOnly, body: { status: 'no' } });
    expect(post.status).toBe(403);
    expect(post.body).toEqual({ error: 'This action is outside the authorized scopes' });

    const { token: favOnly } = await tokenFor('write:favourites');
    const status = await api<{ id: string }>('POST', '/api/v1/statuses', {
      token: user.token,
      body: { status: 'like me' },
    });
    expect(status.status).toBe(200);
    const fav = await api<{ favourited: boolean }>('POST', `/api/v1/statuses/${status.body.id}/favourite`, {
      token: favOnly,
    });
    expect(fav.status).toBe(200);
    expect(fav.body.favourited).toBe(true);
    expect((await api('POST', '/api/v1/statuses', { token: favOnly, body: { status: 'no' } })).status).toBe(403);
    expect((await api('GET', '/api/v1/timelines/home', { token: favOnly })).status).toBe(403);
  });

  it('accepts the v1 bearer token as a token with every scope', async () => {
    const user = await userWithPassword();
    const me = await api<{ id: string }>('GET', '/api/v1/accounts/verify_credentials', { token: user.token });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(user.id);
    const post = await api<{ id: string; account: { id: string } }>('POST', '/api/v1/statuses', {
      token: user.token,
      body: { status: 'from a v1 token' },
    });
    expect(post.status).toBe(200);
    expect(post.body.account.id).toBe(user.id);
    const forged = await api('GET', '/api/v1/accounts/verify_credentials', { token: `${user.token}x` });
    expect(forged.status).toBe(401);
  });
});

describe('OAuth tokens on the streaming API', () => {
  const upgrade = (token: string) =>
    exports.default.fetch(
      new Request(`${ORIGIN}/api/v1/streaming?stream=user&access_token=${encodeURIComponent(token)}`, {
        headers: { Upgrade: 'websocket' },
      }),
    );

  it('opens a user stream with a read token, and refuses a token without read or without a user', async () => {
    const { token } = await tokenFor('read');
    const open = await upgrade(token);
    expect(open.status).toBe(101);
    open.webSocket!.accept();
    open.webSocket!.close(1000, 'test over');

    const writeOnly = await tokenFor('write');
    const refused = await upgrade(writeOnly.token);
    expect(refused.status).toBe(401);
    expect((await refused.json<{ error: string }>()).error).toMatch(/scope/);

    const app = await registerApp();
    const appToken = await exchange({
      grant_type: 'client_credentials',
      client_id: app.client_id,
      client_secret: app.client_secret,
    });
    expect(appToken.status).toBe(200);
    expect((await upgrade(appToken.body.access_token!)).status).toBe(401);
  });
});
