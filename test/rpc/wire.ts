/** Wire helpers shared by the DCE/RPC tests (PDUs that no capture holds). */

/** the NDR 2.0 transfer syntax */
export const NDR = '8a885d04-1ceb-11c9-9fe8-08002b104860';

/** UUID text → 16 wire bytes in the given integer order */
export function uuidBytes(u: string, le: boolean): Buffer {
  const b = Buffer.from(u.replace(/-/g, ''), 'hex');
  if (le) {
    b.subarray(0, 4).reverse();
    b.subarray(4, 6).reverse();
    b.subarray(6, 8).reverse();
  }
  return b;
}
