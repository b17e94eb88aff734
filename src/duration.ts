/** Durations in configuration: `<n><s|m|h|d>`, e.g. `90s`, `3h`, `30d`. */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export class DurationError extends Error {
  override name = 'DurationError';
}

/** The duration in milliseconds; `name` is the setting, for the error message. */
export function parseDuration(text: string, name: string): number {
  const match = /^\s*(\d{1,6})\s*([smhd])\s*$/.exec(text);
  if (!match) throw new DurationError(`${name} "${text}" is not <n><s|m|h|d>, e.g. 30d`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (ms < 1000) throw new DurationError(`${name} must be at least 1s`);
  return ms;
}
