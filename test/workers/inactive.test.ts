import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../workers/api/app.ts';
import { depsFor } from '../../workers/composition.ts';
import { dropIdleTimelines } from '../../workers/cron.ts';
import { createPost, feed, follow, signup } from '../support/api.ts';

const DAY = 24 * 3600 * 1000;

/** The real app on a clock the test moves. Time is passed down to the Durable Objects by the app. */
function appAt(clock: { now: number }) {
  const app = createApp({ now: () => clock.now });
  return { fetch: (request: Request) => app.fetch(request, env, createExecutionContext()) };
}

describe('inactive users', () => {
  it('the cron drops timelines idle for 7 days; on return the feed regenerates, saying so meanwhile', async () => {
    const clock = { now: Date.now() };
    const app = appAt(clock);
    const [reader, author, fresh] = [await signup(), await signup(), await signup()];
    await follow(reader, author);
    const before = await createPost(author, 'before the absence');
    await vi.waitFor(async () => expect((await feed(reader, '', { app })).body.items).toHaveLength(1), {
      timeout: 8000,
    });

    // Six days later nothing is dropped; eight days later the reader's timeline is.
    clock.now += 6 * DAY;
    await feed(fresh, '', { app }); // an active user, whose timeline must survive
    await dropIdleTimelines(depsFor(env), clock.now);
    expect(await depsFor(env).objects.timeline(reader.id).state()).toBe('ready');
    clock.now += 2 * DAY;
    const dropped = await dropIdleTimelines(depsFor(env), clock.now);
    expect(dropped).toBeGreaterThanOrEqual(2); // reader and author (fresh was active 2 days ago)
    expect(await depsFor(env).objects.timeline(reader.id).state()).toBe('cold');
    expect(await depsFor(env).objects.timeline(reader.id).size()).toBe(0);
    expect(await depsFor(env).objects.timeline(fresh.id).state()).toBe('ready');

    // A post while the reader is away is not pushed into the dropped timeline...
    const during = await createPost(author, 'while you were away');
    // ...and when the reader returns, the response says the timeline is being rebuilt.
    const first = await feed(reader, '', { app });
    expect(first.status).toBe(206);
    expect(first.headers.get('Retry-After')).toBe('2');
    expect(first.body.timeline).toEqual({ state: 'regenerating' });
    await vi.waitFor(
      async () => {
        const res = await feed(reader, '', { app });
        expect(res.status).toBe(200);
        expect(res.body.items.map((i) => i.post.id)).toEqual([during.id, before.id]);
      },
      { timeout: 8000, interval: 100 },
    );
    // Returning cleared the dropped flag: the next cron run leaves the reader alone.
    await dropIdleTimelines(depsFor(env), clock.now + DAY);
    expect(await depsFor(env).objects.timeline(reader.id).state()).toBe('ready');
  });
});
