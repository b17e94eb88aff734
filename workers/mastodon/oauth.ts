import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { AppError, UnauthorizedError, ValidationError } from '../../src/errors.ts';
import { escapeHtml } from '../../src/mastodon-content.ts';
import {
  OOB_REDIRECT_URI,
  PKCE_CHALLENGE,
  PKCE_VERIFIER,
  parseRedirectUris,
  pkceMatches,
  randomSecret,
  redirectWithCode,
  secretDigest,
} from '../../src/mastodon-oauth.ts';
import { InvalidScopeError, parseScopes, withinScopes } from '../../src/mastodon-scopes.ts';
import { verifyNothing, verifyPassword } from '../../src/password.ts';
import { HANDLE_PATTERN, normalizeHandle } from '../../src/text.ts';
import type { OAuthApp } from '../../db/repositories/oauth.ts';
import type { Deps } from '../composition.ts';
import { rateLimit } from '../api/rate-limit.ts';
import { identify, requireScope } from './auth.ts';
import type { MastodonEnv } from './context.ts';
import { params, readParams } from './params.ts';

/** How long an authorization code can be exchanged (RFC 6749 §4.1.2 recommends at most 10 minutes). */
const CODE_TTL_MS = 10 * 60_000;

const short = (max: number) => z.string().min(1).max(max);

function scopesOf(input: string | undefined): string[] {
  try {
    return parseScopes(input);
  } catch (error) {
    if (error instanceof InvalidScopeError) throw new AppError(400, 'invalid_scope', error.message);
    throw error;
  }
}

const appParams = z.object({
  client_name: short(200),
  redirect_uris: z.union([short(2000), z.array(short(2000)).min(1).max(10)]),
  scopes: z.string().max(1000).optional(),
  website: z.string().max(2000).optional().nullable(),
});

const authorizeParams = z.object({
  response_type: z.literal('code'),
  client_id: short(100),
  redirect_uri: short(2000),
  scope: z.string().max(1000).optional(),
  state: z.string().max(2000).optional(),
  code_challenge: z.string().regex(PKCE_CHALLENGE, 'must be a base64url S256 challenge').optional(),
  code_challenge_method: z.literal('S256').optional(),
  force_login: z.string().max(10).optional(),
  lang: z.string().max(20).optional(),
});

const loginParams = authorizeParams.extend({
  handle: z.string().max(100),
  password: z.string().max(1000),
});

const tokenParams = z.object({
  grant_type: z.enum(['authorization_code', 'client_credentials']),
  client_id: short(100).optional(),
  client_secret: short(200).optional(),
  code: short(200).optional(),
  redirect_uri: short(2000).optional(),
  code_verifier: z.string().regex(PKCE_VERIFIER, 'must be 43-128 characters of [A-Za-z0-9-._~]').optional(),
  scope: z.string().max(1000).optional(),
});

const revokeParams = z.object({
  client_id: short(100),
  client_secret: short(200).optional(),
  token: short(2000),
});

function appView(app: OAuthApp, secret?: string) {
  const redirectUris = app.redirectUris.split('\n');
  return {
    id: app.clientId,
    name: app.name,
    website: app.website,
    scopes: app.scopes.split(' '),
    redirect_uri: redirectUris.join('\n'),
    redirect_uris: redirectUris,
    vapid_key: '',
    ...(secret === undefined ? {} : { client_id: app.clientId, client_secret: secret }),
  };
}

