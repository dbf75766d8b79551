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

/**
 * A connection-oriented DCE/RPC PDU: version 5.0, little-endian, `flags` (0x03: first and last
 * fragment), and with `authLevel` a 16-byte NTLMSSP-type auth trailer at that level.
 */
export function rpcPdu(ptype: number, callId: number, body: Buffer, flags = 0x03, authLevel?: number): Buffer {
  const auth = authLevel !== undefined ? Buffer.concat([Buffer.from([10, authLevel, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16, 0xee)]) : Buffer.alloc(0);
  const h = Buffer.alloc(16);
  h[0] = 5; h[2] = ptype; h[3] = flags; h[4] = 0x10;
  h.writeUInt16LE(16 + body.length + auth.length, 8);
  h.writeUInt16LE(auth.length > 0 ? 16 : 0, 10);
  h.writeUInt32LE(callId, 12);
  return Buffer.concat([h, body, auth]);
}
