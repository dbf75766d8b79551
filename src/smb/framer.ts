/**
 * Cuts one reassembled TCP direction into SMB messages: NetBIOS session service framing
 * (RFC 1002; direct TCP on 445 uses the same 4-byte header with a 24-bit length), then the
 * SMB magic. Only the bytes the decoder asks for are kept (a WRITE's payload is counted, never
 * copied). After a gap, garbage or a capture that starts mid-stream, it resynchronises on the
 * next NetBIOS header followed by \xFE/\xFF/\xFD/\xFC "SMB".
 */
import type { Packet } from '../capture/packet';
import type { StreamConsumer } from '../tcp/reassembly';

export interface MessageSink {
  /**
   * How many leading bytes of a message to keep, decided from its first `headLen` bytes
   * (min(PEEK, msgLen)). Returning less than msgLen skips the rest without copying.
   */
  keep(buf: Buffer, off: number, headLen: number, msgLen: number): number;
  /** a complete message; buf[off, off+kept) are its first bytes; `at` is the completing packet */
  message(buf: Buffer, off: number, kept: number, msgLen: number, at: Packet): void;
  anomaly(kind: string, n?: number): void;
  /** the stream shows no SMB after a long scan (only asked when the port is not 445/139) */
  notSmb(): void;
}

/** enough for an SMB2 header and the fixed part of any request or response */
export const PEEK = 128;
/** SMB3 allows 8 MiB transfers; anything beyond this is not a message boundary we trust */
export const MAX_MESSAGE = 16 << 20;
/** a stream on a non-SMB port is given up after this many bytes without an SMB signature */
const GIVE_UP_SCAN = 256 << 10;

const enum State { Header, Message, Skip, Resync }

const NBSS_TYPES = new Set([0x00, 0x81, 0x82, 0x83, 0x84, 0x85]);
const SIG = Buffer.from('SMB', 'latin1');
const EMPTY = Buffer.alloc(0);
/** bytes kept between chunks while searching: a NetBIOS header and magic span 8, the size check 11 */
const CARRY = 11;

export function isSmbMagic(b0: number, b1: number, b2: number, b3: number): boolean {
  return (b0 === 0xfe || b0 === 0xff || b0 === 0xfd || b0 === 0xfc) && b1 === 0x53 && b2 === 0x4d && b3 === 0x42;
}

/** smallest plausible message for each magic: header sizes of SMB2, SMB1, transform, compression */
function minLength(magic: number): number {
  return magic === 0xfe ? 64 : magic === 0xff ? 32 : magic === 0xfd ? 52 : 16;
}

/**
 * Bytes of unfinished messages kept by all framers of a scan together. Without it, 300
 * connections that each sent all but the end of a 1 MB IOCTL held 300 MB outside V8's heap (up
 * to 10 GB with 10,000 connections, beyond any worker limit). Beyond it, a message is decoded from
 * its first PEEK bytes only (`kept_bytes_budget_exceeded`).
 */
export interface KeptBudget { limit: number; used: number }

export class SmbFramer implements StreamConsumer {
  private state = State.Resync;
  // allocated when first needed: most connections of a scan never need the header split
  // across segments, and thousands of short connections each held 3 buffers per direction
  private hdr: Buffer = EMPTY;
  private hdrHave = 0;
  private msgLen = 0;
  private consumed = 0;
  private keepLen = -1;
  private acc: Buffer = EMPTY;
  private accHave = 0;
  private skipLeft = 0;
  /** tail of the previous chunk while resynchronising (a signature may straddle chunks) */
  private carry: Buffer = EMPTY;
  private everSynced = false;
  /**
   * frame and time of the last bytes taken (the packet object itself is reused for the next
   * record): a gap that completes a message dates it by them, not by the packet that showed the gap
   */
  private lastAt: Packet | null = null;
  private lastFrame = 0;
  private lastSec = 0;
  private lastNs = 0;
  private scanned = 0;

  /** bytes of this message counted against the budget */
  private charged = 0;

  constructor(private readonly sink: MessageSink, private readonly smbPort: boolean, private readonly budget: KeptBudget | null = null) {}

  end(): void {
    this.uncharge();
    this.acc = EMPTY;
  }

  private uncharge(): void {
    if (this.budget !== null) this.budget.used -= this.charged;
    this.charged = 0;
  }

