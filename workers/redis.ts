import { Redis } from '@upstash/redis/cloudflare';

/**
 * The optional L2 cache and rate-limit store: Upstash Redis over its REST API, on when
 * UPSTASH_REDIS_REST_URL is set (a secret in production; locally the dev bridge in front of redis-server).
 * Everything that uses it must work, more slowly, without it.
 */
interface UpstashEnv {
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
}

/** Where Redis is, or null when L2 is off. */
export function upstashConfig(env: Env): { url: string; token: string } | null {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env as UpstashEnv;
  return url ? { url, token: token ?? '' } : null;
}

const clients = new WeakMap<object, Redis | null>();

/** The rate limiter's client (the cache makes its own, with a short timeout and no retries: workers/cache/l2.ts). */
export function redisFor(env: Env): Redis | null {
  let client = clients.get(env);
  if (client === undefined) {
    const config = upstashConfig(env);
    client = config ? new Redis({ ...config, enableTelemetry: false }) : null;
    clients.set(env, client);
  }
  return client;
}
