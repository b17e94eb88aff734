/**
 * Unmodified Mastodon client libraries (masto.js and megalodon, pinned in devDependencies) against the real
 * service: the production bundle in workerd (bench/harness.ts startService), listening on a free loopback port.
 * Each library registers an app, logs in through the HTML authorize form, exchanges the code (masto with PKCE)
 * and then drives statuses, replies, favourites, reblogs, relationships, blocks and mutes, notifications, markers,
 * filters, the home and tag timelines with their paginators, media uploads and the streaming API.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient, type mastodon } from 'masto';
import generator, { detector } from 'megalodon';
import { startService, type Service } from '../../bench/harness.ts';

let service: Service;
let origin: string;

beforeAll(async () => {
  service = await startService({ listen: true, vars: { OUTBOX_DRAIN_INTERVAL: 'off' } });
  origin = service.url!;
}, 240_000);

afterAll(async () => {
  await service?.dispose();
});

async function signupWithPassword(handle: string, password: string): Promise<{ id: string; token: string }> {
  const res = await service.api<{ user: { id: string }; token: string }>('POST', '/v1/users', {
    body: { handle, password },
  });
  expect(res.status).toBe(201);
  return { id: res.body.user.id, token: res.body.token };
}

/** The browser's part: GET the authorize page, submit the login form as it is, read the code off the redirect. */
async function authorizeInBrowser(authorizeUrl: string, handle: string, password: string): Promise<string> {
  const page = await fetch(authorizeUrl);
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('name="handle"');
  expect(html).toContain('name="password"');
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.set(
      m[1]!,
      m[2]!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))),
    );
  }
  form.set('handle', handle);
  form.set('password', password);
  const submitted = await fetch(`${origin}/oauth/authorize`, { method: 'POST', body: form, redirect: 'manual' });
  expect(submitted.status).toBe(302);
  const location = new URL(submitted.headers.get('Location')!);
  const code = location.searchParams.get('code');
  expect(code).toBeTruthy();
  return code!;
}

const REDIRECT = 'https://client.example/callback';

/** A PNG header (signature and IHDR) of the given size: what the upload sniffs. */
function png(width: number, height: number): Blob {
  const bytes = new Uint8Array(64);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(bytes.buffer).setUint32(16, width);
  new DataView(bytes.buffer).setUint32(20, height);
  return new Blob([bytes], { type: 'image/png' });
}

/** Polls until `read` gives a value `ok` accepts (fan-out and notifications are asynchronous). */
async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !ok(value); i++) {
    await new Promise((r) => setTimeout(r, 100));
    value = await read();
  }
  return value;
}

/**
 * The next item of a live stream that `match` accepts, acting (`act`) again until one comes: a subscription's
 * first message may still be on its way when the first act's event is pushed. Bounded; fails if none arrives.
 */
async function nextMatching<T>(
  events: AsyncIterator<T>,
  match: (event: T) => boolean,
  act: () => Promise<unknown>,
): Promise<T> {
  let pending = events.next();
  for (let attempt = 0; attempt < 10; attempt++) {
    await act();
    const deadline = new Promise<'wait'>((r) => setTimeout(() => r('wait'), 3000));
    for (;;) {
      const result = await Promise.race([pending, deadline]);
      if (result === 'wait') break;
      pending = events.next();
      if (result.done) throw new Error('the stream ended');
      if (match(result.value)) return result.value;
    }
  }
  throw new Error('no matching stream event arrived');
}

