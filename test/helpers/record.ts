/**
 * Recording consumers for the stream stages: what a HalfStream delivered (data with the frame
 * that made it available, gaps), and what an SmbFramer cut (messages, anomalies, notSmb).
 */
import type { Packet } from '../../src/capture/packet';
import type { MessageSink } from '../../src/smb/framer';
import type { StreamConsumer } from '../../src/tcp/reassembly';

/** a Packet standing for frame n (the stream stages only read `frame`, and keep nothing else) */
export function pkt(frame: number): Packet {
  return { frame, linkType: 1, tsSec: 0, tsNs: 0, tsDigits: 6, data: Buffer.alloc(0), off: 0, capLen: 0, origLen: 0 };
}

export type StreamItem = { data: string; frame: number } | { gap: number };

/** Records a half-stream's output; data as latin1 text so tests can spell the bytes. */
export class StreamRecorder implements StreamConsumer {
  readonly items: StreamItem[] = [];
  data(buf: Buffer, off: number, len: number, at: Packet): void {
    this.items.push({ data: buf.toString('latin1', off, off + len), frame: at.frame });
  }
  gap(bytes: number): void {
    this.items.push({ gap: bytes });
  }
  /** every delivered byte in order, gaps shown as `[gap n]` */
  text(): string {
    return this.items.map((i) => ('gap' in i ? `[gap ${i.gap}]` : i.data)).join('');
  }
}

export interface RecordedMessage {
  /** the kept bytes, copied */
  bytes: Buffer;
  msgLen: number;
  frame: number;
}

/** Records what an SmbFramer cuts; `keep` decides how much of each message is kept (default: all). */
export class MessageRecorder implements MessageSink {
  readonly messages: RecordedMessage[] = [];
  readonly anomalies: Record<string, number> = {};
  notSmbCalls = 0;
  /** sizes passed to keep(): (headLen, msgLen) */
  readonly keepCalls: [number, number][] = [];

  constructor(private readonly keepFn: (buf: Buffer, off: number, headLen: number, msgLen: number) => number = (_b, _o, _h, m) => m) {}

  keep(buf: Buffer, off: number, headLen: number, msgLen: number): number {
    this.keepCalls.push([headLen, msgLen]);
    return this.keepFn(buf, off, headLen, msgLen);
  }
  message(buf: Buffer, off: number, kept: number, msgLen: number, at: Packet): void {
    this.messages.push({ bytes: Buffer.from(buf.subarray(off, off + kept)), msgLen, frame: at.frame });
  }
  anomaly(kind: string, n = 1): void {
    this.anomalies[kind] = (this.anomalies[kind] ?? 0) + n;
  }
  notSmb(): void {
    this.notSmbCalls++;
  }
  /** messages as "msgLen:hex-of-kept@frame" for compact comparisons */
  summary(): string[] {
    return this.messages.map((m) => `${m.msgLen}:${m.bytes.toString('hex')}@${m.frame}`);
  }
}

/** a Packet holding `data` (placed at `off` inside a larger buffer when off > 0) */
export function packetOf(linkType: number, data: Buffer, frame = 1, off = 0): Packet {
  const buf = Buffer.concat([Buffer.alloc(off, 0xee), data, Buffer.alloc(off, 0xee)]);
  return { frame, linkType, tsSec: 0, tsNs: 0, tsDigits: 6, data: buf, off, capLen: data.length, origLen: data.length };
}
