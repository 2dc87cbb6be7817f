/**
 * Cuts items, in order, into runs of at most `count` items and about `maxBytes` (a run holds one item at least,
 * whatever its size): the shape of every write command and statement the applier sends.
 */
export function cut<T>(items: readonly T[], count: number, maxBytes: number, sizeOf: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length && (current.length >= count || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}
