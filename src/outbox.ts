/**
 * The pure parts of "nothing accepted is lost" (docs/architecture.md, Failure model): where a new post's id
 * lands, when an outbox record is due again, what an Idempotency-Key may be, and the test-only fault spec.
 */
import type { IdGenerator } from './ids.ts';
import { shardOf, type ShardMap } from './sharding.ts';

/** Bounds id minting: with S shards a draw lands on the wanted one with probability 1/S. */
const MAX_MINT_ATTEMPTS = 16_384;

export class OutboxError extends Error {
  override name = 'OutboxError';
}

/**
 * A post id on the same shard as its author, so that the post, the author index and the outbox record commit
 * in one transaction. Ids stay time-ordered: the generator is monotonic and a discarded draw costs nothing.
 */
export function mintOnShardOf(newId: IdGenerator, map: ShardMap, key: string): string {
  const wanted = shardOf(map, key);
  for (let i = 0; i < MAX_MINT_ATTEMPTS; i++) {
    const id = newId();
    if (shardOf(map, id) === wanted) return id;
  }
  throw new OutboxError(`no id on shard ${wanted} after ${MAX_MINT_ATTEMPTS} draws`);
}

/** When a record that has been (re)sent `attempts` times is due again: the delay doubles, up to 32 times it. */
export function nextDueAt(now: number, attempts: number, delayMs: number): number {
  return now + delayMs * 2 ** Math.min(Math.max(attempts, 0), 5);
}

/** Idempotency keys as Stripe takes them: up to 255 printable ASCII characters (UUIDs in practice). */
export function isIdempotencyKey(value: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(value);
}

/** Keys are honoured this long, as Stripe does; the cron prunes older ones. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export type FaultPoint = 'd1.write' | 'queue.send' | 'delivery';

/** Failure rates in [0, 1] per fault point, and the PRNG seed (a run is repeatable). */
export interface FaultSpec {
  rates: Partial<Record<FaultPoint, number>>;
  seed: number;
}

const POINTS: readonly FaultPoint[] = ['d1.write', 'queue.send', 'delivery'];

function isFaultPoint(name: string | undefined): name is FaultPoint {
  return POINTS.some((p) => p === name);
}

/** `"d1.write=0.2,queue.send=0.1,delivery=0.3,seed=7"`; an empty spec injects nothing. */
export function parseFaultSpec(raw: string): FaultSpec {
  const spec: FaultSpec = { rates: {}, seed: 1 };
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const [name, value, ...rest] = item.split('=');
    const n = Number(value);
    if (rest.length > 0 || value === undefined || !Number.isFinite(n)) {
      throw new OutboxError(`FAULTS: "${item}" is not name=number`);
    }
    if (name === 'seed') {
      spec.seed = Math.trunc(n);
    } else if (isFaultPoint(name)) {
      if (n < 0 || n > 1) throw new OutboxError(`FAULTS: ${name} must be a rate from 0 to 1`);
      spec.rates[name] = n;
    } else {
      throw new OutboxError(`FAULTS: unknown fault point "${name}" (known: ${POINTS.join(', ')}, seed)`);
    }
  }
  return spec;
}
