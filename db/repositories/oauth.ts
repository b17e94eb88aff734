import { and, eq, gt, isNull } from 'drizzle-orm';
import { retry } from '../../src/retry.ts';
import { oauthApps, oauthCodes, oauthTokens } from '../schema.ts';
import type { Shards } from '../shards.ts';

export type OAuthApp = typeof oauthApps.$inferSelect;
export type OAuthCode = typeof oauthCodes.$inferSelect;
export type OAuthToken = typeof oauthTokens.$inferSelect;

/**
 * OAuth clients, authorization codes and access tokens of the Mastodon-compatible API. Secrets arrive here only
 * as digests (src/mastodon-oauth.ts secretDigest); each row lives on the shard of its key.
 */
export function createOAuthRepository(shards: Shards) {
  return {
    async createApp(app: OAuthApp): Promise<void> {
      await retry(() => shards.of(app.clientId).insert(oauthApps).values(app));
    },

    async app(clientId: string): Promise<OAuthApp | undefined> {
      return retry(() => shards.of(clientId).query.oauthApps.findFirst({ where: eq(oauthApps.clientId, clientId) }));
    },

    async createCode(code: OAuthCode): Promise<void> {
      await retry(() => shards.of(code.codeHash).insert(oauthCodes).values(code));
    },

    /**
     * Marks the code used and returns it, only if it was unused and unexpired: of two concurrent exchanges of one
     * code, exactly one gets it (a single conditional UPDATE).
     */
    async consumeCode(codeHash: string, now: number): Promise<OAuthCode | undefined> {
      const [row] = await retry(() =>
        shards
          .of(codeHash)
          .update(oauthCodes)
          .set({ usedAt: now })
          .where(and(eq(oauthCodes.codeHash, codeHash), isNull(oauthCodes.usedAt), gt(oauthCodes.expiresAt, now)))
          .returning(),
      );
      return row;
    },

    async createToken(token: OAuthToken): Promise<void> {
      await retry(() => shards.of(token.tokenHash).insert(oauthTokens).values(token));
    },

    async token(tokenHash: string): Promise<OAuthToken | undefined> {
      return retry(() =>
        shards.of(tokenHash).query.oauthTokens.findFirst({ where: eq(oauthTokens.tokenHash, tokenHash) }),
      );
    },

    /** Deletes the token if `clientId` issued it; idempotent (revoking an unknown token is no error, RFC 7009). */
    async revokeToken(tokenHash: string, clientId: string): Promise<void> {
      await retry(() =>
        shards
          .of(tokenHash)
          .delete(oauthTokens)
          .where(and(eq(oauthTokens.tokenHash, tokenHash), eq(oauthTokens.clientId, clientId))),
      );
    },
  };
}

export type OAuthRepository = ReturnType<typeof createOAuthRepository>;
