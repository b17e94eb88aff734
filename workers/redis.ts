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

const clients = new WeakMap<object, Redis | null>();

export function redisFor(env: Env): Redis | null {
  let client = clients.get(env);
  if (client === undefined) {
    const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = env as UpstashEnv;
    client = url ? new Redis({ url, token: token ?? '', enableTelemetry: false }) : null;
    clients.set(env, client);
  }
  return client;
}