/** RFC 6749 §2.3.1: client credentials may come as HTTP Basic instead of parameters. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match) return undefined;
  try {
    const [id, ...rest] = atob(match[1]!).split(':');
    return id ? { id: decodeURIComponent(id), secret: decodeURIComponent(rest.join(':')) } : undefined;
  } catch {
    return undefined;
  }
}

async function secretMatches(app: OAuthApp, secret: string): Promise<boolean> {
  const [a, b] = await Promise.all([secretDigest(secret), Promise.resolve(app.secretHash)]);
  const enc = new TextEncoder();
  return crypto.subtle.timingSafeEqual(enc.encode(a), enc.encode(b));
}

async function knownApp(deps: Deps, clientId: string, redirectUri: string): Promise<OAuthApp> {
  const app = await deps.repos.oauth.app(clientId);
  if (!app) throw new AppError(401, 'invalid_client', 'Client authentication failed due to unknown client');
  if (!app.redirectUris.split('\n').includes(redirectUri)) {
    throw new AppError(400, 'invalid_redirect_uri', 'The redirect uri included is not valid.');
  }
  return app;
}

type Authorize = z.infer<typeof authorizeParams>;

/** The login page: every request parameter carried on as a hidden field, every value escaped. */
function loginPage(app: OAuthApp, request: Authorize, error?: string): string {
  const hidden = Object.entries(request)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n      ');
  const scopes = escapeHtml(scopesOf(request.scope).join(' '));
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Authorize ${escapeHtml(app.name)}</title></head>
  <body>
    <h1>Authorize ${escapeHtml(app.name)}</h1>
    <p>${escapeHtml(app.name)} asks for: <code>${scopes}</code></p>
    ${error ? `<p role="alert" id="error">${escapeHtml(error)}</p>` : ''}
    <form method="post" action="/oauth/authorize">
      ${hidden}
      <label>Handle <input name="handle" autocomplete="username" required></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
      <button type="submit">Authorize</button>
    </form>
  </body>
</html>`;
}

function oobPage(code: string): string {
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Authorization code</title></head>
  <body><h1>Authorization code</h1><p>Copy this code into the application:</p><code id="code">${escapeHtml(code)}</code></body>
</html>`;
}

function html(c: Context<MastodonEnv>, body: string, status: 200 | 401 = 200) {
  // The page is a form posting credentials: never framed, never cached.
  c.header('Cache-Control', 'no-store');
  c.header('X-Frame-Options', 'DENY');
  c.header('Content-Security-Policy', "default-src 'none'; form-action 'self'; style-src 'unsafe-inline'");
  return c.html(body, status);
}

/** Parses the authorization request (query on GET, form on POST) and checks its client and redirect URI. */
async function authorization<S extends typeof authorizeParams | typeof loginParams>(
  c: Context<MastodonEnv>,
  schema: S,
): Promise<{ app: OAuthApp; request: z.infer<S> }> {
  const result = schema.safeParse(await readParams(c));
  if (!result.success) {
    const first = result.error.issues[0];
    throw new AppError(400, 'invalid_request', `${first?.path.join('.') ?? 'request'}: ${first?.message ?? 'invalid'}`);
  }
  const request = result.data as z.infer<S>;
  const app = await knownApp(c.var.deps, request.client_id, request.redirect_uri);
  if (!withinScopes(scopesOf(request.scope), app.scopes.split(' '))) {
    throw new AppError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
  }
  return { app, request };
}

export const appsRoutes = new Hono<MastodonEnv>()
  // Registration is open to anyone, so it is counted per IP address like signups.
  .post('/', params(appParams), rateLimit('signup'), async (c) => {
    const { deps } = c.var;
    const body = c.var.params as z.infer<typeof appParams>;
    const uris = parseRedirectUris(
      Array.isArray(body.redirect_uris) ? body.redirect_uris.join('\n') : body.redirect_uris,
    );
    if (!uris)
      throw new AppError(422, 'invalid_redirect_uri', 'Validation failed: Redirect URI must be an absolute URI.');
    const secret = randomSecret();
    const app: OAuthApp = {
      clientId: randomSecret(),
      secretHash: await secretDigest(secret),
      name: body.client_name,
      website: body.website ?? null,
      redirectUris: uris.join('\n'),
      scopes: scopesOf(body.scopes).join(' '),
      createdAt: deps.now(),
    };
    await deps.repos.oauth.createApp(app);
    return c.json(appView(app, secret));
  })
  .get('/verify_credentials', identify, requireScope('read', { user: false }), async (c) => {
    const clientId = c.var.caller?.clientId;
    const app = clientId ? await c.var.deps.repos.oauth.app(clientId) : undefined;
    if (!app) throw new UnauthorizedError('The access token is invalid');
    return c.json(appView(app));
  });

