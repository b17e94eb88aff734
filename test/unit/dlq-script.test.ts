import { describe, expect, it } from 'vitest';
import { DlqUsageError, parseDlqArgs } from '../../scripts/dlq.ts';

describe('npm run dlq arguments', () => {
  it('parses list and replay, with or without ids', () => {
    expect(parseDlqArgs(['list'])).toEqual({ action: 'list', all: false, ids: [] });
    expect(parseDlqArgs(['--', 'list', '--all'])).toEqual({ action: 'list', all: true, ids: [] });
    const id = 'a'.repeat(32);
    expect(parseDlqArgs(['replay', id])).toEqual({ action: 'replay', all: false, ids: [id] });
  });

  it('refuses unknown actions and ids that are not dead letter ids', () => {
    expect(() => parseDlqArgs([])).toThrow(DlqUsageError);
    expect(() => parseDlqArgs(['purge'])).toThrow(/usage/);
    expect(() => parseDlqArgs(['replay', 'nope'])).toThrow(/not a dead letter id/);
  });
});
