/**
 * Mastodon's entities (docs.joinmastodon.org/entities) built from this service's records: pure functions, so the
 * REST routes and the streaming events serialise a status or a notification the same way.
 */
import type { Media, PostRecord, UserRecord } from './model.ts';
import { ID_EPOCH_MS } from './ids.ts';
import { statusContent } from './mastodon-content.ts';
import { compilePhrase } from './social.ts';

export interface MastodonAccount {
  id: string;
  username: string;
  acct: string;
  display_name: string;
  locked: boolean;
  bot: boolean;
  discoverable: boolean;
  group: boolean;
  created_at: string;
  note: string;
  url: string;
  uri: string;
  avatar: string;
  avatar_static: string;
  header: string;
  header_static: string;
  followers_count: number;
  following_count: number;
  statuses_count: number;
  last_status_at: string | null;
  emojis: [];
  fields: [];
}

export interface MastodonMention {
  id: string;
  username: string;
  acct: string;
  url: string;
}

export interface MastodonTag {
  name: string;
  url: string;
}

export interface MastodonAttachment {
  id: string;
  type: 'image' | 'video' | 'gifv' | 'unknown';
  url: string;
  preview_url: string;
  remote_url: null;
  description: string | null;
  blurhash: null;
  meta: { original?: { width: number; height: number; size: string; aspect: number } };
}

export interface MastodonStatus {
  id: string;
  uri: string;
  url: string | null;
  created_at: string;
  edited_at: string | null;
  account: MastodonAccount;
  content: string;
  text?: string;
  visibility: 'public';
  sensitive: boolean;
  spoiler_text: string;
  language: null;
  in_reply_to_id: string | null;
  in_reply_to_account_id: string | null;
  reblog: MastodonStatus | null;
  replies_count: number;
  reblogs_count: number;
  favourites_count: number;
  favourited: boolean;
  reblogged: boolean;
  muted: boolean;
  bookmarked: boolean;
  pinned: boolean;
  media_attachments: MastodonAttachment[];
  mentions: MastodonMention[];
  tags: MastodonTag[];
  emojis: [];
  card: null;
  poll: null;
  application: null;
  filtered: MastodonFilterResult[];
}

export const FILTER_CONTEXTS = ['home', 'notifications', 'public', 'thread', 'account'] as const;
export type FilterContext = (typeof FILTER_CONTEXTS)[number];

export interface MastodonFilterKeyword {
  id: string;
  keyword: string;
  whole_word: boolean;
}

export interface MastodonFilter {
  id: string;
  title: string;
  context: FilterContext[];
  expires_at: string | null;
  filter_action: 'warn' | 'hide';
  keywords: MastodonFilterKeyword[];
  statuses: [];
}

export interface MastodonFilterResult {
  filter: MastodonFilter;
  keyword_matches: string[];
  status_matches: [];
}

export interface MastodonRelationship {
  id: string;
  following: boolean;
  showing_reblogs: boolean;
  notifying: boolean;
  followed_by: boolean;
  blocking: boolean;
  blocked_by: boolean;
  muting: boolean;
  muting_notifications: boolean;
  requested: boolean;
  requested_by: boolean;
  domain_blocking: boolean;
  endorsed: boolean;
  note: string;
  languages: null;
}

/** A placeholder image for accounts without one (clients expect an avatar URL); served by the instance itself. */
export const DEFAULT_AVATAR_PATH = '/avatars/original/missing.png';

const iso = (ms: number) => new Date(ms).toISOString();

export function toAccount(user: UserRecord, base: string): MastodonAccount {
  const url = `${base}/@${user.handle}`;
  const avatar = `${base}${DEFAULT_AVATAR_PATH}`;
  return {
    id: user.id,
    username: user.handle,
    // A local account's acct is its bare username (no federation: every account is local).
    acct: user.handle,
    display_name: user.displayName,
    locked: false,
    bot: false,
    discoverable: true,
    group: false,
    created_at: iso(user.createdAt),
    note: '',
    url,
    uri: url,
    avatar,
    avatar_static: avatar,
    header: '',
    header_static: '',
    followers_count: user.followersCount,
    following_count: user.followingCount,
    statuses_count: user.postsCount,
    last_status_at: null,
    emojis: [],
    fields: [],
  };
}

