import type { RouterRoute } from 'hono/types';
import { z } from 'zod';
import { factsOf, type ErrorDoc, type Facts, type SecurityDoc } from './route-docs.ts';
import { errorSchema } from './validation.ts';

/**
 * The OpenAPI 3.1 document of the v1 API, generated from the app's route table (`app.routes`), never written by
 * hand: each route's operation merges the facts its chain's middlewares carry (workers/api/route-docs.ts), and
 * every schema in it is converted from the zod schema that validates (or, for answers, describes) it.
 */

/** `error.code` by status when a route does not name its own (as workers/api/errors.ts answers them). */
const DEFAULT_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  410: 'gone',
  412: 'precondition_failed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
  503: 'unavailable',
};

const ERROR_HEADERS: Record<number, Record<string, string>> = {
  401: { 'WWW-Authenticate': 'present when the token was refused by the JWT check' },
  429: {
    'Retry-After': 'seconds to wait before retrying',
    'RateLimit-Limit': 'the limit of the rule that refused',
    'RateLimit-Remaining': 'requests left in the window (0)',
    'RateLimit-Reset': 'seconds until the window resets',
  },
  503: { 'Retry-After': 'seconds to wait before retrying' },
};

type JsonSchema = Record<string, unknown>;

/** Converts zod schemas, hoisting the named ones (`.meta({ id })`) into `components.schemas`. */
class SchemaSet {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
    const converted = z.toJSONSchema(schema, {
      io,
      unrepresentable: 'any',
      // An answer may gain fields: only a strict object (none here) promises that it has no others.
      override: ({ zodSchema, jsonSchema }) => {
        const def = zodSchema._zod.def;
        if (io === 'output' && def.type === 'object' && !('catchall' in def && def.catchall)) {
          delete jsonSchema.additionalProperties;
        }
      },
    }) as JsonSchema;
    const { $schema: _dialect, $defs, ...root } = converted;
    const defs = Object.entries(($defs ?? {}) as Record<string, JsonSchema>);
    // A schema read as input can differ from its output (defaults, transforms): then it is a component of its own.
    const renames = new Map(
      defs.map(([id, def]) => [id, io === 'input' && !this.fits(id, rewriteRefs(def, new Map())) ? `${id}Input` : id]),
    );
    for (const [id, def] of defs) {
      const name = renames.get(id)!;
      const placed = rewriteRefs(def, renames) as JsonSchema;
      if (!this.fits(name, placed)) throw new Error(`openapi: two different schemas are named ${id}`);
      this.components[name] = placed;
    }
    return rewriteRefs(root, renames) as JsonSchema;
  }

  private fits(name: string, def: unknown): boolean {
    const existing = this.components[name];
    return existing === undefined || JSON.stringify(existing) === JSON.stringify(def);
  }
}

function rewriteRefs(value: unknown, renames: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, renames));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => {
      if (key === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/')) {
        const id = v.slice('#/$defs/'.length);
        return [key, `#/components/schemas/${renames.get(id) ?? id}`];
      }
      return [key, rewriteRefs(v, renames)];
    }),
  );
}

/** `/v1/posts/:id` → `/v1/posts/{id}` (a Hono regex constraint, `:tag{[a-z]+}`, is dropped), and the names. */
export function openApiPath(path: string): { path: string; params: string[] } {
  const params: string[] = [];
  const converted = path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?\??/g, (_m, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path: converted.length > 1 ? converted.replace(/\/$/, '') : converted, params };
}

