/** Runs `task` over `items` with at most `limit` in flight; rejects with the first failure after all settle. */
export async function forEachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>) {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

/** `task(0..count-1)` with at most `limit` in flight, the results in index order; rejects as forEachLimit does. */
export async function mapLimit<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  await forEachLimit(
    Array.from({ length: count }, (_, i) => i),
    limit,
    async (i) => {
      out[i] = await task(i);
    },
  );
  return out;
}
