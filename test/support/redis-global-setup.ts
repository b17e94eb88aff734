/**
 * Global setup of the `workers-l2` project: a fresh redis-server and the Upstash bridge in front of it, once per
 * run, handed to the project's workerd bindings through provide/inject (vitest.config.ts). A fresh server rather
 * than the machine's shared one, so rate-limit counters of an earlier run (or another user's) cannot leak in.
 */
import type { TestProject } from 'vitest/node';
import { ensureRedis } from '../../scripts/redis-server.ts';
import { randomBridgeToken, startUpstashBridge } from '../../scripts/upstash-bridge.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    upstashUrl: string;
    upstashToken: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await ensureRedis({ fresh: true });
  const bridge = await startUpstashBridge({ redisUrl: redis.url, token: randomBridgeToken() }).catch(
    async (error: unknown) => {
      await redis.stop();
      throw error;
    },
  );
  project.provide('upstashUrl', bridge.url);
  project.provide('upstashToken', bridge.token);
  return async () => {
    await bridge.close();
    await redis.stop();
  };
}
