/**
 * Time-sortable 64-bit ids (Snowflake layout: 41 bits of milliseconds since ID_EPOCH_MS, 10 node bits,
 * 12 sequence bits), carried as decimal strings because JSON numbers and D1 lose precision past 2^53.
 *
 * The epoch is chosen so that every id minted between mid-2022 and 2084 has exactly 19 digits: fixed width
 * means the TEXT columns that store ids sort them lexicographically in numeric, hence creation, order.
 */
export const ID_EPOCH_MS = Date.UTC(2015, 0, 1);
const NODE_BITS = 10n;
const SEQUENCE_BITS = 12n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;
const MAX_NODE = (1 << Number(NODE_BITS)) - 1;
const MAX_ID = (1n << 63n) - 1n;
const ID_PATTERN = /^[1-9][0-9]{18}$/;

export type IdGenerator = () => string;

export interface IdGeneratorOptions {
  /** 0..1023; defaults to a random value, which is what a fleet of stateless isolates can do. */
  node?: number;
  now?: () => number;
}

/**
 * Ids are strictly increasing per generator. Workers freeze Date.now() between I/O, so several ids are
 * often minted within one "millisecond": the sequence absorbs that, and on overflow the generator borrows
 * the next millisecond rather than waiting for a clock that will not move.
 */
export function createIdGenerator(options: IdGeneratorOptions = {}): IdGenerator {
  const node = options.node ?? Math.floor(Math.random() * (MAX_NODE + 1));
  if (!Number.isInteger(node) || node < 0 || node > MAX_NODE) {
    throw new RangeError(`id node must be an integer in 0..${MAX_NODE}`);
  }
  const now = options.now ?? Date.now;
  let lastMs = -1;
  let sequence = 0;
  return () => {
    const ms = Math.max(now() - ID_EPOCH_MS, 0);
    if (ms > lastMs) {
      lastMs = ms;
      sequence = 0;
    } else if (sequence < MAX_SEQUENCE) {
      sequence += 1;
    } else {
      lastMs += 1;
      sequence = 0;
    }
    const id = (BigInt(lastMs) << (NODE_BITS + SEQUENCE_BITS)) | (BigInt(node) << SEQUENCE_BITS) | BigInt(sequence);
    return id.toString();
  };
}

/** True for the canonical form of an id this project mints: 19 digits, no sign, within int64. */
export function isId(value: string): boolean {
  return ID_PATTERN.test(value) && BigInt(value) <= MAX_ID;
}

/**
 * What a client may send as an id: any decimal string of 1-20 digits (a 64-bit integer's width). One this project
 * never minted is simply unknown (404, as Mastodon answers), not malformed (400).
 */
export function isWellFormedId(value: string): boolean {
  return /^\d{1,20}$/.test(value);
}

/** Milliseconds since the Unix epoch at which the id was minted. */
export function idTimestamp(id: string): number {
  return Number(BigInt(id) >> (NODE_BITS + SEQUENCE_BITS)) + ID_EPOCH_MS;
}

/** The smallest id that could have been minted at `ms`: a keyset bound for "posts since a time". */
export function minIdAt(ms: number): string {
  return (BigInt(Math.max(ms - ID_EPOCH_MS, 0)) << (NODE_BITS + SEQUENCE_BITS)).toString();
}

export function compareIds(a: string, b: string): number {
  // Valid ids have one width, so string order is numeric order.
  return a < b ? -1 : a > b ? 1 : 0;
}
