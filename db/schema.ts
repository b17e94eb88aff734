import { sql } from 'drizzle-orm';
import { customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { GeoPoint, Media } from '../src/model.ts';

/**
 * One schema for every D1 shard. Which shard holds a row is decided by db/shards.ts from the row's
 * placement key (noted on each table); a table's rows are spread over all shards.
 * Ids are 19-digit decimal TEXT (see src/ids.ts), so they compare in creation order. Times are epoch ms.
 * Counters are maintained by triggers (migration 0001) in the same transaction as the edge rows they count,
 * which keeps them exact under concurrency and idempotent under retries.
 */

/**
 * Placement: user id. `last_active_at` is written at most hourly (src/fanout.ts) and read by medium
 * authors' fan-out and by the cron that drops idle timelines (`timeline_dropped_at` set while dropped).
 */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    handle: text('handle').notNull(),
    displayName: text('display_name').notNull(),
    createdAt: integer('created_at').notNull(),
    followersCount: integer('followers_count').notNull().default(0),
    followingCount: integer('following_count').notNull().default(0),
    postsCount: integer('posts_count').notNull().default(0),
    lastActiveAt: integer('last_active_at'),
    timelineDroppedAt: integer('timeline_dropped_at'),
  },
  (t) => [
    index('users_kept_timeline_idx')
      .on(sql`coalesce(${t.lastActiveAt}, ${t.createdAt})`)
      .where(sql`${t.timelineDroppedAt} IS NULL`),
    // Account search by display-name prefix (every shard is asked; each answers from this index).
    index('users_display_name_idx').on(sql`lower(${t.displayName})`),
  ],
);

/**
 * Placement: handle (lower case). Claiming a handle is the uniqueness check. The password hash lives here too
 * (src/password.ts), so a login is one read on one shard; null for accounts without a password.
 */
export const handles = sqliteTable('handles', {
  handle: text('handle').primaryKey(),
  userId: text('user_id').notNull(),
  createdAt: integer('created_at').notNull(),
  passwordHash: text('password_hash'),
});

/** Placement: post id. A delete keeps a tombstone (deleted_at) so caches and timelines can drop it. */
export const posts = sqliteTable(
  'posts',
  {
    id: text('id').primaryKey(),
    authorId: text('author_id').notNull(),
    text: text('text').notNull(),
    media: text('media', { mode: 'json' })
      .$type<Media[]>()
      .notNull()
      .default(sql`'[]'`),
    hashtags: text('hashtags', { mode: 'json' })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    mentions: text('mentions', { mode: 'json' })
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'`),
    location: text('location', { mode: 'json' }).$type<GeoPoint>(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    version: integer('version').notNull().default(1),
    deletedAt: integer('deleted_at'),
    likeCount: integer('like_count').notNull().default(0),
    commentCount: integer('comment_count').notNull().default(0),
    shareCount: integer('share_count').notNull().default(0),
  },
  (t) => [index('posts_author_idx').on(t.authorId, t.id)],
);

/** A BLOB as a plain Uint8Array (drizzle's own blob mode wants Node's Buffer); D1 hands BLOBs back as arrays. */
const bytes = customType<{ data: Uint8Array; driverData: ArrayBuffer | ArrayLike<number> }>({
  dataType: () => 'blob',
  toDriver: (value) => value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer,
  fromDriver: (value) => (value instanceof ArrayBuffer ? new Uint8Array(value) : Uint8Array.from(value)),
});

/**
 * Placement: post id. A post's sentence embedding (src/vectors.ts encoding), written by the queue consumer
 * once per post and again after an edit. Kept apart from `posts` so that reads which do not rank never load it,
 * and `model` says which model produced it, since vectors of different models are not comparable.
 */
export const postEmbeddings = sqliteTable('post_embeddings', {
  postId: text('post_id').primaryKey(),
  model: text('model').notNull(),
  vector: bytes('vector').notNull(),
  /** The post version the text was embedded at: a late write for an older version must not win. */
  version: integer('version').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** Placement: post id. */
export const likes = sqliteTable(
  'likes',
  {
    postId: text('post_id').notNull(),
    userId: text('user_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.postId, t.userId] })],
);

/** Placement: post id. */
export const comments = sqliteTable(
  'comments',
  {
    id: text('id').primaryKey(),
    postId: text('post_id').notNull(),
    authorId: text('author_id').notNull(),
    text: text('text').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('comments_post_idx').on(t.postId, t.id)],
);

/**
 * Placement: post id. One share (repost) per user and post, like a retweet. `repost_id` is the repost's own id,
 * minted when it is made (time-ordered like post ids): where the repost sorts in feeds. Null on rows older than it.
 */
export const shares = sqliteTable(
  'shares',
  {
    postId: text('post_id').notNull(),
    userId: text('user_id').notNull(),
    createdAt: integer('created_at').notNull(),
    repostId: text('repost_id'),
  },
  (t) => [primaryKey({ columns: [t.postId, t.userId] })],
);

/**
 * Placement: sharer (user) id. The sharer's reposts, newest first by repost id: what their followers' timelines
 * are regenerated and backfilled from, and what the sharer's AuthorFeed serves to pulling readers.
 */
export const userReposts = sqliteTable(
  'user_reposts',
  {
    userId: text('user_id').notNull(),
    postId: text('post_id').notNull(),
    repostId: text('repost_id').notNull(),
    authorId: text('author_id').notNull(),
    postCreatedAt: integer('post_created_at').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.postId] }), index('user_reposts_recent_idx').on(t.userId, t.repostId)],
);

/**
 * Placement: post id, beside the share row and written in the same batch: the repost's (or its undo's) effects
 * still owed (the sharer's index and feeds, the fan-out). `at` orders intents; an older one never clears a newer.
 */
export const shareOutbox = sqliteTable(
  'share_outbox',
  {
    postId: text('post_id').notNull(),
    userId: text('user_id').notNull(),
    sharing: integer('sharing', { mode: 'boolean' }).notNull(),
    at: integer('at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    dueAt: integer('due_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.postId, t.userId] }), index('share_outbox_due_idx').on(t.dueAt)],
);

