import { HASHTAG_PATTERN, MENTION_PATTERN, normalizeHandle } from './text.ts';

/** Text as HTML text: the five characters that could open markup or end an attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}]/gu;

interface Token {
  index: number;
  length: number;
  html: string;
}

export interface ContentLinks {
  /** The instance's origin, e.g. `https://feed.example`: tags and profiles link under it. */
  base: string;
  /** Handles (lower case) that name an account; other `@words` stay text, as Mastodon leaves unknown ones. */
  knownHandles: ReadonlySet<string>;
}

function tokens(text: string, links: ContentLinks): Token[] {
  const found: Token[] = [];
  for (const m of text.matchAll(URL_PATTERN)) {
    const url = escapeHtml(m[0]);
    found.push({
      index: m.index,
      length: m[0].length,
      html: `<a href="${url}" rel="nofollow noopener" target="_blank">${url}</a>`,
    });
  }
  for (const m of text.matchAll(new RegExp(HASHTAG_PATTERN.source, HASHTAG_PATTERN.flags))) {
    const tag = m[1]!;
    const href = `${links.base}/tags/${encodeURIComponent(tag.toLowerCase())}`;
    found.push({
      index: m.index,
      length: m[0].length,
      html: `<a href="${escapeHtml(href)}" class="mention hashtag" rel="tag">#<span>${escapeHtml(tag)}</span></a>`,
    });
  }
  for (const m of text.matchAll(new RegExp(MENTION_PATTERN.source, MENTION_PATTERN.flags))) {
    const handle = normalizeHandle(m[1]!);
    if (!links.knownHandles.has(handle)) continue;
    const href = `${links.base}/@${handle}`;
    found.push({
      index: m.index,
      length: m[0].length,
      html: `<span class="h-card"><a href="${escapeHtml(href)}" class="u-url mention">@<span>${escapeHtml(m[1]!)}</span></a></span>`,
    });
  }
  // First match wins where they overlap (a URL's fragment is no hashtag).
  found.sort((a, b) => a.index - b.index || b.length - a.length);
  const kept: Token[] = [];
  let end = 0;
  for (const t of found) {
    if (t.index < end) continue;
    kept.push(t);
    end = t.index + t.length;
  }
  return kept;
}

function inline(text: string, links: ContentLinks): string {
  let html = '';
  let at = 0;
  for (const t of tokens(text, links)) {
    html += escapeHtml(text.slice(at, t.index)) + t.html;
    at = t.index + t.length;
  }
  return (html + escapeHtml(text.slice(at))).replace(/\n/g, '<br />');
}

/**
 * A post's text as a Mastodon status `content`: every character escaped, paragraphs (blank lines) as `<p>`, line
 * breaks as `<br />`, and links for URLs, hashtags and mentions of known accounts in the markup Mastodon emits
 * (clients such as Elk and Phanpy rewrite `mention hashtag` and `u-url mention` links into their own routes).
 */
export function statusContent(text: string, links: ContentLinks): string {
  if (text === '') return '';
  return text
    .split(/\n{2,}/)
    .map((paragraph) => `<p>${inline(paragraph, links)}</p>`)
    .join('');
}
