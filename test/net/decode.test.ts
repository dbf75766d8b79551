/**
 * Link layer → IP → TCP on hand-built packets: every supported link type, IPv4 options and
 * padding, IPv6 extension headers, fragments and truncation, and RFC 5952 address text.
 */
import { describe, expect, it } from 'vitest';
import { createDecoder, formatIp, TCP_ACK, TCP_SYN } from '../../src/net/decode';
import {
  ACK, AF_INET, AF_INET6_BSD, ascii, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ethernet, IPPROTO_DSTOPTS,
  IPPROTO_FRAGMENT, IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_TCP, IPPROTO_UDP, ipv4, ipv6, ipv6Bytes, LINKTYPE,
  nullLoopback, PSH, sll, sll2, SYN, tcp,
} from '../helpers/build';
import { packetOf } from '../helpers/record';

const PAYLOAD = ascii('\x00\x00\x00\x04\xfeSMB');
const seg4 = (payload = PAYLOAD, flags = ACK | PSH): Buffer => tcp(49700, 445, 0x01020304, 0xa0b0c0d0, flags, payload);
const v4 = (payload = PAYLOAD): Buffer => ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, seg4(payload));
const v6 = (payload = PAYLOAD): Buffer => ipv6('2001:db8::5', '2001:db8::c', IPPROTO_TCP, seg4(payload));

function decode(linkType: number, frame: Buffer, off = 0) {
  const d = createDecoder();
  const p = packetOf(linkType, frame, 1, off);
  const ok = d.decode(p);
  const s = d.result.seg;
  return {
    ok,
    skip: d.result.skip,
    src: ok ? formatIp(s.data, s.srcOff, s.ipVersion) : '',
    dst: ok ? formatIp(s.data, s.dstOff, s.ipVersion) : '',
    srcPort: s.srcPort,
    dstPort: s.dstPort,
    seq: s.seq,
    ack: s.ack,
    flags: s.flags,
    version: s.ipVersion,
    payload: ok ? s.data.toString('latin1', s.payloadOff, s.payloadOff + s.payloadLen) : '',
  };
}

describe('link types', () => {
  const cases: [string, number, Buffer, 4 | 6][] = [
    ['Ethernet IPv4', LINKTYPE.ETHERNET, ethernet(v4(), ETHERTYPE_IPV4), 4],
    ['Ethernet IPv6', LINKTYPE.ETHERNET, ethernet(v6(), ETHERTYPE_IPV6), 6],
    ['802.1Q VLAN', LINKTYPE.ETHERNET, ethernet(v4(), ETHERTYPE_IPV4, { vlans: [100] }), 4],
    ['802.1ad QinQ (two tags)', LINKTYPE.ETHERNET, ethernet(v6(), ETHERTYPE_IPV6, { vlans: [200, 100], outerTpid: ETHERTYPE_QINQ }), 6],
    ['Linux SLL', LINKTYPE.SLL, sll(v4(), ETHERTYPE_IPV4), 4],
    ['Linux SLL IPv6', LINKTYPE.SLL, sll(v6(), ETHERTYPE_IPV6), 6],
    ['Linux SLL2', LINKTYPE.SLL2, sll2(v4(), ETHERTYPE_IPV4), 4],
    ['Linux SLL2 IPv6', LINKTYPE.SLL2, sll2(v6(), ETHERTYPE_IPV6), 6],
    ['BSD null (host order LE)', LINKTYPE.NULL, nullLoopback(v4(), AF_INET), 4],
    ['BSD null (BE, IPv6)', LINKTYPE.NULL, nullLoopback(v6(), AF_INET6_BSD, false), 6],
    ['OpenBSD loop', LINKTYPE.LOOP, nullLoopback(v4(), AF_INET, false), 4],
    ['raw IP (101)', LINKTYPE.RAW, v4(), 4],
    ['raw IP (12)', 12, v6(), 6],
    ['raw IPv4 (228)', LINKTYPE.IPV4, v4(), 4],
    ['raw IPv6 (229)', LINKTYPE.IPV6, v6(), 6],
  ];
  for (const [name, lt, frame, version] of cases) {
    it(`${name}: addresses, ports, seq/ack, flags and payload`, () => {
      const r = decode(lt, frame, 7); // not at offset 0 of its buffer, as in a read chunk
      expect(r.ok).toBe(true);
      expect(r.version).toBe(version);
      expect([r.src, r.dst]).toEqual(version === 4 ? ['10.0.0.5', '10.0.0.12'] : ['2001:db8::5', '2001:db8::c']);
      expect([r.srcPort, r.dstPort]).toEqual([49700, 445]);
      expect([r.seq, r.ack]).toEqual([0x01020304, 0xa0b0c0d0]);
      expect(r.flags).toBe(ACK | PSH);
      expect(r.payload).toBe('\x00\x00\x00\x04\xfeSMB');
    });
  }

  it('SLL/SLL2 with a non-IP protocol and Ethernet with ARP are not TCP (no anomaly)', () => {
    expect(decode(LINKTYPE.SLL, sll(v4(), 0x0806))).toMatchObject({ ok: false, skip: '' });
    expect(decode(LINKTYPE.SLL2, sll2(v4(), 0x0806))).toMatchObject({ ok: false, skip: '' });
    expect(decode(LINKTYPE.ETHERNET, ethernet(v4(), 0x0806))).toMatchObject({ ok: false, skip: '' });
  });

  it('an unknown link type is counted as link_unsupported', () => {
    expect(decode(147, v4())).toMatchObject({ ok: false, skip: 'link_unsupported' });
  });

  it('UDP is silently not TCP', () => {
    expect(decode(LINKTYPE.RAW, ipv4('1.1.1.1', '2.2.2.2', IPPROTO_UDP, Buffer.alloc(12)))).toMatchObject({ ok: false, skip: '' });
  });

  it('SYN flags and a zero-length payload', () => {
    const r = decode(LINKTYPE.RAW, ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, tcp(1, 2, 7, 0, SYN)));
    expect(r.ok).toBe(true);
    expect(r.flags & TCP_SYN).toBe(TCP_SYN);
    expect(r.flags & TCP_ACK).toBe(0);
    expect(r.payload).toBe('');
  });
});