/** What a reader's own state adds to a status: whether they liked or shared it. */
export interface ViewerState {
  favourited: boolean;
  reblogged: boolean;
}

export interface StatusLinks {
  base: string;
  /** Accounts by lower-case handle, for `mentions` and the links in `content`; unknown handles stay text. */
  accounts: ReadonlyMap<string, UserRecord>;
}

/** Mastodon's `meta.original` when the size is known (clients lay out the grid before the image loads). */
function metaOf(width: number | null | undefined, height: number | null | undefined): MastodonAttachment['meta'] {
  if (!width || !height) return {};
  return { original: { width, height, size: `${width}x${height}`, aspect: width / height } };
}

/** A media item as a MediaAttachment: a kind, the URL (the preview is the same file), the description. */
export function toAttachment(
  media: Pick<Media, 'url' | 'kind'> & {
    id: string;
    alt?: string | null;
    width?: number | null;
    height?: number | null;
  },
): MastodonAttachment {
  return {
    id: media.id,
    type: media.kind === 'gif' ? 'gifv' : media.kind,
    url: media.url,
    preview_url: media.url,
    remote_url: null,
    description: media.alt ?? null,
    blurhash: null,
    meta: metaOf(media.width, media.height),
  };
}

function attachment(media: Media, postId: string, index: number): MastodonAttachment {
  // An upload has its own id; media given by URL (v1's `media`) are named by the post's id and the position.
  return toAttachment({ ...media, id: media.id ?? `${postId}${String(index).padStart(2, '0')}` });
}

function mentionsOf(handles: readonly string[], links: StatusLinks): MastodonMention[] {
  return handles.flatMap((handle) => {
    const user = links.accounts.get(handle);
    return user
      ? [{ id: user.id, username: user.handle, acct: user.handle, url: `${links.base}/@${user.handle}` }]
      : [];
  });
}

function baseStatus(
  id: string,
  author: UserRecord,
  text: string,
  createdAt: number,
  links: StatusLinks,
): Omit<MastodonStatus, 'replies_count' | 'reblogs_count' | 'favourites_count' | 'favourited' | 'reblogged'> {
  const url = `${links.base}/@${author.handle}/${id}`;
  return {
    id,
    uri: url,
    url,
    created_at: iso(createdAt),
    edited_at: null,
    account: toAccount(author, links.base),
    content: statusContent(text, { base: links.base, knownHandles: new Set(links.accounts.keys()) }),
    visibility: 'public',
    sensitive: false,
    spoiler_text: '',
    language: null,
    in_reply_to_id: null,
    in_reply_to_account_id: null,
    reblog: null,
    muted: false,
    bookmarked: false,
    pinned: false,
    media_attachments: [],
    mentions: [],
    tags: [],
    emojis: [],
    card: null,
    poll: null,
    application: null,
    filtered: [],
  };
}

/** A post as a Status. A deleted post keeps its id and author but no text (the answer to a DELETE carries `text`). */
export function postToStatus(
  post: PostRecord,
  author: UserRecord,
  viewer: ViewerState,
  links: StatusLinks,
): MastodonStatus {
  const live = post.deletedAt === null;
  return {
    ...baseStatus(post.id, author, live ? post.text : '', post.createdAt, links),
    // A post's version counts its edits: version 1 was never edited.
    edited_at: post.version > 1 ? iso(post.updatedAt) : null,
    media_attachments: live ? post.media.map((m, i) => attachment(m, post.id, i)) : [],
    mentions: live ? mentionsOf(post.mentions, links) : [],
    tags: live ? post.hashtags.map((name) => ({ name, url: `${links.base}/tags/${encodeURIComponent(name)}` })) : [],
    replies_count: post.commentCount,
    reblogs_count: post.shareCount,
    favourites_count: post.likeCount,
    favourited: viewer.favourited,
    reblogged: viewer.reblogged,
  };
}

