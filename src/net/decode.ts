/**
 * Link layer → IP → TCP, decoded in place from a captured packet. One `TcpSegment` object is
 * reused per call (the hot path allocates nothing but the flow key string).
 */
import type { Packet } from '../capture/packet';

export interface TcpSegment {
  /** ip version 4 or 6 */
  ipVersion: number;
  /** source/destination addresses as offsets into data (4 or 16 bytes each) */
  srcOff: number;
  dstOff: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TCP flag bits: FIN 1, SYN 2, RST 4, PSH 8, ACK 16 */
  flags: number;
  data: Buffer;
  payloadOff: number;
  payloadLen: number;
}

/** Why a packet yielded no TCP segment; counted by the caller. Empty string = not TCP, silently. */
export type SkipReason = '' | 'link_unsupported' | 'ip_fragment' | 'malformed_ip' | 'malformed_tcp' | 'truncated_packet';

export const TCP_FIN = 1, TCP_SYN = 2, TCP_RST = 4, TCP_ACK = 16;

const ETHERTYPE_IPV4 = 0x0800, ETHERTYPE_IPV6 = 0x86dd;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100, 0x9200]);
const ETHERTYPE_PPPOE_SESSION = 0x8864;

export interface DecodeResult {
  seg: TcpSegment;
  /** set when decode() returned false */
  skip: SkipReason;
}

