import { env, runInDurableObject } from 'cloudflare:test';
import { expect, vi } from 'vitest';
import { depsFor } from '../../workers/composition.ts';
import type { TestUser } from './api.ts';

/** How long tests wait for what the queues deliver. */
export const eventually = { timeout: 10_000, interval: 100 };

/** Waits until every given post is in the reader's timeline (fan-out is asynchronous). */
export async function delivered(reader: TestUser, postIds: string[]): Promise<void> {
  await vi.waitFor(async () => {
    const have = await runInDurableObject(depsFor(env).objects.timeline(reader.id), (_o, state) =>
      state.storage.sql
        .exec<{ post_id: string }>('SELECT post_id FROM entries')
        .toArray()
        .map((r) => r.post_id),
    );
    expect(have).toEqual(expect.arrayContaining(postIds));
  }, eventually);
}
