import { countAnomaly, FramedParser, MAX_CAPLEN } from './framed';
import { CaptureError, PacketSink } from './packet';

export const BT_SHB = 0x0a0d0d0a;
const BT_PB = 0x00000002; // obsolete Packet Block
const BT_IDB = 0x00000001;
const BT_SPB = 0x00000003;
const BT_EPB = 0x00000006;
/** Blocks we know and deliberately ignore: name resolution, statistics, decryption secrets, journal, custom. */
const IGNORED_BLOCKS = new Set([0x00000004, 0x00000005, 0x0000000a, 0x00000009, 0x00000bad, 0x40000bad]);

const BOM = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a;
const BLOCK_HEAD = 12; // type, length, and (for an SHB) the byte-order magic that says how to read the length
const MIN_SHB = 28;
const MIN_IDB = 20;
const MIN_EPB = 32;
const MIN_SPB = 16;
/**
 * Largest block we buffer. Packet blocks hold at most MAX_CAPLEN bytes plus header and options;
 * anything bigger is corrupt (packet blocks) or unneeded (other blocks) and is skipped unread.
 */
export const MAX_BLOCK = MAX_CAPLEN + 65_536;

const OPT_ENDOFOPT = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

/** 16-bit long division keeps every intermediate exact below 2^53 while units <= 2^37. */
const MAX_LIMB_UNITS = 2 ** 37;

/** One Interface Description Block: how to read the packets that name it. */
export interface PcapngInterface {
  linkType: number;
  snapLen: number;
  /** timestamp ticks per second (10^n or 2^n from if_tsresol) */
  units: number;
  /** ticks → ns is floor(ticks * nsMul / nsDiv), exact for the usual resolutions */
  nsMul: number;
  nsDiv: number;
  tsDigits: number;
  /** if_tsoffset: seconds added to every timestamp */
  tsOffset: number;
}

/**
 * pcapng push parser: sections (SHB, which may switch byte order and resets the interfaces),
 * IDB, EPB, SPB and the obsolete PB; every other block is skipped.
 */
export class PcapngParser extends FramedParser {
  /** interfaces of the current section, in IDB order */
  interfaces: PcapngInterface[] = [];
  sections = 0;
  /** known non-packet blocks passed over (NRB, ISB, DSB, …): normal content, not anomalies */
  skippedBlocks = 0;
  private le = true;

  constructor(sink: PacketSink) {
    super(sink, 'pcapng', BLOCK_HEAD, MAX_BLOCK);
  }

  get started(): boolean {
    return this.sections > 0;
  }

  protected checkStarted(): void {
    if (this.sections === 0) throw new CaptureError(`truncated pcapng section header (${this.pushed} bytes)`);
  }

  protected frame(buf: Buffer, off: number): number {
    const type = this.u32(buf, off);
    let len: number;
    if (type === BT_SHB) {
      const le = sectionIsLE(buf, off);
      if (le === null) return this.badSection(`bad pcapng byte-order magic ${buf.toString('hex', off + 8, off + 12)}`);
      len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
      if (len < MIN_SHB || len > MAX_BLOCK || len % 4 !== 0) return this.badSection(`bad pcapng section header length ${len}`);
      return len;
    }
    if (this.sections === 0) throw new CaptureError('not a pcapng file (first block is not a section header)');
    len = this.u32(buf, off + 4);
    if (len < BLOCK_HEAD || len % 4 !== 0) {
      this.fail('bad_block_length');
      return 0;
    }
    if (len <= MAX_BLOCK) return len;
    return this.oversized(type, len);
  }

  protected record(buf: Buffer, off: number, len: number): void {
    const isShb = this.u32(buf, off) === BT_SHB;
    if (isShb) this.le = sectionIsLE(buf, off) === true;
    const trailer = this.u32(buf, off + len - 4);
    if (trailer === len) this.block(buf, off, len);
    else if (isShb) this.badSection(`bad pcapng section header length ${len} (trailer says ${trailer})`);
    else this.fail('bad_block_length');
  }

  /** The hot loop: EPBs wholly inside the chunk are handled inline, other blocks via frame()/record(). */
  protected override parseRun(buf: Buffer, off: number, end: number): number {
    while (end - off >= BLOCK_HEAD) {
      const le = this.le;
      const type = le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
      const len = le ? buf.readUInt32LE(off + 4) : buf.readUInt32BE(off + 4);
      if (type === BT_EPB && len >= MIN_EPB && len <= MAX_BLOCK && (len & 3) === 0 && this.sections > 0) {
        if (end - off < len) return this.stash(buf, off, end, len);
        if ((le ? buf.readUInt32LE(off + len - 4) : buf.readUInt32BE(off + len - 4)) !== len) {
          this.fail('bad_block_length');
          return end;
        }
        this.epb(buf, off, len, le);
        if (this.stopped) return end;
        this.info.bytes += len;
        off += len;
      } else {
        const flen = this.frame(buf, off);
        if (flen === 0) return end;
        if (flen < 0) {
          if (end - off < -flen) return this.skipRest(-flen, end - off, end);
          this.info.bytes -= flen;
          off -= flen;
          continue;
        }
        if (end - off < flen) return this.stash(buf, off, end, flen);
        this.record(buf, off, flen);
        if (this.stopped) return end;
        this.info.bytes += flen;
        off += flen;
      }
    }
    return off;
  }

