import { describe, expect, it } from 'vitest';
import {
  FanoutConfigError,
  MAX_PAGE_SIZE,
  SEND_BATCH_MAX_BYTES,
  SEND_BATCH_MAX_MESSAGES,
  parseFanoutConfig,
  planFanout,
  sendBatches,
} from '../../src/fanout.ts';

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(1e18 + from + i));

describe('planFanout', () => {
  it('delivers a lone last page inline, with no further message', () => {
    expect(planFanout(ids(3), null, 5)).toEqual({ kind: 'inline', followers: ids(3) });
    expect(planFanout(ids(5), null, 5)).toEqual({ kind: 'inline', followers: ids(5) });
    expect(planFanout([], null, 5)).toEqual({ kind: 'inline', followers: [] });
  });

  it('queues every page of a longer audience at once, each follower in exactly one page', () => {
    const plan = planFanout(ids(12), null, 5);
    expect(plan).toEqual({ kind: 'queue', pages: [ids(5), ids(5, 5), ids(2, 10)], continueAfter: null });
  });

  it('continues after the last id read when the audience goes on, even if what was read fits one page', () => {
    const read = ids(10);
    const plan = planFanout(read, read[9]!, 10);
    expect(plan).toEqual({ kind: 'queue', pages: [read], continueAfter: read[9] });
  });
});

describe('sendBatches', () => {
  it('keeps small messages in one batch, in order', () => {
    const messages = ids(7).map((id) => ({ id }));
    expect(sendBatches(messages)).toEqual([messages]);
  });

  it('splits at the message count limit', () => {
    const messages = ids(SEND_BATCH_MAX_MESSAGES * 2 + 1).map((id) => ({ id }));
    const batches = sendBatches(messages);
    expect(batches.map((b) => b.length)).toEqual([SEND_BATCH_MAX_MESSAGES, SEND_BATCH_MAX_MESSAGES, 1]);
    expect(batches.flat()).toEqual(messages);
  });

  it('splits at the byte limit: pages of the largest size never exceed it together', () => {
    const pages = Array.from({ length: 10 }, (_, p) => ({ followers: ids(MAX_PAGE_SIZE, p * MAX_PAGE_SIZE) }));
    const batches = sendBatches(pages);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(pages);
    for (const batch of batches) {
      const bytes = batch.reduce((n, m) => n + JSON.stringify(m).length + 100, 0);
      expect(bytes).toBeLessThanOrEqual(SEND_BATCH_MAX_BYTES);
    }
    // A page of the largest size fits one queue message (128 KB).
    expect(JSON.stringify(pages[0]).length).toBeLessThan(128_000 - 1000);
  });
});

describe('parseFanoutConfig', () => {
  it('refuses a page size whose page would not fit in one queue message', () => {
    expect(parseFanoutConfig({ FANOUT_PAGE_SIZE: String(MAX_PAGE_SIZE) }).pageSize).toBe(MAX_PAGE_SIZE);
    expect(() => parseFanoutConfig({ FANOUT_PAGE_SIZE: String(MAX_PAGE_SIZE + 1) })).toThrow(FanoutConfigError);
  });
});
