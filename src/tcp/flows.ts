/**
 * TCP connections of one capture: a table keyed by the address/port 4-tuple (both directions
 * map to one flow), each with two reassembled half-streams. Bounded: the oldest flow is
 * evicted when the table is full, and a closed flow is released at once.
 */
import type { Packet } from '../capture/packet';
import { TcpSegment, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, formatIp, ipKey } from '../net/decode';
import { HalfStream, ReassemblyLimits, ReassemblyStats, StreamConsumer } from './reassembly';

export interface Endpoint { ip: string; port: number }

export interface Flow {
  id: number;
  /** table key of the direction first seen */
  key: string;
  /** endpoint "a" is the source of the first packet seen */
  a: Endpoint;
  b: Endpoint;
  /** true when a is the client; null until the handshake, ports or SMB say which */
  clientIsA: boolean | null;
  half: [HalfStream, HalfStream];
  firstFrame: number;
  /** set by the consumer when the flow carries no SMB: its packets are then dropped early */
  ignored: boolean;
  closed: [boolean, boolean];
  /** a packet came since the eviction queue last passed this flow (second chance) */
  recent: boolean;
  /** its place in the eviction queue, cleared when the flow ends (see FlowTable.end) */
  slot: number;
}

export interface FlowHandler {
  /** consumers for a→b and b→a */
  open(flow: Flow): [StreamConsumer, StreamConsumer];
  close(flow: Flow): void;
}

export interface FlowTableLimits {
  maxFlows: number;
  reassembly: ReassemblyLimits;
}

export const DEFAULT_FLOW_LIMITS = (): FlowTableLimits => ({
  maxFlows: 8_192,
  // 8,192 flows: each one that has carried SMB holds ~5 KB of decoding state and, waiting for an
  // answer, its request (200,000 connections of one unanswered CREATE: 144 MiB of peak RSS with
  // 10,000 flows, just above 150 MB); with 16 MB of out-of-order data held in all (with
  // 256 bytes per segment for its entry and arena room): well within a worker's WORKER_OLD_MB (a
  // SYN scan of 100,000 sources was 495 MiB with 100,000 flows; 1,000 connections whose answers
  // all came out of order peaked at 288 MiB with 32 MB, 191 MiB with 16 MB and a Buffer per held
  // segment, 165 MiB with one arena per stream)
  reassembly: { perStream: 4 << 20, total: { limit: 16 << 20, used: 0 }, segmentCost: 256 },
});

const SMB_PORTS = new Set([445, 139]);

export class FlowTable {
  private readonly flows = new Map<string, Flow>();
  /**
   * Flows in the order they were created (or last given a second chance), for eviction. Not the
   * Map's own order: finding its first live entry after many deletions at the front walks over
   * the deleted slots (400,000 SYNs took 27 s).
   */
  private queue: (Flow | null)[] = [];
  private head = 0;
  private nextId = 1;
  readonly stats: ReassemblyStats & { flows: number; evicted: number } = {
    retransmitted: 0, overlaps: 0, outOfOrder: 0, gaps: 0, gapBytes: 0, budgetGaps: 0, flows: 0, evicted: 0,
  };

  constructor(private readonly handler: FlowHandler, private readonly limits: FlowTableLimits = DEFAULT_FLOW_LIMITS()) {}

  /** the flow of the previous IPv4 packet: a bulk transfer hits it almost every time, skipping the key string */
  private last: { flow: Flow; sa: number; da: number; sp: number; dp: number } | null = null;

