export { CaptureError } from './packet';
export type { CaptureInfo, Packet, PacketSink } from './packet';
export type { CaptureParser } from './framed';
export { MAX_CAPLEN } from './framed';
export { PcapParser } from './pcap';
export { PcapngParser } from './pcapng';
export type { CaptureFormat, ReadOptions } from './reader';
export { createCaptureParser, parseCaptureBuffer, readCapture, sniffCaptureFormat } from './reader';
