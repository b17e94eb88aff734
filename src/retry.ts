/** Retries an idempotent operation on transient platform errors, with capped exponential backoff and jitter. */
export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  isRetryable?: (error: unknown) => boolean;
  sleep?: (ms: number) => Promise<void>;
}

// Messages D1 and Durable Objects use for failures that a retry can cure (documented by Cloudflare as
// retryable: resets, overload, lost connections, busy storage).
const TRANSIENT =
  /reset because its code was updated|storage caused object to be reset|Network connection lost|internal error|overloaded|D1_ERROR: .*(busy|timeout|timed out)|SQLITE_BUSY|Cannot resolve D1 DB due to transient issue/i;

const MAX_DELAY_MS = 2000;

export function isTransientError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // Cloudflare: an error with `.overloaded` set must not be retried, whatever else it says.
  if ((error as Error & { overloaded?: unknown }).overloaded === true) return false;
  if ((error as Error & { retryable?: unknown }).retryable === true) return true;
  return TRANSIENT.test(error.message) || (error.cause instanceof Error && TRANSIENT.test(error.cause.message));
}

export async function retry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  const base = options.baseDelayMs ?? 20;
  const isRetryable = options.isRetryable ?? isTransientError;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await sleep(Math.random() * Math.min(base * 2 ** (attempt - 1), MAX_DELAY_MS));
    }
  }
}
