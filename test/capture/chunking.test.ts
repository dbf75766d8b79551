import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { CaptureInfo } from '../../src/capture/packet';
import { MAX_BLOCK } from '../../src/capture/pcapng';
import { createCaptureParser, parseCaptureBuffer } from '../../src/capture/reader';
import { block, buildPcap, collector, CORPUS, digest, epb, HAVE_CORPUS, idb, payload, pb, shb, spb, swapPcapToBE, u32 } from './helpers';

/** Parses buf pushed in pieces whose sizes cycle through `sizes`. */
function parseInPieces(buf: Buffer, sizes: number[]): { info: CaptureInfo; lines: string[] } {
  const { sink, recs } = collector();
  const parser = createCaptureParser(sink);
  let off = 0;
  for (let i = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length];
    // a fresh copy per piece: the parser must not keep references to pushed chunks
    const piece = Buffer.from(buf.subarray(off, off + n));
    parser.push(piece);
    piece.fill(0xee);
    off += n;
  }
  return { info: parser.end(), lines: digest(recs) };
}

function parseWhole(buf: Buffer): { info: CaptureInfo; lines: string[] } {
  const { sink, recs } = collector();
  return { info: parseCaptureBuffer(buf, sink), lines: digest(recs) };
}

function expectSameInPieces(buf: Buffer, sizes: number[]): void {
  const whole = parseWhole(buf);
  const split = parseInPieces(buf, sizes);
  expect(split.lines).toEqual(whole.lines);
  expect(split.info).toEqual(whole.info);
}

const hugeEpb = epb(true, 0, 9n, payload(9, MAX_BLOCK + 8));
const inputs: Array<[string, Buffer]> = [
  ['pcap LE µs', buildPcap(true, false, 1, [0, 1, 2, 3].map((i) => ({ sec: i, frac: i * 7, data: payload(i, 10 + i * 13) })))],
  ['pcap BE ns', buildPcap(false, true, 113, [0, 1, 2].map((i) => ({ sec: i, frac: i * 7, data: payload(i, 1 + i * 29) })))],
  ['pcap with empty packet and truncated tail', buildPcap(true, false, 1, [
    { sec: 1, frac: 1, data: Buffer.alloc(0) },
    { sec: 2, frac: 2, data: payload(2, 50) },
  ]).subarray(0, 24 + 16 + 16 + 20)],
  ['pcap with absurd caplen', Buffer.concat([buildPcap(true, false, 1, [{ sec: 1, frac: 1, data: payload(1, 9) }]), u32(true, 1), u32(true, 1), u32(true, 1 << 30), u32(true, 1), Buffer.alloc(40)])],
  ['pcapng mixed', Buffer.concat([
    shb(true),
    idb(true, { linkType: 1, tsresol: 9 }),
    idb(true, { linkType: 101, tsresol: 0x8a, snapLen: 40 }),
    epb(true, 1, 77777n, payload(1, 21)),
    block(true, 0x7777, payload(0, 17)),
    spb(true, payload(2, 40), 90),
    pb(true, 0, 5n, payload(3, 5)),
    shb(false),
    idb(false, { linkType: 228 }),
    epb(false, 0, 123456789n, payload(4, 63)),
  ])],
  ['pcapng with oversized blocks and a truncated tail', Buffer.concat([
    shb(false),
    idb(false, { linkType: 1 }),
    epb(false, 0, 1n, payload(1, 10)),
    block(false, 0x40000bad, payload(5, MAX_BLOCK + 4)),
    hugeEpb,
    epb(false, 0, 2n, payload(2, 10)),
    epb(false, 0, 3n, payload(3, 10)).subarray(0, 30),
  ])],
  ['pcapng with a bad block length', Buffer.concat([shb(true), idb(true, { linkType: 1 }), epb(true, 0, 1n, payload(1, 10)), u32(true, 6), u32(true, 13), Buffer.alloc(40)])],
];

describe('records split across chunks parse as in one buffer', () => {
  for (const [name, buf] of inputs) {
    it(`${name}: every piece size 1..7`, () => {
      for (let n = 1; n <= 7; n++) expectSameInPieces(buf, [n]);
      expect(parseWhole(buf).info.packets).toBeGreaterThan(0);
    });
    it(`${name}: irregular piece sizes`, () => {
      expectSameInPieces(buf, [1, 23, 4, 100, 3, 4096, 2, 65536, 7, 300000]);
    });
  }

  it.skipIf(!HAVE_CORPUS)('real captures in 1..7-byte pieces, and big-endian and pcapng variants', () => {
    const files = ['zeek/smb2_100_small_files.pcap', 'jasonlue-pcap/smb-on-windows-10.pcapng', 'suricata-verify/smb2-async-read__input.pcap'];
    for (const rel of files) {
      const buf = fs.readFileSync(path.join(CORPUS, rel));
      const whole = parseWhole(buf);
      expect(whole.info.packets, rel).toBeGreaterThan(100);
      for (const sizes of [[1], [3], [7], [4093, 5, 65521], [1 << 20]]) {
        const split = parseInPieces(buf, sizes);
        expect(split.lines, `${rel} in pieces of ${sizes}`).toEqual(whole.lines);
        expect(split.info).toEqual(whole.info);
      }
      if (buf.readUInt32LE(0) === 0xa1b2c3d4) expect(parseInPieces(swapPcapToBE(buf), [5]).lines).toEqual(whole.lines);
    }
  });
});
