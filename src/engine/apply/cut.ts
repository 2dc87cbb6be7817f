/**
 * Cuts items, in order, into runs that count at most `count` (each item counting `countOf`, one by default) and
 * about `maxBytes` (a run holds one item at least, whatever its size): the shape of every write command and
 * statement the applier sends.
 */
export function cut<T>(items: readonly T[], count: number, maxBytes: number, sizeOf: (item: T) => number, countOf: (item: T) => number = () => 1): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let counted = 0;
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    const weight = countOf(item);
    if (current.length && (counted + weight > count || bytes + size > maxBytes)) {
      out.push(current);
      current = [];
      counted = 0;
      bytes = 0;
    }
    current.push(item);
    counted += weight;
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}
