/**
 * What the capture stage hands to the network stage. One object is reused for every packet
 * of a file (no per-packet allocation): consumers must copy what they keep beyond the call.
 */
export interface Packet {
  /** 1-based record number in the file, as Wireshark numbers frames */
  frame: number;
  /** link-layer header type (LINKTYPE_* from tcpdump.org), per interface for pcapng */
  linkType: number;
  /** seconds since the epoch (UTC) */
  tsSec: number;
  /** fraction of the second in nanoseconds, 0..999_999_999 */
  tsNs: number;
  /** decimal digits of precision the capture recorded (6 for µs pcap, 9 for ns pcap, from if_tsresol for pcapng) */
  tsDigits: number;
  /** captured bytes are data[off, off + capLen) */
  data: Buffer;
  off: number;
  capLen: number;
  /** length on the wire (capLen < origLen when the snaplen cut the packet) */
  origLen: number;
}

export interface PacketSink {
  packet(p: Packet): void;
}

/** Facts about one capture file, filled while it is read. */
/** what a capture file was compressed with, if anything */
export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'lz4';

export interface CaptureInfo {
  format: 'pcap' | 'pcapng';
  gzip: boolean;
  compression: Compression | null;
  /** bytes of capture data parsed (after decompression) */
  bytes: number;
  packets: number;
  /** a count per anomaly kind, e.g. { truncated_record: 1, unknown_block: 3 } */
  anomalies: Record<string, number>;
}

/** A file that cannot be read as a capture at all: the message is one line naming why. */
export class CaptureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaptureError';
  }
}
