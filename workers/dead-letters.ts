/**
 * Dead letters: messages that failed every attempt. The main consumer records the last failure (it knows the
 * error); the consumer of `edge-feed-dlq` records the arrival; both meet in one row keyed by a digest of the body.
 * `npm run dlq -- list|replay` (or the admin endpoints) lists and re-queues them.
 */
import { queueMessageSchema, type QueueMessage } from '../src/messages.ts';
import type { Deps } from './composition.ts';
import type { DeadLetter } from '../db/repositories/outbox.ts';

/** The same body always has the same id; 32 hex digits of SHA-256. */
export async function deadLetterId(body: unknown): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(body))));
  return [...bytes.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function kindOf(body: unknown): string {
  const type: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'type') : undefined;
  return typeof type === 'string' ? type.slice(0, 64) : 'unknown';
}

/** Called by the main consumer when a message failed its last attempt; a failure to record is only logged. */
export async function noteLastFailure(deps: Deps, body: unknown, error: unknown, attempts: number): Promise<void> {
  try {
    await deps.repos.outbox.recordDeadLetter({
      id: await deadLetterId(body),
      kind: kindOf(body),
      payload: JSON.stringify(body),
      lastError: (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 1000),
      attempts,
      at: deps.now(),
      dead: false,
    });
  } catch (recordError) {
    console.error('dead letters: could not record a last failure', recordError);
  }
}

/** The dead-letter queue's consumer: records every message, then acks it; a failed record is retried. */
export async function consumeDeadLetters(deps: Deps, batch: MessageBatch<unknown>): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      try {
        await deps.repos.outbox.recordDeadLetter({
          id: await deadLetterId(msg.body),
          kind: kindOf(msg.body),
          payload: JSON.stringify(msg.body),
          lastError: null,
          attempts: 0,
          at: deps.now(),
          dead: true,
        });
        console.error('dead letter recorded', kindOf(msg.body), msg.id);
        msg.ack();
      } catch (error) {
        console.warn('dead letters: could not record, retrying', msg.id, error);
        msg.retry({ delaySeconds: 5 });
      }
    }),
  );
}

/** The queue a replayed message goes to: where its kind is normally sent (both consumers handle every kind). */
function queueFor(deps: Deps, message: QueueMessage): Queue<QueueMessage> {
  const low = message.type === 'post.enrich' || message.type === 'engagement' || message.type === 'author.reclassified';
  return low || (message.type === 'fanout.page' && message.audience === 'active')
    ? deps.queues.low
    : deps.queues.fanout;
}

export type ReplayOutcome = 'replayed' | 'not_found' | 'invalid';

/** Re-queues one dead letter (handlers are idempotent, so a replay of work half done is safe). */
export async function replayDeadLetter(deps: Deps, letter: DeadLetter): Promise<ReplayOutcome> {
  let body: unknown;
  try {
    body = JSON.parse(letter.payload);
  } catch {
    return 'invalid';
  }
  const parsed = queueMessageSchema.safeParse(body);
  if (!parsed.success) return 'invalid';
  await queueFor(deps, parsed.data).send(parsed.data);
  await deps.repos.outbox.markReplayed(letter.id, deps.now());
  return 'replayed';
}