  gap(bytes: number): void {
    if (bytes > 0 && this.state === State.Skip && bytes < this.skipLeft) {
      this.skipLeft -= bytes;
      return;
    }
    if (bytes > 0 && this.state === State.Message && this.keepLen >= 0 && this.accHave === this.keepLen
      && this.consumed + bytes <= this.msgLen) {
      // lost bytes inside a payload we skip anyway (a WRITE's data): the message is still usable
      this.consumed += bytes;
      this.sink.anomaly('gap_in_skipped_payload');
      if (this.consumed === this.msgLen && this.lastAt) {
        const a = this.lastAt;
        this.complete({ ...a, frame: this.lastFrame, tsSec: this.lastSec, tsNs: this.lastNs });
      }
      return;
    }
    if (this.state === State.Message) this.sink.anomaly('message_lost_in_gap');
    this.startResync();
  }

  data(buf: Buffer, off: number, len: number, at: Packet): void {
    this.lastAt = at;
    this.lastFrame = at.frame; this.lastSec = at.tsSec; this.lastNs = at.tsNs;
    const end = off + len;
    while (off < end) {
      switch (this.state) {
        case State.Header: off = this.onHeader(buf, off, end, at); break;
        case State.Message: off = this.onMessage(buf, off, end, at); break;
        case State.Skip: {
          const n = Math.min(this.skipLeft, end - off);
          this.skipLeft -= n; off += n;
          if (this.skipLeft === 0) this.state = State.Header;
          break;
        }
        case State.Resync: off = this.onResync(buf, off, end, at); break;
      }
    }
  }

  private startResync(): void {
    this.uncharge();
    this.state = State.Resync;
    this.carry = EMPTY;
    this.hdrHave = 0;
  }

  private onHeader(buf: Buffer, off: number, end: number, at: Packet): number {
    let h: Buffer, ho: number;
    if (this.hdrHave === 0 && end - off >= 4) {
      h = buf; ho = off; off += 4;
    } else {
      if (this.hdr === EMPTY) this.hdr = Buffer.alloc(4);
      while (this.hdrHave < 4 && off < end) this.hdr[this.hdrHave++] = buf[off++];
      if (this.hdrHave < 4) return off;
      h = this.hdr; ho = 0;
    }
    this.hdrHave = 0;
    const type = h[ho];
    const length = (h[ho + 1] << 16) | (h[ho + 2] << 8) | h[ho + 3];
    if (!NBSS_TYPES.has(type) || length > MAX_MESSAGE) {
      this.sink.anomaly('netbios_desync');
      this.skipped(4);
      this.startResync();
      return off;
    }
    if (type !== 0) { // session request/response/keep-alive: nothing for us
      if (length > 0) { this.skipLeft = length; this.state = State.Skip; }
      return off;
    }
    if (length === 0) return off;
    this.msgLen = length;
    this.consumed = 0;
    this.accHave = 0;
    this.keepLen = -1;
    // fast path: the whole message is in this chunk, decode it where it lies
    if (end - off >= length) {
      const head = Math.min(PEEK, length);
      if (!this.magicOk(buf, off, head)) { this.skipped(4); this.startResync(); return off; }
      this.everSynced = true;
      const keep = Math.min(length, this.sink.keep(buf, off, head, length));
      this.sink.message(buf, off, keep, length, at);
      return off + length;
    }
    this.state = State.Message;
    return off;
  }

  private magicOk(b: Buffer, o: number, n: number): boolean {
    if (n >= 4 && isSmbMagic(b[o], b[o + 1], b[o + 2], b[o + 3]) && this.msgLen >= minLength(b[o])) return true;
    this.sink.anomaly('not_smb_message');
    return false;
  }

