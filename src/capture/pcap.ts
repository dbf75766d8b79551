import { FramedParser, MAX_CAPLEN } from './framed';
import { CaptureError, PacketSink } from './packet';

const FILE_HEADER = 24;
const RECORD_HEADER = 16;

/** The four magics as read little-endian from the first four bytes. */
const MAGIC_LE_US = 0xa1b2c3d4;
const MAGIC_LE_NS = 0xa1b23c4d;
const MAGIC_BE_US = 0xd4c3b2a1;
const MAGIC_BE_NS = 0x4d3cb2a1;

export function isPcapMagic(first4LE: number): boolean {
  return first4LE === MAGIC_LE_US || first4LE === MAGIC_LE_NS || first4LE === MAGIC_BE_US || first4LE === MAGIC_BE_NS;
}

/**
 * Classic libpcap files: a 24-byte file header, then 16-byte record headers each followed by
 * caplen bytes. Push parser; see FramedParser for the chunking contract.
 */
export class PcapParser extends FramedParser {
  /** link type from the header with the FCS bits masked off */
  linkType = 0;
  /** FCS bytes at the end of each packet when the header says so (they are left in the data) */
  fcsBytes = 0;
  snapLen = 0;
  private le = true;
  private nano = false;
  private headerDone = false;

  constructor(sink: PacketSink) {
    super(sink, 'pcap', FILE_HEADER, RECORD_HEADER + MAX_CAPLEN);
  }

  get started(): boolean {
    return this.headerDone;
  }

  protected checkStarted(): void {
    if (!this.headerDone) throw new CaptureError(`truncated pcap file header (${this.pushed} of ${FILE_HEADER} bytes)`);
  }

  protected frame(buf: Buffer, off: number): number {
    if (!this.headerDone) return FILE_HEADER;
    const capLen = this.le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    if (capLen > MAX_CAPLEN) {
      this.fail('absurd_caplen');
      return 0;
    }
    return RECORD_HEADER + capLen;
  }

  protected record(buf: Buffer, off: number, len: number): void {
    if (!this.headerDone) this.parseHeader(buf, off);
    else this.emit(buf, off, len - RECORD_HEADER);
  }

  /** The hot loop: records wholly inside the chunk, without a virtual call per record. */
  protected override parseRun(buf: Buffer, off: number, end: number): number {
    if (!this.headerDone) {
      if (end - off < FILE_HEADER) return off;
      this.parseHeader(buf, off);
      this.info.bytes += FILE_HEADER;
      off += FILE_HEADER;
    }
    const le = this.le;
    while (end - off >= RECORD_HEADER) {
      const capLen = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
      if (capLen > MAX_CAPLEN) {
        this.fail('absurd_caplen');
        return end;
      }
      const len = RECORD_HEADER + capLen;
      if (end - off < len) return this.stash(buf, off, end, len);
      this.emit(buf, off, capLen);
      this.info.bytes += len;
      off += len;
    }
    return off;
  }

  private emit(buf: Buffer, off: number, capLen: number): void {
    const p = this.pkt;
    let sec: number, frac: number;
    if (this.le) {
      sec = buf.readUInt32LE(off);
      frac = buf.readUInt32LE(off + 4);
      p.origLen = buf.readUInt32LE(off + 12);
    } else {
      sec = buf.readUInt32BE(off);
      frac = buf.readUInt32BE(off + 4);
      p.origLen = buf.readUInt32BE(off + 12);
    }
    if (this.nano) {
      if (frac >= 1e9) ({ sec, frac } = carrySeconds(sec, frac, 1e9));
      p.tsNs = frac;
    } else {
      if (frac >= 1e6) ({ sec, frac } = carrySeconds(sec, frac, 1e6));
      p.tsNs = frac * 1000;
    }
    p.tsSec = sec;
    p.frame = ++this.info.packets;
    p.data = buf;
    p.off = off + RECORD_HEADER;
    p.capLen = capLen;
    this.sink.packet(p);
  }

  private parseHeader(buf: Buffer, off: number): void {
    const magic = buf.readUInt32LE(off);
    if (!isPcapMagic(magic)) throw new CaptureError(`not a pcap file (magic ${buf.toString('hex', off, off + 4)})`);
    this.le = magic === MAGIC_LE_US || magic === MAGIC_LE_NS;
    this.nano = magic === MAGIC_LE_NS || magic === MAGIC_BE_NS;
    const u16 = (o: number): number => (this.le ? buf.readUInt16LE(off + o) : buf.readUInt16BE(off + o));
    const u32 = (o: number): number => (this.le ? buf.readUInt32LE(off + o) : buf.readUInt32BE(off + o));
    const major = u16(4);
    if (major !== 2) throw new CaptureError(`unsupported pcap version ${major}.${u16(6)}`);
    this.snapLen = u32(16);
    const network = u32(20);
    // The upper bits carry "FCS present" (bit 26) and the FCS length in 16-bit words (bits 28-31);
    // the link type proper is the low 16 bits (libpcap's LT_LINKTYPE).
    this.linkType = network & 0xffff;
    this.fcsBytes = network & 0x04000000 ? (network >>> 28) * 2 : 0;
    const p = this.pkt;
    p.linkType = this.linkType;
    p.tsDigits = this.nano ? 9 : 6;
    this.headerDone = true;
    this.headNeed = RECORD_HEADER;
  }
}

/** A fraction field at or past one second (seen in broken writers): fold it into the seconds. */
function carrySeconds(sec: number, frac: number, units: number): { sec: number; frac: number } {
  const whole = Math.floor(frac / units);
  return { sec: sec + whole, frac: frac - whole * units };
}
