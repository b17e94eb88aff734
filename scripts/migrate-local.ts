/**
 * Applies the D1 migrations of every shard to the local (Miniflare) state, one shard after another.
 * Usage: `npm run db:migrate [-- --persist-to <dir>]`; extra arguments go to every `wrangler d1 migrations apply`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..');
const WRANGLER_BIN = path.join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

export interface WranglerOptions {
  stdio?: StdioOptions;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts wrangler with the Node running this script rather than whatever `wrangler` is on PATH, so the
 * Node >= 22.12 chosen by scripts/with-node.sh is the one wrangler gets, and no shell sits in between
 * to swallow signals.
 */
export function spawnWrangler(args: readonly string[], options: WranglerOptions = {}): ChildProcess {
  return spawn(process.execPath, [WRANGLER_BIN, ...args], {
    cwd: ROOT,
    stdio: options.stdio ?? 'inherit',
    env: options.env ?? process.env,
  });
}

/** Resolves with the exit code; a child killed by a signal reports 128 + its number, as shells do. */
export function exitCodeOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

/**
 * The shard bindings, `DB_SHARD_0..SHARD_COUNT-1`. A TOML library would be a new dependency for two values,
 * so this reads just `[vars] SHARD_COUNT` and the `[[d1_databases]]` bindings, which is all it needs.
 */
export function shardBindings(wranglerToml: string): string[] {
  const declared = new Set<string>();
  let section = '';
  let shardCount: number | undefined;
  for (const raw of wranglerToml.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const header = /^\[\[?\s*([^\]]+?)\s*\]\]?$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const entry = /^([A-Za-z0-9_]+)\s*=\s*"?([^"]*)"?$/.exec(line);
    if (!entry) continue;
    const [, key, value] = entry;
    if (section === 'vars' && key === 'SHARD_COUNT') shardCount = Number(value);
    if (section === 'd1_databases' && key === 'binding' && /^DB_SHARD_\d+$/.test(value!)) declared.add(value!);
  }
  const count = shardCount ?? declared.size;
  if (!Number.isInteger(count) || count < 1) throw new Error(`wrangler.toml: SHARD_COUNT must be a positive integer`);
  const bindings = Array.from({ length: count }, (_, i) => `DB_SHARD_${i}`);
  const missing = bindings.filter((binding) => !declared.has(binding));
  if (missing.length > 0) {
    throw new Error(`wrangler.toml: SHARD_COUNT is ${count} but [[d1_databases]] lacks ${missing.join(', ')}`);
  }
  return bindings;
}

export interface MigrateOptions {
  /** Passed to every `wrangler d1 migrations apply`, e.g. `['--persist-to', '.state']`. */
  extraArgs?: readonly string[];
  /** Called with each running child, so a caller that handles signals can stop it. */
  onChild?: (child: ChildProcess | undefined) => void;
}

/** Migrates every shard in order; rejects on the first failure, naming the shard and the command. */
export async function migrateLocal(options: MigrateOptions = {}): Promise<void> {
  const bindings = shardBindings(readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'));
  for (const binding of bindings) {
    const args = ['d1', 'migrations', 'apply', binding, '--local', ...(options.extraArgs ?? [])];
    console.log(`[migrate] wrangler ${args.join(' ')}`);
    // wrangler asks "continue?" before applying when stdin and stdout are TTYs; it takes the default (yes)
    // when CI is set or stdin is not a TTY. Both, so neither a terminal nor a CI runner can leave it waiting.
    const child = spawnWrangler(args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CI: 'true' } });
    options.onChild?.(child);
    const code = await exitCodeOf(child).finally(() => options.onChild?.(undefined));
    if (code !== 0) throw new Error(`wrangler ${args.join(' ')} failed with exit code ${code}`);
  }
  console.log(`[migrate] ${bindings.length} shard(s) migrated: ${bindings.join(', ')}`);
}

if (import.meta.main) {
  try {
    await migrateLocal({ extraArgs: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--') });
  } catch (error) {
    console.error(`[migrate] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
