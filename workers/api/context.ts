import type { Deps } from '../composition.ts';

/** What a request carries: the bindings (for Hono), the dependencies, and the authenticated user. */
export type AppEnv = {
  Bindings: Env;
  Variables: { deps: Deps; userId: string; requestId: string };
};
