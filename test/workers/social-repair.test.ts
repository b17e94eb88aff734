import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createRepositories } from '../../db/repositories/index.ts';
import { depsFor } from '../../workers/composition.ts';
import { block } from '../../workers/social.ts';
import { api, createPost, follow, signup } from '../support/api.ts';
import { failingWhen, testShards } from '../support/db.ts';
import { delivered, eventually } from '../support/timeline.ts';

describe('block repair', () => {
  it('a block whose mirror write failed still hides the blocker from the blocked reader once the queue repairs it', async () => {
    const [blocker, reader] = [await signup(), await signup()];
    await follow(reader, blocker);
    const post = await createPost(blocker, 'hidden after the repair');
    await delivered(reader, [post.id]);
    // The blocked account's shard refuses the mirror (blocked_by) write; everything else works.
    const broken = createRepositories(
      testShards(failingWhen((q) => q.includes('"blocked_by"'), 'injected failure on blocked_by')),
    );
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await block({ ...depsFor(env), repos: broken }, blocker.id, reader.id);
    warn.mockRestore();
    // The blocker's row holds at once: the reader is refused and the follow is gone.
    const like = await api('PUT', `/v1/posts/${post.id}/like`, { token: reader.token });
    expect(like.status).toBe(403);
    // The repair, through the real queue, writes the mirror: the reader no longer sees the blocker's posts.
    await vi.waitFor(async () => {
      const rel = await api<{ relationship: { blockedBy: boolean; following: boolean } }>(
        'GET',
        `/v1/users/${blocker.id}/relationship`,
        { token: reader.token },
      );
      expect(rel.body.relationship).toMatchObject({ blockedBy: true, following: false });
    }, eventually);
    // What the reader reads through its own rules (the mirror) now hides the blocker: the post's thread is gone.
    expect((await api('GET', `/v1/posts/${post.id}/comments`, { token: reader.token })).status).toBe(404);
    expect((await api('GET', `/v1/posts/${post.id}/comments`)).status).toBe(200);
  });
});
