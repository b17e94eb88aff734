import { exports } from 'cloudflare:workers';

export interface ApiOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** Calls the real Worker through its fetch handler, as a client would over HTTP. */
export async function api<T = Record<string, unknown>>(
  method: string,
  path: string,
  options: ApiOptions = {},
): Promise<ApiResponse<T>> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set('Authorization', `Bearer ${options.token}`);
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers.set('Content-Type', 'application/json');
  }
  const response = await exports.default.fetch(new Request(`https://feed.test${path}`, { method, headers, body }));
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : null) as T };
}

export interface TestUser {
  id: string;
  handle: string;
  token: string;
}

let counter = 0;

export async function signup(handle = `user_${Date.now().toString(36)}_${counter++}`): Promise<TestUser> {
  const res = await api<{ user: { id: string; handle: string }; token: string }>('POST', '/v1/users', {
    body: { handle },
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, handle: res.body.user.handle, token: res.body.token };
}

export interface PostView {
  id: string;
  authorId: string;
  text: string;
  hashtags: string[];
  mentions: string[];
  version: number;
  counts: { likes: number; comments: number; shares: number };
  deleted?: boolean;
}

export async function createPost(user: TestUser, text: string): Promise<PostView> {
  const res = await api<{ post: PostView }>('POST', '/v1/posts', { token: user.token, body: { text } });
  if (res.status !== 201) throw new Error(`post failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.post;
}
