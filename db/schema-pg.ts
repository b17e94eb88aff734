import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { GeoPoint, Media } from '../src/model.ts';

/**
 * The Postgres twin of db/schema.ts (read its comments for placement and meaning): the same tables, columns and
 * indexes (test/unit/schema-parity.test.ts holds them equal), so the repositories' SQL runs on either. Times are
 * epoch ms in bigint (read back as numbers, db/shards-pg.ts); JSON columns stay text, as D1 stores them, because the
 * repositories bind and read them as JSON text. Counter triggers and the text-search column are a custom migration
 * (db/migrations-pg/*_counters_search.sql).
 */

const ms = (name: string) => bigint(name, { mode: 'number' });

/** JSON stored as text, as on D1: drizzle's sqlite json mode (used by the shared repositories) writes and reads text. */
const jsonText = <T>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => 'text',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name);

/** A BLOB as a Uint8Array, as in db/schema.ts. */
const bytes = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    handle: text('handle').notNull(),
    displayName: text('display_name').notNull(),
    createdAt: ms('created_at').notNull(),
    followersCount: integer('followers_count').notNull().default(0),
    followingCount: integer('following_count').notNull().default(0),
    postsCount: integer('posts_count').notNull().default(0),
    lastActiveAt: ms('last_active_at'),
    timelineDroppedAt: ms('timeline_dropped_at'),
  },
  (t) => [
    index('users_kept_timeline_idx')
      .on(sql`coalesce(${t.lastActiveAt}, ${t.createdAt})`)
      .where(sql`${t.timelineDroppedAt} IS NULL`),
    index('users_display_name_idx').on(sql`lower(${t.displayName})`),
  ],
);

export const handles = pgTable('handles', {
  handle: text('handle').primaryKey(),
  userId: text('user_id').notNull(),
  createdAt: ms('created_at').notNull(),
  passwordHash: text('password_hash'),
});

export const posts = pgTable(
  'posts',
  {
    id: text('id').primaryKey(),
    authorId: text('author_id').notNull(),
    text: text('text').notNull(),
    media: jsonText<Media[]>('media')
      .notNull()
      .default(sql`'[]'`),
    hashtags: jsonText<string[]>('hashtags')
      .notNull()
      .default(sql`'[]'`),
    mentions: jsonText<string[]>('mentions')
      .notNull()
      .default(sql`'[]'`),
    location: jsonText<GeoPoint>('location'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
    version: integer('version').notNull().default(1),
    deletedAt: ms('deleted_at'),
    likeCount: integer('like_count').notNull().default(0),
    commentCount: integer('comment_count').notNull().default(0),
    shareCount: integer('share_count').notNull().default(0),
  },
  (t) => [index('posts_author_idx').on(t.authorId, t.id)],
);

export const postEmbeddings = pgTable('post_embeddings', {
  postId: text('post_id').primaryKey(),
  model: text('model').notNull(),
  vector: bytes('vector').notNull(),
  version: integer('version').notNull(),
  createdAt: ms('created_at').notNull(),
});

export const likes = pgTable(
  'likes',
  {
    postId: text('post_id').notNull(),
    userId: text('user_id').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.postId, t.userId] })],
);

export const comments = pgTable(
  'comments',
  {
    id: text('id').primaryKey(),
    postId: text('post_id').notNull(),
    authorId: text('author_id').notNull(),
    text: text('text').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('comments_post_idx').on(t.postId, t.id)],
);

export const shares = pgTable(
  'shares',
  {
    postId: text('post_id').notNull(),
    userId: text('user_id').notNull(),
    createdAt: ms('created_at').notNull(),
    repostId: text('repost_id'),
  },
  (t) => [primaryKey({ columns: [t.postId, t.userId] })],
);

export const userReposts = pgTable(
  'user_reposts',
  {
    userId: text('user_id').notNull(),
    postId: text('post_id').notNull(),
    repostId: text('repost_id').notNull(),
    authorId: text('author_id').notNull(),
    postCreatedAt: ms('post_created_at').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.postId] }), index('user_reposts_recent_idx').on(t.userId, t.repostId)],
);