/**
 * Placement: tag (one tag's rows are on one shard, by the bucket map). The hashtag index, newest first: written
 * with the post (and repaired by its fan-out), removed on delete and edit; tag pages re-check each post's tags.
 */
export const tagPosts = sqliteTable(
  'tag_posts',
  {
    tag: text('tag').notNull(),
    postId: text('post_id').notNull(),
    authorId: text('author_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tag, t.postId] })],
);

/**
 * Placement: media id. An upload's metadata; the bytes are in R2 (MEDIA) under `media/<id>`. `post_id` is set
 * when a post takes it; `deleted_at` when that post is deleted (the bytes go too), after which it is a 404.
 */
export const media = sqliteTable(
  'media',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull(),
    kind: text('kind', { enum: ['image', 'gif', 'video'] }).notNull(),
    contentType: text('content_type').notNull(),
    bytes: integer('bytes').notNull(),
    width: integer('width'),
    height: integer('height'),
    alt: text('alt'),
    postId: text('post_id'),
    createdAt: integer('created_at').notNull(),
    deletedAt: integer('deleted_at'),
  },
  (t) => [index('media_post_idx').on(t.postId)],
);

/** Placement: author (user) id. The author's post index, newest first by post id. */
export const userPosts = sqliteTable(
  'user_posts',
  {
    userId: text('user_id').notNull(),
    postId: text('post_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.postId] })],
);

/**
 * Placement: follower id. Outgoing edges: whom a user follows. `show_reposts` is the follow's `reposts` flag
 * (PUT /v1/users/:id/follow {reposts}): false hides that account's reposts from the follower's feeds.
 */
export const followsByFollower = sqliteTable(
  'follows_by_follower',
  {
    followerId: text('follower_id').notNull(),
    followeeId: text('followee_id').notNull(),
    createdAt: integer('created_at').notNull(),
    showReposts: integer('show_reposts', { mode: 'boolean' }).notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followeeId] }),
    index('follows_by_follower_page_idx').on(t.followerId, t.createdAt, t.followeeId),
  ],
);

/**
 * Placement: followee id. Incoming edges: who follows a user (read by fan-out). `show_reposts` mirrors the
 * follower's flag, so a repost's fan-out can skip followers who hide this account's reposts.
 */
export const followsByFollowee = sqliteTable(
  'follows_by_followee',
  {
    followeeId: text('followee_id').notNull(),
    followerId: text('follower_id').notNull(),
    createdAt: integer('created_at').notNull(),
    showReposts: integer('show_reposts', { mode: 'boolean' }).notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.followeeId, t.followerId] }),
    index('follows_by_followee_page_idx').on(t.followeeId, t.createdAt, t.followerId),
  ],
);

/**
 * Placement: blocker id. The block itself (the source of truth for GET /v1/blocks and for refusing the blocked
 * account's interactions with the blocker: the blocker's shard is the post author's, the followee's, the recipient's).
 */
