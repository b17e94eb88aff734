/**
 * `node scripts/complete-lock.ts`: adds workerd's macOS and Windows packages to package-lock.json.
 * The registry mirror our machines and CI reach serves workerd's Linux packages only, so a lock written here
 * omits the others, and `npm ci` then refuses the lock as out of sync with workerd's optionalDependencies.
 * The entries are optional and os/cpu-gated (Linux never fetches them); they carry no integrity hash because
 * it cannot be read here, so npm verifies those two packages on a Mac or Windows only by the registry's TLS.
 * Run it after any `npm install` that rewrites the lock.
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  integrity?: string;
  cpu?: string[];
  os?: string[];
  [key: string]: unknown;
}

const PLATFORMS = [
  { name: 'darwin-64', os: 'darwin', cpu: 'x64' },
  { name: 'darwin-arm64', os: 'darwin', cpu: 'arm64' },
  { name: 'windows-64', os: 'win32', cpu: 'x64' },
];

export function completeLock(lock: { packages: Record<string, LockEntry> }): number {
  const linux = lock.packages['node_modules/@cloudflare/workerd-linux-64'];
  if (!linux) throw new Error('package-lock.json has no @cloudflare/workerd-linux-64 entry to copy from');
  let added = 0;
  for (const platform of PLATFORMS) {
    const key = `node_modules/@cloudflare/workerd-${platform.name}`;
    if (lock.packages[key]) continue;
    const { integrity: _integrity, ...rest } = linux;
    lock.packages[key] = { ...rest, cpu: [platform.cpu], os: [platform.os] };
    added++;
  }
  lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return added;
}

if (import.meta.main) {
  const path = new URL('../package-lock.json', import.meta.url);
  const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, LockEntry> };
  const added = completeLock(lock);
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`complete-lock: added ${added} workerd platform entries`);
}
