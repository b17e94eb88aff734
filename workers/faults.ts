/**
 * The test-only fault injector (FAULTS, parsed by the composition root, refused when ENVIRONMENT is production):
 * D1 writes, queue sends and queue deliveries fail at configured rates, with a seeded PRNG. The failures look
 * like the platform's transient ones (`retryable`), so the code under test treats them as it would treat those.
 */
import { createRng } from '../src/random.ts';
import type { FaultPoint, FaultSpec } from '../src/outbox.ts';

export class InjectedFaultError extends Error {
  override name = 'InjectedFaultError';
  readonly retryable = true;
  constructor(point: FaultPoint) {
    super(`injected fault: ${point}`);
  }
}

export interface FaultInjector {
  /** Throws an InjectedFaultError at the point's rate. */
  maybeFail(point: FaultPoint): void;
  /** How many faults each point injected (tests report them). */
  readonly injected: Record<FaultPoint, number>;
}

export function createFaultInjector(spec: FaultSpec): FaultInjector {
  const random = createRng(spec.seed);
  const injected: Record<FaultPoint, number> = { 'd1.write': 0, 'queue.send': 0, delivery: 0 };
  return {
    injected,
    maybeFail(point) {
      const rate = spec.rates[point] ?? 0;
      if (rate > 0 && random() < rate) {
        injected[point]++;
        throw new InjectedFaultError(point);
      }
    },
  };
}

const WRITE = /^\s*(insert|update|delete|replace)\b/i;

/** A D1 binding whose write statements fail, before anything is written, at the injector's d1.write rate. */
export function faultyDatabase(db: D1Database, faults: FaultInjector): D1Database {
  return new Proxy(db, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (key === 'prepare') {
        return (query: string) => {
          if (WRITE.test(query)) faults.maybeFail('d1.write');
          return target.prepare(query);
        };
      }
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A queue producer whose sends fail, sending nothing, at the injector's queue.send rate. */
export function faultyQueue<T>(queue: Queue<T>, faults: FaultInjector): Queue<T> {
  return {
    async send(body, options) {
      faults.maybeFail('queue.send');
      return queue.send(body, options);
    },
    async sendBatch(messages, options) {
      faults.maybeFail('queue.send');
      return queue.sendBatch(messages, options);
    },
    metrics: () => queue.metrics(),
  };
}
