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
   * What a held segment costs beyond its bytes (its entry, its packet's copy, its buffer),
   * counted against both budgets: 1,000 connections whose answers all came out of order held
   * 148,000 segments of 155 bytes within 32 MiB of bytes, and ~100 MB in fact.
   */
  segmentCost?: number;
}

/** a segment waiting for the bytes before it; `at` is a copy of its packet's frame and time */
interface Held { seq: number; buf: Buffer; at: Packet }

const NO_BYTES = Buffer.alloc(0);



/** signed distance a - b in sequence space */
const seqDiff = (a: number, b: number): number => (a - b) | 0;

export class HalfStream {
  private nextSeq = -1;
  private held: Held[] = [];
  private heldBytes = 0;
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
      if (d > 0) return;
      held.shift();
      this.release(h.buf.length + (this.limits.segmentCost ?? 0));
      const skip = -d;
      if (skip < h.buf.length) this.deliver(h.buf, skip, h.buf.length - skip, own ? h.at : at);
      else this.stats.retransmitted++;
    }
  }

  private hold(seq: number, buf: Buffer, off: number, len: number, at: Packet): void {
    this.stats.outOfOrder++;
    const held = this.held;
    let i = held.length;
    while (i > 0 && seqDiff(held[i - 1].seq, seq) > 0) i--;
    // the packet object is reused for the next record: its frame and time are copied
    const own: Packet = { frame: at.frame, linkType: at.linkType, tsSec: at.tsSec, tsNs: at.tsNs, tsDigits: at.tsDigits, data: NO_BYTES, off: 0, capLen: 0, origLen: 0 };
    // a buffer of its own: a copy from Node's shared 8 KB pool would keep the whole slab alive
    // for as long as it waits (measured: 81,000 held segments of 155 bytes pinned 57 MB of slabs)
    const copy = Buffer.allocUnsafeSlow(len);
    buf.copy(copy, 0, off, off + len);
    held.splice(i, 0, { seq, buf: copy, at: own });
    const cost = len + (this.limits.segmentCost ?? 0);
    this.heldBytes += cost;
    const t = this.limits.total;
    t.used += cost;
    if (this.heldBytes > this.limits.perStream || t.used > t.limit) {
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

  private release(n: number): void {
    this.heldBytes -= n;
    this.limits.total.used -= n;
  }

  /** bytes held; returned to the global budget when the flow is dropped */
  dispose(): void {
    this.limits.total.used -= this.heldBytes;
    this.heldBytes = 0;
    this.held = [];
    this.consumer.end?.();
  }
}