  segment(s: TcpSegment, p: Packet): void {
    const d = s.data;
    let flow: Flow | undefined;
    let fromA = true;
    let sa = 0, da = 0;
    const c = this.last;
    if (s.ipVersion === 4) {
      sa = d.readUInt32BE(s.srcOff); da = d.readUInt32BE(s.dstOff);
      if (c !== null) {
        if (sa === c.sa && da === c.da && s.srcPort === c.sp && s.dstPort === c.dp) flow = c.flow;
        else if (sa === c.da && da === c.sa && s.srcPort === c.dp && s.dstPort === c.sp) { flow = c.flow; fromA = false; }
      }
    }
    let fwd = '';
    if (flow === undefined) {
      const src = ipKey(d, s.srcOff, s.ipVersion), dst = ipKey(d, s.dstOff, s.ipVersion);
      fwd = `${src}/${s.srcPort}>${dst}/${s.dstPort}`;
      flow = this.flows.get(fwd);
      if (flow === undefined) {
        flow = this.flows.get(`${dst}/${s.dstPort}>${src}/${s.srcPort}`);
        fromA = false;
      }
    }
    const syn = (s.flags & TCP_SYN) !== 0;
    if (flow !== undefined && syn && !(s.flags & TCP_ACK) && fromA && flow.closed[0]) {
      this.end(flow, p); // the 4-tuple is reused by a new connection
      flow = undefined;
    }
    if (flow === undefined) {
      // a flow starts with a SYN or with data; stray ACKs and FINs of unknown flows are noise
      if (!syn && s.payloadLen === 0) return;
      if (fwd === '') fwd = `${ipKey(d, s.srcOff, s.ipVersion)}/${s.srcPort}>${ipKey(d, s.dstOff, s.ipVersion)}/${s.dstPort}`;
      flow = this.create(fwd, s, p);
      fromA = true;
    } else {
      // a packet after the first: a scan's one-packet flows are never recent, and go first
      flow.recent = true;
    }
    if (s.ipVersion === 4 && (c === null || c.flow !== flow)) {
      this.last = fromA ? { flow, sa, da, sp: s.srcPort, dp: s.dstPort } : { flow, sa: da, da: sa, sp: s.dstPort, dp: s.srcPort };
    }
    if (flow.ignored) return;
    const me = fromA ? 0 : 1;
    const mine = flow.half[me], theirs = flow.half[1 - me];
    if (syn) {
      mine.syn(s.seq);
      if (flow.clientIsA === null) flow.clientIsA = (s.flags & TCP_ACK) ? !fromA : fromA;
    }
    if (s.flags & TCP_ACK) {
      if (theirs.peerAck < 0 || ((s.ack - theirs.peerAck) | 0) > 0) {
        theirs.peerAck = s.ack;
        // an ACK alone can prove a hole lost: release what waits behind it now, not at the next segment
        if (theirs.holding) theirs.crossAckedHoles(p);
      }
    }
    if (s.payloadLen > 0) mine.segment(syn ? (s.seq + 1) >>> 0 : s.seq, d, s.payloadOff, s.payloadLen, p);
    if (s.flags & (TCP_FIN | TCP_RST)) {
      flow.closed[me] = true;
      if (s.flags & TCP_RST || flow.closed[1 - me]) this.end(flow, p);
    }
  }

  /** the capture ended: flush every flow still open */
  finish(p: Packet): void {
    for (const flow of [...this.flows.values()]) this.end(flow, p);
  }

  get size(): number { return this.flows.size; }

  private create(key: string, s: TcpSegment, p: Packet): Flow {
    if (this.flows.size >= this.limits.maxFlows) this.evict(p);
    const d = s.data;
    const a = { ip: formatIp(d, s.srcOff, s.ipVersion), port: s.srcPort };
    const b = { ip: formatIp(d, s.dstOff, s.ipVersion), port: s.dstPort };
    let clientIsA: boolean | null = null;
    if (SMB_PORTS.has(b.port) && !SMB_PORTS.has(a.port)) clientIsA = true;
    else if (SMB_PORTS.has(a.port) && !SMB_PORTS.has(b.port)) clientIsA = false;
    const flow: Flow = {
      id: this.nextId++, key, a, b, clientIsA, firstFrame: p.frame, ignored: false, closed: [false, false], recent: false, slot: -1,
      half: undefined as unknown as [HalfStream, HalfStream], // set below: the handler needs the flow first
    };
    const [ca, cb] = this.handler.open(flow);
    flow.half = [
      new HalfStream(ca, this.limits.reassembly, this.stats),
      new HalfStream(cb, this.limits.reassembly, this.stats),
    ];
    this.flows.set(key, flow);
    this.enqueue(flow);
    // the slots of flows that ended on their own (FIN, RST) are given back here, not only when evicting
    if (this.queue.length - this.head > 2 * this.flows.size + 4096) {
      this.queue = this.queue.slice(this.head).filter((f) => f !== null && this.flows.get(f.key) === f);
      this.head = 0;
      this.queue.forEach((f, i) => { (f as Flow).slot = i; });
    }
    this.stats.flows++;
    return flow;
  }

  /**
   * Ends the oldest flow that saw no packet since the queue last passed it: a long SMB session
   * that is still talking outlives a scan's thousands of one-packet flows (second chance).
   */
  private evict(p: Packet): void {
    for (;;) {
      if (this.head >= this.queue.length) return;
      const f = this.queue[this.head];
      this.queue[this.head++] = null; // passed: the slot must not keep an ended flow alive
      if (f === null || this.flows.get(f.key) !== f) continue; // already ended
      if (f.recent) { f.recent = false; this.enqueue(f); continue; }
      this.stats.evicted++;
      this.end(f, p);
      break;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
      this.queue.forEach((f, i) => { if (f !== null) f.slot = i; });
    }
  }

  private enqueue(flow: Flow): void {
    flow.slot = this.queue.length;
    this.queue.push(flow);
  }

  private end(flow: Flow, p: Packet): void {
    if (this.flows.get(flow.key) !== flow) return;
    this.flows.delete(flow.key);
    // an ended flow holds its whole decoding state: its slot must not keep it until the queue is
    // next compacted (30,000 short connections kept ~4,000 ended ones, 10 MB, alive)
    if (this.queue[flow.slot] === flow) this.queue[flow.slot] = null;
    if (this.last !== null && this.last.flow === flow) this.last = null;
    if (!flow.ignored) {
      flow.half[0].flush(p);
      flow.half[1].flush(p);
    }
    flow.half[0].dispose();
    flow.half[1].dispose();
    this.handler.close(flow);
  }
}
