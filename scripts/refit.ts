/**
 * `npm run refit [-- <shard.sqlite> ...]`: learns ranking weights and the learned model (src/learned-model.ts) from
 * the logged impressions and the interaction log (src/refit.ts) and prints them as RANKING_WEIGHTS and RANKING_MODEL
 * values, with how well the current weights, the new ones and the model order held-out impressions (AUC). By default it reads the local D1 shards of `npm run dev`; for production,
 * export each shard (`wrangler d1 export <db> --remote --output shard.sql`, then `sqlite3 shard.sqlite < shard.sql`)
 * and pass the files. Impressions are logged for a share of ranked pages (IMPRESSION_SAMPLE_RATE).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import type { LearnedModel } from '../src/learned-model.ts';
import { DEFAULT_WEIGHTS, type Signals } from '../src/ranking.ts';
import { FOLDS, LABEL_WINDOW_MS, armReport, refitSelected, type Example, type SelectedRefit } from '../src/refit.ts';
import { bucketOf } from '../src/sharding.ts';

const LOCAL_D1 = path.resolve(import.meta.dirname, '..', '.wrangler/state/v3/d1/miniflare-D1DatabaseObject');
/** Fewer of either class than this and the fit would be noise. */
const MIN_PER_CLASS = 20;

/**
 * The logged impressions that could still lead to a new engagement, labelled (bind the window as ?1):
 * - an impression of a post the reader had already liked, commented on or shared before it was served is left out:
 *   it can only be "ignored", and would teach the fit that engagement and affinity predict ignoring;
 * - the label is an engagement (like, comment, share, dwell) after the impression and before the earlier of the
 *   window's end and the next impression of the same post to the same reader, which gets its own label.
 * Exported with `toExample` so that a caller holding another SQLite handle (the bench's D1) reads the same rows.
 */
export const EXAMPLES_SQL = `SELECT i.user_id AS userId, i.post_id AS postId, i.signals AS signals, i.position AS position,
         i.arm AS arm,
         EXISTS (SELECT 1 FROM interactions x
                 WHERE x.user_id = i.user_id AND x.post_id = i.post_id
                   AND x.kind IN ('like', 'comment', 'share', 'dwell')
                   AND x.created_at >= i.served_at
                   AND x.created_at < coalesce(
                     (SELECT min(j.served_at) FROM impressions j
                      WHERE j.user_id = i.user_id AND j.post_id = i.post_id AND j.served_at > i.served_at
                        AND j.served_at < i.served_at + ?1),
                     i.served_at + ?1)) AS engaged
       FROM impressions i
       WHERE NOT EXISTS (SELECT 1 FROM interactions y
                         WHERE y.user_id = i.user_id AND y.post_id = i.post_id
                           AND y.kind IN ('like', 'comment', 'share') AND y.created_at < i.served_at)
       ORDER BY i.served_at, i.user_id, i.post_id`;

// A type literal, not an interface: node:sqlite's rows are records, which only a literal type converts from.
export type ExampleRow = {
  userId: string;
  postId: string;
  signals: string;
  position: number;
  arm: string;
  engaged: number;
};

export type LabelledExample = Example & { userId: string; postId: string; arm: string };

const NO_SIGNALS = Object.fromEntries(Object.keys(DEFAULT_WEIGHTS).map((k) => [k, 0])) as unknown as Signals;

/** Signals logged before a signal existed count it as 0. */
export function toExample(row: ExampleRow): LabelledExample {
  return {
    userId: row.userId,
    postId: row.postId,
    arm: row.arm,
    position: row.position,
    signals: { ...NO_SIGNALS, ...(JSON.parse(row.signals) as Partial<Signals>) },
    engaged: row.engaged === 1,
  };
}

/** Every logged impression of one shard, labelled by an engagement with the post within LABEL_WINDOW_MS. */
export function examplesFrom(db: DatabaseSync): LabelledExample[] {
  const rows = db.prepare(EXAMPLES_SQL).all(LABEL_WINDOW_MS) as ExampleRow[];
  return rows.map(toExample);
}