export const shareOutbox = pgTable(
  'share_outbox',
  {
    postId: text('post_id').notNull(),
    userId: text('user_id').notNull(),
    sharing: boolean('sharing').notNull(),
    at: ms('at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    dueAt: ms('due_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.postId, t.userId] }), index('share_outbox_due_idx').on(t.dueAt)],
);

export const tagPosts = pgTable(
  'tag_posts',
  {
    tag: text('tag').notNull(),
    postId: text('post_id').notNull(),
    authorId: text('author_id').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tag, t.postId] })],
);

export const media = pgTable(
  'media',
  {
    id: text('id').primaryKey(),
    ownerId: text('owner_id').notNull(),
    kind: text('kind', { enum: ['image', 'gif', 'video'] }).notNull(),
    contentType: text('content_type').notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    width: integer('width'),
    height: integer('height'),
    alt: text('alt'),
    postId: text('post_id'),
    createdAt: ms('created_at').notNull(),
    deletedAt: ms('deleted_at'),
  },
  (t) => [index('media_post_idx').on(t.postId)],
);

export const userPosts = pgTable(
  'user_posts',
  {
    userId: text('user_id').notNull(),
    postId: text('post_id').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.postId] })],
);

export const followsByFollower = pgTable(
  'follows_by_follower',
  {
    followerId: text('follower_id').notNull(),
    followeeId: text('followee_id').notNull(),
    createdAt: ms('created_at').notNull(),
    showReposts: boolean('show_reposts').notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.followerId, t.followeeId] }),
    index('follows_by_follower_page_idx').on(t.followerId, t.createdAt, t.followeeId),
  ],
);

export const followsByFollowee = pgTable(
  'follows_by_followee',
  {
    followeeId: text('followee_id').notNull(),
    followerId: text('follower_id').notNull(),
    createdAt: ms('created_at').notNull(),
    showReposts: boolean('show_reposts').notNull().default(true),
  },
  (t) => [
    primaryKey({ columns: [t.followeeId, t.followerId] }),
    index('follows_by_followee_page_idx').on(t.followeeId, t.createdAt, t.followerId),
  ],
);

export const blocks = pgTable(
  'blocks',
  {
    blockerId: text('blocker_id').notNull(),
    blockedId: text('blocked_id').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.blockerId, t.blockedId] }),
    index('blocks_page_idx').on(t.blockerId, t.createdAt, t.blockedId),
  ],
);

export const blockedBy = pgTable(
  'blocked_by',
  {
    userId: text('user_id').notNull(),
    blockerId: text('blocker_id').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockerId] })],
);

export const mutes = pgTable(
  'mutes',
  {
    muterId: text('muter_id').notNull(),
    mutedId: text('muted_id').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at'),
  },
  (t) => [
    primaryKey({ columns: [t.muterId, t.mutedId] }),
    index('mutes_page_idx').on(t.muterId, t.createdAt, t.mutedId),
  ],
);

export const filters = pgTable(
  'filters',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    phrase: text('phrase').notNull(),
    wholeWord: boolean('whole_word').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at'),
    groupId: text('group_id'),
  },
  (t) => [index('filters_user_idx').on(t.userId, t.id), index('filters_group_idx').on(t.userId, t.groupId)],
);

export const filterGroups = pgTable(
  'filter_groups',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    title: text('title').notNull(),
    context: text('context').notNull(),
    action: text('action', { enum: ['warn', 'hide'] }).notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at'),
  },
  (t) => [index('filter_groups_user_idx').on(t.userId, t.id)],
);

export const notifications = pgTable(
  'notifications',
  {
    recipientId: text('recipient_id').notNull(),
    id: text('id').notNull(),
    key: text('key').notNull(),
    type: text('type', { enum: ['like', 'repost', 'follow', 'mention', 'comment'] }).notNull(),
    actorId: text('actor_id').notNull(),
    postId: text('post_id'),
    commentId: text('comment_id'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.recipientId, t.id] }),
    uniqueIndex('notifications_key_idx').on(t.recipientId, t.key),
    index('notifications_time_idx').on(t.createdAt),
  ],
);

