import type { TimingVariables } from 'hono/timing';
import type { Deps } from '../composition.ts';

/** What a request carries: the bindings (for Hono), the dependencies, the authenticated user, stage timings. */
export type AppEnv = {
  Bindings: Env;
  Variables: {
    deps: Deps;
    userId: string;
    /** Set by `optionalUser` when a public read is made signed in. */
    viewerId?: string;
    requestId: string;
  } & TimingVariables;
};
