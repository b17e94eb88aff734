/**
 * The instance's self-description: /api/v1/instance, /api/v2/instance and nodeinfo. Client libraries read the
 * server type from nodeinfo (`software.name`) and the streaming base from `urls.streaming_api` (v1) or
 * `configuration.urls.streaming` (v2), a bare ws(s):// origin to which they append /api/v1/streaming.
 */
import { MEDIA_MAX_BYTES } from './media.ts';
import { LIMITS } from './text.ts';

/**
 * The Mastodon API version whose subset is served, in the form compatible servers report. Not a placeholder:
 * clients (masto.js, megalodon, Elk) parse the leading version to decide which endpoints to call (v2 media and
 * filters, markers), so it names the release whose entity shapes this subset follows.
 */
export const MASTODON_VERSION = '4.3.0';

export interface InstanceFacts {
  /** `https://host` (or http for a local run). */
  origin: string;
  title: string;
  softwareVersion: string;
  userCount: number;
  statusCount: number;
}

/** The WebSocket base for an HTTP origin: the same host, ws for http and wss for https. */
export function streamingBase(origin: string): string {
  return origin.replace(/^http/, 'ws');
}

const host = (origin: string) => new URL(origin).host;

/** What an upload may be (src/media.ts sniffs these types); clients offer uploads only for listed types. */
function mediaConfiguration() {
  return {
    supported_mime_types: ['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'video/mp4'],
    image_size_limit: MEDIA_MAX_BYTES.image,
    video_size_limit: MEDIA_MAX_BYTES.video,
    description_limit: LIMITS.mediaAlt,
  };
}

function statusConfiguration() {
  return {
    max_characters: LIMITS.postText,
    max_media_attachments: LIMITS.mediaPerPost,
    characters_reserved_per_url: 23,
  };
}

export function instanceV1(facts: InstanceFacts) {
  return {
    uri: host(facts.origin),
    title: facts.title,
    short_description: 'A news-feed backend on Cloudflare Workers speaking a subset of the Mastodon client API.',
    description: 'A news-feed backend on Cloudflare Workers speaking a subset of the Mastodon client API.',
    email: '',
    version: `${MASTODON_VERSION} (compatible; edge-feed ${facts.softwareVersion})`,
    urls: { streaming_api: streamingBase(facts.origin) },
    stats: { user_count: facts.userCount, status_count: facts.statusCount, domain_count: 1 },
    thumbnail: null,
    languages: ['en'],
    registrations: false,
    approval_required: false,
    invites_enabled: false,
    configuration: {
      statuses: statusConfiguration(),
      media_attachments: mediaConfiguration(),
      polls: { max_options: 0, max_characters_per_option: 0, min_expiration: 0, max_expiration: 0 },
    },
    contact_account: null,
    rules: [],
  };
}

export function instanceV2(facts: InstanceFacts) {
  return {
    domain: host(facts.origin),
    title: facts.title,
    version: `${MASTODON_VERSION} (compatible; edge-feed ${facts.softwareVersion})`,
    source_url: 'https://github.com/edge-feed/edge-feed',
    description: 'A news-feed backend on Cloudflare Workers speaking a subset of the Mastodon client API.',
    usage: { users: { active_month: facts.userCount } },
    thumbnail: { url: '' },
    languages: ['en'],
    configuration: {
      urls: { streaming: streamingBase(facts.origin) },
      accounts: { max_featured_tags: 0 },
      statuses: statusConfiguration(),
      media_attachments: mediaConfiguration(),
      polls: { max_options: 0, max_characters_per_option: 0, min_expiration: 0, max_expiration: 0 },
      translation: { enabled: false },
    },
    registrations: { enabled: false, approval_required: false, message: null },
    contact: { email: '', account: null },
    rules: [],
  };
}

export const NODEINFO_VERSIONS = ['2.0', '2.1'] as const;

export function nodeinfoLinks(origin: string) {
  return {
    links: NODEINFO_VERSIONS.map((version) => ({
      rel: `http://nodeinfo.diaspora.software/ns/schema/${version}`,
      href: `${origin}/nodeinfo/${version}`,
    })),
  };
}

/**
 * `software.name` is "mastodon": megalodon and other libraries choose their Mastodon dialect from it. What this
 * really is stays visible in `metadata` (`nodeName`, `software`).
 */
export function nodeinfo(version: (typeof NODEINFO_VERSIONS)[number], facts: InstanceFacts) {
  return {
    version,
    software: {
      name: 'mastodon',
      version: MASTODON_VERSION,
      ...(version === '2.1' ? { repository: 'https://github.com/edge-feed/edge-feed' } : {}),
    },
    protocols: [],
    services: { inbound: [], outbound: [] },
    openRegistrations: false,
    usage: { users: { total: facts.userCount }, localPosts: facts.statusCount },
    metadata: {
      nodeName: facts.title,
      software: { name: 'edge-feed', version: facts.softwareVersion },
      upstream: { name: 'mastodon', version: MASTODON_VERSION },
    },
  };
}
