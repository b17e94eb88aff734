/** The shapes the API returns (DESIGN.md, "HTTP API") and the stored records they are built from. */

export interface Media {
  /** Set for uploads (POST /v1/media); absent for media given by URL. */
  id?: string;
  url: string;
  kind: 'image' | 'video' | 'gif';
  alt?: string;
  width?: number;
  height?: number;
}

export interface GeoPoint {
  lat: number;
  lon: number;
  name?: string;
}

export interface Counts {
  likes: number;
  comments: number;
  shares: number;
}

export interface Post {
  id: string;
  authorId: string;
  text: string;
  media: Media[];
  hashtags: string[];
  mentions: string[];
  location: GeoPoint | null;
  createdAt: string;
  updatedAt: string;
  version: number;
  counts: Counts;
  deleted?: true;
}

export interface User {
  id: string;
  handle: string;
  displayName: string;
  createdAt: string;
  counts: { followers: number; following: number; posts: number };
}

export interface Comment {
  id: string;
  postId: string;
  authorId: string;
  text: string;
  createdAt: string;
}

/** A post as stored: times in epoch milliseconds, `deletedAt` set on a tombstone. */
export interface PostRecord {
  id: string;
  authorId: string;
  text: string;
  media: Media[];
  hashtags: string[];
  mentions: string[];
  location: GeoPoint | null;
  createdAt: number;
  updatedAt: number;
  version: number;
  deletedAt: number | null;
  likeCount: number;
  commentCount: number;
  shareCount: number;
}

export interface UserRecord {
  id: string;
  handle: string;
  displayName: string;
  createdAt: number;
  followersCount: number;
  followingCount: number;
  postsCount: number;
}

/** A post is live until it is deleted: the one definition every read, write and rule uses. */
export function isLive(post: PostRecord | undefined | null): post is PostRecord {
  return post != null && post.deletedAt === null;
}

export function toPostView(record: PostRecord): Post {
  const post: Post = {
    id: record.id,
    authorId: record.authorId,
    text: record.deletedAt === null ? record.text : '',
    media: record.deletedAt === null ? record.media : [],
    hashtags: record.deletedAt === null ? record.hashtags : [],
    mentions: record.deletedAt === null ? record.mentions : [],
    location: record.deletedAt === null ? record.location : null,
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    version: record.version,
    counts: { likes: record.likeCount, comments: record.commentCount, shares: record.shareCount },
  };
  if (record.deletedAt !== null) post.deleted = true;
  return post;
}

export function toUserView(record: UserRecord): User {
  return {
    id: record.id,
    handle: record.handle,
    displayName: record.displayName,
    createdAt: new Date(record.createdAt).toISOString(),
    counts: {
      followers: record.followersCount,
      following: record.followingCount,
      posts: record.postsCount,
    },
  };
}
