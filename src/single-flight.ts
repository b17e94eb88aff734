/**
 * Single flight: concurrent callers of one key share one run of the work instead of each starting their own
 * (a cache miss, a model load, a storage warm-up). A flight is forgotten when it settles, so the next caller
 * after that starts afresh. With `abandonAfterMs`, a flight older than that is no longer joined: in workerd a
 * promise can stay unsettled forever when the request that started it ended first (its I/O is cancelled).
 */
export interface SingleFlight<K, V> {
  /** `key`'s flight, unless none runs or it is older than the abandon age. */
  current(key: K, now?: number): Promise<V> | undefined;
  /** Joins `key`'s flight, or starts `work` as it. */
  run(key: K, work: () => Promise<V>, now?: number): Promise<V>;
  /** Makes `promise` the flight of `key` until it settles (a batch registers each of its keys). */
  register(key: K, promise: Promise<V>, now?: number): void;
  /** The next caller starts anew (after an invalidation, say); the running work is not cancelled. */
  forget(key: K): void;
}

export interface SingleFlightOptions {
  abandonAfterMs?: number;
}

export function createSingleFlight<K, V>(options: SingleFlightOptions = {}): SingleFlight<K, V> {
  const abandonAfterMs = options.abandonAfterMs ?? Number.POSITIVE_INFINITY;
  const flights = new Map<K, { promise: Promise<V>; startedAt: number }>();

  const register = (key: K, promise: Promise<V>, now = Date.now()) => {
    const flight = { promise, startedAt: now };
    flights.set(key, flight);
    const done = () => {
      if (flights.get(key) === flight) flights.delete(key);
    };
    promise.then(done, done);
  };

  const current = (key: K, now = Date.now()) => {
    const flight = flights.get(key);
    return flight && now - flight.startedAt < abandonAfterMs ? flight.promise : undefined;
  };

  return {
    current,
    register,
    run(key, work, now = Date.now()) {
      const running = current(key, now);
      if (running) return running;
      const promise = work();
      register(key, promise, now);
      return promise;
    },
    forget(key) {
      flights.delete(key);
    },
  };
}