describe('masto.js', () => {
  let alice: mastodon.rest.Client;
  let aliceToken: string;
  let bob: { id: string; token: string };
  let bobClient: mastodon.rest.Client;
  let aliceId: string;

  it('registers an app, authorizes through the form with PKCE and gets a token', async () => {
    const me = await signupWithPassword('masto_alice', 'correct horse battery');
    aliceId = me.id;
    bob = await signupWithPassword('masto_bob', 'another long password');
    const anonymous = createRestAPIClient({ url: origin });
    const app = await anonymous.v1.apps.create({
      clientName: 'masto test',
      redirectUris: REDIRECT,
      scopes: 'read write follow',
    });
    expect(app.clientId).toBeTruthy();
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = new URL(`${origin}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: app.clientId!,
      redirect_uri: REDIRECT,
      scope: 'read write follow',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'xyz',
    }).toString();
    const code = await authorizeInBrowser(authorize.toString(), 'masto_alice', 'correct horse battery');
    const oauth = createOAuthAPIClient({ url: origin });
    // masto's types have no PKCE field, but it sends every parameter it is given (snake_cased).
    const params = {
      grantType: 'authorization_code' as const,
      clientId: app.clientId!,
      clientSecret: app.clientSecret!,
      redirectUri: REDIRECT,
      code,
      codeVerifier: verifier,
      scope: 'read write follow',
    };
    const token = await oauth.token.create(params);
    expect(token.accessToken).toBeTruthy();
    expect(token.scope).toBe('read write follow');
    // The code was single-use.
    await expect(oauth.token.create(params)).rejects.toThrow();
    aliceToken = token.accessToken;
    alice = createRestAPIClient({ url: origin, accessToken: token.accessToken });
    bobClient = createRestAPIClient({ url: origin, accessToken: bob.token });
    const account = await alice.v1.accounts.verifyCredentials();
    expect(account).toMatchObject({ id: aliceId, username: 'masto_alice', acct: 'masto_alice' });
  });

  it('reads the instance', async () => {
    const instance = await createRestAPIClient({ url: origin }).v2.instance.fetch();
    expect(instance.configuration.urls.streaming).toBe(origin.replace(/^http/, 'ws'));
  });

  it('follows, posts, replies, favourites, reblogs and pages the home timeline', async () => {
    const relationship = await alice.v1.accounts.$select(bob.id).follow();
    expect(relationship).toMatchObject({ id: bob.id, following: true, followedBy: false });
    const [rel] = await alice.v1.accounts.relationships.fetch({ id: [bob.id] });
    expect(rel).toMatchObject({ id: bob.id, following: true });

    const posted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const status = await bobClient.v1.statuses.create({ status: `post ${i} #edge <b>not bold</b> @masto_alice` });
      posted.push(status.id);
    }
    const first = await bobClient.v1.statuses.$select(posted[0]!).fetch();
    expect(first.content).toContain('&#60;b&#62;not bold&#60;/b&#62;');
    expect(first.content).toContain('class="mention hashtag"');
    expect(first.mentions).toEqual([expect.objectContaining({ id: aliceId, username: 'masto_alice' })]);
    expect(first.tags).toEqual([expect.objectContaining({ name: 'edge' })]);

    // The fan-out is asynchronous: wait for the newest post to reach the home timeline.
    let home: mastodon.v1.Status[] = [];
    for (let i = 0; i < 100 && !home.some((s) => s.id === posted[4]); i++) {
      home = await alice.v1.timelines.home.list({ limit: 40 });
      if (!home.some((s) => s.id === posted[4])) await new Promise((r) => setTimeout(r, 100));
    }
    expect(home.map((s) => s.id)).toEqual([...posted].reverse());

    // The paginator follows the Link headers: pages of two, newest first, none repeated.
    const seen: string[] = [];
    for await (const page of alice.v1.timelines.home.list({ limit: 2 })) {
      seen.push(...page.map((s) => s.id));
      if (seen.length > 10) break;
    }
    expect(seen).toEqual([...posted].reverse());

    const liked = await alice.v1.statuses.$select(posted[1]!).favourite();
    expect(liked).toMatchObject({ id: posted[1], favourited: true, favouritesCount: 1 });
    const likers = await alice.v1.statuses.$select(posted[1]!).favouritedBy.list();
    expect(likers.map((a) => a.id)).toEqual([aliceId]);
    const unliked = await alice.v1.statuses.$select(posted[1]!).unfavourite();
    expect(unliked).toMatchObject({ favourited: false, favouritesCount: 0 });

    const reblog = await alice.v1.statuses.$select(posted[2]!).reblog();
    expect(reblog.id).not.toBe(posted[2]);
    expect(reblog.reblog).toMatchObject({ id: posted[2], reblogged: true, reblogsCount: 1 });
    expect(reblog.account.id).toBe(aliceId);

    const reply = await alice.v1.statuses.create({ status: 'a reply', inReplyToId: posted[3] });
    expect(reply.inReplyToId).toBe(posted[3]);
    const context = await alice.v1.statuses.$select(posted[3]!).context.fetch();
    expect(context.descendants.map((s) => s.id)).toEqual([reply.id]);
    const parent = await alice.v1.statuses.$select(posted[3]!).fetch();
    expect(parent.repliesCount).toBe(1);

    const edited = await bobClient.v1.statuses.$select(posted[0]!).update({ status: 'edited text' });
    expect(edited.content).toBe('<p>edited text</p>');
    expect(edited.editedAt).toBeTruthy();
    const deleted = await bobClient.v1.statuses.$select(posted[0]!).remove();
    expect(deleted.id).toBe(posted[0]);
    await expect(alice.v1.statuses.$select(posted[0]!).fetch()).rejects.toThrow();

    const unfollowed = await alice.v1.accounts.$select(bob.id).unfollow();
    expect(unfollowed.following).toBe(false);
  });

  it('lists, fetches, dismisses and clears notifications, and keeps markers', async () => {
    const mine = await alice.v1.statuses.create({ status: 'notify me, masto' });
    await bobClient.v1.statuses.$select(mine.id).favourite();
    await bobClient.v1.accounts.$select(aliceId).follow();
    const notifications = await until<mastodon.v1.Notification[]>(
      async () => await alice.v1.notifications.list({ types: ['favourite', 'follow'] }),
      (list) => list.length >= 2,
    );
    expect(notifications.map((n) => n.type).sort()).toEqual(['favourite', 'follow']);
    const favourite = notifications.find((n) => n.type === 'favourite')!;
    expect(favourite.status?.id).toBe(mine.id);
    expect(favourite.account.id).toBe(bob.id);
    const excluded = await alice.v1.notifications.list({ excludeTypes: ['favourite'] });
    expect(excluded.map((n) => n.type)).not.toContain('favourite');
    expect(await alice.v1.notifications.$select(favourite.id).fetch()).toMatchObject({ id: favourite.id });
    await alice.v1.notifications.$select(favourite.id).dismiss();
    expect((await alice.v1.notifications.list()).map((n) => n.id)).not.toContain(favourite.id);

    const marker = await alice.v1.markers.create({ notifications: { lastReadId: favourite.id } });
    expect(marker.notifications?.lastReadId).toBe(favourite.id);
    const read = await alice.v1.markers.fetch({ timeline: ['notifications'] });
    expect(read.notifications?.lastReadId).toBe(favourite.id);

    await alice.v1.notifications.clear();
    expect(await alice.v1.notifications.list()).toEqual([]);
    await bobClient.v1.accounts.$select(aliceId).unfollow();
  });

  it('blocks, mutes, and reads relationships with them', async () => {
    const blocked = await alice.v1.accounts.$select(bob.id).block();
    expect(blocked).toMatchObject({ id: bob.id, blocking: true, following: false });
    expect((await alice.v1.blocks.list()).map((a) => a.id)).toEqual([bob.id]);
    const [theirs] = await bobClient.v1.accounts.relationships.fetch({ id: [aliceId] });
    expect(theirs).toMatchObject({ blockedBy: true });
    expect((await alice.v1.accounts.$select(bob.id).unblock()).blocking).toBe(false);
    const muted = await alice.v1.accounts.$select(bob.id).mute({ duration: 3600 });
    expect(muted).toMatchObject({ muting: true, mutingNotifications: true });
    expect((await alice.v1.mutes.list()).map((a) => a.id)).toEqual([bob.id]);
    const [rel] = await alice.v1.accounts.relationships.fetch({ id: [bob.id] });
    expect(rel).toMatchObject({ muting: true, blocking: false });
    expect((await alice.v1.accounts.$select(bob.id).unmute()).muting).toBe(false);
  });

  it('creates, updates and deletes filters v2 with keywords; a warn filter marks statuses', async () => {
    const filter = await alice.v2.filters.create({
      title: 'Cats',
      context: ['home', 'public'],
      filterAction: 'warn',
      keywordsAttributes: [{ keyword: 'meow', wholeWord: true }],
    });
    expect(filter).toMatchObject({ title: 'Cats', context: ['home', 'public'], filterAction: 'warn' });
    expect(filter.keywords?.map((k) => k.keyword)).toEqual(['meow']);
    const keyword = await alice.v2.filters.$select(filter.id).keywords.create({ keyword: 'purr' });
    expect(keyword.keyword).toBe('purr');
    const updated = await alice.v2.filters.$select(filter.id).update({
      title: 'Felines',
      keywordsAttributes: [{ id: keyword.id, _destroy: true }],
    });
    expect(updated.title).toBe('Felines');
    expect(updated.keywords?.map((k) => k.keyword)).toEqual(['meow']);
    expect((await alice.v2.filters.list()).map((f) => f.id)).toEqual([filter.id]);
    const marked = await alice.v1.statuses.create({ status: 'meow said the cat' });
    const fetched = await alice.v1.statuses.$select(marked.id).fetch();
    expect(fetched.filtered?.map((r) => [r.filter.id, r.keywordMatches])).toEqual([[filter.id, ['meow']]]);
    await alice.v2.filters.$select(filter.id).remove();
    expect(await alice.v2.filters.list()).toEqual([]);
  });

  it('pages a tag timeline with its paginator', async () => {
    const tag = `mastotag${Date.now().toString(36)}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await bobClient.v1.statuses.create({ status: `tagged ${i} #${tag}` })).id);
    const seen: string[] = [];
    for await (const page of alice.v1.timelines.tag.$select(tag).list({ limit: 2 })) {
      seen.push(...page.map((s) => s.id));
      if (seen.length > 10) break;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it('uploads media and posts a status with it', async () => {
    const media = await alice.v2.media.create({ file: png(320, 240), description: 'a test card' });
    expect(media).toMatchObject({ type: 'image', description: 'a test card' });
    expect(media.url).toBe(`${origin}/v1/media/${media.id}`);
    expect(media.meta?.original).toMatchObject({ width: 320, height: 240 });
    const fetched = await fetch(media.url!);
    expect(fetched.headers.get('Content-Type')).toBe('image/png');
    await fetched.arrayBuffer();
    const status = await alice.v1.statuses.create({ status: 'with a picture', mediaIds: [media.id] });
    expect(status.mediaAttachments.map((m) => [m.id, m.description])).toEqual([[media.id, 'a test card']]);
  });

  it('streams an update and a notification to the streaming client', async () => {
    await alice.v1.accounts.$select(bob.id).follow();
    const instance = await alice.v2.instance.fetch();
    const streaming = createStreamingAPIClient({
      streamingApiUrl: instance.configuration.urls.streaming,
      accessToken: aliceToken,
      retry: false,
    });
    try {
      const events = streaming.user.subscribe()[Symbol.asyncIterator]();
      const posted: string[] = [];
      const update = await nextMatching(
        events,
        (e) => e.event === 'update' && posted.includes(e.payload.id),
        async () => posted.push((await bobClient.v1.statuses.create({ status: 'live to alice' })).id),
      );
      expect(update.event === 'update' && update.payload.account.id).toBe(bob.id);
      const mine = await alice.v1.statuses.create({ status: 'favourite me live' });
      // Each try takes the favourite back first: a repeated favourite is idempotent and notifies nothing new.
      const notification = await nextMatching(
        events,
        (e) => e.event === 'notification' && e.payload.type === 'favourite' && e.payload.status?.id === mine.id,
        async () => {
          await bobClient.v1.statuses.$select(mine.id).unfavourite();
          await bobClient.v1.statuses.$select(mine.id).favourite();
        },
      );
      expect(notification.event === 'notification' && notification.payload.account.id).toBe(bob.id);
    } finally {
      streaming.close();
    }
  });
});

describe('megalodon', () => {
  let client: ReturnType<typeof generator>;
  let daveClient: ReturnType<typeof generator>;
  let carol: { id: string; token: string };
  let dave: { id: string; token: string };
  let app: { client_id: string; client_secret: string };
  let accessToken: string;

  it('detects the server as Mastodon, authorizes, and drives statuses and relationships', async () => {
    expect(await detector(origin)).toBe('mastodon');
    carol = await signupWithPassword('mega_carol', 'megalodon password');
    dave = await signupWithPassword('mega_dave', 'megalodon password 2');
    const anonymous = generator('mastodon', origin);
    const registered = await anonymous.registerApp('megalodon test', {
      scopes: ['read', 'write', 'follow'],
      redirect_uris: REDIRECT,
    });
    expect(registered.url).toContain('/oauth/authorize');
    app = registered;
    const code = await authorizeInBrowser(registered.url!, 'mega_carol', 'megalodon password');
    const token = await anonymous.fetchAccessToken(registered.client_id, registered.client_secret, code, REDIRECT);
    accessToken = token.access_token;
    client = generator('mastodon', origin, token.access_token);

    const me = await client.verifyAccountCredentials();
    expect(me.data.id).toBe(carol.id);
    await client.followAccount(dave.id);
    const rels = await client.getRelationships([dave.id]);
    expect(rels.data[0]).toMatchObject({ id: dave.id, following: true });

    daveClient = generator('mastodon', origin, dave.token);
    const posted = await daveClient.postStatus('hello from megalodon');
    const statusId = 'id' in posted.data ? posted.data.id : '';
    expect(statusId).toMatch(/^\d+$/);
    const fav = await client.favouriteStatus(statusId);
    expect(fav.data).toMatchObject({ favourited: true, favourites_count: 1 });
    const reblog = await client.reblogStatus(statusId);
    expect(reblog.data.reblog?.id).toBe(statusId);
    const reply = await client.postStatus('megalodon reply', { in_reply_to_id: statusId });
    expect('in_reply_to_id' in reply.data && reply.data.in_reply_to_id).toBe(statusId);
    const context = await client.getStatusContext(statusId);
    expect(context.data.descendants).toHaveLength(1);

    const home = await until(
      async () => (await client.getHomeTimeline({ limit: 20 })).data.map((s) => s.id),
      (ids) => ids.includes(statusId),
    );
    expect(home).toContain(statusId);

    const statuses = await client.getAccountStatuses(dave.id);
    expect(statuses.data.map((s) => s.id)).toEqual([statusId]);
  });

  it('lists, fetches, dismisses and clears notifications, and keeps markers', async () => {
    const posted = await client.postStatus('notify carol');
    const mine = 'id' in posted.data ? posted.data.id : '';
    await daveClient.favouriteStatus(mine);
    await daveClient.followAccount(carol.id);
    const listed = await until(
      async () => (await client.getNotifications()).data,
      (list) => list.length >= 2,
    );
    expect(listed.map((n) => n.type).sort()).toEqual(['favourite', 'follow']);
    const favourite = listed.find((n) => n.type === 'favourite')!;
    expect(favourite.status?.id).toBe(mine);
    const excluded = await client.getNotifications({ exclude_types: ['follow'] });
    expect(excluded.data.map((n) => n.id)).toEqual([favourite.id]);
    expect((await client.getNotification(favourite.id)).data.account?.id).toBe(dave.id);
    await client.saveMarkers({ notifications: { last_read_id: favourite.id } });
    const markers = await client.getMarkers(['notifications']);
    expect(markers.data).toMatchObject({ notifications: { last_read_id: favourite.id } });
    await client.dismissNotification(favourite.id);
    expect((await client.getNotifications()).data.map((n) => n.type)).toEqual(['follow']);
    await client.dismissNotifications();
    expect((await client.getNotifications()).data).toEqual([]);
    await daveClient.unfollowAccount(carol.id);
  });

  it('blocks and mutes, and lists both', async () => {
    expect((await client.blockAccount(dave.id)).data).toMatchObject({ blocking: true, following: false });
    expect((await client.getBlocks()).data.map((a) => a.id)).toEqual([dave.id]);
    expect((await client.unblockAccount(dave.id)).data.blocking).toBe(false);
    expect((await client.muteAccount(dave.id, true)).data).toMatchObject({ muting: true });
    expect((await client.getMutes()).data.map((a) => a.id)).toEqual([dave.id]);
    expect((await client.getRelationships([dave.id])).data[0]).toMatchObject({ muting: true });
    expect((await client.unmuteAccount(dave.id)).data.muting).toBe(false);
    await client.followAccount(dave.id);
  });

  it('creates, updates and deletes filters (megalodon speaks the v1 filters API, served over v2 filters)', async () => {
    const created = await client.createFilter('spoiler', ['home'], { irreversible: true, whole_word: true });
    expect(created.data).toMatchObject({ phrase: 'spoiler', context: ['home'], irreversible: true });
    const updated = await client.updateFilter(created.data.id, 'spoilers', ['home', 'public']);
    expect(updated.data).toMatchObject({ phrase: 'spoilers', context: ['home', 'public'] });
    expect((await client.getFilters()).data.map((f) => f.phrase)).toEqual(['spoilers']);
    const hidden = await daveClient.postStatus('big spoilers ahead');
    const plain = await daveClient.postStatus('nothing hidden');
    const plainId = 'id' in plain.data ? plain.data.id : '';
    const home = await until(
      async () => (await client.getHomeTimeline({ limit: 40 })).data.map((s) => s.id),
      (ids) => ids.includes(plainId),
    );
    expect(home).not.toContain('id' in hidden.data ? hidden.data.id : '');
    await client.deleteFilter(created.data.id);
    expect((await client.getFilters()).data).toEqual([]);
  });

  it('reads a tag timeline page by page, uploads media and posts with it', async () => {
    const tag = `megatag${Date.now().toString(36)}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const posted = await daveClient.postStatus(`tagged ${i} #${tag}`);
      ids.push('id' in posted.data ? posted.data.id : '');
    }
    const first = await client.getTagTimeline(tag, { limit: 2 });
    const second = await client.getTagTimeline(tag, { limit: 2, max_id: first.data[1]!.id });
    expect([...first.data, ...second.data].map((s) => s.id)).toEqual([...ids].reverse());
    expect(String((first.headers as Record<string, unknown>).link)).toContain(`max_id=${first.data[1]!.id}`);

    // In Node, megalodon uploads a file stream (its form-data package reads streams, not Blobs).
    const path = join(mkdtempSync(join(tmpdir(), 'megalodon-')), 'picture.png');
    writeFileSync(path, Buffer.from(await png(64, 48).arrayBuffer()));
    const media = await client.uploadMedia(createReadStream(path), { description: 'megalodon picture' });
    expect(media.data).toMatchObject({ type: 'image', description: 'megalodon picture' });
    const posted = await client.postStatus('with media', { media_ids: [media.data.id] });
    expect('media_attachments' in posted.data && posted.data.media_attachments?.map((m) => m.id)).toEqual([
      media.data.id,
    ]);
  });

  it('streams an update and a notification over its WebSocket', async () => {
    const stream = await client.userStreaming();
    const events: Array<{ kind: string; id: string; type?: string }> = [];
    let wake: (() => void) | undefined;
    stream.on('update', (status: { id: string }) => {
      events.push({ kind: 'update', id: status.id });
      wake?.();
    });
    stream.on('notification', (n: { id: string; type: string }) => {
      events.push({ kind: 'notification', id: n.id, type: n.type });
      wake?.();
    });
    const inbox: AsyncIterator<{ kind: string; id: string; type?: string }> = {
      async next() {
        while (events.length === 0) await new Promise<void>((r) => (wake = r));
        return { done: false, value: events.shift()! };
      },
    };
    try {
      const posted: string[] = [];
      const update = await nextMatching(
        inbox,
        (e) => e.kind === 'update' && posted.includes(e.id),
        async () => {
          const status = await daveClient.postStatus('live to carol');
          posted.push('id' in status.data ? status.data.id : '');
        },
      );
      expect(update.kind).toBe('update');
      const mine = await client.postStatus('favourite me, dave');
      const mineId = 'id' in mine.data ? mine.data.id : '';
      const notification = await nextMatching(
        inbox,
        (e) => e.kind === 'notification' && e.type === 'favourite',
        async () => {
          await daveClient.unfavouriteStatus(mineId);
          await daveClient.favouriteStatus(mineId);
        },
      );
      expect(notification.type).toBe('favourite');
    } finally {
      stream.stop();
    }
  });

  it('revokes its token', async () => {
    await client.revokeToken(app.client_id, app.client_secret, accessToken);
    await expect(client.verifyAccountCredentials()).rejects.toThrow();
  });
});
