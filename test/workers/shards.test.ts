import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createRepositories } from '../../db/repositories/index.ts';
import { bucketOf, createShardMap, shardOf } from '../../src/sharding.ts';
import { api, createPost, signup, type TestUser } from '../support/api.ts';
import { shardBindings, testShards } from '../support/db.ts';

const map = createShardMap(Number(env.SHARD_COUNT));

async function rowsOn(shard: number, sql: string, ...params: string[]) {
  const db = shardBindings()[shard]!;
  return (
    await db
      .prepare(sql)
      .bind(...params)
      .all()
  ).results;
}

/** A real D1 binding that counts the statements sent through it (prepare calls), nothing else changed. */
function counted(db: D1Database, counter: { n: number }): D1Database {
  return new Proxy(db, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key === 'prepare' && typeof value === 'function') {
        return (query: string) => {
          counter.n++;
          return (value as D1Database['prepare']).call(target, query);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** One author per shard (signing up until every shard has one). */
async function authorsOnEveryShard(): Promise<TestUser[]> {
  const byShard = new Map<number, TestUser>();
  while (byShard.size < map.shardCount) {
    const user = await signup();
    if (!byShard.has(shardOf(map, user.id))) byShard.set(shardOf(map, user.id), user);
  }
  return [...byShard.values()];
}

describe('shard placement', () => {
  it('places each row on the shard its key maps to, and only there', async () => {
    const users: TestUser[] = [];
    for (let i = 0; i < 12; i++) users.push(await signup());
    const [a, b] = [users[0]!, users[1]!];
    await api('PUT', `/v1/users/${b.id}/follow`, { token: a.token });
    const post = await createPost(a, 'placed');
    await api('PUT', `/v1/posts/${post.id}/like`, { token: b.token });

    const expectOnlyOn = async (key: string, sql: string, ...params: string[]) => {
      for (let shard = 0; shard < map.shardCount; shard++) {
        const rows = await rowsOn(shard, sql, ...params);
        expect(rows.length, `${sql} on shard ${shard}`).toBe(shard === shardOf(map, key) ? 1 : 0);
      }
    };
    await expectOnlyOn(a.id, 'SELECT id FROM users WHERE id = ?', a.id);
    await expectOnlyOn(a.handle, 'SELECT handle FROM handles WHERE handle = ?', a.handle);
    await expectOnlyOn(post.id, 'SELECT id FROM posts WHERE id = ?', post.id);
    await expectOnlyOn(post.id, 'SELECT post_id FROM likes WHERE post_id = ?', post.id);
    await expectOnlyOn(a.id, 'SELECT post_id FROM user_posts WHERE user_id = ?', a.id);
    await expectOnlyOn(a.id, 'SELECT followee_id FROM follows_by_follower WHERE follower_id = ?', a.id);
    await expectOnlyOn(b.id, 'SELECT follower_id FROM follows_by_followee WHERE followee_id = ?', b.id);
    await expectOnlyOn(b.id, 'SELECT post_id FROM interactions WHERE user_id = ?', b.id);
  });

  it("spreads users and posts over all four shards, each post on its author's shard", async () => {
    const authors: TestUser[] = [];
    for (let i = 0; i < 24; i++) authors.push(await signup());
    const ids: string[] = [];
    for (const author of authors) ids.push((await createPost(author, `post of ${author.id}`)).id);
    expect(new Set(authors.map((a) => shardOf(map, a.id)))).toEqual(new Set([0, 1, 2, 3]));
    // A post is minted on its author's shard: the post, its index entry and its outbox record are one transaction.
    authors.forEach((author, i) => expect(shardOf(map, ids[i]!)).toBe(shardOf(map, author.id)));
    for (const [i, author] of authors.entries()) {
      const rows = await rowsOn(shardOf(map, author.id), 'SELECT id FROM posts WHERE author_id = ?', author.id);
      expect(rows.map((r) => r.id)).toEqual([ids[i]]);
    }
  });

  it('reads many ids with one query per shard, whatever their number', async () => {
    const authors = await authorsOnEveryShard();
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) ids.push((await createPost(authors[i % authors.length]!, `bulk ${i}`)).id);
    const counters = shardBindings().map(() => ({ n: 0 }));
    const repos = createRepositories(testShards(shardBindings().map((db, i) => counted(db, counters[i]!))));
    const found = await repos.posts.getMany([...ids, '1234567890123456789']);
    expect(found.size).toBe(150);
    expect([...found.keys()].sort()).toEqual([...ids].sort());
    expect(counters.map((c) => c.n)).toEqual([1, 1, 1, 1]);
  });

  it('routes through the bucket map: moving a bucket range moves exactly those keys', () => {
    const moved = createShardMap(4, '0:0,256:1,512:2,640:0,768:3');
    for (let i = 0; i < 2000; i++) {
      const key = `key-${i}`;
      const bucket = bucketOf(key);
      const expected = bucket >= 640 && bucket < 768 ? 0 : shardOf(map, key);
      expect(shardOf(moved, key)).toBe(expected);
    }
  });
});
