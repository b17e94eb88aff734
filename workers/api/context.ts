import type { TimingVariables } from 'hono/timing';
import type { Deps } from '../composition.ts';

/** What a request carries: the bindings (for Hono), the dependencies, the authenticated user, stage timings. */
export type AppEnv = {
  Bindings: Env;
  Variables: { deps: Deps; userId: string; requestId: string } & TimingVariables;
};
