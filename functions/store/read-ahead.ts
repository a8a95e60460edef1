// Fetched ahead of the one being used: thousands of small objects, a few sockets.
const AHEAD = 16;

/**
 * `fetch` of each item, yielded in the items' order, with a few fetches in flight ahead of the one
 * being consumed: memory stays at a few results however many items there are.
 */
export async function* fetchInOrder<I, T>(
  items: readonly I[],
  fetch: (item: I) => Promise<T>,
): AsyncGenerator<T> {
  const ahead: Promise<T>[] = [];
  let next = 0;
  const fetchNext = () => {
    const result = fetch(items[next++] as I);
    // Awaited in turn below; one that fails meanwhile must not count as unhandled.
    result.catch(() => undefined);
    ahead.push(result);
  };
  while (next < items.length && ahead.length < AHEAD) fetchNext();
  while (ahead.length > 0) {
    const result = await (ahead.shift() as Promise<T>);
    if (next < items.length) fetchNext();
    yield result;
  }
}