/** The operations of a route table: method and OpenAPI path of every route a `describeRoutes` documents. */
function operationsOf(routes: readonly RouterRoute[], prefix: string) {
  const byRoute = new Map<string, { method: string; path: string; facts: Facts[] }>();
  // Middleware mounted with `.use()` (method ALL, `/v1/admin/*`) documents every route under its prefix.
  const mounted = routes.filter((r) => r.method === 'ALL' && factsOf(r.handler) !== undefined);
  for (const route of routes) {
    if (route.method === 'ALL' || !route.path.startsWith(prefix)) continue;
    const key = `${route.method} ${route.path}`;
    let entry = byRoute.get(key);
    if (!entry) {
      const inherited = mounted
        .filter((m) => route.path.startsWith(m.path.replace(/\*$/, '')))
        .map((m) => factsOf(m.handler)!);
      entry = { method: route.method, path: route.path, facts: inherited };
      byRoute.set(key, entry);
    }
    const found = factsOf(route.handler);
    if (found) entry.facts.push(found);
  }
  return [...byRoute.values()].filter((e) => e.facts.some((f) => f.described));
}

function merge(all: Facts[]): Facts & { inputs: NonNullable<Facts['inputs']> } {
  const merged: Facts & { inputs: NonNullable<Facts['inputs']> } = { inputs: [] };
  for (const f of all) {
    merged.inputs.push(...(f.inputs ?? []));
    if (f.query) merged.inputs.push({ target: 'query', schema: f.query });
    if (f.body) merged.body = f.body;
    merged.responses = { ...merged.responses, ...f.responses };
    merged.errors = { ...merged.errors, ...f.errors };
    merged.headers = { ...merged.headers, ...f.headers };
    if (f.security) merged.security = f.security;
    if (f.summary) merged.summary = f.summary;
    if (f.description) merged.description = f.description;
    if (f.tags) merged.tags = f.tags;
    if (f.requestExample !== undefined) merged.requestExample = f.requestExample;
  }
  return merged;
}

const SECURITY: Record<SecurityDoc, Record<string, string[]>[]> = {
  user: [{ userToken: [] }],
  admin: [{ adminToken: [] }],
  optionalUser: [{}, { userToken: [] }],
  optionalAdmin: [{}, { adminToken: [] }],
};

function headersObject(headers: Record<string, string> | undefined) {
  if (!headers || Object.keys(headers).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }]),
  );
}