  private block(buf: Buffer, off: number, len: number): void {
    const type = this.u32(buf, off);
    switch (type) {
      case BT_EPB:
        if (len < MIN_EPB) this.malformed();
        else this.epb(buf, off, len, this.le);
        return;
      case BT_SPB:
        if (len < MIN_SPB) this.malformed();
        else this.spb(buf, off, len);
        return;
      case BT_PB:
        if (len < MIN_EPB) this.malformed();
        else this.pb(buf, off, len);
        return;
      case BT_IDB:
        if (len < MIN_IDB) this.malformed();
        else this.interfaces.push(this.parseIdb(buf, off, len));
        return;
      case BT_SHB:
        this.section(buf, off);
        return;
      default:
        if (IGNORED_BLOCKS.has(type)) this.skippedBlocks++;
        else countAnomaly(this.info, 'unknown_block');
    }
  }

  private section(buf: Buffer, off: number): void {
    const major = this.u16(buf, off + 12);
    if (major !== 1) {
      this.badSection(`unsupported pcapng version ${major}.${this.u16(buf, off + 14)}`);
      return;
    }
    this.sections++;
    this.interfaces = [];
  }

  private epb(buf: Buffer, off: number, len: number, le: boolean): void {
    const ifId = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    const capLen = le ? buf.readUInt32LE(off + 20) : buf.readUInt32BE(off + 20);
    const origLen = le ? buf.readUInt32LE(off + 24) : buf.readUInt32BE(off + 24);
    this.packetFromBlock(buf, off, len, ifId, capLen, origLen);
  }

  private pb(buf: Buffer, off: number, len: number): void {
    this.packetFromBlock(buf, off, len, this.u16(buf, off + 8), this.u32(buf, off + 20), this.u32(buf, off + 24));
  }

  /** EPB and PB share the layout after the interface id: ts high, ts low, caplen, len, data at 28. */
  private packetFromBlock(buf: Buffer, off: number, len: number, ifId: number, capLen: number, origLen: number): void {
    const itf = this.interfaces[ifId];
    if (itf === undefined) {
      countAnomaly(this.info, 'unknown_interface');
      return;
    }
    if (capLen > MAX_CAPLEN || capLen > len - MIN_EPB) {
      countAnomaly(this.info, 'bad_caplen');
      return;
    }
    const p = this.pkt;
    setTimestamp(p, itf, this.u32(buf, off + 12), this.u32(buf, off + 16));
    this.deliver(buf, off + 28, capLen, origLen, itf);
  }

  private spb(buf: Buffer, off: number, len: number): void {
    // An SPB always belongs to the first interface and has no timestamp.
    const itf = this.interfaces[0];
    if (itf === undefined) {
      countAnomaly(this.info, 'unknown_interface');
      return;
    }
    const origLen = this.u32(buf, off + 8);
    let capLen = Math.min(origLen, len - MIN_SPB);
    if (itf.snapLen > 0) capLen = Math.min(capLen, itf.snapLen);
    if (capLen > MAX_CAPLEN) {
      countAnomaly(this.info, 'bad_caplen');
      return;
    }
    const p = this.pkt;
    p.tsSec = 0;
    p.tsNs = 0;
    this.deliver(buf, off + 12, capLen, origLen, itf);
  }

  private deliver(buf: Buffer, dataOff: number, capLen: number, origLen: number, itf: PcapngInterface): void {
    const p = this.pkt;
    p.frame = ++this.info.packets;
    p.linkType = itf.linkType;
    p.tsDigits = itf.tsDigits;
    p.data = buf;
    p.off = dataOff;
    p.capLen = capLen;
    p.origLen = origLen;
    this.sink.packet(p);
  }

  private parseIdb(buf: Buffer, off: number, len: number): PcapngInterface {
    const itf = makeInterface(this.u16(buf, off + 8), this.u32(buf, off + 12));
    const end = off + len - 4;
    let o = off + 16;
    while (o + 4 <= end) {
      const code = this.u16(buf, o);
      const olen = this.u16(buf, o + 2);
      if (code === OPT_ENDOFOPT || o + 4 + olen > end) break;
      if (code === OPT_IF_TSRESOL && olen >= 1) setResolution(itf, buf[o + 4]);
      if (code === OPT_IF_TSOFFSET && olen >= 8) itf.tsOffset = this.i64(buf, o + 4);
      o += 4 + ((olen + 3) & ~3);
    }
    return itf;
  }

