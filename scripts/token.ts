/**
 * `npm run -s token -- <handle>` prints a demo user's bearer token (and nothing else, so `$(...)` can use it);
 * `-- --id <handle>` prints the user's id instead; without a handle it lists the demo users. `-s` keeps npm's own header lines out of stdout.
 */
import path from 'node:path';
import { SEED_MARKER_PATH, readSeedMarker } from './demo-data.ts';
import type { SeedMarker } from './demo-data.ts';

/** Seconds since the epoch at which a JWT expires, or undefined when it says nothing readable. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && 'exp' in claims && typeof claims.exp === 'number'
      ? claims.exp
      : undefined;
  } catch {
    return undefined;
  }
}

/** What to print for `argv`: stdout for the token or listing, or an error for stderr. */
export function tokenCommand(marker: SeedMarker | null, argv: readonly string[]): { out?: string; error?: string } {
  const where = path.relative(process.cwd(), SEED_MARKER_PATH) || SEED_MARKER_PATH;
  if (!marker) return { error: `no demo seed at ${where}: run npm run dev first` };
  const wantId = argv.includes('--id');
  const handle = argv.find((arg) => arg !== '--' && arg !== '--id');
  const listing = marker.users.map((user) => `${user.handle}\t${user.id}`).join('\n');
  if (handle === undefined)
    return { out: `demo users (handle, id); npm run -s token -- <handle> prints a token\n${listing}` };
  // Handles are unique case-insensitively and stored lower case.
  const user = marker.users.find((u) => u.handle === handle.replace(/^@/, '').toLowerCase());
  if (!user) return { error: `no demo user "${handle}" in ${where}; demo users:\n${listing}` };
  return { out: wantId ? user.id : user.token };
}

if (import.meta.main) {
  try {
    const result = tokenCommand(readSeedMarker(), process.argv.slice(2));
    if (result.error !== undefined) {
      console.error(result.error);
      process.exitCode = 1;
    } else {
      console.log(result.out);
      const exp = result.out && !process.argv.includes('--id') && tokenExpiry(result.out);
      // A stale token only fails later with a 401; say why now.
      if (exp && exp * 1000 < Date.now()) {
        console.error(
          `warning: this token expired on ${new Date(exp * 1000).toISOString()}; rm -rf .wrangler and run npm run dev to seed again`,
        );
      }
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