export const oauthRoutes = new Hono<MastodonEnv>()
  .get('/authorize', async (c) => {
    const { app, request } = await authorization(c, authorizeParams);
    return html(c, loginPage(app, request));
  })
  .post('/authorize', rateLimit('session'), async (c) => {
    const { deps } = c.var;
    const { app, request } = await authorization(c, loginParams);
    const { handle, password, ...rest } = request;
    const credentials = HANDLE_PATTERN.test(handle)
      ? await deps.repos.users.credentials(normalizeHandle(handle))
      : undefined;
    const matches = credentials?.passwordHash
      ? await verifyPassword(password, credentials.passwordHash)
      : await verifyNothing(password);
    if (!matches || !credentials) return html(c, loginPage(app, rest, 'Handle or password is wrong.'), 401);
    const code = randomSecret();
    const now = deps.now();
    await deps.repos.oauth.createCode({
      codeHash: await secretDigest(code),
      clientId: app.clientId,
      userId: credentials.userId,
      redirectUri: request.redirect_uri,
      scopes: scopesOf(request.scope).join(' '),
      codeChallenge: request.code_challenge ?? null,
      expiresAt: now + CODE_TTL_MS,
      usedAt: null,
      createdAt: now,
    });
    if (request.redirect_uri === OOB_REDIRECT_URI) return html(c, oobPage(code));
    return c.redirect(redirectWithCode(request.redirect_uri, code, request.state), 302);
  })
  .post('/token', params(tokenParams), async (c) => {
    const { deps } = c.var;
    const body = c.var.params as z.infer<typeof tokenParams>;
    const basic = basicCredentials(c.req.header('Authorization'));
    const clientId = body.client_id ?? basic?.id;
    const clientSecret = body.client_secret ?? basic?.secret;
    if (!clientId) throw new AppError(401, 'invalid_client', 'Client authentication failed: no client_id');
    const app = await deps.repos.oauth.app(clientId);
    if (!app || (clientSecret !== undefined && !(await secretMatches(app, clientSecret)))) {
      throw new AppError(401, 'invalid_client', 'Client authentication failed due to unknown client or wrong secret');
    }
    const now = deps.now();
    let userId: string | null = null;
    let scopes: string[];
    if (body.grant_type === 'client_credentials') {
      if (clientSecret === undefined) throw new AppError(401, 'invalid_client', 'client_credentials needs the secret');
      scopes = scopesOf(body.scope);
      if (!withinScopes(scopes, app.scopes.split(' '))) {
        throw new AppError(400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
      }
    } else {
      if (!body.code || !body.redirect_uri) throw new ValidationError('code and redirect_uri are required');
      const grant = await deps.repos.oauth.consumeCode(await secretDigest(body.code), now);
      const invalid = () =>
        new AppError(400, 'invalid_grant', 'The provided authorization grant is invalid, expired, revoked or used.');
      if (!grant || grant.clientId !== app.clientId || grant.redirectUri !== body.redirect_uri) throw invalid();
      if (grant.codeChallenge !== null) {
        if (!body.code_verifier || !(await pkceMatches(body.code_verifier, grant.codeChallenge))) throw invalid();
      } else if (clientSecret === undefined) {
        // A public client proves itself with PKCE; without it, the secret is the only proof.
        throw new AppError(401, 'invalid_client', 'Client authentication failed: no client_secret and no PKCE');
      }
      userId = grant.userId;
      scopes = grant.scopes.split(' ');
    }
    const token = randomSecret();
    await deps.repos.oauth.createToken({
      tokenHash: await secretDigest(token),
      clientId: app.clientId,
      userId,
      scopes: scopes.join(' '),
      createdAt: now,
    });
    c.header('Cache-Control', 'no-store');
    return c.json({
      access_token: token,
      token_type: 'Bearer',
      scope: scopes.join(' '),
      created_at: Math.floor(now / 1000),
    });
  })
  .post('/revoke', params(revokeParams), async (c) => {
    const { deps } = c.var;
    const body = c.var.params as z.infer<typeof revokeParams>;
    const app = await deps.repos.oauth.app(body.client_id);
    if (!app || (body.client_secret !== undefined && !(await secretMatches(app, body.client_secret)))) {
      throw new AppError(403, 'unauthorized_client', 'You are not authorized to revoke this token');
    }
    await deps.repos.oauth.revokeToken(await secretDigest(body.token), app.clientId);
    return c.json({});
  });