export interface CommentRecord {
  id: string;
  postId: string;
  authorId: string;
  text: string;
  createdAt: number;
}

/** A comment as a reply status: it answers its post, and has no counts or reactions of its own in this service. */
export function commentToStatus(
  comment: CommentRecord,
  author: UserRecord,
  postAuthorId: string,
  links: StatusLinks,
): MastodonStatus {
  return {
    ...baseStatus(comment.id, author, comment.text, comment.createdAt, links),
    in_reply_to_id: comment.postId,
    in_reply_to_account_id: postAuthorId,
    replies_count: 0,
    reblogs_count: 0,
    favourites_count: 0,
    favourited: false,
    reblogged: false,
  };
}

const NODE_BITS = 10n;
const SEQUENCE_BITS = 12n;

/** FNV-1a, 32 bits: a stable spread of a string over the id's node and sequence bits. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

/**
 * A share has no id of its own, but a reblog wrapper needs one: an id of the project's layout (src/ids.ts) at the
 * share's time, whose low 22 bits are a hash of sharer and post. Stable across reads, ordered by time like the
 * statuses around it, and distinct from the post's own id.
 */
export function reblogId(postId: string, sharerId: string, sharedAt: number): string {
  const ms = BigInt(Math.max(sharedAt - ID_EPOCH_MS, 0));
  const low = BigInt(fnv1a(`${sharerId}:${postId}`)) & ((1n << (NODE_BITS + SEQUENCE_BITS)) - 1n);
  return ((ms << (NODE_BITS + SEQUENCE_BITS)) | low).toString();
}

/** A reblog: the sharer's wrapper around the shared status (Mastodon's shape: its own id, `reblog` the original). */
export function reblogStatus(
  original: MastodonStatus,
  sharer: UserRecord,
  sharedAt: number,
  links: StatusLinks,
): MastodonStatus {
  const id = reblogId(original.id, sharer.id, sharedAt);
  return {
    ...baseStatus(id, sharer, '', sharedAt, links),
    uri: `${original.uri}/reblogs/${sharer.id}`,
    url: null,
    reblog: original,
    replies_count: 0,
    reblogs_count: 0,
    favourites_count: 0,
    favourited: original.favourited,
    reblogged: original.reblogged,
  };
}

export interface RelationshipFacts {
  following: boolean;
  followedBy: boolean;
  showingReblogs?: boolean;
  blocking?: boolean;
  blockedBy?: boolean;
  muting?: boolean;
}

export function toRelationship(id: string, facts: RelationshipFacts): MastodonRelationship {
  return {
    id,
    following: facts.following,
    showing_reblogs: facts.following && (facts.showingReblogs ?? true),
    notifying: false,
    followed_by: facts.followedBy,
    blocking: facts.blocking ?? false,
    blocked_by: facts.blockedBy ?? false,
    muting: facts.muting ?? false,
    muting_notifications: facts.muting ?? false,
    requested: false,
    requested_by: false,
    domain_blocking: false,
    endorsed: false,
    note: '',
    languages: null,
  };
}

/** A v1 notification's kind (DESIGN.md "The social surface") and the Mastodon type it is shown as. */
export const NOTIFICATION_TYPES = {
  like: 'favourite',
  repost: 'reblog',
  follow: 'follow',
  mention: 'mention',
  // A comment is a reply, which Mastodon notifies as a mention of the post's author.
  comment: 'mention',
} as const;

export type NotificationKind = keyof typeof NOTIFICATION_TYPES;