describe('IPv4', () => {
  it('Ethernet padding is trimmed by the IP total length', () => {
    const frame = ethernet(v4(ascii('ab')), ETHERTYPE_IPV4, { minLength: 60 });
    expect(frame.length).toBe(60); // 14 + 20 + 20 + 2 = 56, padded with 4 zero bytes
    const r = decode(LINKTYPE.ETHERNET, frame);
    expect(r.payload).toBe('ab');
  });

  it('a pure ACK in a padded minimum frame has an empty payload', () => {
    const frame = ethernet(ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, tcp(1, 445, 1, 1, ACK)), ETHERTYPE_IPV4, { minLength: 60 });
    expect(decode(LINKTYPE.ETHERNET, frame).payload).toBe('');
  });

  it('total length 0 (TSO capture) trusts the captured length', () => {
    const ip = ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, seg4(ascii('hello')), { totalLength: 0 });
    expect(decode(LINKTYPE.RAW, ip).payload).toBe('hello');
  });

  it('options (IHL > 5) are skipped', () => {
    // Record Route (7), length 11, pointer 4, two empty slots, then EOL padding → 12 bytes
    const opts = Buffer.from([7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const ip = ipv4('192.168.1.1', '192.168.1.2', IPPROTO_TCP, seg4(ascii('opt')), { options: opts });
    expect(ip[0]).toBe(0x48);
    const r = decode(LINKTYPE.RAW, ip);
    expect(r).toMatchObject({ ok: true, src: '192.168.1.1', dst: '192.168.1.2', srcPort: 49700, payload: 'opt' });
  });

  it('a first fragment (MF) and a later fragment (offset) are skipped as ip_fragment', () => {
    const mf = ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, seg4(), { fragment: 0x2000 });
    const later = ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, Buffer.alloc(16), { fragment: 0x0003 });
    expect(decode(LINKTYPE.RAW, mf)).toMatchObject({ ok: false, skip: 'ip_fragment' });
    expect(decode(LINKTYPE.RAW, later)).toMatchObject({ ok: false, skip: 'ip_fragment' });
    // DF alone is not a fragment
    expect(decode(LINKTYPE.RAW, ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, seg4(), { fragment: 0x4000 })).ok).toBe(true);
  });

  it('a packet cut inside the IP header is truncated_packet', () => {
    const frame = ethernet(v4(), ETHERTYPE_IPV4).subarray(0, 14 + 16);
    expect(decode(LINKTYPE.ETHERNET, frame)).toMatchObject({ ok: false, skip: 'truncated_packet' });
  });

  it('a packet cut inside the TCP header is truncated_packet', () => {
    const frame = ethernet(v4(), ETHERTYPE_IPV4).subarray(0, 14 + 20 + 12);
    expect(decode(LINKTYPE.ETHERNET, frame)).toMatchObject({ ok: false, skip: 'truncated_packet' });
  });

  it('a packet cut inside the payload (snaplen) yields the captured part', () => {
    const frame = ethernet(v4(ascii('0123456789')), ETHERTYPE_IPV4).subarray(0, 14 + 40 + 4);
    expect(decode(LINKTYPE.ETHERNET, frame)).toMatchObject({ ok: true, payload: '0123' });
  });

  it('IHL < 5 is malformed_ip; a total length that leaves no room for TCP is malformed_tcp', () => {
    const bad = Buffer.from(v4());
    bad[0] = 0x44;
    expect(decode(LINKTYPE.RAW, bad)).toMatchObject({ ok: false, skip: 'malformed_ip' });
    const short = ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, seg4(), { totalLength: 30 });
    expect(decode(LINKTYPE.RAW, short)).toMatchObject({ ok: false, skip: 'malformed_tcp' });
  });

  it('a TCP data offset below 5 words is malformed_tcp', () => {
    const t = seg4();
    t[12] = 0x40;
    expect(decode(LINKTYPE.RAW, ipv4('10.0.0.5', '10.0.0.12', IPPROTO_TCP, t))).toMatchObject({ ok: false, skip: 'malformed_tcp' });
  });

  it('an IP version other than 4 or 6 is malformed_ip', () => {
    const b = Buffer.from(v4());
    b[0] = 0x55;
    expect(decode(LINKTYPE.RAW, b)).toMatchObject({ ok: false, skip: 'malformed_ip' });
  });
});

