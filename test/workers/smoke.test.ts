import { describe, expect, it } from 'vitest';
import { api, signup, createPost } from '../support/api.ts';

describe('smoke', () => {
  it('health, signup, post', async () => {
    const health = await api('GET', '/v1/health');
    expect(health.status).toBe(200);
    const alice = await signup('alice');
    const post = await createPost(alice, 'hello #World @bob');
    expect(post.hashtags).toEqual(['world']);
    const got = await api('GET', `/v1/posts/${post.id}`);
    expect(got.status).toBe(200);
  });
});
