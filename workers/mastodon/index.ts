import { Hono } from 'hono';
import { accountsRoutes, blocksRoutes, mutesRoutes } from './accounts.ts';
import type { MastodonEnv } from './context.ts';
import { searchRoutes, tagsRoutes, trendsRoutes } from './discovery.ts';
import { filtersRoutes, v1FiltersRoutes } from './filters.ts';
import { instanceRoutes } from './instance.ts';
import { mediaRoutes, uploadRoutes } from './media.ts';
import { markersRoutes, notificationsRoutes } from './notifications.ts';
import { appsRoutes, oauthRoutes } from './oauth.ts';
import { statusesRoutes } from './statuses.ts';
import { timelinesRoutes } from './timelines.ts';
import type { V1Fetch } from './v1.ts';

export type { V1Fetch } from './v1.ts';

/**
 * The Mastodon-compatible client API (DESIGN.md, "Mastodon-compatible API"), mounted at the root beside /v1:
 * OAuth, instance metadata, accounts (with blocks and mutes), statuses, timelines, notifications and markers, filters,
 * trends and search, media. Reads hydrate Mastodon's entities straight from the repositories; writes go through `v1`
 * (see ./v1.ts), so both APIs share every rule.
 */
export function mastodonApp(v1: V1Fetch) {
  return new Hono<MastodonEnv>()
    .route('/', instanceRoutes)
    .route('/oauth', oauthRoutes)
    .route('/api/v1/apps', appsRoutes)
    .route('/api/v1/accounts', accountsRoutes(v1))
    .route('/api/v1/blocks', blocksRoutes)
    .route('/api/v1/mutes', mutesRoutes)
    .route('/api/v1/statuses', statusesRoutes(v1))
    .route('/api/v1/timelines', timelinesRoutes)
    .route('/api/v1/trends', trendsRoutes)
    .route('/api/v1/tags', tagsRoutes)
    .route('/api/v2/search', searchRoutes(v1))
    .route('/api/v1/notifications', notificationsRoutes)
    .route('/api/v1/markers', markersRoutes(v1))
    .route('/api/v2/filters', filtersRoutes)
    .route('/api/v1/filters', v1FiltersRoutes)
    .route('/api/v1/media', mediaRoutes(v1))
    .route('/api/v2/media', uploadRoutes(v1));
}
