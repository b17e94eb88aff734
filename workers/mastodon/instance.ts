import { Hono, type Context } from 'hono';
import { instanceV1, instanceV2, nodeinfo, nodeinfoLinks, type InstanceFacts } from '../../src/mastodon-instance.ts';
import type { MastodonEnv } from './context.ts';
import { originOf } from './hydrate.ts';

const SOFTWARE_VERSION = '0.1.0';

/** A 1×1 transparent PNG: the avatar of every account (there are no uploads of avatars). */
const MISSING_AVATAR = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='),
  (ch) => ch.charCodeAt(0),
);

function facts(c: Context<MastodonEnv>): InstanceFacts {
  // Totals would need a query per shard on every call; these documents are about the API, not statistics.
  return { origin: originOf(c), title: 'edge-feed', softwareVersion: SOFTWARE_VERSION, userCount: 0, statusCount: 0 };
}

const publicCache = (c: Context<MastodonEnv>) => c.header('Cache-Control', 'public, max-age=300');

export const instanceRoutes = new Hono<MastodonEnv>()
  .get('/api/v1/instance', (c) => {
    publicCache(c);
    return c.json(instanceV1(facts(c)));
  })
  .get('/api/v2/instance', (c) => {
    publicCache(c);
    return c.json(instanceV2(facts(c)));
  })
  .get('/api/v1/custom_emojis', (c) => c.json([]))
  .get('/api/v1/instance/peers', (c) => c.json([]))
  .get('/api/v1/instance/rules', (c) => c.json([]))
  .get('/.well-known/nodeinfo', (c) => c.json(nodeinfoLinks(originOf(c))))
  .get('/nodeinfo/2.0', (c) => c.json(nodeinfo('2.0', facts(c))))
  .get('/nodeinfo/2.1', (c) => c.json(nodeinfo('2.1', facts(c))))
  .get('/avatars/original/missing.png', (c) => {
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(MISSING_AVATAR, 200, { 'Content-Type': 'image/png' });
  });