  /** Packet blocks too big to buffer are corrupt: counted, then skipped unread like other large blocks. */
  private oversized(type: number, len: number): number {
    if (type === BT_IDB) {
      this.fail('oversized_block');
      return 0;
    }
    if (type === BT_EPB || type === BT_SPB || type === BT_PB) countAnomaly(this.info, 'oversized_block');
    else if (IGNORED_BLOCKS.has(type)) this.skippedBlocks++;
    else countAnomaly(this.info, 'unknown_block');
    return -len;
  }

  /** A bad SHB ends the file: a CaptureError for the first one, an anomaly later on. */
  private badSection(message: string): number {
    if (this.sections === 0) throw new CaptureError(message);
    this.fail('bad_section_header');
    return 0;
  }

  private malformed(): void {
    countAnomaly(this.info, 'malformed_block');
  }

  private u16(buf: Buffer, o: number): number {
    return this.le ? buf.readUInt16LE(o) : buf.readUInt16BE(o);
  }

  private u32(buf: Buffer, o: number): number {
    return this.le ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
  }

  private i64(buf: Buffer, o: number): number {
    return this.le ? buf.readInt32LE(o + 4) * 4294967296 + buf.readUInt32LE(o) : buf.readInt32BE(o) * 4294967296 + buf.readUInt32BE(o + 4);
  }
}

/** Byte order of the section whose SHB starts at off, from its byte-order magic; null if neither. */
function sectionIsLE(buf: Buffer, off: number): boolean | null {
  const bom = buf.readUInt32LE(off + 8);
  if (bom === BOM) return true;
  if (bom === BOM_SWAPPED) return false;
  return null;
}

function makeInterface(linkType: number, snapLen: number): PcapngInterface {
  return { linkType, snapLen, units: 1e6, nsMul: 1000, nsDiv: 1, tsDigits: 6, tsOffset: 0 };
}

/** if_tsresol: high bit clear → 10^-n seconds, set → 2^-n seconds. */
export function setResolution(itf: PcapngInterface, v: number): void {
  const n = v & 0x7f;
  if (v & 0x80) {
    itf.units = 2 ** n;
    // 1e9 / 2^n is an exact binary fraction, so ticks * nsMul is exact for n <= 32
    itf.nsMul = 1e9 / itf.units;
    itf.nsDiv = 1;
    itf.tsDigits = Math.min(9, Math.ceil(n * Math.log10(2)));
  } else {
    itf.units = 10 ** n;
    itf.nsMul = n <= 9 ? 10 ** (9 - n) : 1;
    itf.nsDiv = n <= 9 ? 1 : 10 ** (n - 9);
    itf.tsDigits = Math.min(9, n);
  }
}

// Scratch results of splitTicks, module-level so that the hot path allocates nothing.
let qSec = 0;
let qRem = 0;

/** Sets p.tsSec / p.tsNs from a 64-bit tick count (hi:lo) exactly, without BigInt on the usual paths. */
export function setTimestamp(p: { tsSec: number; tsNs: number }, itf: PcapngInterface, hi: number, lo: number): void {
  splitTicks(hi, lo, itf.units);
  p.tsSec = qSec + itf.tsOffset;
  p.tsNs = itf.nsDiv === 1 ? Math.floor(qRem * itf.nsMul) : Math.floor(qRem / itf.nsDiv);
}

function splitTicks(hi: number, lo: number, units: number): void {
  if (hi < 0x200000) {
    // Below 2^53 (µs timestamps until year 2255) the count is exact as a double.
    const t = hi * 4294967296 + lo;
    let q = Math.floor(t / units);
    let r = t - q * units;
    if (r < 0) {
      q--;
      r += units;
    } else if (r >= units) {
      q++;
      r -= units;
    }
    qSec = q;
    qRem = r;
  } else if (units <= MAX_LIMB_UNITS) {
    limbDivide(hi, lo, units);
  } else {
    const t = (BigInt(hi) << 32n) | BigInt(lo);
    const u = BigInt(units);
    qSec = Number(t / u);
    qRem = Number(t % u);
  }
}

/** Schoolbook division of the 64-bit count by units in four 16-bit limbs (ns timestamps land here). */
function limbDivide(hi: number, lo: number, units: number): void {
  let q = 0;
  let r = 0;
  for (let i = 0; i < 4; i++) {
    const limb = i === 0 ? hi >>> 16 : i === 1 ? hi & 0xffff : i === 2 ? lo >>> 16 : lo & 0xffff;
    const x = r * 65536 + limb;
    let d = Math.floor(x / units);
    r = x - d * units;
    if (r < 0) {
      d--;
      r += units;
    } else if (r >= units) {
      d++;
      r -= units;
    }
    q = q * 65536 + d;
  }
  qSec = q;
  qRem = r;
}
