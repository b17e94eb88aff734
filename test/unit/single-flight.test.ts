import { describe, expect, it } from 'vitest';
import { createSingleFlight } from '../../src/single-flight.ts';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('single flight', () => {
  it('runs the work once for concurrent callers of a key, and again after it settled', async () => {
    const flights = createSingleFlight<string, number>();
    let runs = 0;
    const gate = deferred<number>();
    const work = () => {
      runs++;
      return gate.promise;
    };
    const a = flights.run('k', work);
    const b = flights.run('k', work);
    const other = flights.run('other', () => Promise.resolve(7));
    gate.resolve(1);
    expect(await Promise.all([a, b, other])).toEqual([1, 1, 7]);
    expect(runs).toBe(1);
    await flights.run('k', () => {
      runs++;
      return Promise.resolve(2);
    });
    expect(runs).toBe(2);
  });

  it('forgets a failed flight, so the next caller retries', async () => {
    const flights = createSingleFlight<string, number>();
    await expect(flights.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(flights.current('k')).toBeUndefined();
    await expect(flights.run('k', () => Promise.resolve(3))).resolves.toBe(3);
  });

  it('does not join a flight older than the abandon age', () => {
    const flights = createSingleFlight<string, number>({ abandonAfterMs: 100 });
    const stuck = new Promise<number>(() => {});
    flights.register('k', stuck, 1_000);
    expect(flights.current('k', 1_099)).toBe(stuck);
    expect(flights.current('k', 1_100)).toBeUndefined();
    const fresh = flights.run('k', () => Promise.resolve(1), 1_100);
    expect(fresh).not.toBe(stuck);
  });

  it('forget makes the next caller start anew while the old work runs on', async () => {
    const flights = createSingleFlight<string, number>();
    const gate = deferred<number>();
    const old = flights.run('k', () => gate.promise);
    flights.forget('k');
    const next = flights.run('k', () => Promise.resolve(2));
    gate.resolve(1);
    expect(await Promise.all([old, next])).toEqual([1, 2]);
    // The old flight settling must not remove the newer one's registration.
    const gate2 = deferred<number>();
    flights.register('k', gate2.promise);
    expect(flights.current('k')).toBe(gate2.promise);
    gate2.resolve(3);
  });
});