describe('IPv6', () => {
  it('hop-by-hop and destination-options headers are walked to TCP', () => {
    const ip = ipv6('fe80::1', 'fe80::2', IPPROTO_TCP, seg4(ascii('ext')), [{ type: IPPROTO_HOPOPTS }, { type: IPPROTO_DSTOPTS, length: 16 }]);
    expect(ip[6]).toBe(IPPROTO_HOPOPTS);
    expect(decode(LINKTYPE.RAW, ip)).toMatchObject({ ok: true, src: 'fe80::1', dst: 'fe80::2', dstPort: 445, payload: 'ext' });
  });

  it('a routing header is walked too', () => {
    const ip = ipv6('2001:db8::1', '2001:db8::2', IPPROTO_TCP, seg4(ascii('rt')), [{ type: IPPROTO_ROUTING, length: 24 }]);
    expect(decode(LINKTYPE.RAW, ip)).toMatchObject({ ok: true, payload: 'rt' });
  });

  it('a fragment header is skipped as ip_fragment', () => {
    const ip = ipv6('2001:db8::1', '2001:db8::2', IPPROTO_TCP, seg4(), [{ type: IPPROTO_HOPOPTS }, { type: IPPROTO_FRAGMENT }]);
    expect(decode(LINKTYPE.RAW, ip)).toMatchObject({ ok: false, skip: 'ip_fragment' });
  });

  it('padding after the IPv6 payload length is trimmed', () => {
    const frame = ethernet(ipv6('::1', '::1', IPPROTO_TCP, seg4(ascii('x'))), ETHERTYPE_IPV6);
    const padded = Buffer.concat([frame, Buffer.alloc(6)]);
    expect(decode(LINKTYPE.ETHERNET, padded).payload).toBe('x');
  });

  it('a packet cut inside the fixed header is truncated_packet', () => {
    expect(decode(LINKTYPE.RAW, v6().subarray(0, 30))).toMatchObject({ ok: false, skip: 'truncated_packet' });
  });

  it('an extension header running past the payload is malformed_ip', () => {
    const ip = ipv6('::1', '::2', IPPROTO_TCP, Buffer.alloc(0), [{ type: IPPROTO_HOPOPTS }]).subarray(0, 44);
    ip.writeUInt16BE(4, 4);
    expect(decode(LINKTYPE.RAW, ip)).toMatchObject({ ok: false, skip: 'malformed_ip' });
  });

  it('a chain of more than 8 extension headers gives up without throwing', () => {
    const ext = Array.from({ length: 10 }, () => ({ type: IPPROTO_DSTOPTS }));
    expect(decode(LINKTYPE.RAW, ipv6('::1', '::2', IPPROTO_TCP, seg4(), ext))).toMatchObject({ ok: false, skip: '' });
  });
});

describe('formatIp (RFC 5952)', () => {
  const f6 = (s: string): string => formatIp(ipv6Bytes(s), 0, 6);
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // 4.1 leading zeros, 4.2.1 longest run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2 a single 16-bit 0 is not "::"
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3 the longest run is shortened
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3 equal runs: the first
    ['2001:DB8::ABCD', '2001:db8::abcd'], // 4.3 lowercase
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:1:0:0:0:1:0', '0:0:1::1:0'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ];
  for (const [input, want] of cases) it(`${input} → ${want}`, () => expect(f6(input)).toBe(want));

  it('IPv4 is dotted decimal, read at an offset', () => {
    expect(formatIp(Buffer.from([9, 192, 0, 2, 255]), 1, 4)).toBe('192.0.2.255');
  });

  // RFC 5952 section 5 recommends mixed notation for IPv4-mapped addresses (::ffff:0:0/96),
  // as Wireshark/tshark print them (fixed in 0f82dfc).
  it('IPv4-mapped addresses use mixed notation (RFC 5952 section 5)', () => {
    expect(f6('::ffff:c000:0201')).toBe('::ffff:192.0.2.1');
    expect(f6('::ffff:0:1')).toBe('::ffff:0.0.0.1');
    // not mapped: hex words as usual
    expect(f6('::fffe:c000:201')).toBe('::fffe:c000:201');
    expect(f6('1::ffff:c000:201')).toBe('1::ffff:c000:201');
  });
});
