/**
 * One direction of a TCP connection put back in sequence order. In-order data is handed on
 * without copying; only out-of-order segments are copied, within per-direction and global
 * budgets. Holes the receiver has acknowledged (the capture missed them) and holes that outgrow
 * the budget become gaps, which the consumer must resynchronise after.
 */
import type { Packet } from '../capture/packet';

export interface StreamConsumer {
  /** bytes in sequence; `at` is the packet that made them available (valid during the call) */
  data(buf: Buffer, off: number, len: number, at: Packet): void;
  /** `bytes` of the stream were never captured (0 when unknown) */
  gap(bytes: number): void;
  /** the stream is over (after its last data or gap): let go of what is kept for it */
  end?(): void;
}

export interface ReassemblyStats {
  retransmitted: number;
  overlaps: number;
  outOfOrder: number;
  gaps: number;
  gapBytes: number;
  budgetGaps: number;
}

export interface ReassemblyLimits {
  /** out-of-order bytes held per direction */
  perStream: number;
  /** out-of-order bytes held across all streams */
  total: { limit: number; used: number };
  /**
   * What a held segment costs besides its bytes (its entry, ~90 bytes of heap, and the
   * collector's slack), counted against both budgets with the arenas' sizes. 1,000 connections
   * whose answers all came out of order held 148,000 segments of 155 bytes within 32 MiB of
   * bytes, and ~100 MB in fact, when each had a Buffer of its own and only bytes were counted.
   */
  segmentCost?: number;
}

/**
 * A segment waiting for the bytes before it: where its bytes are in the stream's arena, and its
 * packet's frame and time (the packet object itself is reused for the next record).
 */
interface Held { seq: number; off: number; len: number; frame: number; tsSec: number; tsNs: number; tsDigits: number; linkType: number }

const NO_BYTES = Buffer.alloc(0);

/** below this an arena is not shrunk when most of it was delivered (a copy per drain otherwise) */
const SHRINK_MIN = 64 * 1024;

/** the packet a held segment came in, for a delivery dated by its own frame */
function heldPacket(h: Held): Packet {
  return { frame: h.frame, linkType: h.linkType, tsSec: h.tsSec, tsNs: h.tsNs, tsDigits: h.tsDigits, data: NO_BYTES, off: 0, capLen: 0, origLen: 0 };
}

/** signed distance a - b in sequence space */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

export class HalfStream {
  private nextSeq = -1;
  private held: Held[] = [];
  /** what is charged to the total budget: the arena's size, and segmentCost per held segment */
  private heldBytes = 0;
  /**
   * The held segments' bytes, one buffer per stream (a Buffer per segment cost ~330 bytes of
   * heap besides its bytes: 1,000 connections whose answers all came out of order kept 40,000 of
   * them). Filled in arrival order, compacted or grown when full, shrunk when mostly delivered,
   * let go when nothing is held; its whole size is charged, so spare room counts too.
   */
  private arena: Buffer = NO_BYTES;
  private arenaUsed = 0;
  /** bytes of the held segments */
  private live = 0;
  /** highest ACK the peer sent: data below it was received, so a hole below it is a capture loss */
  peerAck = -1;

  constructor(
    readonly consumer: StreamConsumer,
    private readonly limits: ReassemblyLimits,
    private readonly stats: ReassemblyStats,
  ) {}

  /** the SYN fixes the initial sequence number; data starts one after it */
  syn(seq: number): void {
    if (this.nextSeq < 0) this.nextSeq = (seq + 1) >>> 0;
  }

  segment(seq: number, buf: Buffer, off: number, len: number, at: Packet): void {
    if (len <= 0) return;
    if (this.nextSeq < 0) this.nextSeq = seq;
    let d = seqDiff(seq, this.nextSeq);
    if (d < 0) {
      if (len + d <= 0) { this.stats.retransmitted++; return; }
      this.stats.overlaps++;
      off -= d; len += d; d = 0;
    }
    if (d > 0) {
      if (this.held.length === 0 && this.peerAck >= 0 && seqDiff(this.peerAck, seq) >= 0) {
        this.skipTo(seq); // the hole was acknowledged by the receiver: it is lost, not late
      } else {
        this.hold(seq, buf, off, len, at);
        this.crossAckedHoles(at);
        return;
      }
    }
    this.deliver(buf, off, len, at);
    this.drain(at);
  }

  get holding(): boolean { return this.held.length > 0; }

  /** bytes of the buffer holding out-of-order data (charged to the budgets with segmentCost per segment) */
  get arenaSize(): number { return this.arena.length; }

  /** end of the connection or of the capture: whatever is held is delivered across its holes */
  flush(at: Packet): void {
    while (this.held.length) {
      this.skipTo(this.held[0].seq);
      this.drain(at, true);
    }
  }

  private deliver(buf: Buffer, off: number, len: number, at: Packet): void {
    this.nextSeq = (this.nextSeq + len) >>> 0;
    this.consumer.data(buf, off, len, at);
  }

