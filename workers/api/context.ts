import { createRepositories, type Repositories } from '../../db/repositories/index.ts';
import { shardsFromEnv } from '../../db/shards.ts';
import { createIdGenerator, type IdGenerator } from '../../src/ids.ts';
import { cacheDepsFor, type CacheDeps } from '../cache/index.ts';

/** What handlers, the queue consumer and the cron share: built once per isolate and environment. */
export interface Deps {
  repos: Repositories;
  newId: IdGenerator;
  now: () => number;
  /** L2 for the read caches; absent in hand-made Deps (tests of other parts), which then cache in L1 only. */
  cache?: CacheDeps;
}

export type AppEnv = {
  Bindings: Env;
  Variables: { deps: Deps; userId: string };
};

const cache = new WeakMap<Env, Deps>();

/** `overrides` let tests run the real app on a clock they control. */
export function depsFor(env: Env, overrides?: Partial<Deps>): Deps {
  let deps = cache.get(env);
  if (!deps) {
    deps = {
      repos: createRepositories(shardsFromEnv(env)),
      newId: createIdGenerator(),
      now: () => Date.now(),
      cache: cacheDepsFor(env),
    };
    cache.set(env, deps);
  }
  return overrides ? { ...deps, ...overrides } : deps;
}
