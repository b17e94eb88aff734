import type { Interaction } from '../db/repositories/engagement.ts';
import type { EngagementNote } from '../durable-objects/user-timeline.ts';
import { forEachLimit } from '../src/concurrency.ts';
import { ENGAGEMENT_WINDOW_MS, engagementWeight, foldEngagements, type Engagement } from '../src/interest.ts';
import type { EngagementMessage } from '../src/messages.ts';
import type { PostRecord } from '../src/model.ts';
import { categoriesOf } from '../src/ranking.ts';
import { decodeVector } from '../src/vectors.ts';
import { cachedPosts } from './cache/index.ts';
import type { Deps } from './composition.ts';
import { modelIdOf } from './embedding/config.ts';

/** Queue sendBatch takes at most 100 messages. */
const SEND_BATCH = 100;
/** The recomputation reads at most this many of a user's latest engagements. */
const MAX_ENGAGEMENTS = 2_000;
const USERS_PER_QUERY = 200;
/** Bounds one cron run; the users left are recomputed the next day (incremental updates continue meanwhile). */
const MAX_USERS_PER_RUN = 20_000;

type Logged = Pick<Interaction, 'userId' | 'kind' | 'refId' | 'postId' | 'authorId' | 'createdAt' | 'durationMs'>;

const keyOf = (row: Pick<Interaction, 'kind' | 'refId'>) => `${row.kind}:${row.refId}`;

/**
 * After engagements are in the interaction log (the source of truth): tells the readers' timelines, through
 * the low-priority queue, so affinity and the interest vector follow within seconds. A failure to queue
 * loses nothing the log does not have: the daily recomputation rebuilds both from it.
 */
export async function noteEngagements(
  deps: Pick<Deps, 'queues'>,
  rows: readonly Logged[],
  op: 'add' | 'remove' = 'add',
): Promise<void> {
  const messages = rows
    .map((row): EngagementMessage => ({
      type: 'engagement',
      op,
      userId: row.userId,
      key: keyOf(row),
      postId: row.postId,
      authorId: row.authorId,
      weight: engagementWeight(row.kind, row.durationMs),
      at: row.createdAt,
      kind: row.kind,
      ...(row.durationMs ? { dwellMs: row.durationMs } : {}),
    }))
    // Views weigh nothing for interest but feed the seen memory (served posts sink, src/pipeline.ts).
    .filter((message) => message.weight > 0 || message.kind === 'view' || op === 'remove');
  try {
    for (let i = 0; i < messages.length; i += SEND_BATCH) {
      await deps.queues.low.sendBatch(messages.slice(i, i + SEND_BATCH).map((body) => ({ body })));
    }
  } catch (error) {
    console.warn('engagement: could not queue timeline update; the daily recomputation will include it', error);
  }
}

const ENGAGED_KINDS = new Set(['like', 'comment', 'share']);

/**
 * The interaction log first (the source of truth), then the readers' timelines. A like, comment or share also
 * marks the post in the reader's seen memory at once, so that a refresh right after no longer ranks it (the queued
 * note would do the same a moment later, and does if this call fails).
 */
export async function recordEngagements(deps: Deps, rows: readonly Interaction[]): Promise<void> {
  await deps.repos.engagement.record(rows);
  const engaged = Map.groupBy(
    rows.filter((row) => ENGAGED_KINDS.has(row.kind)),
    (row) => row.userId,
  );
  await Promise.all(
    [...engaged].map(([userId, list]) =>
      deps.objects
        .timeline(userId)
        .markEngaged(list.map((row) => ({ postId: row.postId, authorId: row.authorId, at: row.createdAt })))
        .catch((error: unknown) => console.warn('engagement: seen memory not marked; the queued note will', error)),
    ),
  );
  await noteEngagements(deps, rows);
}

/** Consumer: applies one engagement to the reader's timeline (idempotent by key). */
export async function applyEngagement(deps: Deps, message: EngagementMessage): Promise<void> {
  const timeline = deps.objects.timeline(message.userId);
  if (message.op === 'remove') return timeline.forgetEngagement(message.key);
  const model = modelIdOf(deps.config.embedding);
  const [embeddings, posts] = await Promise.all([
    message.kind === 'view' ? new Map<string, Uint8Array>() : deps.repos.embeddings.getMany([message.postId], model),
    message.kind ? cachedPosts(deps, [message.postId]) : new Map<string, PostRecord>(),
  ]);
  const stored = embeddings.get(message.postId);
  const post = posts.get(message.postId);
  const note: EngagementNote = { key: message.key, authorId: message.authorId, at: message.at, weight: message.weight };
  if (stored) note.vector = { model, values: decodeVector(stored) };
  if (message.kind) {
    note.seen = {
      postId: message.postId,
      kind: message.kind,
      dwellMs: message.dwellMs ?? 0,
      categories: post ? categoriesOf(post) : [],
    };
  }
  await timeline.noteEngagement(note);
}

/**
 * Daily, from the interaction log: each recently active user's affinity counts and interest vector are
 * rebuilt, which repairs what incremental updates missed (lost messages, posts embedded after they were
 * liked, likes taken back) and lets old engagements decay away.
 */
export async function recomputeInterests(deps: Deps, now: number): Promise<number> {
  const model = modelIdOf(deps.config.embedding);
  const since = now - ENGAGEMENT_WINDOW_MS;
  let done = 0;
  // Users who read in the last day: the others' vectors wait until they are back.
  for await (const ids of deps.repos.users.activeSince(now - 86_400_000, USERS_PER_QUERY, MAX_USERS_PER_RUN)) {
    await forEachLimit(ids, 8, async (userId) => {
      const rows = await deps.repos.engagement.engagementsSince(userId, since, MAX_ENGAGEMENTS);
      const vectors = await deps.repos.embeddings.getMany(
        rows.map((r) => r.postId),
        model,
      );
      const engagements = rows.flatMap((row): Engagement[] => {
        const vector = vectors.get(row.postId);
        if (!vector) return [];
        return [
          {
            model,
            vector: decodeVector(vector),
            weight: engagementWeight(row.kind, row.durationMs),
            at: row.createdAt,
          },
        ];
      });
      await deps.objects.timeline(userId).replaceEngagements(
        rows.map((row) => ({ key: keyOf(row), authorId: row.authorId, at: row.createdAt })),
        foldEngagements(engagements),
      );
    });
    done += ids.length;
  }
  return done;
}
