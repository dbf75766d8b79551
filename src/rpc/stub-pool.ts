/**
 * Stub buffers handed back after a call was reported, for the next calls of any pipe.
 *
 * A stub over 4 KiB is its own ArrayBuffer outside V8's heap; V8 collects such memory only once
 * enough of it has piled up, so a stream of 80,000 calls of 16 KB (1.3 GB) peaked at 181 MiB
 * although at most 4 MB of stubs were live. Buffers come in powers of two, so that a freed one
 * fits the next stub of its class; at most POOL_BYTES are kept.
 */

const POOL_BYTES = 8 << 20;
const MIN_CLASS = 256;

const free = new Map<number, Buffer[]>();
let pooled = 0;

/** the size a stub of `need` bytes is given: the next power of two, at most `max` */
export function stubClass(need: number, max: number): number {
  let n = MIN_CLASS;
  while (n < need) n *= 2;
  return Math.min(n, max);
}

/** a buffer of exactly `size` bytes (contents undefined) */
export function takeStubBuffer(size: number): Buffer {
  const list = free.get(size);
  const b = list !== undefined ? list.pop() : undefined;
  if (b === undefined) return Buffer.allocUnsafe(size);
  pooled -= size;
  return b;
}

/** hands a buffer back: nobody may hold a view of it any more */
export function giveStubBuffer(b: Buffer): void {
  if (pooled + b.length > POOL_BYTES) return;
  let list = free.get(b.length);
  if (list === undefined) free.set(b.length, (list = []));
  list.push(b);
  pooled += b.length;
}
