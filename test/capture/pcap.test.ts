import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/packet';
import { PcapParser } from '../../src/capture/pcap';
import { parseCaptureBuffer } from '../../src/capture/reader';
import { buildPcap, collector, digest, CORPUS, HAVE_CORPUS, payload, pcapHeader, pcapRecord, swapPcapToBE, u32 } from './helpers';

const RECS = [
  { sec: 1_700_000_000, frac: 123_456, data: payload(1, 60) },
  { sec: 1_700_000_001, frac: 999_999, data: payload(2, 1514), origLen: 1514 },
  { sec: 1_700_000_002, frac: 0, data: payload(3, 96), origLen: 1500 },
];

describe('classic pcap', () => {
  for (const le of [true, false]) {
    it(`reads µs timestamps, lengths and data (${le ? 'little' : 'big'}-endian)`, () => {
      const { sink, recs } = collector();
      const info = parseCaptureBuffer(buildPcap(le, false, 1, RECS), sink);
      expect(info).toMatchObject({ format: 'pcap', gzip: false, packets: 3, anomalies: {} });
      expect(recs.map((r) => r.frame)).toEqual([1, 2, 3]);
      expect(recs.map((r) => [r.tsSec, r.tsNs, r.tsDigits, r.linkType])).toEqual([
        [1_700_000_000, 123_456_000, 6, 1],
        [1_700_000_001, 999_999_000, 6, 1],
        [1_700_000_002, 0, 6, 1],
      ]);
      expect(recs.map((r) => [r.capLen, r.origLen])).toEqual([
        [60, 60],
        [1514, 1514],
        [96, 1500],
      ]);
      recs.forEach((r, i) => expect(r.data.equals(RECS[i].data)).toBe(true));
    });

    it(`reads ns timestamps from the a1b23c4d magic (${le ? 'little' : 'big'}-endian)`, () => {
      const { sink, recs } = collector();
      const buf = buildPcap(le, true, 101, [{ sec: 5, frac: 999_999_999, data: payload(1, 20) }]);
      parseCaptureBuffer(buf, sink);
      expect(recs[0]).toMatchObject({ tsSec: 5, tsNs: 999_999_999, tsDigits: 9, linkType: 101 });
    });
  }

  it('masks the FCS bits out of the link type field', () => {
    const p = new PcapParser(collector().sink);
    // FCS present (bit 26), 2 × 16-bit words of FCS (bits 28-31), Ethernet
    const hdr = pcapHeader(true, false, (2 << 28) | 0x04000000 | 1);
    p.push(Buffer.concat([hdr, pcapRecord(true, { sec: 1, frac: 0, data: payload(0, 64) })]));
    p.end();
    expect(p.linkType).toBe(1);
    expect(p.fcsBytes).toBe(4);
  });

  it('folds an out-of-range fraction into the seconds', () => {
    const { sink, recs } = collector();
    parseCaptureBuffer(buildPcap(true, false, 1, [{ sec: 10, frac: 2_500_000, data: payload(0, 4) }]), sink);
    expect([recs[0].tsSec, recs[0].tsNs]).toEqual([12, 500_000_000]);
  });

  it('accepts a header-only file as zero packets', () => {
    const info = parseCaptureBuffer(pcapHeader(true, false, 1), collector().sink);
    expect(info).toMatchObject({ packets: 0, bytes: 24, anomalies: {} });
  });

  it('reports a truncated last record and keeps the packets before it', () => {
    const whole = buildPcap(true, false, 1, RECS);
    for (const cut of [1, 15, 16, 17, 95]) {
      const { sink, recs } = collector();
      const info = parseCaptureBuffer(whole.subarray(0, whole.length - cut), sink);
      expect(info.packets, `cut ${cut}`).toBe(2);
      expect(info.anomalies).toEqual({ truncated_record: 1 });
      expect(recs).toHaveLength(2);
    }
  });

  it('stops on an absurd caplen instead of buffering it', () => {
    const bad = Buffer.concat([u32(true, 1), u32(true, 0), u32(true, 0x7fffffff), u32(true, 60), payload(0, 64)]);
    const buf = Buffer.concat([buildPcap(true, false, 1, RECS.slice(0, 1)), bad, pcapRecord(true, RECS[1])]);
    const { sink, recs } = collector();
    const info = parseCaptureBuffer(buf, sink);
    expect(info.packets).toBe(1);
    expect(info.anomalies).toEqual({ absurd_caplen: 1 });
    expect(recs).toHaveLength(1);
  });

  it('accepts a caplen of exactly 256 KiB', () => {
    const big = payload(9, 262_144);
    const { sink, recs } = collector();
    const info = parseCaptureBuffer(buildPcap(true, false, 1, [{ sec: 1, frac: 0, data: big }]), sink);
    expect(info.anomalies).toEqual({});
    expect(recs[0].data.equals(big)).toBe(true);
  });

  it('rejects a truncated file header and an unknown version with CaptureError', () => {
    const hdr = pcapHeader(true, false, 1);
    expect(() => parseCaptureBuffer(hdr.subarray(0, 20), collector().sink)).toThrow(CaptureError);
    expect(() => parseCaptureBuffer(hdr.subarray(0, 20), collector().sink)).toThrow('truncated pcap file header (20 of 24 bytes)');
    const v3 = Buffer.from(hdr);
    v3.writeUInt16LE(3, 4);
    expect(() => parseCaptureBuffer(v3, collector().sink)).toThrow('unsupported pcap version 3.4');
  });

  it.skipIf(!HAVE_CORPUS)('reads a real capture rewritten big-endian identically', () => {
    const le = fs.readFileSync(path.join(CORPUS, 'zeek/smb2.pcap'));
    const a = collector();
    const b = collector();
    const infoLE = parseCaptureBuffer(le, a.sink);
    const infoBE = parseCaptureBuffer(swapPcapToBE(le), b.sink);
    expect(le.readUInt32BE(0)).toBe(0xd4c3b2a1);
    expect(infoBE.packets).toBe(infoLE.packets);
    expect(infoBE.packets).toBeGreaterThan(1000);
    expect(digest(b.recs)).toEqual(digest(a.recs));
  });
});