export interface MastodonNotification {
  id: string;
  type: (typeof NOTIFICATION_TYPES)[NotificationKind];
  created_at: string;
  account: MastodonAccount;
  status: MastodonStatus | null;
}

/** A notification: who acted (`actor`) and, except for follows, the status it is about (already serialised). */
export function toNotification(
  notification: { id: string; type: NotificationKind; createdAt: number },
  actor: UserRecord,
  status: MastodonStatus | null,
  base: string,
): MastodonNotification {
  return {
    id: notification.id,
    type: NOTIFICATION_TYPES[notification.type],
    created_at: iso(notification.createdAt),
    account: toAccount(actor, base),
    status: notification.type === 'follow' ? null : status,
  };
}

/** A Mastodon filter (v2) as stored: a titled group of muted words with the contexts and action it was given. */
export interface FilterGroupRecord {
  id: string;
  title: string;
  context: string;
  action: 'warn' | 'hide';
  expiresAt: number | null;
  keywords: ReadonlyArray<{ id: string; phrase: string; wholeWord: boolean }>;
}

export function toFilterKeyword(keyword: FilterGroupRecord['keywords'][number]): MastodonFilterKeyword {
  return { id: keyword.id, keyword: keyword.phrase, whole_word: keyword.wholeWord };
}

export function toFilter(group: FilterGroupRecord): MastodonFilter {
  return {
    id: group.id,
    title: group.title,
    context: group.context
      .split(',')
      .filter((c): c is FilterContext => (FILTER_CONTEXTS as readonly string[]).includes(c)),
    expires_at: group.expiresAt === null ? null : iso(group.expiresAt),
    filter_action: group.action,
    keywords: group.keywords.map(toFilterKeyword),
    statuses: [],
  };
}

/** A keyword as Mastodon's v1 filters API shows it (each keyword a filter, with its group's context and action). */
export interface MastodonV1Filter {
  id: string;
  phrase: string;
  context: FilterContext[];
  expires_at: string | null;
  irreversible: boolean;
  whole_word: boolean;
}

export function toV1Filters(group: FilterGroupRecord): MastodonV1Filter[] {
  const { context, expires_at } = toFilter(group);
  return group.keywords.map((k) => ({
    id: k.id,
    phrase: k.phrase,
    context,
    expires_at,
    irreversible: group.action === 'hide',
    whole_word: k.wholeWord,
  }));
}

/**
 * The `filtered` field of a status: each warn filter with a keyword that matches the post (as a muted word
 * matches: src/social.ts compilePhrase), with the keywords that did. Hide filters never get here: the feed drops
 * what they match.
 */
export function filterResults(
  post: Pick<PostRecord, 'text' | 'hashtags'>,
  warnings: readonly FilterGroupRecord[],
): MastodonFilterResult[] {
  return warnings.flatMap((group) => {
    const matched = group.keywords.filter((k) => compilePhrase(k).matches(post)).map((k) => k.phrase);
    return matched.length > 0 ? [{ filter: toFilter(group), keyword_matches: matched, status_matches: [] }] : [];
  });
}

/** A tag's use on one day (Mastodon's history entry): posts carrying it and distinct accounts that used it. */
export interface TagUse {
  day: number;
  uses: number;
  accounts: number;
}

export interface MastodonTagEntity extends MastodonTag {
  history: Array<{ day: string; uses: string; accounts: string }>;
  following: false;
}

const DAY_MS = 86_400_000;

/** A Tag with its history (Mastodon sends the day as the UNIX time of its midnight, counts as strings). */
export function toTag(name: string, base: string, use?: TagUse): MastodonTagEntity {
  return {
    name,
    url: `${base}/tags/${encodeURIComponent(name)}`,
    history: use
      ? [
          {
            day: String(Math.floor(use.day / DAY_MS) * (DAY_MS / 1000)),
            uses: String(use.uses),
            accounts: String(use.accounts),
          },
        ]
      : [],
    following: false,
  };
}
