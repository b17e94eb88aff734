import { describe, expect, it } from 'vitest';
import { ID_EPOCH_MS, compareIds, createIdGenerator, idTimestamp, isId, minIdAt } from '../../src/ids.ts';

const FIXED = Date.UTC(2025, 5, 1, 12, 30, 15, 123);
const SEQUENCE_PER_MS = 4096;
const MAX_ID = (1n << 63n) - 1n;

function mint(count: number, options: Parameters<typeof createIdGenerator>[0]): string[] {
  const next = createIdGenerator(options);
  return Array.from({ length: count }, () => next());
}

function bigSign(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

describe('createIdGenerator', () => {
  it('mints canonical 19-digit ids', () => {
    const ids = mint(100, { node: 5, now: () => FIXED });
    for (const id of ids) {
      expect(id).toMatch(/^[1-9][0-9]{18}$/);
      expect(isId(id)).toBe(true);
    }
  });

  it('mints 19-digit ids with the default clock and a random node', () => {
    const id = createIdGenerator()();
    expect(id).toMatch(/^[1-9][0-9]{18}$/);
    expect(isId(id)).toBe(true);
  });

  it('encodes the node and starts the sequence at 0 in a new millisecond', () => {
    const [first, second] = mint(2, { node: 777, now: () => FIXED });
    expect((BigInt(first!) >> 12n) & 1023n).toBe(777n);
    expect(BigInt(first!) & 4095n).toBe(0n);
    expect(BigInt(second!) & 4095n).toBe(1n);
    expect(BigInt(first!) >> 22n).toBe(BigInt(FIXED - ID_EPOCH_MS));
  });

  it('is strictly increasing and unique when the clock does not move', () => {
    const ids = mint(1000, { node: 1, now: () => FIXED });
    for (let i = 1; i < ids.length; i++) {
      expect(BigInt(ids[i]!) > BigInt(ids[i - 1]!)).toBe(true);
      expect(ids[i]! > ids[i - 1]!).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('borrows the next millisecond when the sequence overflows, staying increasing and unique', () => {
    const count = SEQUENCE_PER_MS * 2 + 500;
    const ids = mint(count, { node: 9, now: () => FIXED });
    for (let i = 1; i < ids.length; i++) {
      if (!(BigInt(ids[i]!) > BigInt(ids[i - 1]!))) throw new Error(`id ${i} is not above id ${i - 1}`);
    }
    expect(new Set(ids).size).toBe(count);
    expect(idTimestamp(ids[SEQUENCE_PER_MS - 1]!)).toBe(FIXED);
    expect(idTimestamp(ids[SEQUENCE_PER_MS]!)).toBe(FIXED + 1);
    expect(BigInt(ids[SEQUENCE_PER_MS]!) & 4095n).toBe(0n);
    expect(idTimestamp(ids[SEQUENCE_PER_MS * 2]!)).toBe(FIXED + 2);
    expect(idTimestamp(ids[count - 1]!)).toBe(FIXED + 2);
  });

  it('stays increasing when the real clock catches up with a borrowed millisecond', () => {
    let clock = FIXED;
    const next = createIdGenerator({ node: 2, now: () => clock });
    const ids = Array.from({ length: SEQUENCE_PER_MS + 10 }, () => next());
    clock = FIXED + 1; // the millisecond already borrowed
    ids.push(next(), next());
    clock = FIXED + 5;
    ids.push(next());
    for (let i = 1; i < ids.length; i++) expect(BigInt(ids[i]!) > BigInt(ids[i - 1]!)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(idTimestamp(ids.at(-1)!)).toBe(FIXED + 5);
    expect(BigInt(ids.at(-1)!) & 4095n).toBe(0n);
  });

  it('stays increasing when the clock goes backwards', () => {
    const times = [FIXED, FIXED - 1000, FIXED - 1, FIXED, FIXED + 3, FIXED + 2];
    let i = 0;
    const next = createIdGenerator({ node: 3, now: () => times[i++]! });
    const ids = times.map(() => next());
    for (let k = 1; k < ids.length; k++) expect(BigInt(ids[k]!) > BigInt(ids[k - 1]!)).toBe(true);
    expect(idTimestamp(ids[4]!)).toBe(FIXED + 3);
  });

  it('rejects an invalid node with a RangeError', () => {
    for (const node of [-1, 1024, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createIdGenerator({ node })).toThrow(RangeError);
    }
    expect(() => createIdGenerator({ node: 0 })).not.toThrow();
    expect(() => createIdGenerator({ node: 1023 })).not.toThrow();
  });

  it('never collides across generators with different nodes in the same millisecond', () => {
    const a = mint(SEQUENCE_PER_MS + 100, { node: 1, now: () => FIXED });
    const b = mint(SEQUENCE_PER_MS + 100, { node: 2, now: () => FIXED });
    const c = mint(50, { node: 1023, now: () => FIXED });
    const all = new Set([...a, ...b, ...c]);
    expect(all.size).toBe(a.length + b.length + c.length);
  });
});

describe('idTimestamp', () => {
  it('round-trips the clock of each minted id', () => {
    let clock = FIXED;
    const next = createIdGenerator({ node: 4, now: () => clock });
    for (const step of [0, 1, 17, 1000, 86_400_000, 365 * 86_400_000]) {
      clock += step;
      expect(idTimestamp(next())).toBe(clock);
    }
  });

  it('is within the borrowed milliseconds for ids minted past the sequence', () => {
    const ids = mint(SEQUENCE_PER_MS * 3, { node: 6, now: () => FIXED });
    ids.forEach((id, i) => {
      const ts = idTimestamp(id);
      if (ts !== FIXED + Math.floor(i / SEQUENCE_PER_MS)) throw new Error(`id ${i} has timestamp ${ts}`);
    });
    expect(idTimestamp(ids.at(-1)!)).toBe(FIXED + 2);
  });
});

describe('isId', () => {
  it('accepts canonical ids, including the largest int64', () => {
    expect(isId('1000000000000000000')).toBe(true);
    expect(isId('1234567890123456789')).toBe(true);
    expect(isId(MAX_ID.toString())).toBe(true);
    expect(isId(minIdAt(FIXED))).toBe(true);
  });

  it.each([
    ['leading zero', '0123456789012345678'],
    ['all zeros', '0000000000000000000'],
    ['18 digits', '123456789012345678'],
    ['20 digits', '12345678901234567890'],
    ['plus sign', '+123456789012345678'],
    ['minus sign', '-123456789012345678'],
    ['leading space', ' 1234567890123456789'],
    ['trailing space', '1234567890123456789 '],
    ['trailing newline', '1234567890123456789\n'],
    ['letter', '12345678901234567a9'],
    ['hex', '0x12345678901234567'],
    ['decimal point', '123456789012345678.'],
    ['exponent', '1234567890123456e10'],
    ['non-ASCII digits', '١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩'],
    ['empty', ''],
    ['int64 max + 1', (MAX_ID + 1n).toString()],
    ['above int64', '9999999999999999999'],
  ])('rejects %s', (_name, value) => {
    expect(isId(value)).toBe(false);
  });
});

describe('minIdAt', () => {
  it('is at most any id minted at that millisecond and above any id minted before it', () => {
    const at = mint(10, { node: 0, now: () => FIXED });
    const atHighNode = mint(10, { node: 1023, now: () => FIXED });
    const before = mint(4096, { node: 1023, now: () => FIXED - 1 });
    const bound = minIdAt(FIXED);
    for (const id of [...at, ...atHighNode]) {
      expect(BigInt(bound) <= BigInt(id)).toBe(true);
      expect(compareIds(bound, id)).toBeLessThanOrEqual(0);
    }
    for (const id of before) {
      if (!(compareIds(id, bound) < 0)) throw new Error(`${id} is not below ${bound}`);
    }
    expect(bound).toBe(at[0]); // node 0, sequence 0
  });

  it('round-trips through idTimestamp', () => {
    expect(idTimestamp(minIdAt(FIXED))).toBe(FIXED);
    expect(idTimestamp(minIdAt(ID_EPOCH_MS + 1))).toBe(ID_EPOCH_MS + 1);
  });

  it('clamps times before the epoch to 0', () => {
    expect(minIdAt(ID_EPOCH_MS - 1000)).toBe('0');
  });
});

describe('compareIds', () => {
  it('agrees with BigInt comparison for ids across times and nodes', () => {
    const ids: string[] = [];
    let t = Date.UTC(2022, 11, 1);
    let node = 0;
    for (let i = 0; i < 200; i++) {
      t += (i * 7919) % 100_000_000;
      node = (node + 337) % 1024;
      ids.push(...mint(3, { node, now: () => t }));
    }
    ids.push(MAX_ID.toString(), '1000000000000000000');
    for (const a of ids.slice(0, 60)) {
      for (const b of ids) expect(compareIds(a, b)).toBe(bigSign(a, b));
    }
    const byString = [...ids].sort(compareIds);
    const byBigInt = [...ids].sort(bigSign);
    expect(byString).toEqual(byBigInt);
  });

  it('returns 0 for equal ids and is antisymmetric', () => {
    const [a, b] = mint(2, { node: 1, now: () => FIXED });
    expect(compareIds(a!, a!)).toBe(0);
    expect(compareIds(a!, b!)).toBe(-1);
    expect(compareIds(b!, a!)).toBe(1);
  });
});
