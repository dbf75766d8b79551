import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Packet, PacketSink } from '../../src/capture/packet';

/** ../shared/corpus next to the project root; tests that need it skip when it is absent. */
export const CORPUS = path.resolve(__dirname, '../../../shared/corpus');
export const HAVE_CORPUS = fs.existsSync(path.join(CORPUS, 'MANIFEST.tsv'));

/** A packet copied out of the reused Packet object. */
export interface Rec {
  frame: number;
  linkType: number;
  tsSec: number;
  tsNs: number;
  tsDigits: number;
  capLen: number;
  origLen: number;
  data: Buffer;
}

export function collector(): { sink: PacketSink; recs: Rec[] } {
  const recs: Rec[] = [];
  const sink: PacketSink = {
    packet(p: Packet): void {
      recs.push({
        frame: p.frame,
        linkType: p.linkType,
        tsSec: p.tsSec,
        tsNs: p.tsNs,
        tsDigits: p.tsDigits,
        capLen: p.capLen,
        origLen: p.origLen,
        data: Buffer.from(p.data.subarray(p.off, p.off + p.capLen)),
      });
    },
  };
  return { sink, recs };
}

/** One line per packet (fields and a data hash): cheap to compare for thousands of packets. */
export function digest(recs: Rec[]): string[] {
  return recs.map(
    (r) =>
      `${r.frame} lt=${r.linkType} ${tsString(r)}/${r.tsDigits} ${r.capLen}/${r.origLen} ` +
      crypto.createHash('sha1').update(r.data).digest('hex'),
  );
}

/** Wireshark-style "sec.nnnnnnnnn" as the truth files write timestamps. */
export function tsString(r: { tsSec: number; tsNs: number }): string {
  return `${r.tsSec}.${String(r.tsNs).padStart(9, '0')}`;
}

// ---------- byte builders (little- or big-endian) ----------

export function u16(le: boolean, v: number): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

export function u32(le: boolean, v: number): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

export function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n === 0 ? b : Buffer.concat([b, Buffer.alloc(n)]);
}

export interface PcapRecordSpec {
  sec: number;
  frac: number;
  data: Buffer;
  origLen?: number;
}

export function pcapHeader(le: boolean, nano: boolean, linkType: number, snapLen = 262144): Buffer {
  const magic = nano ? 0xa1b23c4d : 0xa1b2c3d4;
  return Buffer.concat([u32(le, magic), u16(le, 2), u16(le, 4), u32(le, 0), u32(le, 0), u32(le, snapLen), u32(le, linkType)]);
}

export function pcapRecord(le: boolean, r: PcapRecordSpec): Buffer {
  return Buffer.concat([u32(le, r.sec), u32(le, r.frac), u32(le, r.data.length), u32(le, r.origLen ?? r.data.length), r.data]);
}

export function buildPcap(le: boolean, nano: boolean, linkType: number, recs: PcapRecordSpec[]): Buffer {
  return Buffer.concat([pcapHeader(le, nano, linkType), ...recs.map((r) => pcapRecord(le, r))]);
}

/** Rewrites a little-endian pcap as big-endian: same packets, real bytes. */
export function swapPcapToBE(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  if (out.readUInt32LE(0) !== 0xa1b2c3d4 && out.readUInt32LE(0) !== 0xa1b23c4d) throw new Error('not a LE pcap');
  const sw32 = (o: number): void => {
    out.writeUInt32BE(buf.readUInt32LE(o), o);
  };
  const sw16 = (o: number): void => {
    out.writeUInt16BE(buf.readUInt16LE(o), o);
  };
  sw32(0);
  sw16(4);
  sw16(6);
  for (const o of [8, 12, 16, 20]) sw32(o);
  let off = 24;
  while (off + 16 <= buf.length) {
    const cap = buf.readUInt32LE(off + 8);
    for (const o of [0, 4, 8, 12]) sw32(off + o);
    off += 16 + cap;
  }
  return out;
}

// pcapng blocks
export function block(le: boolean, type: number, body: Buffer): Buffer {
  const b = pad4(body);
  const len = 12 + b.length;
  return Buffer.concat([u32(le, type), u32(le, len), b, u32(le, len)]);
}

export function option(le: boolean, code: number, value: Buffer): Buffer {
  return Buffer.concat([u16(le, code), u16(le, value.length), pad4(value)]);
}

export function endOfOptions(): Buffer {
  return Buffer.alloc(4);
}

export function shb(le: boolean): Buffer {
  const body = Buffer.concat([u32(le, 0x1a2b3c4d), u16(le, 1), u16(le, 0), Buffer.alloc(8, 0xff)]);
  return block(le, 0x0a0d0d0a, body);
}

export interface IdbSpec {
  linkType: number;
  snapLen?: number;
  tsresol?: number;
  tsoffset?: number;
}

export function idb(le: boolean, spec: IdbSpec): Buffer {
  const opts: Buffer[] = [];
  if (spec.tsresol !== undefined) opts.push(option(le, 9, Buffer.from([spec.tsresol])));
  if (spec.tsoffset !== undefined) {
    const v = Buffer.alloc(8);
    if (le) v.writeBigInt64LE(BigInt(spec.tsoffset));
    else v.writeBigInt64BE(BigInt(spec.tsoffset));
    opts.push(option(le, 14, v));
  }
  if (opts.length > 0) opts.push(endOfOptions());
  return block(le, 1, Buffer.concat([u16(le, spec.linkType), u16(le, 0), u32(le, spec.snapLen ?? 0), ...opts]));
}

/** EPB with a 64-bit tick count. */
export function epb(le: boolean, ifId: number, ticks: bigint, data: Buffer, origLen = data.length): Buffer {
  const hi = Number(ticks >> 32n);
  const lo = Number(ticks & 0xffffffffn);
  return block(le, 6, Buffer.concat([u32(le, ifId), u32(le, hi), u32(le, lo), u32(le, data.length), u32(le, origLen), pad4(data)]));
}

export function spb(le: boolean, data: Buffer, origLen = data.length): Buffer {
  return block(le, 3, Buffer.concat([u32(le, origLen), pad4(data)]));
}

/** Obsolete Packet Block (type 2). */
export function pb(le: boolean, ifId: number, ticks: bigint, data: Buffer): Buffer {
  const hi = Number(ticks >> 32n);
  const lo = Number(ticks & 0xffffffffn);
  return block(
    le,
    2,
    Buffer.concat([u16(le, ifId), u16(le, 0), u32(le, hi), u32(le, lo), u32(le, data.length), u32(le, data.length), pad4(data)]),
  );
}

/** Distinct payloads so that packets can be told apart. */
export function payload(n: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = (n * 31 + i) & 0xff;
  return b;
}
