/**
 * `npm run dlq -- list [--all]` lists the dead letters (messages that ran out of retries) of a running service;
 * `npm run dlq -- replay [<id>...]` re-queues the given ones, or every pending one. It calls the admin endpoints
 * (/v1/admin/dead-letters) at EDGE_FEED_URL (default http://127.0.0.1:8787, `npm run dev`) with ADMIN_TOKEN, read
 * from the environment or from .dev.vars.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');

export interface DlqCommand {
  action: 'list' | 'replay';
  all: boolean;
  ids: string[];
}

export class DlqUsageError extends Error {
  override name = 'DlqUsageError';
}

export function parseDlqArgs(argv: readonly string[]): DlqCommand {
  const args = argv.filter((a) => a !== '--');
  const [action, ...rest] = args;
  if (action !== 'list' && action !== 'replay') {
    throw new DlqUsageError('usage: npm run dlq -- list [--all] | replay [<id>...]');
  }
  const ids = rest.filter((a) => !a.startsWith('--'));
  for (const id of ids) if (!/^[0-9a-f]{32}$/.test(id)) throw new DlqUsageError(`"${id}" is not a dead letter id`);
  return { action, all: rest.includes('--all'), ids };
}

/** ADMIN_TOKEN from the environment, else from .dev.vars (what `npm run dev` runs with). */
function adminToken(): string {
  const fromEnv = process.env.ADMIN_TOKEN;
  if (fromEnv) return fromEnv;
  const file = path.join(ROOT, '.dev.vars');
  const match = existsSync(file) ? /^ADMIN_TOKEN\s*=\s*"?([^"\n]*)"?/m.exec(readFileSync(file, 'utf8')) : null;
  if (!match?.[1]) throw new DlqUsageError('ADMIN_TOKEN is not set and .dev.vars has none');
  return match[1];
}

async function call(method: string, route: string, body?: unknown): Promise<unknown> {
  const base = process.env.EDGE_FEED_URL ?? 'http://127.0.0.1:8787';
  const res = await fetch(new URL(route, base), {
    method,
    headers: {
      Authorization: `Bearer ${adminToken()}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

export async function runDlq(command: DlqCommand): Promise<unknown> {
  if (command.action === 'list') return call('GET', `/v1/admin/dead-letters?limit=500&all=${command.all}`);
  return call('POST', '/v1/admin/dead-letters/replay', command.ids.length > 0 ? { ids: command.ids } : {});
}

if (import.meta.main) {
  try {
    console.log(JSON.stringify(await runDlq(parseDlqArgs(process.argv.slice(2))), null, 2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
