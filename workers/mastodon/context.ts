import type { AppEnv } from '../api/context.ts';

/** Who a Mastodon API request acts for: a user (with the token's scopes), or an app alone (client_credentials). */
export interface MastodonCaller {
  userId: string | null;
  clientId: string | null;
  scopes: readonly string[];
}

export type MastodonEnv = {
  Bindings: AppEnv['Bindings'];
  Variables: AppEnv['Variables'] & { caller: MastodonCaller | null; params: unknown };
};