  private skipTo(seq: number): void {
    const missing = seqDiff(seq, this.nextSeq);
    if (missing <= 0) return;
    this.stats.gaps++;
    this.stats.gapBytes += missing;
    this.nextSeq = seq >>> 0;
    this.consumer.gap(missing);
  }

  /**
   * Delivers what the stream now reaches. Dated by `at`, the packet that completed the stream
   * (as Wireshark dates a reassembled PDU), except across a hole declared lost (`own`): there
   * each held segment keeps its own frame, or a response whose data came before the ACK that
   * proved the hole would be dated by that empty ACK.
   */
  private drain(at: Packet, own = false): void {
    const held = this.held;
    while (held.length) {
      const h = held[0];
      const d = seqDiff(h.seq, this.nextSeq);
      if (d > 0) {
        // what waits for the next hole may be a few bytes of a large arena
        // (not while flushing across holes: it is about to be delivered anyway)
        if (!own && this.arena.length > SHRINK_MIN && this.arena.length > 4 * this.live) this.relocate(2 * this.live);
        return;
      }
      held.shift();
      this.live -= h.len;
      this.charge(-(this.limits.segmentCost ?? 0));
      const skip = -d;
      if (skip < h.len) this.deliver(this.arena, h.off + skip, h.len - skip, own ? heldPacket(h) : at);
      else this.stats.retransmitted++;
    }
    this.charge(-this.arena.length);
    this.arena = NO_BYTES;
    this.arenaUsed = 0;
  }

  private hold(seq: number, buf: Buffer, off: number, len: number, at: Packet): void {
    this.stats.outOfOrder++;
    const held = this.held;
    let i = held.length;
    // by binary search: a hostile stream can hold thousands of segments in reverse order
    if (i > 0 && seqDiff(held[i - 1].seq, seq) > 0) {
      let lo = 0, hi = i - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seqDiff(held[mid].seq, seq) > 0) hi = mid; else lo = mid + 1;
      }
      i = lo;
    }
    const at0 = this.room(len);
    buf.copy(this.arena, at0, off, off + len);
    const h: Held = { seq, off: at0, len, frame: at.frame, tsSec: at.tsSec, tsNs: at.tsNs, tsDigits: at.tsDigits, linkType: at.linkType };
    if (i === held.length) held.push(h); else held.splice(i, 0, h);
    this.live += len;
    const cost = this.limits.segmentCost ?? 0;
    this.charge(cost);
    const t = this.limits.total;
    // a direction waits for its hole while its held data (with its entries) fits perStream: the
    // arena's spare room (up to as much again) counts against the total only, or doubling would
    // halve the window a lost packet can be waited for across (2.5 MB were given up)
    if (this.live + cost * held.length > this.limits.perStream || t.used > t.limit) {
      // over budget: stop waiting for the hole and deliver what is held, in sequence order
      this.stats.budgetGaps++;
      this.flush(at);
    }
  }

  /** a hole below what the receiver acknowledged was lost by the capture, not delayed */
  crossAckedHoles(at: Packet): void {
    while (this.held.length && this.peerAck >= 0 && seqDiff(this.peerAck, this.held[0].seq) >= 0) {
      this.skipTo(this.held[0].seq);
      this.drain(at, true);
    }
  }

  /**
   * `len` free bytes at the end of the arena: their offset. A first segment gets a buffer of its
   * size (one reordered packet is the common case); a full arena is compacted when half of it
   * would do, else doubled.
   */
  private room(len: number): number {
    const need = this.live + len;
    if (this.arenaUsed + len > this.arena.length) this.relocate(need <= this.arena.length >> 1 ? this.arena.length : this.arena.length === 0 ? len : 2 * need);
    const off = this.arenaUsed;
    this.arenaUsed += len;
    return off;
  }

  /** moves the held bytes to the start of an arena of `size` bytes (this one if it is that size) */
  private relocate(size: number): void {
    // a buffer of its own, not a slice of Node's shared 8 KB pool: a slab would stay alive for
    // as long as anything in it waits (81,000 held segments of 155 bytes pinned 57 MB of slabs)
    const to = size === this.arena.length ? this.arena : Buffer.allocUnsafeSlow(size);
    // in arrival order: moving down within the same buffer never overwrites a segment not yet moved
    const byOff = this.held.slice().sort((a, b) => a.off - b.off);
    let p = 0;
    for (const h of byOff) {
      this.arena.copy(to, p, h.off, h.off + h.len);
      h.off = p;
      p += h.len;
    }
    this.charge(to.length - this.arena.length);
    this.arena = to;
    this.arenaUsed = p;
  }

  private charge(n: number): void {
    this.heldBytes += n;
    this.limits.total.used += n;
  }

  /** bytes held; returned to the global budget when the flow is dropped */
  dispose(): void {
    this.limits.total.used -= this.heldBytes;
    this.heldBytes = 0;
    this.held = [];
    this.arena = NO_BYTES;
    this.arenaUsed = 0;
    this.live = 0;
    this.consumer.end?.();
  }
}