export const blocks = sqliteTable(
  'blocks',
  {
    blockerId: text('blocker_id').notNull(),
    blockedId: text('blocked_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.blockerId, t.blockedId] }),
    index('blocks_page_idx').on(t.blockerId, t.createdAt, t.blockedId),
  ],
);

/**
 * Placement: blocked user id. The mirror of `blocks` on the blocked account's shard: who blocks this user, so that
 * everything this user reads (feeds, listings, notifications) hides the blocker with reads of its own shard only.
 */
export const blockedBy = sqliteTable(
  'blocked_by',
  {
    userId: text('user_id').notNull(),
    blockerId: text('blocker_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockerId] })],
);

/** Placement: muter id. A mute hides the muted account from the muter's feeds and notifications until `expires_at`. */
export const mutes = sqliteTable(
  'mutes',
  {
    muterId: text('muter_id').notNull(),
    mutedId: text('muted_id').notNull(),
    createdAt: integer('created_at').notNull(),
    /** Null: until unmuted. */
    expiresAt: integer('expires_at'),
  },
  (t) => [
    primaryKey({ columns: [t.muterId, t.mutedId] }),
    index('mutes_page_idx').on(t.muterId, t.createdAt, t.mutedId),
  ],
);

/** Placement: user id (the owner). Muted words and phrases, applied to what the owner reads until `expires_at`. */
export const filters = sqliteTable(
  'filters',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    phrase: text('phrase').notNull(),
    wholeWord: integer('whole_word', { mode: 'boolean' }).notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
    /** The Mastodon filter (filter_groups) this phrase is a keyword of; null for a v1 filter. */
    groupId: text('group_id'),
  },
  (t) => [index('filters_user_idx').on(t.userId, t.id), index('filters_group_idx').on(t.userId, t.groupId)],
);

/**
 * Placement: user id (the owner), beside the owner's filters. A Mastodon filter (v2): a title, the contexts it is
 * meant for and an action over a group of keywords, each a `filters` row, so the feed applies them as it applies
 * every muted word. Its `expires_at` is copied onto its keywords.
 */
export const filterGroups = sqliteTable(
  'filter_groups',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    title: text('title').notNull(),
    /** Comma-separated: home, notifications, public, thread, account. */
    context: text('context').notNull(),
    action: text('action', { enum: ['warn', 'hide'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
  },
  (t) => [index('filter_groups_user_idx').on(t.userId, t.id)],
);

/**
 * Placement: recipient id, beside the recipient's blocks and mutes, so that producing one checks them in the same
 * statement. `key` (e.g. `like:<post>:<actor>`) makes producing idempotent: a redelivered message adds nothing.
 */
export const notifications = sqliteTable(
  'notifications',
  {
    recipientId: text('recipient_id').notNull(),
    id: text('id').notNull(),
    key: text('key').notNull(),
    type: text('type', { enum: ['like', 'repost', 'follow', 'mention', 'comment'] }).notNull(),
    actorId: text('actor_id').notNull(),
    postId: text('post_id'),
    commentId: text('comment_id'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.recipientId, t.id] }),
    uniqueIndex('notifications_key_idx').on(t.recipientId, t.key),
    index('notifications_time_idx').on(t.createdAt),
  ],
);

export type NotificationType = (typeof notifications.$inferSelect)['type'];

/** Placement: user id. Read positions (GET/PUT /v1/markers), one per timeline. */
export const markers = sqliteTable(
  'markers',
  {
    userId: text('user_id').notNull(),
    timeline: text('timeline', { enum: ['home', 'notifications'] }).notNull(),
    lastReadId: text('last_read_id').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.timeline] })],
);

/**
 * Placement: user id (the actor). The log that ranking learns affinity and interests from. The key makes
 * every write an idempotent upsert: likes and shares by post id, comments by comment id, events by event id.
 */
export const interactions = sqliteTable(
  'interactions',
  {
    userId: text('user_id').notNull(),
    kind: text('kind', { enum: ['like', 'comment', 'share', 'view', 'dwell'] }).notNull(),
    refId: text('ref_id').notNull(),
    postId: text('post_id').notNull(),
    authorId: text('author_id').notNull(),
    durationMs: integer('duration_ms'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.kind, t.refId] }),
    index('interactions_author_idx').on(t.userId, t.authorId, t.createdAt),
    index('interactions_time_idx').on(t.userId, t.createdAt),
  ],
);

export type InteractionKind = (typeof interactions.$inferSelect)['kind'];

/**
 * Placement: user id (the reader). A sample of the ranked items served, with the signals they were scored on:
 * with the interaction log beside it on the same shard, what `npm run refit` learns the ranking weights from.
 */
