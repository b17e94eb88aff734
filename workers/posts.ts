import type { QueueMessage } from '../src/messages.ts';
import { retry } from '../src/retry.ts';
import type { TimelineEntry } from '../src/timeline.ts';
import type { Deps } from './composition.ts';

async function enqueue(queue: Queue<QueueMessage>, message: QueueMessage): Promise<void> {
  await retry(() => queue.send(message), { attempts: 3, isRetryable: () => true });
}

/**
 * After the post, its index entry and its outbox record are in D1 (one transaction: the post is accepted):
 * read-your-writes (the author's own timeline and author feed, inline), then the fan-out message. Both are only
 * the fast path: should either fail, or the invocation die here, the outbox drainer re-sends the fan-out after
 * OUTBOX_DELAY, and the consumer repeats the author-side steps.
 */
export async function publishPost(
  deps: Deps,
  entry: TimelineEntry,
  /** Stage durations for the Server-Timing header: `author` (AuthorFeed + own timeline), `queue` (the send). */
  mark: (stage: 'author' | 'queue', ms: number) => void = () => {},
): Promise<void> {
  const { objects, queues } = deps;
  let started = performance.now();
  try {
    await Promise.all([
      objects.authorFeed(entry.authorId).add(entry),
      objects.timeline(entry.authorId).insert([entry]),
    ]);
  } catch (error) {
    // The consumer repeats both steps; the author sees the post once it has run.
    console.warn('post: author-side delivery failed, left to the consumer', error);
  }
  mark('author', performance.now() - started);
  started = performance.now();
  try {
    await enqueue(queues.fanout, { type: 'post.created', entry });
    mark('queue', performance.now() - started);
  } catch (error) {
    console.warn('post: could not queue fan-out, left to the outbox drainer', error);
  }
}

/**
 * Removal from timelines is asynchronous, and only a cleanup: every read drops tombstones at hydration,
 * so the delete is already effective when the tombstone is written, and a failed enqueue loses nothing.
 */
export async function retractPost(deps: Deps, entry: TimelineEntry): Promise<void> {
  try {
    await enqueue(deps.queues.fanout, { type: 'post.deleted', entry });
  } catch (error) {
    console.warn('delete: could not queue timeline cleanup; reads filter the tombstone', error);
  }
}

/** After an edit: the new text needs a new vector and its tags a recount. A failure costs only freshness. */
export async function reenrichPost(deps: Deps, postId: string): Promise<void> {
  try {
    await enqueue(deps.queues.low, { type: 'post.enrich', postId });
  } catch (error) {
    console.warn('edit: could not queue re-embedding; the post keeps its previous vector', error);
  }
}

/**
 * After an edit: open streams that may show the post get the new version (high priority, as a new post's fan-out:
 * a reader is looking). A failure costs only that live event; every read already returns the new version.
 */
export async function announceEdit(deps: Deps, entry: TimelineEntry): Promise<void> {
  try {
    await enqueue(deps.queues.fanout, { type: 'post.edited', entry });
  } catch (error) {
    console.warn('edit: could not queue the stream update', error);
  }
}
