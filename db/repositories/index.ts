import { sql } from 'drizzle-orm';
import type { Shards } from '../shards.ts';
import { createEmbeddingRepository } from './embeddings.ts';
import { createEngagementRepository } from './engagement.ts';
import { createFilterGroupRepository } from './filter-groups.ts';
import { createGraphRepository } from './graph.ts';
import { createImpressionRepository } from './impressions.ts';
import { createOAuthRepository } from './oauth.ts';
import { createOutboxRepository } from './outbox.ts';
import { createMediaRepository } from './media.ts';
import { createPostRepository } from './posts.ts';
import { createRepostRepository } from './reposts.ts';
import { createSearchRepository } from './search.ts';
import { createTagRepository } from './tags.ts';
import { createSocialRepository } from './social.ts';
import { createReactionRepository } from './reactions.ts';
import { createUserRepository } from './users.ts';

/** Everything the application reads and writes, with shard placement hidden behind each repository. */
export function createRepositories(shards: Shards) {
  return {
    users: createUserRepository(shards),
    posts: createPostRepository(shards),
    graph: createGraphRepository(shards),
    engagement: createEngagementRepository(shards),
    embeddings: createEmbeddingRepository(shards),
    impressions: createImpressionRepository(shards),
    outbox: createOutboxRepository(shards),
    reposts: createRepostRepository(shards),
    tags: createTagRepository(shards),
    media: createMediaRepository(shards),
    search: createSearchRepository(shards),
    social: createSocialRepository(shards),
    filterGroups: createFilterGroupRepository(shards),
    oauth: createOAuthRepository(shards),
    reactions: createReactionRepository(shards),
    /** For the admin health report: one trivial query per shard, with the reason when it fails. */
    probeShards: () =>
      Promise.all(
        shards.all.map(async (db): Promise<{ ok: boolean; error?: string }> => {
          try {
            await db.run(sql`SELECT 1`);
            return { ok: true };
          } catch (error) {
            return { ok: false, error: error instanceof Error ? error.message : String(error) };
          }
        }),
      ),
  };
}

export type Repositories = ReturnType<typeof createRepositories>;