export const impressions = sqliteTable(
  'impressions',
  {
    userId: text('user_id').notNull(),
    postId: text('post_id').notNull(),
    servedAt: integer('served_at').notNull(),
    position: integer('position').notNull(),
    signals: text('signals', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    // The experiment arm the page was ranked by (RANKING_EXPERIMENTS), for per-arm reports.
    arm: text('arm').notNull().default('default'),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.servedAt, t.postId] }),
    // For the daily cron that drops impressions older than the refit looks at.
    index('impressions_time_idx').on(t.servedAt),
  ],
);

/**
 * Placement: author id; a post's id is minted on its author's shard (src/outbox.ts), so the post, its author
 * index entry and this row are one D1 batch, one transaction. The row is the record that the post's fan-out is
 * still owed: the queue message is only the fast path. Fan-out clears it; the drainer re-sends what is due.
 */
export const postOutbox = sqliteTable(
  'post_outbox',
  {
    postId: text('post_id').primaryKey(),
    authorId: text('author_id').notNull(),
    createdAt: integer('created_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    dueAt: integer('due_at').notNull(),
  },
  (t) => [index('post_outbox_due_idx').on(t.dueAt)],
);

/**
 * Placement: follower id, beside the follower's edge and written in the same batch: what a follow or unfollow
 * still has to do (the followee's edge and count, the follower's timeline). Cleared once they are done; the
 * drainer re-applies the edge's current state until then. `at` orders intents: an older one never clears a newer.
 */
export const followOutbox = sqliteTable(
  'follow_outbox',
  {
    followerId: text('follower_id').notNull(),
    followeeId: text('followee_id').notNull(),
    following: integer('following', { mode: 'boolean' }).notNull(),
    at: integer('at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    dueAt: integer('due_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.followerId, t.followeeId] }), index('follow_outbox_due_idx').on(t.dueAt)],
);

/**
 * Placement: user id. `Idempotency-Key` of POST /v1/posts: a retry with the same key returns the first post.
 * `request_hash` refuses the same key with another body. Kept IDEMPOTENCY_TTL_MS (the cron prunes).
 */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    userId: text('user_id').notNull(),
    key: text('key').notNull(),
    postId: text('post_id').notNull(),
    requestHash: text('request_hash').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] }), index('idempotency_keys_time_idx').on(t.createdAt)],
);

/**
 * Placement: id (a digest of the message body, so the consumer's last failure and the dead-letter queue's copy
 * meet in one row). Messages that ran out of retries, kept until replayed (`npm run dlq`).
 */
export const deadLetters = sqliteTable(
  'dead_letters',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    payload: text('payload').notNull(),
    lastError: text('last_error'),
    attempts: integer('attempts').notNull().default(0),
    failedAt: integer('failed_at').notNull(),
    /** When the dead-letter queue's consumer received it; null while only the last failure is known. */
    deadAt: integer('dead_at'),
    replayedAt: integer('replayed_at'),
  },
  (t) => [index('dead_letters_pending_idx').on(t.replayedAt, t.failedAt)],
);

/**
 * Placement: client id. An OAuth client registered through POST /api/v1/apps (the Mastodon-compatible API). The
 * secret is kept only as its SHA-256 digest; `redirect_uris` is newline-separated, as Mastodon takes them.
 */
export const oauthApps = sqliteTable('oauth_apps', {
  clientId: text('client_id').primaryKey(),
  secretHash: text('secret_hash').notNull(),
  name: text('name').notNull(),
  website: text('website'),
  redirectUris: text('redirect_uris').notNull(),
  scopes: text('scopes').notNull(),
  createdAt: integer('created_at').notNull(),
});

/**
 * Placement: the code's digest. An authorization code, single use (`used_at` set by the exchange, which only
 * succeeds while it is null) and short-lived (`expires_at`); PKCE's challenge kept to check the verifier.
 */
export const oauthCodes = sqliteTable('oauth_codes', {
  codeHash: text('code_hash').primaryKey(),
  clientId: text('client_id').notNull(),
  userId: text('user_id').notNull(),
  redirectUri: text('redirect_uri').notNull(),
  scopes: text('scopes').notNull(),
  codeChallenge: text('code_challenge'),
  expiresAt: integer('expires_at').notNull(),
  usedAt: integer('used_at'),
  createdAt: integer('created_at').notNull(),
});

/**
 * Placement: the token's digest. An access token: `user_id` null for a client_credentials token (an app acting as
 * itself). Revoked tokens are deleted.
 */
export const oauthTokens = sqliteTable('oauth_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  clientId: text('client_id').notNull(),
  userId: text('user_id'),
  scopes: text('scopes').notNull(),
  createdAt: integer('created_at').notNull(),
});
