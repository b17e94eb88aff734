import { afterEach, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { isTransientError, retry } from '../../src/retry.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

/** An operation that fails with the given errors, in order, then resolves with `value`. */
function failing<T>(errors: Error[], value: T): { operation: () => Promise<T>; calls: () => number } {
  let calls = 0;
  return {
    operation: () => {
      const error = errors[calls++];
      return error === undefined ? Promise.resolve(value) : Promise.reject(error);
    },
    calls: () => calls,
  };
}

function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    sleep: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

const busy = () => new Error('D1_ERROR: database is busy');
const lost = () => new Error('Network connection lost.');

describe('retry', () => {
  it('returns the result without sleeping when the first attempt succeeds', async () => {
    const { sleep, delays } = recordingSleep();
    const op = failing([], 'ok');
    await expect(retry(op.operation, { sleep })).resolves.toBe('ok');
    expect(op.calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it('succeeds after transient failures, sleeping between attempts', async () => {
    const { sleep, delays } = recordingSleep();
    const op = failing([busy(), lost()], 42);
    await expect(retry(op.operation, { sleep })).resolves.toBe(42);
    expect(op.calls()).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it('backs off exponentially with jitter below base * 2^(attempt - 1)', async () => {
    const { sleep, delays } = recordingSleep();
    const op = failing([busy(), busy(), busy(), busy(), busy()], 'done');
    await expect(retry(op.operation, { attempts: 6, baseDelayMs: 100, sleep })).resolves.toBe('done');
    expect(delays).toHaveLength(5);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(100 * 2 ** i);
    });
  });

  it('scales the delay by the random jitter', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { sleep, delays } = recordingSleep();
    const op = failing([busy(), busy(), busy()], 'done');
    await retry(op.operation, { attempts: 4, baseDelayMs: 20, sleep });
    expect(delays).toEqual([10, 20, 40]);
  });

  it('gives up after `attempts` tries and rethrows the last error', async () => {
    const { sleep, delays } = recordingSleep();
    const errors = [busy(), lost(), busy(), lost()];
    const op = failing(errors, 'never');
    const error = await rejection(retry(op.operation, { attempts: 3, sleep }));
    expect(error).toBe(errors[2]);
    expect(op.calls()).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it('makes 3 attempts by default', async () => {
    const { sleep } = recordingSleep();
    const errors = [busy(), busy(), busy(), busy()];
    const op = failing(errors, 'never');
    await expect(retry(op.operation, { sleep })).rejects.toBe(errors[2]);
    expect(op.calls()).toBe(3);
  });

  it('tries once when attempts is 1', async () => {
    const { sleep, delays } = recordingSleep();
    const error = busy();
    const op = failing([error], 'never');
    await expect(retry(op.operation, { attempts: 1, sleep })).rejects.toBe(error);
    expect(op.calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it('does not retry a non-transient error', async () => {
    const { sleep, delays } = recordingSleep();
    const error = new ValidationError('text is too long');
    const op = failing([error], 'never');
    await expect(retry(op.operation, { attempts: 5, sleep })).rejects.toBe(error);
    expect(op.calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it('stops retrying at the first non-transient error', async () => {
    const { sleep, delays } = recordingSleep();
    const fatal = new Error('UNIQUE constraint failed: users.handle');
    const op = failing([busy(), fatal, busy()], 'never');
    await expect(retry(op.operation, { attempts: 5, sleep })).rejects.toBe(fatal);
    expect(op.calls()).toBe(2);
    expect(delays).toHaveLength(1);
  });

  it('uses a custom isRetryable predicate', async () => {
    const { sleep } = recordingSleep();
    const seen: unknown[] = [];
    const errors = [new Error('custom 1'), new Error('custom 2')];
    const op = failing(errors, 'ok');
    const isRetryable = (error: unknown) => {
      seen.push(error);
      return true;
    };
    await expect(retry(op.operation, { isRetryable, sleep })).resolves.toBe('ok');
    expect(seen).toEqual(errors);

    const never = failing([lost()], 'never');
    await expect(retry(never.operation, { isRetryable: () => false, sleep })).rejects.toThrow('Network connection');
    expect(never.calls()).toBe(1);
  });

  it('rethrows non-Error rejections without retrying them', async () => {
    const { sleep, delays } = recordingSleep();
    const reason = { message: 'Network connection lost.' };
    // Typed as an Error only to get it through the helper: what is thrown is a plain object.
    const op = failing([reason as unknown as Error], 'never');
    await expect(retry(op.operation, { sleep })).rejects.toBe(reason);
    expect(op.calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it('waits for the sleep before the next attempt', async () => {
    const order: string[] = [];
    const op = failing([busy()], 'ok');
    const operation = () => {
      order.push('attempt');
      return op.operation();
    };
    const sleep = async (ms: number) => {
      order.push(`sleep ${ms >= 0}`);
      await Promise.resolve();
      order.push('woke');
    };
    await expect(retry(operation, { sleep })).resolves.toBe('ok');
    expect(order).toEqual(['attempt', 'sleep true', 'woke', 'attempt']);
  });
});

describe('isTransientError', () => {
  it.each([
    'D1_ERROR: database is busy',
    'D1_ERROR: query timed out',
    'D1_ERROR: D1 DB storage operation exceeded timeout which caused object to be reset.',
    'D1_ERROR: D1 DB is overloaded. Too many requests queued.',
    'Network connection lost.',
    'Durable Object reset because its code was updated.',
    'Internal error in Durable Object storage caused object to be reset.',
    'internal error; reference = 0123456789abcdef',
    'SQLITE_BUSY: database is locked',
    'D1_ERROR: Cannot resolve D1 DB due to transient issue on remote node.',
  ])('is true for %j', (message) => {
    expect(isTransientError(new Error(message))).toBe(true);
  });

  it('is true for an error marked retryable', () => {
    expect(isTransientError(Object.assign(new Error('something odd'), { retryable: true }))).toBe(true);
  });

  it('is false for an error marked overloaded, even if its message or retryable flag says otherwise', () => {
    expect(isTransientError(Object.assign(new Error('Durable Object is overloaded.'), { overloaded: true }))).toBe(
      false,
    );
    expect(isTransientError(Object.assign(new Error('Network connection lost.'), { overloaded: true }))).toBe(false);
    expect(
      isTransientError(
        Object.assign(new Error('Durable Object is overloaded.'), { overloaded: true, retryable: true }),
      ),
    ).toBe(false);
  });

  it('only honours flags that are exactly true', () => {
    expect(isTransientError(Object.assign(new Error('odd'), { retryable: 'yes' }))).toBe(false);
    expect(isTransientError(Object.assign(new Error('odd'), { retryable: false }))).toBe(false);
    expect(isTransientError(Object.assign(new Error('Network connection lost.'), { overloaded: 'no' }))).toBe(true);
  });

  it('looks at the cause of a wrapped error', () => {
    expect(isTransientError(new Error('insert failed', { cause: busy() }))).toBe(true);
    expect(isTransientError(new Error('insert failed', { cause: new Error('constraint') }))).toBe(false);
    expect(isTransientError(new Error('insert failed', { cause: 'Network connection lost.' }))).toBe(false);
  });

  it('is false for validation and other permanent errors', () => {
    expect(isTransientError(new ValidationError('text is too long'))).toBe(false);
    expect(isTransientError(new Error('text must be at most 1000 characters'))).toBe(false);
    expect(isTransientError(new Error('D1_ERROR: UNIQUE constraint failed: users.handle'))).toBe(false);
    expect(isTransientError(new TypeError('x is not a function'))).toBe(false);
  });

  it('is false for values that are not Errors', () => {
    expect(isTransientError('Network connection lost.')).toBe(false);
    expect(isTransientError({ message: 'D1_ERROR: database is busy', retryable: true })).toBe(false);
    expect(isTransientError(null)).toBe(false);
    expect(isTransientError(undefined)).toBe(false);
  });
});
