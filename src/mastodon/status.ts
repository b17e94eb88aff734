/**
 * Mastodon's Status and Account entities (docs.joinmastodon.org/entities) built from the stored records: a minimal
 * serializer for the streaming API. Kept in this one file so that the Mastodon REST API can take it over (and
 * extend it: reblogs, the reader's own favourited/reblogged flags, media, edit history) without a second copy.
 */
import type { PostRecord, UserRecord } from '../model.ts';
import type { StreamNotification } from '../streaming.ts';

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

export interface MastodonStatus {
  id: string;
  uri: string;
  url: string;
  created_at: string;
  edited_at: string | null;
  account: MastodonAccount;
  content: string;
  text: string;
  visibility: 'public';
  sensitive: boolean;
  spoiler_text: string;
  language: string | null;
  in_reply_to_id: string | null;
  in_reply_to_account_id: string | null;
  reblog: null;
  replies_count: number;
  reblogs_count: number;
  favourites_count: number;
  favourited: boolean;
  reblogged: boolean;
  muted: boolean;
  bookmarked: boolean;
  media_attachments: [];
  mentions: Array<{ id: string; username: string; acct: string; url: string }>;
  tags: Array<{ name: string; url: string }>;
  emojis: [];
  card: null;
  poll: null;
  application: null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A stand-in for an author whose row is gone (or not yet read): the status still has an account. */
function unknownAccount(id: string): UserRecord {
  return {
    id,
    handle: `user${id}`,
    displayName: '',
    createdAt: 0,
    followersCount: 0,
    followingCount: 0,
    postsCount: 0,
  };
}

export function toMastodonAccount(user: UserRecord, origin: string): MastodonAccount {
  const url = `${origin}/@${user.handle}`;
  return {
    id: user.id,
    username: user.handle,
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
    avatar: '',
    avatar_static: '',
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

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);

/**
 * The text as Mastodon's sanitised HTML: escaped, paragraphs on blank lines, `<br>` on single newlines, hashtags
 * linked to their timeline. Mentions are linked by handle (the author of a mention is resolved elsewhere).
 */
export function toContentHtml(text: string, origin: string): string {
  const linked = (line: string) =>
    escapeHtml(line).replace(
      /(^|[^\p{L}\p{N}_&])([#@])([\p{L}\p{N}_]+)/gu,
      (_m, pre: string, sigil: string, name: string) =>
        sigil === '#'
          ? `${pre}<a href="${origin}/tags/${encodeURIComponent(name.toLowerCase())}" class="mention hashtag" rel="tag">#<span>${name}</span></a>`
          : `${pre}<span class="h-card"><a href="${origin}/@${name}" class="u-url mention">@<span>${name}</span></a></span>`,
    );
  return text
    .split(/\n{2,}/)
    .map((para) => `<p>${para.split('\n').map(linked).join('<br>')}</p>`)
    .join('');
}

export function toMastodonStatus(post: PostRecord, author: UserRecord | undefined, origin: string): MastodonStatus {
  const account = toMastodonAccount(author ?? unknownAccount(post.authorId), origin);
  const url = `${account.url}/${post.id}`;
  return {
    id: post.id,
    uri: url,
    url,
    created_at: iso(post.createdAt),
    edited_at: post.version > 1 ? iso(post.updatedAt) : null,
    account,
    content: toContentHtml(post.text, origin),
    text: post.text,
    visibility: 'public',
    sensitive: false,
    spoiler_text: '',
    language: null,
    in_reply_to_id: null,
    in_reply_to_account_id: null,
    reblog: null,
    replies_count: post.commentCount,
    reblogs_count: post.shareCount,
    favourites_count: post.likeCount,
    favourited: false,
    reblogged: false,
    muted: false,
    bookmarked: false,
    media_attachments: [],
    mentions: post.mentions.map((handle) => ({ id: '', username: handle, acct: handle, url: `${origin}/@${handle}` })),
    tags: post.hashtags.map((name) => ({ name, url: `${origin}/tags/${encodeURIComponent(name)}` })),
    emojis: [],
    card: null,
    poll: null,
    application: null,
  };
}

export interface MastodonNotification {
  id: string;
  type: 'favourite' | 'reblog' | 'follow' | 'mention';
  created_at: string;
  account: MastodonAccount;
  status: MastodonStatus | null;
}

/** v1's types by Mastodon's names; a comment is a reply, which Mastodon reports as a mention. */
const NOTIFICATION_TYPES = {
  like: 'favourite',
  repost: 'reblog',
  follow: 'follow',
  mention: 'mention',
  comment: 'mention',
} as const satisfies Record<StreamNotification['type'], MastodonNotification['type']>;

export function toMastodonNotification(
  notification: StreamNotification,
  actor: UserRecord | undefined,
  post: PostRecord | undefined,
  postAuthor: UserRecord | undefined,
  origin: string,
): MastodonNotification {
  return {
    id: notification.id,
    type: NOTIFICATION_TYPES[notification.type],
    created_at: notification.createdAt,
    account: toMastodonAccount(actor ?? unknownAccount(notification.actorId), origin),
    status: post ? toMastodonStatus(post, postAuthor, origin) : null,
  };
}
