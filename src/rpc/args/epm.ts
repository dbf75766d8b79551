/**
 * The endpoint mapper (C706 ept_map, opnum 3): which interface a client looks up, and the TCP
 * port the server gives it. The lookup says what comes next on a dynamic port (netlogon before a
 * Zerologon attempt, drsuapi before a DCSync), so the call that names it is worth a look in the
 * timeline. The tower is an octet string of floors; the first names the interface (lhs: 0x0d,
 * its UUID and major version), a later one the TCP port (lhs: 0x07, rhs: the port, big-endian).
 */
import { lookupInterface } from '../interfaces';
import { def, Out } from './common';

/** lhs of an interface floor: length 19, protocol 0x0d (UUID), then the UUID and the major version */
const IFACE_FLOOR = Buffer.from([0x13, 0x00, 0x0d]);
/** lhs of a TCP floor (length 1, protocol 0x07), rhs length 2 */
const TCP_FLOOR = Buffer.from([0x01, 0x00, 0x07, 0x02, 0x00]);

function uuidAt(b: Buffer, at: number): string {
  const h = (x: Buffer): string => x.toString('hex');
  const rev = (s: number, e: number): string => h(Buffer.from(b.subarray(at + s, at + e)).reverse());
  return `${rev(0, 4)}-${rev(4, 6)}-${rev(6, 8)}-${h(b.subarray(at + 8, at + 10))}-${h(b.subarray(at + 10, at + 16))}`;
}

const map = def((r, out: Out) => {
  const stub = r.bytes(r.remaining);
  const at = stub.indexOf(IFACE_FLOOR);
  if (at < 0 || at + 3 + 16 > stub.length) return;
  const uuid = uuidAt(stub, at + 3);
  out.interface = lookupInterface(uuid)?.name ?? uuid;
}, (r, out: Out) => {
  const stub = r.bytes(r.remaining);
  const at = stub.indexOf(TCP_FLOOR);
  if (at < 0 || at + TCP_FLOOR.length + 2 > stub.length) return;
  out.port = String(stub.readUInt16BE(at + TCP_FLOOR.length));
});

export const EPM = { 3: map };