  private onMessage(buf: Buffer, off: number, end: number, at: Packet): number {
    const take = Math.min(end - off, this.msgLen - this.consumed);
    const want = this.keepLen < 0 ? Math.min(PEEK, this.msgLen) : this.keepLen;
    let n = 0;
    if (this.accHave < want) {
      n = Math.min(take, want - this.accHave);
      if (this.acc.length < want) this.grow(want);
      buf.copy(this.acc, this.accHave, off, off + n);
      this.accHave += n;
    }
    if (this.keepLen < 0) {
      this.consumed += n;
      if (this.accHave < want) return off + n;
      if (!this.magicOk(this.acc, 0, this.accHave)) {
        // not a message after all: search the bytes already taken in for the next real header
        const again = Buffer.from(this.acc.subarray(0, this.accHave));
        this.skipped(4);
        this.startResync();
        this.data(again, 0, again.length, at);
        return off + n;
      }
      this.everSynced = true;
      let keep = Math.min(this.msgLen, Math.max(want, this.sink.keep(this.acc, 0, want, this.msgLen)));
      const b = this.budget;
      if (b !== null && keep > want) {
        if (b.used + keep > b.limit) {
          this.sink.anomaly('kept_bytes_budget_exceeded');
          keep = want;
        } else {
          b.used += keep;
          this.charged = keep;
        }
      }
      this.keepLen = keep;
      if (this.consumed < this.msgLen) return off + n; // the rest of the chunk may still be kept
    } else {
      this.consumed += take; // bytes past keepLen are counted, never copied
    }
    if (this.consumed >= this.msgLen) this.complete(at);
    return off + take; // whether kept or counted, the message took these bytes
  }

  private complete(at: Packet): void {
    this.state = State.Header;
    this.uncharge();
    this.sink.message(this.acc, 0, this.accHave, this.msgLen, at);
    if (this.acc.length > 64 << 10) this.acc = Buffer.alloc(PEEK); // a big message must not pin memory
  }

  private grow(n: number): void {
    const b = Buffer.allocUnsafe(Math.max(n, PEEK));
    this.acc.copy(b, 0, 0, this.accHave);
    this.acc = b;
  }

  private onResync(buf: Buffer, off: number, end: number, at: Packet): number {
    const prev = this.carry;
    this.carry = EMPTY;
    // a signature straddling the previous chunk(s) and this one
    if (prev.length) {
      const joined = Buffer.concat([prev, buf.subarray(off, Math.min(end, off + 16))]);
      const q = this.findHeader(joined, 0, joined.length, prev.length);
      if (q >= 0) {
        this.skipped(q);
        this.resynced();
        this.state = State.Header;
        this.data(joined, q, prev.length - q, at);
        return off;
      }
    }
    const q = this.findHeader(buf, off, end, end - off);
    if (q < 0) {
      // keep the last bytes, across several short chunks if need be, for the next look
      const tail = end - off >= CARRY ? buf.subarray(end - CARRY, end) : Buffer.concat([prev, buf.subarray(off, end)]);
      this.carry = Buffer.from(tail.subarray(Math.max(0, tail.length - CARRY)));
      this.skipped(prev.length + (end - off) - this.carry.length);
      this.scanned += end - off;
      if (!this.everSynced && !this.smbPort && this.scanned > GIVE_UP_SCAN) this.sink.notSmb();
      return end;
    }
    this.skipped(prev.length + q - off);
    this.resynced();
    this.state = State.Header;
    return q;
  }

  private skipped(n: number): void {
    if (n > 0 && this.everSynced) this.sink.anomaly('resync_skipped_bytes', n);
  }

  private resynced(): void {
    if (this.everSynced) this.sink.anomaly('resync');
  }

  /**
   * First offset q in [from, from+span) where a NetBIOS session message header whose payload
   * starts with an SMB magic begins; the header itself may extend to `end`.
   */
  private findHeader(b: Buffer, from: number, end: number, span: number): number {
    const limit = from + span + 5; // first position of "SMB" not to consider
    // Buffer.indexOf has no end bound: search a view, or a miss would scan the rest of the
    // capture chunk (megabytes) this segment lies in
    const view = b.subarray(0, Math.min(end, limit + 2));
    let i = from + 5;
    while (i < limit) {
      const s = view.indexOf(SIG, i);
      if (s < 0 || s >= limit) return -1;
      const q = s - 5;
      if (q >= from && b[q] === 0 && isSmbMagic(b[s - 1], b[s], b[s + 1], b[s + 2])) {
        const len = (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3];
        const magic = b[s - 1];
        const sizeOk = magic !== 0xfe || s + 5 > end || (b[s + 3] === 64 && b[s + 4] === 0);
        if (len >= minLength(magic) && len <= MAX_MESSAGE && sizeOk) return q;
      }
      i = s + 1;
    }
    return -1;
  }
}
