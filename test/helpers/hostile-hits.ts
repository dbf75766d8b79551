/**
 * Captures whose rule hits are as long as the RPC decoder keeps: svcctl CreateServiceW calls with
 * 30,000-character names and binary paths, answered with success. Each call is one SVC-CREATE
 * rule hit of ~100 KB of packed JSON (the '€' is 2 bytes on the wire, 3 in UTF-8), so a file of
 * ~200 calls reaches the per-file step budget (MAX_STEP_BYTES, 16 MiB). Written by a reviewer to
 * show that --stitch held every rotated file's hits; used by scripts/bench/floods.sh.
 */
import * as fs from 'fs';
import { CaptureBuilder, Smb2Client, T0 } from './conversation';
import { ACCESS, DISPOSITION, fileId } from './build';
import { rpcPdu, uuidBytes, NDR } from '../rpc/wire';

const SVCCTL_UUID = '367abb81-9844-35f1-ad32-98f038001003';

const pdu = (ptype: number, callId: number, body: Buffer, flags = 0x03): Buffer => rpcPdu(ptype, callId, body, flags);
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };

function bind(): Buffer {
  return pdu(11, 1, Buffer.concat([u16(4280), u16(4280), u32(0), Buffer.from([1, 0, 0, 0]),
    u16(0), Buffer.from([1, 0]), uuidBytes(SVCCTL_UUID, true), u16(2), u16(0), uuidBytes(NDR, true), u16(2), u16(0)]));
}
function bindAck(): Buffer {
  return pdu(12, 1, Buffer.concat([u16(4280), u16(4280), u32(1), u16(0), Buffer.alloc(2), Buffer.from([1, 0, 0, 0]),
    u16(0), u16(0), uuidBytes(NDR, true), u16(2), u16(0)]));
}

/** little-endian NDR20 writer (aligned) */
class W {
  private parts: Buffer[] = [];
  private len = 0;
  private push(b: Buffer): this { this.parts.push(b); this.len += b.length; return this; }
  private align(n: number): void { const pad = (n - (this.len % n)) % n; if (pad) this.push(Buffer.alloc(pad)); }
  u32(v: number): this { this.align(4); return this.push(u32(v)); }
  handle(fill = 0x11): this { return this.u32(0).push(Buffer.alloc(16, fill)); }
  wstr(s: string): this { const n = s.length + 1; this.u32(n).u32(0).u32(n); return this.push(Buffer.from(`${s}\0`, 'utf16le')); }
  uwstr(s: string | null, ref = 0x20000): this { return s === null ? this.u32(0) : this.u32(ref).wstr(s); }
  get buf(): Buffer { return Buffer.concat(this.parts); }
}

/** one PDU per fragment of at most 60,000 stub bytes */
function requestFrags(callId: number, opnum: number, stub: Buffer): Buffer {
  const out: Buffer[] = [];
  const size = 60_000;
  for (let i = 0; i < stub.length; i += size) {
    const part = stub.subarray(i, i + size);
    const flags = (i === 0 ? 1 : 0) | (i + size >= stub.length ? 2 : 0);
    out.push(pdu(0, callId, Buffer.concat([u32(stub.length), u16(0), u16(opnum), part]), flags));
  }
  return Buffer.concat(out);
}
function response(callId: number, stub: Buffer): Buffer {
  return pdu(2, callId, Buffer.concat([u32(stub.length), u16(0), Buffer.from([0, 0]), stub]));
}

/**
 * Writes one capture of `calls` CreateServiceW calls starting at `startSec`; returns its size.
 * `seed` makes the names of each file different.
 */
export function writeHostileHits(file: string, calls: number, startSec: number, seed: number): number {
  const cap = new CaptureBuilder(undefined, startSec);
  const conv = cap.conversation({ clientPort: 40000 + (seed % 20000) }).handshake();
  // segment every message (an IPv4 packet is at most 64 KiB)
  const c = conv.c.bind(conv), s = conv.s.bind(conv);
  const seg = (m: Buffer): number[] => Array(Math.ceil(m.length / 1448)).fill(1448);
  conv.c = (m: Buffer): number => c(m, seg(m));
  conv.s = (m: Buffer): number => s(m, seg(m));
  const cl = new Smb2Client(conv);
  cl.negotiate();
  cl.sessionSetup({ user: 'eve', domain: 'CORP', workstation: 'WS1' });
  cl.treeConnect('\\\\srv\\IPC$', 1, 2);
  const id = fileId(7);
  cl.create(1, { name: 'svcctl', access: ACCESS.GENERIC_WRITE | 0x0012019f, disposition: DISPOSITION.OPEN }, id);
  cl.write(1, id, bind());
  cl.read(1, id, bindAck());
  const long = '€'.repeat(30_000);
  for (let i = 0; i < calls; i++) {
    const stub = new W().handle().wstr(`s${seed}-${i}${long}`).uwstr(`d${seed}-${i}`).u32(0xf01ff).u32(0x10).u32(3).u32(1)
      .wstr(`C:\\${seed}-${i}\\${long}.exe`).u32(0).u32(0).u32(0).u32(0).uwstr('LocalSystem').u32(0).u32(0).buf;
    cl.write(1, id, requestFrags(2 + i, 12, stub));
    cl.read(1, id, response(2 + i, new W().u32(0).handle(0x22).u32(0).buf));
  }
  cl.close(1, id);
  conv.fin();
  fs.writeFileSync(file, cap.pcap());
  return fs.statSync(file).size;
}

export { T0 };
