import { describe, expect, it } from 'vitest';
import { numberedPlaceholders, postgresText, tsQuery } from '../../db/dialect.ts';
import { fullTextQuery } from '../../src/tags.ts';

describe('the Postgres dialect', () => {
  it('numbers ? placeholders, leaving quoted strings and identifiers alone', () => {
    expect(numberedPlaceholders(`select "a?" from t where b = ? and c = 'it''s ?' and d in (?, ?)`)).toBe(
      `select "a?" from t where b = $1 and c = 'it''s ?' and d in ($2, $3)`,
    );
  });

  it('unqualifies conflict targets, which Postgres refuses with a table name', () => {
    expect(
      postgresText(`insert into "t" ("a", "b") values (?, ?) on conflict ("t"."a", "t"."b") do update set "b" = ?`),
    ).toBe(`insert into "t" ("a", "b") values ($1, $2) on conflict ("a", "b") do update set "b" = $3`);
  });

  it('turns an FTS5 query of quoted words, the last a prefix, into a tsquery of all of them', () => {
    expect(tsQuery(fullTextQuery('Edge feeds ranking')!)).toBe(`'Edge' & 'feeds' & 'ranking':*`);
    expect(tsQuery(fullTextQuery("l'été")!)).toBe(`'l' & 'été':*`);
  });
});
