/**
 * Like Promise.all, but rejects only once every task has settled: no task that shares a connection
 * or writes the same rows is still running when the caller learns of the failure (and retries).
 */
export async function allSettledOrThrow<T extends unknown[]>(
  tasks: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
}
