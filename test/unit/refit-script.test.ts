import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { examplesFrom } from '../../scripts/refit.ts';
import { LABEL_WINDOW_MS } from '../../src/refit.ts';

/** A shard as the migrations make it, in memory (D1 is SQLite). */
function shard(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  const dir = path.resolve(import.meta.dirname, '../../db/migrations');
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    db.exec(readFileSync(path.join(dir, file), 'utf8').replaceAll('--> statement-breakpoint', ''));
  }
  return db;
}

const signals = { recency: 1, engagement: 0, affinity: 0, content: 0.5, context: 0.5, similarity: 0 };

describe('refit: impressions labelled from the interaction log', () => {
  it('an engagement within the window after the impression makes it positive; others do not', () => {
    const db = shard();
    const T = 1_800_000_000_000;
    const impression = db.prepare(
      'INSERT INTO impressions (user_id, post_id, served_at, position, signals) VALUES (?, ?, ?, ?, ?)',
    );
    const interaction = db.prepare(
      'INSERT INTO interactions (user_id, kind, ref_id, post_id, author_id, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const json = JSON.stringify(signals);
    impression.run('u1', 'liked', T, 0, json);
    impression.run('u1', 'ignored', T, 1, json);
    impression.run('u1', 'viewed', T, 2, json);
    impression.run('u1', 'late', T, 3, json);
    impression.run('u1', 'before', T, 4, json);
    impression.run('u2', 'liked', T, 0, json); // someone else's like is not u2's engagement
    interaction.run('u1', 'like', 'liked', 'liked', 'a', T + 60_000);
    interaction.run('u1', 'view', 'e1', 'viewed', 'a', T + 1);
    interaction.run('u1', 'comment', 'c1', 'late', 'a', T + LABEL_WINDOW_MS + 1);
    interaction.run('u1', 'share', 'before', 'before', 'a', T - 1);
    const examples = examplesFrom(db);
    expect(Object.fromEntries(examples.map((e) => [`${e.userId}/${e.postId}`, e.engaged]))).toEqual({
      'u1/liked': true,
      'u1/ignored': false,
      'u1/viewed': false, // a view is not an engagement
      'u1/late': false, // after the window
      // 'u1/before' is not an example at all: shared before it was served, it could not lead to a new engagement
      'u2/liked': false,
    });
    // Signals that did not exist when an impression was logged count as 0; the arm defaults to "default".
    expect(examples[0]?.signals).toMatchObject({ ...signals, category: 0, clickThrough: 0 });
    expect(examples[0]?.arm).toBe('default');
  });

  it('excludes posts engaged with before serving, and ends the window at the next impression of the post', () => {
    const db = shard();
    const T = 1_800_000_000_000;
    const impression = db.prepare(
      'INSERT INTO impressions (user_id, post_id, served_at, position, signals, arm) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const interaction = db.prepare(
      'INSERT INTO interactions (user_id, kind, ref_id, post_id, author_id, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const json = JSON.stringify(signals);
    // p1 served three times; liked after the second serving: only the second is positive, the third is left out.
    impression.run('u1', 'p1', T, 0, json, 'control');
    impression.run('u1', 'p1', T + 1_000, 3, json, 'control');
    impression.run('u1', 'p1', T + 2_000, 5, json, 'control');
    interaction.run('u1', 'like', 'p1', 'p1', 'a', T + 1_500);
    const examples = examplesFrom(db);
    expect(examples.map((e) => [e.position, e.engaged])).toEqual([
      [0, false],
      [3, true],
    ]);
    expect(examples.map((e) => e.arm)).toEqual(['control', 'control']);
  });
});