function parametersOf(
  merged: ReturnType<typeof merge>,
  pathParams: string[],
  schemas: SchemaSet,
): Record<string, unknown>[] {
  const parameters: Record<string, unknown>[] = [];
  const where = { param: 'path', query: 'query', header: 'header', cookie: 'cookie' } as const;
  for (const { target, schema } of merged.inputs) {
    if (!(target in where)) continue;
    const location = where[target as keyof typeof where];
    const converted = schemas.convert(schema, 'input');
    const properties = (converted.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((converted.required ?? []) as string[]);
    for (const [name, property] of Object.entries(properties)) {
      const { description, ...rest } = property;
      parameters.push({
        name,
        in: location,
        required: location === 'path' || required.has(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  }
  for (const name of pathParams) {
    if (!parameters.some((p) => p.in === 'path' && p.name === name)) {
      parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
    }
  }
  for (const [name, header] of Object.entries(merged.headers ?? {})) {
    parameters.push({
      name,
      in: 'header',
      required: header.required ?? false,
      description: header.description,
      schema: { type: 'string' },
      ...(header.example === undefined ? {} : { example: header.example }),
    });
  }
  return parameters;
}

function requestBodyOf(merged: ReturnType<typeof merge>, schemas: SchemaSet) {
  if (merged.body) {
    const { mediaType, schema, required = true } = merged.body;
    return { required, content: { [mediaType]: { schema: schemas.convert(schema, 'input') } } };
  }
  const body = merged.inputs.find((i) => i.target === 'json' || i.target === 'form');
  if (!body) return undefined;
  const type = body.target === 'json' ? 'application/json' : 'multipart/form-data';
  // Hono reads a JSON body as `{}` when there is none: a schema that accepts `{}` makes the body optional.
  const required = body.target !== 'json' || !body.schema.safeParse({}).success;
  return {
    required,
    content: {
      [type]: {
        schema: schemas.convert(body.schema, 'input'),
        ...(merged.requestExample === undefined ? {} : { example: merged.requestExample }),
      },
    },
  };
}

function responsesOf(merged: ReturnType<typeof merge>, schemas: SchemaSet) {
  const responses: Record<string, unknown> = {};
  for (const [status, doc] of Object.entries(merged.responses ?? {})) {
    responses[status] = {
      description: doc.description,
      ...(headersObject(doc.headers) ? { headers: headersObject(doc.headers) } : {}),
      ...(doc.schema
        ? {
            content: {
              'application/json': {
                schema: schemas.convert(doc.schema, 'output'),
                ...(doc.example === undefined ? {} : { example: doc.example }),
              },
            },
          }
        : doc.mediaType
          ? { content: { [doc.mediaType]: { schema: { type: 'string' } } } }
          : {}),
    };
  }
  const errors: Record<number, ErrorDoc> = { ...merged.errors };
  if (merged.inputs.length > 0) errors[400] ??= 'the request is invalid: `error.details` lists every bad field';
  if (merged.body || merged.inputs.some((i) => i.target === 'json' || i.target === 'form')) {
    errors[413] ??= 'the body is larger than the API accepts';
  }
  for (const [status, error] of Object.entries(errors)) {
    const { code, description } =
      typeof error === 'string' ? { code: DEFAULT_CODES[Number(status)] ?? 'error', description: error } : error;
    const headers = headersObject(ERROR_HEADERS[Number(status)]);
    responses[status] = {
      description,
      ...(headers ? { headers } : {}),
      content: {
        'application/json': {
          schema: { $ref: '#/components/schemas/Error' },
          example: { error: { code, message: description } },
        },
      },
    };
  }
  responses.default = {
    description: 'Any other failure: 503 `unavailable` (with Retry-After) while a dependency is briefly down, 500.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
  return responses;
}

function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((s) => s !== '' && s !== 'v1')
    .map((s) => (s.startsWith('{') ? `by-${s.slice(1, -1)}` : s))
    .join('-')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('');
}

export interface DocumentInfo {
  title: string;
  version: string;
  description?: string;
}

/** What each group of operations (a tag: by default the path's first segment after `/v1`) is about. */
export type TagDescriptions = Record<string, string>;

/** The OpenAPI 3.1 document of every documented route under `prefix` in `routes` (an app's `app.routes`). */
export function openApiDocument(
  routes: readonly RouterRoute[],
  info: DocumentInfo,
  tagDescriptions: TagDescriptions = {},
  prefix = '/v1/',
) {
  const schemas = new SchemaSet();
  schemas.convert(errorSchema, 'output');
  const paths: Record<string, Record<string, { tags: string[] } & Record<string, unknown>>> = {};
  const operations = operationsOf(routes, prefix).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const { method, path, facts: all } of operations) {
    const merged = merge(all);
    const { path: template, params } = openApiPath(path);
    const tag = template.split('/').filter(Boolean)[1] ?? 'v1';
    const parameters = parametersOf(merged, params, schemas);
    const requestBody = requestBodyOf(merged, schemas);
    (paths[template] ??= {})[method.toLowerCase()] = {
      operationId: operationId(method, template),
      summary: merged.summary,
      ...(merged.description ? { description: merged.description } : {}),
      tags: merged.tags ?? [tag],
      ...(merged.security ? { security: SECURITY[merged.security] } : { security: [] }),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: responsesOf(merged, schemas),
    };
  }
  const tags = [...new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((op) => op.tags)))];
  return {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: tags.sort().map((name) => ({
      name,
      ...(tagDescriptions[name] ? { description: tagDescriptions[name] } : {}),
    })),
    paths,
    components: {
      schemas: schemas.components,
      securitySchemes: {
        userToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A user token (HS256 JWT, `sub` = user id) from `POST /v1/users` or `POST /v1/sessions`.',
        },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The operator token (`ADMIN_TOKEN`).' },
      },
    },
  };
}
