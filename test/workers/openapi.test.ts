import { validate as validateOpenApi } from '@readme/openapi-parser';
import { exports } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import { createApp } from '../../workers/api/app.ts';
import { openApiDocument, openApiPath } from '../../workers/api/openapi.ts';
import { describeRoutes } from '../../workers/api/route-docs.ts';
import {
  commentSchema,
  errorSchema,
  feedItemSchema,
  idParam,
  pageOf,
  postEnvelope,
  postSchema,
  relationshipEnvelope,
  relationshipSchema,
  sessionEnvelope,
  userEnvelope,
  userSchema,
  validate,
} from '../../workers/api/validation.ts';
import { api, createPost, signup } from '../support/api.ts';

interface Operation {
  summary?: string;
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}

type ApiCall = () => Promise<{ status: number; body: unknown }>;

interface Document {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
}

async function fetchDocument(): Promise<Document> {
  const res = await api<Document>('GET', '/v1/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('Content-Type')).toMatch(/^application\/json/);
  return res.body;
}

/** Every v1 route the app serves, as `METHOD /openapi/{path}`; middleware (method ALL) serves no route. */
function v1Routes(): string[] {
  const routes = createApp().routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/'));
  return [...new Set(routes.map((r) => `${r.method} ${openApiPath(r.path).path}`))].sort();
}

function documentedOperations(document: Document): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

/** A schema's answers must be described whole: parsing drops unknown fields, so a field it lacks fails `toEqual`. */
function expectDescribed(schema: z.ZodType, body: unknown) {
  const parsed = schema.safeParse(body);
  expect(parsed.error?.issues).toBeUndefined();
  expect(parsed.data).toEqual(body);
}

describe('the OpenAPI document', () => {
  it('documents every v1 route of the route table, and nothing else', async () => {
    const document = await fetchDocument();
    const routes = v1Routes();
    // Sanity: the route table is the real one (posts, users, feed … and the document itself).
    expect(routes).toEqual(expect.arrayContaining(['POST /v1/posts', 'GET /v1/feed', 'GET /v1/openapi.json']));
    const documented = documentedOperations(document);
    const undocumented = routes.filter((r) => !documented.includes(r));
    expect(undocumented, 'routes without describeRoutes (see docs/architecture.md, "API documentation")').toEqual([]);
    expect(documented).toEqual(routes);
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method} ${path}`;
        expect(operation.summary, where).toBeTruthy();
        expect(
          Object.keys(operation.responses).some((status) => /^[123]\d\d$/.test(status)),
          `${where} documents its success answer`,
        ).toBe(true);
        expect(operation.responses.default, where).toBeDefined();
      }
    }
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const document = await fetchDocument();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.version).toBe(pkg.version);
    const result = await validateOpenApi(structuredClone(document) as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    // The validator is not a rubber stamp: a dangling reference and a missing required field fail it.
    const broken = structuredClone(document);
    broken.paths['/v1/posts']!.post!.responses['201']!.content!['application/json']!.schema = {
      $ref: '#/components/schemas/Nothing',
    };
    expect((await validateOpenApi(broken as never)).valid).toBe(false);
    const noVersion = structuredClone(document) as { info: Partial<Document['info']> };
    delete noVersion.info.version;
    expect((await validateOpenApi(noVersion as never)).valid).toBe(false);
  });

  it('describes requests with the schemas the routes validate with', async () => {
    const document = await fetchDocument();
    const create = document.paths['/v1/posts']!.post!;
    const body = create.requestBody!.content['application/json']!.schema;
    expect(body).toMatchObject({
      type: 'object',
      required: ['text'],
      additionalProperties: false,
      properties: { text: { type: 'string', maxLength: 1000 }, media: { type: 'array', maxItems: 4 } },
    });
    expect(create.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false })]),
    );
    const feedParams = document.paths['/v1/feed']!.get!.parameters!;
    expect(feedParams.find((p) => p.name === 'limit')).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    });
    expect(feedParams.find((p) => p.name === 'mode')?.schema).toMatchObject({ enum: ['ranked', 'latest'] });
    const like = document.paths['/v1/posts/{id}/like']!.put!;
    expect(like.parameters).toEqual([
      expect.objectContaining({
        name: 'id',
        in: 'path',
        required: true,
        schema: expect.objectContaining({ pattern: '^[0-9]{1,20}$' }),
      }),
    ]);
    // A body whose every field is optional may be left out (Hono reads none as `{}`).
    expect(create.requestBody).toMatchObject({ required: true });
    expect(document.paths['/v1/users/{id}/follow']!.put!.requestBody).toMatchObject({ required: false });
    // What the document says the body may not contain, the route refuses.
    const user = await signup();
    const refused = await api('POST', '/v1/posts', { token: user.token, body: { text: 'hi', extra: 1 } });
    expect(refused.status).toBe(400);
    expectDescribed(errorSchema, refused.body);
  });

  it('states each route’s security, and the routes that need a token refuse a request without one', async () => {
    const document = await fetchDocument();
    const needingUser: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(operation.security, `${method} ${path}`).toBeDefined();
        if (JSON.stringify(operation.security) !== JSON.stringify([{ userToken: [] }])) continue;
        needingUser.push(`${method} ${path}`);
        expect(operation.responses['401'], `${method} ${path}`).toBeDefined();
        const res = await api(
          method.toUpperCase(),
          path.replace(/\{[^}]+\}/g, '1'),
          method === 'get' ? {} : { body: {} },
        );
        expect(res.status, `${method} ${path} without a token`).toBe(401);
        expectDescribed(errorSchema, res.body);
      }
    }
    expect(needingUser).toEqual(
      expect.arrayContaining(['post /v1/posts', 'get /v1/feed', 'put /v1/users/{id}/follow']),
    );
    expect(document.paths['/v1/admin/dead-letters']!.get!.security).toEqual([{ adminToken: [] }]);
    expect(document.paths['/v1/posts/{id}']!.get!.security).toEqual([{}, { userToken: [] }]);
  });

  it('documents error answers in the one error shape, with an example per status', async () => {
    const document = await fetchDocument();
    const errors = document.paths['/v1/posts/{id}']!.patch!.responses;
    for (const status of ['400', '401', '403', '404', '412', '429']) {
      expect(errors[status]?.content?.['application/json']?.schema, status).toEqual({
        $ref: '#/components/schemas/Error',
      });
    }
    expect(errors['412']!.content!['application/json']).toMatchObject({
      example: { error: { code: 'precondition_failed' } },
    });
    expect(document.components.schemas.Error).toMatchObject({ required: ['error'] });
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['Post', 'User', 'Comment', 'FeedItem', 'Error', 'Media']),
    );
  });

  it('its answer schemas describe what the routes answer, field for field', async () => {
    const [alice, bob] = [await signup(), await signup()];
    const signedUp = await api('POST', '/v1/users', { body: { handle: `oa_${Date.now().toString(36)}` } });
    expectDescribed(sessionEnvelope, signedUp.body);
    expectDescribed(userEnvelope, (await api('GET', `/v1/users/${alice.id}`)).body);
    expectDescribed(
      relationshipEnvelope,
      (await api('PUT', `/v1/users/${alice.id}/follow`, { token: bob.token })).body,
    );
    const post = await createPost(alice, 'described #openapi @bob');
    const created = await api('POST', '/v1/posts', {
      token: alice.token,
      body: {
        text: 'with media',
        media: [{ url: 'https://example.com/a.png', kind: 'image', alt: 'a' }],
        location: { lat: 1, lon: 2, name: 'here' },
      },
    });
    expectDescribed(postEnvelope, created.body);
    expectDescribed(postEnvelope, (await api('GET', `/v1/posts/${post.id}`)).body);
    const commented = await api('POST', `/v1/posts/${post.id}/comments`, { token: bob.token, body: { text: 'hi' } });
    expect(commented.status).toBe(201);
    expectDescribed(z.object({ comment: commentSchema, post: postSchema }), commented.body);
    expectDescribed(pageOf(userSchema), (await api('GET', `/v1/users/${alice.id}/followers`)).body);
    expectDescribed(pageOf(postSchema), (await api('GET', `/v1/users/${alice.id}/posts`)).body);
    const ranked = await api<{ items: unknown[] }>('GET', '/v1/feed?explain=1', { token: bob.token });
    expect(ranked.body.items.length).toBeGreaterThan(0);
    for (const item of ranked.body.items) expectDescribed(feedItemSchema, item);
    const latest = await api<{ items: unknown[] }>('GET', '/v1/feed?mode=latest', { token: bob.token });
    for (const item of latest.body.items) expectDescribed(feedItemSchema, item);
    const deleted = await api('DELETE', `/v1/posts/${post.id}`, { token: alice.token });
    expectDescribed(postEnvelope, deleted.body);
    expectDescribed(errorSchema, (await api('GET', `/v1/posts/${post.id}`)).body);
  });
});

describe('the answers of the social surface', () => {
  it('match the schemas the document gives them', async () => {
    const document = await fetchDocument();
    const [alice, bob] = [await signup(), await signup()];
    const ok = (res: { status: number; body: unknown }, path: string, method: string, status = res.status) => {
      expect(res.status, `${method} ${path}`).toBe(status);
      return res.body;
    };
    const post = await createPost(alice, 'social @bob');
    await api('POST', `/v1/posts/${post.id}/comments`, { token: bob.token, body: { text: 'hello' } });
    const checks: [string, string, ApiCall][] = [
      ['get', '/v1/posts/{id}/comments', () => api('GET', `/v1/posts/${post.id}/comments`)],
      [
        'get',
        '/v1/users/{id}/relationship',
        () => api('GET', `/v1/users/${alice.id}/relationship`, { token: bob.token }),
      ],
      [
        'put',
        '/v1/users/{id}/mute',
        () => api('PUT', `/v1/users/${alice.id}/mute`, { token: bob.token, body: { durationSeconds: 60 } }),
      ],
      ['get', '/v1/mutes', () => api('GET', '/v1/mutes', { token: bob.token })],
      ['put', '/v1/users/{id}/block', () => api('PUT', `/v1/users/${alice.id}/block`, { token: bob.token })],
      ['get', '/v1/blocks', () => api('GET', '/v1/blocks', { token: bob.token })],
      [
        'post',
        '/v1/filters',
        () => api('POST', '/v1/filters', { token: bob.token, body: { phrase: 'spoilers', expiresInSeconds: 60 } }),
      ],
      ['get', '/v1/filters', () => api('GET', '/v1/filters', { token: bob.token })],
      ['get', '/v1/notifications', () => api('GET', '/v1/notifications', { token: alice.token })],
      [
        'put',
        '/v1/markers',
        () => api('PUT', '/v1/markers', { token: alice.token, body: { home: { lastReadId: post.id } } }),
      ],
      ['get', '/v1/markers', () => api('GET', '/v1/markers', { token: bob.token })],
    ];
    for (const [method, path, call] of checks) {
      const operation = document.paths[path]?.[method];
      expect(operation, `${method} ${path} is documented`).toBeDefined();
      const res = await call();
      const status = Object.keys(operation!.responses).find((s) => /^2\d\d$/.test(s))!;
      ok(res, path, method, Number(status));
    }
    expectDescribed(
      pageOf(z.object({ comment: commentSchema })),
      (await api('GET', `/v1/posts/${post.id}/comments`)).body,
    );
    const relationship = await api('GET', `/v1/users/${alice.id}/relationship`, { token: bob.token });
    expectDescribed(z.object({ relationship: relationshipSchema }), relationship.body);
    expect(relationship.body).toMatchObject({ relationship: { blocking: true, muting: true } });
    expectDescribed(
      pageOf(z.object({ user: userSchema })),
      (await api('GET', '/v1/blocks', { token: bob.token })).body,
    );
  });
});

describe('the docs page', () => {
  it('is HTML served by the API, pointing at the document and a pinned script', async () => {
    const res = await exports.default.fetch(new Request('https://feed.test/v1/docs'));
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<title>edge-feed API</title>');
    expect(html).toContain('"/v1/openapi.json"');
    expect(html).toMatch(/<script src="https:\/\/cdn\.jsdelivr\.net\/npm\/@scalar\/api-reference@\d+\.\d+\.\d+\//);
  });
});

describe('the generator', () => {
  it('takes parameters from the validators, leaves undocumented routes out and refuses two schemas of one name', () => {
    const query = z.object({ n: z.coerce.number().int().max(5).default(1), q: z.string() });
    const router = new Hono()
      .get('/tags/:tag{[a-z]+}', validate('query', query), (c) => c.json({ tag: c.req.param('tag') }))
      .get('/things/:id', validate('param', idParam), (c) => c.json({}))
      .get('/hidden', (c) => c.json({}))
      .post('/upload', (c) => c.json({}, 201));
    describeRoutes(router, {
      'GET /tags/:tag{[a-z]+}': { summary: 'tag', responses: { 200: { description: 'ok' } } },
      'GET /things/:id': {
        summary: 'thing',
        responses: { 200: { description: 'ok', schema: z.object({ a: z.string() }).meta({ id: 'Thing' }) } },
      },
    });
    describeRoutes(router, {
      'POST /upload': {
        summary: 'upload',
        query: z.object({ to: z.string().optional() }),
        body: {
          mediaType: 'multipart/form-data',
          schema: z.object({ file: z.string().meta({ contentMediaType: 'application/octet-stream' }) }),
        },
        responses: { 201: { description: 'stored' } },
      },
    });
    const app = new Hono().route('/v1', router);
    const document = openApiDocument(app.routes, { title: 't', version: '1' }) as unknown as Document;
    expect(Object.keys(document.paths).sort()).toEqual(['/v1/tags/{tag}', '/v1/things/{id}', '/v1/upload']);
    const upload = document.paths['/v1/upload']!.post!;
    expect(upload.parameters).toEqual([{ name: 'to', in: 'query', required: false, schema: { type: 'string' } }]);
    expect(upload.requestBody).toMatchObject({
      required: true,
      content: { 'multipart/form-data': { schema: { properties: { file: { type: 'string' } } } } },
    });
    expect(upload.responses['413']).toBeDefined();
    expect(document.paths['/v1/tags/{tag}']!.get!.parameters).toEqual([
      {
        name: 'n',
        in: 'query',
        required: false,
        schema: { type: 'integer', maximum: 5, default: 1, minimum: expect.any(Number) },
      },
      { name: 'q', in: 'query', required: true, schema: { type: 'string' } },
      { name: 'tag', in: 'path', required: true, schema: { type: 'string' } },
    ]);
    expect(document.components.schemas.Thing).toEqual({
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
    });

    const clash = new Hono().get('/a', (c) => c.json({}));
    describeRoutes(clash, {
      'GET /a': {
        summary: 'a',
        responses: {
          200: { description: 'one', schema: z.object({ a: z.string() }).meta({ id: 'Clash' }) },
          201: { description: 'another', schema: z.object({ b: z.number() }).meta({ id: 'Clash' }) },
        },
      },
    });
    expect(() => openApiDocument(new Hono().route('/v1', clash).routes, { title: 't', version: '1' })).toThrow(
      /two different schemas are named Clash/,
    );
  });
});

describe('describeRoutes', () => {
  it('refuses a doc for a route the router does not have', () => {
    const router = new Hono().get('/a', (c) => c.text('a'));
    expect(() => describeRoutes(router, { 'GET /b': { summary: 'b' } })).toThrow(/no route GET \/b/);
    expect(() => describeRoutes(router, { 'POST /a': { summary: 'a' } })).toThrow(/no route POST \/a/);
    describeRoutes(router, { 'GET /a': { summary: 'a' } });
  });
});
