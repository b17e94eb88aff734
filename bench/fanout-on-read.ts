/**
 * Baseline (a) of the feed bench: fan-out on read, the design a team writes first. A bench-only Worker (nothing
 * of it is in the production bundle) bound to the same four D1 shards assembles a reader's newest-first feed from
 * scratch on every request: whom the reader follows (their shard), the newest posts of every one of them and of
 * the reader across the shards, merged and sorted, and the top `limit` posts hydrated (one query per shard). It
 * places keys with the project's own src/sharding.ts, loaded into the Worker as a module.
 *
 * Two strategies:
 * - `grouped`: one query per shard with all of the shard's authors as one JSON parameter: the strongest version
 *   of the baseline, and the one the ratios refer to;
 * - `per-author`: one query per followed author (32 in flight), the literal "query every followed author".
 * Neither authenticates the reader or counts anything, so both do less than `GET /v1/feed` around the core work.
 */
import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import type { V4WorkerOptions } from 'miniflare';
import { ROOT, wranglerBindings } from './harness.ts';

export const FANOUT_ON_READ_WORKER = 'fanout-on-read';

export type ReadStrategy = 'grouped' | 'per-author';

export interface BaselineFeed {
  items: Array<{ post: { id: string } }>;
  /** Accounts the reader follows. */
  following: number;
}

const SCRIPT = `
import { createShardMap, groupByShard, shardOf } from './sharding.js';

async function eachLimit(items, limit, task) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]);
  }));
}

const newestFirst = (a, b) => (a.post_id < b.post_id ? 1 : a.post_id > b.post_id ? -1 : 0);

export default {
  async fetch(request, env) {
    const { reader, limit, strategy } = await request.json();
    const map = createShardMap(Number(env.SHARD_COUNT), env.SHARD_MAP || undefined);
    const db = (shard) => env['DB_SHARD_' + shard];
    const followed = await db(shardOf(map, reader))
      .prepare('SELECT followee_id FROM follows_by_follower WHERE follower_id = ?')
      .bind(reader)
      .all();
    const authors = [reader, ...followed.results.map((r) => r.followee_id)];
    // A few spare rows, as the service's hydration takes, in case some are tombstones.
    const want = limit + 8;
    let rows = [];
    if (strategy === 'grouped') {
      const parts = await Promise.all([...groupByShard(map, authors)].map(([shard, ids]) =>
        db(shard)
          .prepare('SELECT post_id, user_id FROM user_posts WHERE user_id IN (SELECT value FROM json_each(?)) ORDER BY post_id DESC LIMIT ?')
          .bind(JSON.stringify(ids), want)
          .all()));
      rows = parts.flatMap((p) => p.results);
    } else {
      await eachLimit(authors, 32, async (author) => {
        const part = await db(shardOf(map, author))
          .prepare('SELECT post_id, user_id FROM user_posts WHERE user_id = ? ORDER BY post_id DESC LIMIT ?')
          .bind(author, want)
          .all();
        rows.push(...part.results);
      });
    }
    rows.sort(newestFirst);
    const top = rows.slice(0, want).map((r) => r.post_id);
    const hydrated = await Promise.all([...groupByShard(map, top)].map(([shard, ids]) =>
      db(shard)
        .prepare('SELECT * FROM posts WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL')
        .bind(JSON.stringify(ids))
        .all()));
    const posts = hydrated.flatMap((h) => h.results).sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, limit);
    // The same shape of answer as the API's feed items, so that serialising costs alike.
    const items = posts.map((p) => ({
      post: {
        id: p.id, authorId: p.author_id, text: p.text, media: JSON.parse(p.media), hashtags: JSON.parse(p.hashtags),
        mentions: JSON.parse(p.mentions), location: p.location ? JSON.parse(p.location) : null,
        createdAt: new Date(p.created_at).toISOString(), updatedAt: new Date(p.updated_at).toISOString(),
        version: p.version, counts: { likes: p.like_count, comments: p.comment_count, shares: p.share_count },
      },
    }));
    return Response.json({ items, following: authors.length - 1 });
  },
};
`;

/**
 * The Worker, with src/sharding.ts (types stripped) beside it, and the service's shards and placement vars
 * (wrangler.toml's, with the same `overrides` as the service).
 */
export function fanoutOnReadWorker(overrides: Record<string, string> = {}): V4WorkerOptions {
  const { vars: configured, d1Databases } = wranglerBindings();
  const vars = { ...configured, ...overrides };
  const sharding = stripTypeScriptTypes(readFileSync(path.join(ROOT, 'src/sharding.ts'), 'utf8'));
  return {
    name: FANOUT_ON_READ_WORKER,
    modules: [
      { type: 'ESModule', path: 'index.js', contents: SCRIPT },
      { type: 'ESModule', path: 'sharding.js', contents: sharding },
    ],
    d1Databases,
    bindings: { SHARD_COUNT: vars.SHARD_COUNT ?? '1', SHARD_MAP: vars.SHARD_MAP ?? '' },
  };
}
