/**
 * Records the largest Buffer allocation made while `body` runs. A decoder handed a length
 * field of 4 GiB must not allocate anything near it; this is how a test can tell without
 * needing 4 GiB of memory to fail. Covers Buffer.alloc/allocUnsafe/allocUnsafeSlow, which is
 * how this project's decoders allocate (ByteQueue, ByteWriter).
 */
export function largestAllocation<T>(body: () => T): { result: T; largest: number } {
  const originals = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow };
  let largest = 0;
  const note = (size: number): void => { if (size > largest) largest = size; };
  Buffer.alloc = ((size: number, ...rest: unknown[]) => {
    note(size);
    return (originals.alloc as (...a: unknown[]) => Buffer)(size, ...rest);
  }) as typeof Buffer.alloc;
  Buffer.allocUnsafe = ((size: number) => { note(size); return originals.allocUnsafe(size); }) as typeof Buffer.allocUnsafe;
  Buffer.allocUnsafeSlow = ((size: number) => { note(size); return originals.allocUnsafeSlow(size); }) as typeof Buffer.allocUnsafeSlow;
  try {
    return { result: body(), largest };
  } finally {
    Object.assign(Buffer, originals);
  }
}