export function createDecoder(): { decode(p: Packet): boolean; result: DecodeResult } {
  const seg: TcpSegment = {
    ipVersion: 0, srcOff: 0, dstOff: 0, srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0,
    data: Buffer.alloc(0), payloadOff: 0, payloadLen: 0,
  };
  const result: DecodeResult = { seg, skip: '' };

  /** Returns the offset of the IP header and its version through `ipAt`, or -1. */
  function linkToIp(p: Packet): number {
    const d = p.data, start = p.off, end = p.off + p.capLen;
    switch (p.linkType) {
      case 1: return etherPayload(d, start + 12, end); // Ethernet
      case 113: return end - start >= 16 ? etherTypeAt(d, start + 14, start + 16) : -1; // Linux SLL
      case 276: return end - start >= 20 ? etherTypeAt(d, start, start + 20) : -1; // Linux SLL2
      case 0: case 108: return end - start >= 4 ? start + 4 : -1; // BSD null / OpenBSD loop: family word, then IP
      case 12: case 14: case 101: case 228: case 229: return start; // raw IP
      default: return -2;
    }
  }
  // the caller checks the version nibble of the IP header, so EtherType only picks IP vs other
  function etherTypeAt(d: Buffer, typeOff: number, payload: number): number {
    const t = d.readUInt16BE(typeOff);
    return t === ETHERTYPE_IPV4 || t === ETHERTYPE_IPV6 ? payload : -1;
  }
  function etherPayload(d: Buffer, typeOff: number, end: number): number {
    // VLAN stacks (802.1Q, QinQ) and PPPoE sessions are walked; bounded by the packet length
    while (typeOff + 2 <= end) {
      const t = d.readUInt16BE(typeOff);
      if (t === ETHERTYPE_IPV4 || t === ETHERTYPE_IPV6) return typeOff + 2;
      if (VLAN_TAGS.has(t)) { typeOff += 4; continue; }
      if (t === ETHERTYPE_PPPOE_SESSION) {
        if (typeOff + 10 > end) return -1;
        const proto = d.readUInt16BE(typeOff + 8);
        return proto === 0x0021 || proto === 0x0057 ? typeOff + 10 : -1;
      }
      return -1;
    }
    return -1;
  }

  function decode(p: Packet): boolean {
    const d = p.data, end = p.off + p.capLen;
    const ip = linkToIp(p);
    if (ip < 0) { result.skip = ip === -2 ? 'link_unsupported' : ''; return false; }
    if (ip >= end) { result.skip = ''; return false; }
    const version = d[ip] >> 4;
    let l4 = 0, l4End = 0, proto = 0;
    if (version === 4) {
      if (ip + 20 > end) { result.skip = 'truncated_packet'; return false; }
      const ihl = (d[ip] & 15) * 4;
      const total = d.readUInt16BE(ip + 2);
      if (ihl < 20 || ip + ihl > end) { result.skip = 'malformed_ip'; return false; }
      proto = d[ip + 9];
      if (proto !== 6) { result.skip = ''; return false; }
      const frag = d.readUInt16BE(ip + 6);
      if ((frag & 0x3fff) !== 0) { result.skip = 'ip_fragment'; return false; }
      // total length 0 happens with TSO captures; trust the capture then. Else it trims link padding.
      l4End = total === 0 ? end : Math.min(end, ip + total);
      if (total !== 0 && total < ihl) { result.skip = 'malformed_ip'; return false; }
      l4 = ip + ihl;
      seg.srcOff = ip + 12; seg.dstOff = ip + 16;
    } else if (version === 6) {
      if (ip + 40 > end) { result.skip = 'truncated_packet'; return false; }
      const plen = d.readUInt16BE(ip + 4);
      l4End = plen === 0 ? end : Math.min(end, ip + 40 + plen); // 0 = jumbogram / TSO
      proto = d[ip + 6];
      l4 = ip + 40;
      // extension headers: hop-by-hop, routing, destination options, AH; fragments are counted
      for (let hops = 0; proto !== 6 && hops < 8; hops++) {
        if (proto === 44) { result.skip = 'ip_fragment'; return false; }
        if (proto !== 0 && proto !== 43 && proto !== 60 && proto !== 51) { result.skip = ''; return false; }
        if (l4 + 8 > l4End) { result.skip = 'malformed_ip'; return false; }
        const next = d[l4];
        const len = proto === 51 ? (d[l4 + 1] + 2) * 4 : (d[l4 + 1] + 1) * 8;
        proto = next; l4 += len;
      }
      if (proto !== 6) { result.skip = ''; return false; }
      seg.srcOff = ip + 8; seg.dstOff = ip + 24;
    } else { result.skip = 'malformed_ip'; return false; }

    if (l4 + 20 > l4End) { result.skip = l4End === end ? 'truncated_packet' : 'malformed_tcp'; return false; }
    const doff = (d[l4 + 12] >> 4) * 4;
    if (doff < 20 || l4 + doff > l4End) { result.skip = 'malformed_tcp'; return false; }
    seg.ipVersion = version;
    seg.srcPort = d.readUInt16BE(l4);
    seg.dstPort = d.readUInt16BE(l4 + 2);
    seg.seq = d.readUInt32BE(l4 + 4);
    seg.ack = d.readUInt32BE(l4 + 8);
    seg.flags = d[l4 + 13];
    seg.data = d;
    seg.payloadOff = l4 + doff;
    seg.payloadLen = l4End - (l4 + doff);
    return true;
  }
  return { decode, result };
}

/** Printable address for the 4 or 16 bytes at off (RFC 5952 compressed form for IPv6). */
export function formatIp(d: Buffer, off: number, version: number): string {
  if (version === 4) return `${d[off]}.${d[off + 1]}.${d[off + 2]}.${d[off + 3]}`;
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 section 5)
  let mapped = d.readUInt16BE(off + 10) === 0xffff;
  for (let i = 0; mapped && i < 10; i++) if (d[off + i] !== 0) mapped = false;
  if (mapped) return `::ffff:${formatIp(d, off + 12, 4)}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(d.readUInt16BE(off + i * 2));
  // longest run of zero words (length ≥ 2) becomes "::"
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** A string that identifies the address for map keys (cheap, not for display). */
export function ipKey(d: Buffer, off: number, version: number): string {
  return version === 4 ? String(d.readUInt32BE(off)) : d.toString('latin1', off, off + 16);
}
