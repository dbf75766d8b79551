import { CaptureInfo, Packet, PacketSink } from './packet';

/**
 * libpcap's MAXIMUM_SNAPLEN. A larger captured length is a corrupt length field, not a packet:
 * trusting it would make us buffer (or skip) arbitrary amounts of a damaged file.
 */
export const MAX_CAPLEN = 262_144;

/** What both capture parsers offer: bytes are pushed in, packets come out through the sink. */
export interface CaptureParser {
  readonly info: CaptureInfo;
  /** true once the file header (pcap) or first section header (pcapng) has been parsed */
  readonly started: boolean;
  /**
   * Parses as much of `chunk` as possible. The chunk may be reused by the caller after the call.
   * Returns false once parsing has stopped for good (a fatal anomaly): further input is ignored.
   * Throws CaptureError only while the file header is parsed (the input is not a capture).
   */
  push(chunk: Buffer): boolean;
  /** Stops for a reason outside the parser (e.g. corrupt gzip): counts `kind` instead of a truncated record. */
  abort(kind: string): void;
  /** Declares the end of input: counts a truncated last record; throws CaptureError if the header never completed. */
  end(): CaptureInfo;
}

export function newPacket(): Packet {
  // Every field set up front so that the one reused object keeps a single hidden class.
  return { frame: 0, linkType: 0, tsSec: 0, tsNs: 0, tsDigits: 6, data: EMPTY, off: 0, capLen: 0, origLen: 0 };
}

export function newInfo(format: CaptureInfo['format']): CaptureInfo {
  return { format, gzip: false, compression: null, bytes: 0, packets: 0, anomalies: {} };
}

export function countAnomaly(info: CaptureInfo, kind: string, n = 1): void {
  info.anomalies[kind] = (info.anomalies[kind] ?? 0) + n;
}

const EMPTY = Buffer.alloc(0);

/**
 * Record framing shared by pcap and pcapng: each record announces its own length in a small
 * header. Records that lie wholly inside a pushed chunk are parsed in place; only a record that
 * straddles two chunks is copied, into one bounded scratch buffer (`carry`), so no chunk is ever
 * concatenated with another and memory stays bounded whatever the file holds.
 */
export abstract class FramedParser implements CaptureParser {
  readonly info: CaptureInfo;
  protected readonly pkt: Packet = newPacket();
  protected stopped = false;
  /** bytes that must be present before frame() can tell a record's length */
  protected headNeed: number;

  private carry: Buffer = EMPTY;
  private carryLen = 0;
  /** length of the record being assembled in carry, 0 while its head is incomplete */
  private carryNeed = 0;
  /** bytes of an oversized record still to be skipped in later chunks */
  private skipLeft = 0;
  /** every byte pushed, for error messages (info.bytes counts only complete records) */
  protected pushed = 0;

  protected constructor(
    protected readonly sink: PacketSink,
    format: CaptureInfo['format'],
    headNeed: number,
    /** largest record ever buffered: bounds the carry buffer */
    private readonly maxRecord: number,
  ) {
    this.info = newInfo(format);
    this.headNeed = headNeed;
  }

  abstract get started(): boolean;

  /**
   * Called with at least headNeed bytes at buf[off]. Returns the record's length L (> 0) when its
   * bytes are needed, -L to skip L bytes unread (records too large to buffer), or 0 after fail().
   * Called exactly once per record, so it may count anomalies.
   */
  protected abstract frame(buf: Buffer, off: number): number;

  /** Handles one complete record of `len` bytes at buf[off]. */
  protected abstract record(buf: Buffer, off: number, len: number): void;

  /** Throws CaptureError when the header never completed; called by end(). */
  protected abstract checkStarted(): void;

  push(chunk: Buffer): boolean {
    if (this.stopped) return false;
    this.pushed += chunk.length;
    const end = chunk.length;
    let off = 0;
    if (this.skipLeft > 0) {
      off = Math.min(this.skipLeft, end);
      this.skipLeft -= off;
      this.info.bytes += off;
    }
    if (this.carryLen > 0 && off < end) off = this.fillCarry(chunk, off);
    if (off < end && !this.stopped) {
      off = this.parseRun(chunk, off, end);
      if (off < end && !this.stopped) this.stash(chunk, off, end, 0);
    }
    return !this.stopped;
  }