function hasImpressions(db: DatabaseSync): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'impressions'").get() !== undefined;
}

function main(): void {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { report: { type: 'boolean', default: false } },
  });
  const files =
    positionals.length > 0
      ? positionals
      : existsSync(LOCAL_D1)
        ? readdirSync(LOCAL_D1)
            .filter((f) => f.endsWith('.sqlite'))
            .map((f) => path.join(LOCAL_D1, f))
        : [];
  const examples = files.flatMap((file) => {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      return hasImpressions(db) ? examplesFrom(db) : [];
    } finally {
      db.close();
    }
  });
  if (values.report) {
    console.log(renderReport(examples));
    return;
  }
  const fit = refitExamples(examples);
  console.log(`refit: ${examples.length} impressions from ${files.length} databases, ${fit.engaged} engaged`);
  if (!fit.result) {
    console.error(
      `refit: need at least ${MIN_PER_CLASS} engaged and ${MIN_PER_CLASS} ignored impressions. Log more: run ` +
        '`npm run dev -- --var IMPRESSION_SAMPLE_RATE:1`, read ranked feeds, like and comment.',
    );
    process.exitCode = 1;
    return;
  }
  const { result, rounded } = fit;
  console.log(
    `refit: held-out AUC ${result.current.toFixed(3)} with the current weights, ${result.fitted.toFixed(3)} refitted, ` +
      `${result.modelAuc.toFixed(3)} with the learned model`,
  );
  console.log(`RANKING_WEIGHTS='${JSON.stringify(rounded)}'`);
  console.log(`RANKING_MODEL='${JSON.stringify(fit.model)}'`);
}

export interface RefitOutcome {
  engaged: number;
  /** Null when either class has fewer than MIN_PER_CLASS examples. */
  result: SelectedRefit | null;
  /** The weights rounded to three decimals, as printed for RANKING_WEIGHTS. */
  rounded: Record<string, number>;
  /** The learned model with its weights rounded to four decimals, as printed for RANKING_MODEL; null as result. */
  model: LearnedModel | null;
}

/** What `npm run refit` does with the examples it read, callable (the ranking bench refits this way). */
export function refitExamples(examples: readonly LabelledExample[]): RefitOutcome {
  const engaged = examples.filter((e) => e.engaged).length;
  if (engaged < MIN_PER_CLASS || examples.length - engaged < MIN_PER_CLASS)
    return { engaged, result: null, rounded: {}, model: null };
  // Folds by reader, so every figure is about readers the fit has not seen; fold 0 is the reported held-out third.
  const result = refitSelected(examples, (e) => bucketOf(e.userId) % FOLDS);
  const rounded = Object.fromEntries(Object.entries(result.weights).map(([k, w]) => [k, Math.round(w * 1000) / 1000]));
  const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
  const model: LearnedModel = {
    kind: 'logistic',
    bias: round4(result.model.bias),
    terms: result.model.terms.map((t) => ({ ...t, weight: round4(t.weight) })).filter((t) => t.weight !== 0),
  };
  return { engaged, result, rounded, model };
}

/**
 * `--report`: each experiment arm's engagement rate per eligible impression (the refit's labels), with its 95%
 * Wilson interval, and each arm's difference from the reference (`control`, else the first by name) with its own.
 */
export function renderReport(examples: readonly LabelledExample[]): string {
  const rows = armReport(examples);
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const lines = ['arm | impressions | engaged | rate | 95% interval | vs ' + (rows[0]?.arm ?? 'control')];
  for (const r of rows) {
    const vs = r.difference ? `${pct(r.difference.value)} [${pct(r.difference.low)}, ${pct(r.difference.high)}]` : '–';
    lines.push(`${r.arm} | ${r.impressions} | ${r.engaged} | ${pct(r.rate)} | [${pct(r.low)}, ${pct(r.high)}] | ${vs}`);
  }
  return lines.join('\n');
}

if (import.meta.main) main();
