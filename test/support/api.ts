import { exports } from 'cloudflare:workers';

export interface ApiOptions {
  /** Another instance of the app (e.g. on a test clock); by default the deployed Worker. */
  app?: { fetch(request: Request): Response | Promise<Response> };
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body` (bytes for bodies that are not valid UTF-8). */
  rawBody?: string | Uint8Array<ArrayBuffer>;
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
  let body: string | Uint8Array<ArrayBuffer> | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers.set('Content-Type', 'application/json');
  }
  const request = new Request(`https://feed.test${path}`, { method, headers, body });
  const response = await (options.app ?? exports.default).fetch(request);
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

export interface FeedBody {
  items: { post: PostView }[];
  nextCursor: string | null;
  timeline: { state: 'ready' | 'regenerating' };
}

export async function feed(user: TestUser, query = '', options: ApiOptions = {}): Promise<ApiResponse<FeedBody>> {
  return api<FeedBody>('GET', `/v1/feed${query}`, { ...options, token: user.token });
}

/** Post ids of a user's whole latest feed, following cursors. */
export async function feedIds(user: TestUser, options: ApiOptions = {}): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?mode=latest&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await feed(user, query, options);
    if (res.status !== 200) throw new Error(`feed: ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(...res.body.items.map((i) => i.post.id));
    cursor = res.body.nextCursor;
  } while (cursor);
  return ids;
}

/** An author with `n` new followers. */
export async function withFollowers(n: number): Promise<{ author: TestUser; followers: TestUser[] }> {
  const author = await signup();
  const followers: TestUser[] = [];
  for (let i = 0; i < n; i++) {
    const f = await signup();
    await follow(f, author);
    followers.push(f);
  }
  return { author, followers };
}

export async function follow(follower: TestUser, followee: TestUser): Promise<void> {
  const res = await api('PUT', `/v1/users/${followee.id}/follow`, { token: follower.token });
  if (res.status !== 200) throw new Error(`follow failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function unfollow(follower: TestUser, followee: TestUser): Promise<void> {
  const res = await api('DELETE', `/v1/users/${followee.id}/follow`, { token: follower.token });
  if (res.status !== 200) throw new Error(`unfollow failed: ${res.status} ${JSON.stringify(res.body)}`);
}