  end(): CaptureInfo {
    this.checkStarted();
    if (!this.stopped && (this.carryLen > 0 || this.skipLeft > 0)) {
      countAnomaly(this.info, 'truncated_record');
    }
    this.carryLen = 0;
    this.skipLeft = 0;
    this.stopped = true;
    return this.info;
  }

  abort(kind: string): void {
    if (!this.stopped) this.fail(kind);
  }

  /** Records a fatal anomaly: everything after it is ignored. */
  protected fail(kind: string): void {
    countAnomaly(this.info, kind);
    this.stopped = true;
  }

  /**
   * Parses the records that lie wholly in buf[off, end). Returns `end` when done (a record whose
   * length is known but whose bytes are incomplete is stashed by calling stash(), so that frame()
   * is not asked twice), or the offset of a trailing head shorter than headNeed.
   * Subclasses override it with a specialised loop for their hot record type.
   */
  protected parseRun(buf: Buffer, off: number, end: number): number {
    while (end - off >= this.headNeed) {
      const len = this.frame(buf, off);
      if (len > 0) {
        if (end - off < len) return this.stash(buf, off, end, len);
        this.record(buf, off, len);
        if (this.stopped) return end;
        this.info.bytes += len;
        off += len;
      } else if (len < 0) {
        if (end - off < -len) return this.skipRest(-len, end - off, end);
        this.info.bytes -= len;
        off -= len;
      } else {
        return end;
      }
    }
    return off;
  }

  /** Starts skipping a record of `skip` bytes of which `have` remain in this chunk; returns `end`. */
  protected skipRest(skip: number, have: number, end: number): number {
    this.skipLeft = skip - have;
    this.info.bytes += have;
    return end;
  }

  /**
   * Keeps the unparsed tail of a chunk, which is shorter than the record it starts;
   * `need` is that record's length when frame() already told it, else 0. Returns `end`.
   */
  protected stash(chunk: Buffer, off: number, end: number, need: number): number {
    const n = end - off;
    this.ensureCarry(Math.max(n, need));
    chunk.copy(this.carry, 0, off, end);
    this.carryLen = n;
    this.carryNeed = need;
    return end;
  }

  /** Completes the straddling record from the new chunk; returns the offset parsing resumes at. */
  private fillCarry(chunk: Buffer, off: number): number {
    const end = chunk.length;
    if (this.carryNeed === 0) {
      off = this.appendCarry(chunk, off, this.headNeed);
      if (this.carryLen < this.headNeed) return end;
      const len = this.frame(this.carry, 0);
      if (len === 0) return end;
      if (len < 0) return this.skipFromCarry(-len, off, end);
      this.carryNeed = len;
      this.ensureCarry(len);
    }
    off = this.appendCarry(chunk, off, this.carryNeed);
    if (this.carryLen < this.carryNeed) return end;
    const len = this.carryNeed;
    this.carryLen = 0;
    this.carryNeed = 0;
    this.record(this.carry, 0, len);
    if (!this.stopped) this.info.bytes += len;
    return off;
  }

  private skipFromCarry(skip: number, off: number, end: number): number {
    const rest = skip - this.carryLen;
    this.carryLen = 0;
    const n = Math.min(rest, end - off);
    this.skipLeft = rest - n;
    this.info.bytes += skip - rest + n;
    return off + n;
  }

  /** Copies bytes from chunk into carry until carry holds `upTo` bytes or the chunk is used up. */
  private appendCarry(chunk: Buffer, off: number, upTo: number): number {
    const n = Math.min(upTo - this.carryLen, chunk.length - off);
    if (n <= 0) return off;
    chunk.copy(this.carry, this.carryLen, off, off + n);
    this.carryLen += n;
    return off + n;
  }

  private ensureCarry(size: number): void {
    if (this.carry.length >= size) return;
    if (size > this.maxRecord) throw new Error(`internal: record of ${size} bytes exceeds the carry bound`);
    // Grow geometrically but never past the bound, so a hostile file cannot make us allocate more.
    const grown = Buffer.allocUnsafe(Math.min(this.maxRecord, Math.max(size, 2 * this.carry.length, 4096)));
    this.carry.copy(grown, 0, 0, this.carryLen);
    this.carry = grown;
  }
}