export const markers = pgTable(
  'markers',
  {
    userId: text('user_id').notNull(),
    timeline: text('timeline', { enum: ['home', 'notifications'] }).notNull(),
    lastReadId: text('last_read_id').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.timeline] })],
);

export const interactions = pgTable(
  'interactions',
  {
    userId: text('user_id').notNull(),
    kind: text('kind', { enum: ['like', 'comment', 'share', 'view', 'dwell'] }).notNull(),
    refId: text('ref_id').notNull(),
    postId: text('post_id').notNull(),
    authorId: text('author_id').notNull(),
    durationMs: bigint('duration_ms', { mode: 'number' }),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.kind, t.refId] }),
    index('interactions_author_idx').on(t.userId, t.authorId, t.createdAt),
    index('interactions_time_idx').on(t.userId, t.createdAt),
  ],
);

export const impressions = pgTable(
  'impressions',
  {
    userId: text('user_id').notNull(),
    postId: text('post_id').notNull(),
    servedAt: ms('served_at').notNull(),
    position: integer('position').notNull(),
    signals: jsonText<Record<string, number>>('signals').notNull(),
    arm: text('arm').notNull().default('default'),
  },
  (t) => [primaryKey({ columns: [t.userId, t.servedAt, t.postId] }), index('impressions_time_idx').on(t.servedAt)],
);

export const postOutbox = pgTable(
  'post_outbox',
  {
    postId: text('post_id').primaryKey(),
    authorId: text('author_id').notNull(),
    createdAt: ms('created_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    dueAt: ms('due_at').notNull(),
  },
  (t) => [index('post_outbox_due_idx').on(t.dueAt)],
);

export const followOutbox = pgTable(
  'follow_outbox',
  {
    followerId: text('follower_id').notNull(),
    followeeId: text('followee_id').notNull(),
    following: boolean('following').notNull(),
    at: ms('at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    dueAt: ms('due_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.followerId, t.followeeId] }), index('follow_outbox_due_idx').on(t.dueAt)],
);

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: text('user_id').notNull(),
    key: text('key').notNull(),
    postId: text('post_id').notNull(),
    requestHash: text('request_hash').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] }), index('idempotency_keys_time_idx').on(t.createdAt)],
);

export const deadLetters = pgTable(
  'dead_letters',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    payload: text('payload').notNull(),
    lastError: text('last_error'),
    attempts: integer('attempts').notNull().default(0),
    failedAt: ms('failed_at').notNull(),
    deadAt: ms('dead_at'),
    replayedAt: ms('replayed_at'),
  },
  (t) => [index('dead_letters_pending_idx').on(t.replayedAt, t.failedAt)],
);

export const oauthApps = pgTable('oauth_apps', {
  clientId: text('client_id').primaryKey(),
  secretHash: text('secret_hash').notNull(),
  name: text('name').notNull(),
  website: text('website'),
  redirectUris: text('redirect_uris').notNull(),
  scopes: text('scopes').notNull(),
  createdAt: ms('created_at').notNull(),
});

export const oauthCodes = pgTable('oauth_codes', {
  codeHash: text('code_hash').primaryKey(),
  clientId: text('client_id').notNull(),
  userId: text('user_id').notNull(),
  redirectUri: text('redirect_uri').notNull(),
  scopes: text('scopes').notNull(),
  codeChallenge: text('code_challenge'),
  expiresAt: ms('expires_at').notNull(),
  usedAt: ms('used_at'),
  createdAt: ms('created_at').notNull(),
});

export const oauthTokens = pgTable('oauth_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  clientId: text('client_id').notNull(),
  userId: text('user_id'),
  scopes: text('scopes').notNull(),
  createdAt: ms('created_at').notNull(),
});
