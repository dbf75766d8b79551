import { describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/packet';
import { MAX_BLOCK, PcapngInterface, PcapngParser, setResolution, setTimestamp } from '../../src/capture/pcapng';
import { parseCaptureBuffer } from '../../src/capture/reader';
import { block, collector, epb, idb, payload, pb, shb, spb, tsString, u32 } from './helpers';

const NS = 1_700_000_000_123_456_789n;

/** Two interfaces: Ethernet in ns (10^-9), Linux SLL in 2^-10 s with a one-hour if_tsoffset. */
function twoInterfaces(le: boolean): Buffer {
  return Buffer.concat([
    shb(le),
    idb(le, { linkType: 1, snapLen: 262144, tsresol: 9 }),
    idb(le, { linkType: 113, snapLen: 65535, tsresol: 0x80 | 10, tsoffset: 3600 }),
    epb(le, 0, NS, payload(1, 60)),
    epb(le, 1, 1_700_000_000n * 1024n + 512n, payload(2, 45), 1500),
    epb(le, 1, 1_700_000_000n * 1024n + 1n, payload(3, 3)),
    epb(le, 0, NS + 1n, payload(4, 1514)),
  ]);
}

function parse(buf: Buffer): { info: ReturnType<typeof parseCaptureBuffer>; recs: ReturnType<typeof collector>['recs'] } {
  const { sink, recs } = collector();
  return { info: parseCaptureBuffer(buf, sink), recs };
}

describe('pcapng', () => {
  for (const le of [true, false]) {
    it(`gives each packet its interface's link type and resolution (${le ? 'little' : 'big'}-endian)`, () => {
      const { info, recs } = parse(twoInterfaces(le));
      expect(info).toMatchObject({ format: 'pcapng', packets: 4, anomalies: {} });
      expect(recs.map((r) => [r.frame, r.linkType, tsString(r), r.tsDigits, r.capLen, r.origLen])).toEqual([
        [1, 1, '1700000000.123456789', 9, 60, 60],
        [2, 113, '1700003600.500000000', 4, 45, 1500],
        [3, 113, '1700003600.000976562', 4, 3, 3],
        [4, 1, '1700000000.123456790', 9, 1514, 1514],
      ]);
      expect(recs[1].data.equals(payload(2, 45))).toBe(true);
      expect(recs[3].data.equals(payload(4, 1514))).toBe(true);
    });
  }

  it('defaults to microseconds without if_tsresol', () => {
    const { recs } = parse(Buffer.concat([shb(true), idb(true, { linkType: 1 }), epb(true, 0, 1_600_000_000_654_321n, payload(0, 10))]));
    expect([tsString(recs[0]), recs[0].tsDigits]).toEqual(['1600000000.654321000', 6]);
  });

  it('skips unknown blocks with a count, and known non-packet blocks silently', () => {
    const le = true;
    const buf = Buffer.concat([
      shb(le),
      idb(le, { linkType: 1 }),
      block(le, 0x12345678, payload(0, 10)),
      epb(le, 0, 1n, payload(1, 20)),
      block(le, 4, Buffer.alloc(4)), // NRB
      block(le, 5, Buffer.alloc(12)), // ISB
      block(le, 0x80000001, Buffer.alloc(0)),
      epb(le, 0, 2n, payload(2, 20)),
    ]);
    const parser = new PcapngParser(collector().sink);
    parser.push(buf);
    const info = parser.end();
    expect(info.packets).toBe(2);
    expect(info.anomalies).toEqual({ unknown_block: 2 });
    expect(parser.skippedBlocks).toBe(2);
  });

  it('starts over at a new section: byte order switches and interfaces reset', () => {
    const buf = Buffer.concat([
      shb(true),
      idb(true, { linkType: 1 }),
      idb(true, { linkType: 113 }),
      epb(true, 1, 1n, payload(1, 30)),
      shb(false),
      idb(false, { linkType: 101, tsresol: 3 }),
      epb(false, 0, 1_234_567n, payload(2, 40)),
      epb(false, 1, 1n, payload(3, 40)), // interface 1 belonged to the first section
      shb(true),
      idb(true, { linkType: 228 }),
      epb(true, 0, 5n, payload(4, 50)),
    ]);
    const { sink, recs } = collector();
    const p2 = new PcapngParser(sink);
    p2.push(buf);
    const info = p2.end();
    expect(p2.sections).toBe(3);
    expect(info.anomalies).toEqual({ unknown_interface: 1 });
    expect(recs.map((r) => [r.frame, r.linkType, tsString(r), r.tsDigits])).toEqual([
      [1, 113, '0.000001000', 6],
      [2, 101, '1234.567000000', 3],
      [3, 228, '0.000005000', 6],
    ]);
  });

  for (const le of [true, false]) {
    it(`reads simple packet blocks with interface 0's snaplen (${le ? 'little' : 'big'}-endian)`, () => {
      const snapped = Buffer.concat([shb(le), idb(le, { linkType: 1, snapLen: 64 }), spb(le, payload(1, 64), 1514), spb(le, payload(2, 61))]);
      const { info, recs } = parse(snapped);
      expect(info.anomalies).toEqual({});
      expect(recs.map((r) => [r.frame, r.capLen, r.origLen, r.tsSec, r.tsNs])).toEqual([
        [1, 64, 1514, 0, 0],
        [2, 61, 61, 0, 0],
      ]);
      expect(recs[1].data.equals(payload(2, 61))).toBe(true);
    });
  }

  it('reads the obsolete packet block and numbers frames across block kinds', () => {
    const buf = Buffer.concat([
      shb(false),
      idb(false, { linkType: 1, tsresol: 6 }),
      pb(false, 0, 1_000_001n, payload(1, 33)),
      spb(false, payload(2, 12)),
      epb(false, 0, 3_000_000n, payload(3, 12)),
    ]);
    const { info, recs } = parse(buf);
    expect(info.packets).toBe(3);
    expect(recs.map((r) => [r.frame, tsString(r), r.capLen])).toEqual([
      [1, '1.000001000', 33],
      [2, '0.000000000', 12],
      [3, '3.000000000', 12],
    ]);
    expect(recs[0].data.equals(payload(1, 33))).toBe(true);
  });

  describe('hostile block lengths stop cleanly', () => {
    const head = Buffer.concat([shb(true), idb(true, { linkType: 1 }), epb(true, 0, 1n, payload(1, 20))]);
    const tail = epb(true, 0, 2n, payload(2, 20));
    const cases: Array<[string, Buffer]> = [
      ['zero length', Buffer.concat([u32(true, 6), u32(true, 0), Buffer.alloc(24)])],
      ['length below 12', Buffer.concat([u32(true, 6), u32(true, 8), Buffer.alloc(24)])],
      ['length not a multiple of 4', Buffer.concat([u32(true, 6), u32(true, 50), Buffer.alloc(48)])],
      ['trailing length differs', (() => {
        const b = Buffer.from(epb(true, 0, 3n, payload(3, 20)));
        b.writeUInt32LE(999, b.length - 4);
        return b;
      })()],
    ];
    for (const [name, bad] of cases) {
      it(name, () => {
        const { info, recs } = parse(Buffer.concat([head, bad, tail]));
        expect(info.anomalies).toEqual({ bad_block_length: 1 });
        expect(recs.map((r) => r.frame)).toEqual([1]);
      });
    }
  });

  it('skips a packet block whose caplen exceeds the block and goes on', () => {
    const bad = Buffer.from(epb(true, 0, 5n, payload(5, 20)));
    bad.writeUInt32LE(5000, 20); // caplen field
    const buf = Buffer.concat([shb(true), idb(true, { linkType: 1 }), bad, epb(true, 0, 6n, payload(6, 20))]);
    const { info, recs } = parse(buf);
    expect(info.anomalies).toEqual({ bad_caplen: 1 });
    expect(recs.map((r) => [r.frame, r.data.equals(payload(6, 20))])).toEqual([[1, true]]);
  });

  it('skips oversized blocks unread: packet blocks counted, the file goes on', () => {
    const huge = payload(7, MAX_BLOCK + 100);
    const buf = Buffer.concat([
      shb(true),
      idb(true, { linkType: 1 }),
      epb(true, 0, 1n, huge),
      block(true, 0x00000bad, huge), // custom block
      epb(true, 0, 2n, payload(8, 20)),
    ]);
    const { sink, recs } = collector();
    const p = new PcapngParser(sink);
    p.push(buf);
    const info = p.end();
    expect(info.anomalies).toEqual({ oversized_block: 1 });
    expect(p.skippedBlocks).toBe(1);
    expect(recs.map((r) => r.frame)).toEqual([1]);
  });

  it('counts a truncated last block', () => {
    const whole = twoInterfaces(true);
    for (const cut of [1, 4, 12, 100]) {
      const { info } = parse(whole.subarray(0, whole.length - cut));
      expect(info.packets, `cut ${cut}`).toBe(3);
      expect(info.anomalies).toEqual({ truncated_record: 1 });
    }
  });

  it('throws CaptureError when the first section header is unusable', () => {
    const push = (b: Buffer): void => {
      const p = new PcapngParser(collector().sink);
      p.push(b);
      p.end();
    };
    const badBom = Buffer.from(shb(true));
    badBom.writeUInt32LE(0xdeadbeef, 8);
    expect(() => push(badBom)).toThrow(/bad pcapng byte-order magic efbeadde/);
    const v2 = Buffer.from(shb(true));
    v2.writeUInt16LE(2, 12);
    expect(() => push(v2)).toThrow(/unsupported pcapng version 2\.0/);
    expect(() => push(shb(true).subarray(0, 20))).toThrow(CaptureError);
    expect(() => push(shb(true).subarray(0, 20))).toThrow('truncated pcapng section header (20 bytes)');
    expect(() => push(Buffer.concat([idb(true, { linkType: 1 })]))).toThrow(/first block is not a section header/);
  });

  it('a bad later section header is an anomaly, not an error', () => {
    const bad = Buffer.from(shb(false));
    bad.writeUInt16BE(7, 12);
    const { info, recs } = parse(Buffer.concat([twoInterfaces(true), bad, twoInterfaces(true)]));
    expect(info.anomalies).toEqual({ bad_section_header: 1 });
    expect(recs).toHaveLength(4);
  });
});

describe('pcapng timestamps are exact', () => {
  /** Reference conversion with BigInt. */
  function reference(ticks: bigint, v: number, offset: number): string {
    const n = BigInt(v & 0x7f);
    const units = v & 0x80 ? 1n << n : 10n ** n;
    const sec = ticks / units + BigInt(offset);
    const ns = ((ticks % units) * 1_000_000_000n) / units;
    return `${sec}.${ns.toString().padStart(9, '0')}`;
  }

  it('matches BigInt arithmetic over 64-bit tick counts and many resolutions', () => {
    let seed = 12345;
    const rnd32 = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const resolutions = [0, 3, 6, 9, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 32];
    const p = { tsSec: 0, tsNs: 0 };
    let checked = 0;
    for (const v of resolutions) {
      const itf: PcapngInterface = { linkType: 1, snapLen: 0, units: 1e6, nsMul: 1000, nsDiv: 1, tsDigits: 6, tsOffset: -7 };
      setResolution(itf, v);
      for (let i = 0; i < 3000; i++) {
        // realistic counts (now, in this unit) and arbitrary 64-bit ones
        const units = v & 0x80 ? 2n ** BigInt(v & 0x7f) : 10n ** BigInt(v);
        const ticks = i % 2 === 0 ? 1_700_000_000n * units + BigInt(rnd32()) : (BigInt(rnd32()) << 32n) | BigInt(rnd32());
        const secMax = ticks / units;
        if (secMax > BigInt(Number.MAX_SAFE_INTEGER)) continue;
        setTimestamp(p, itf, Number(ticks >> 32n), Number(ticks & 0xffffffffn));
        expect(tsString(p), `resol ${v} ticks ${ticks}`).toBe(reference(ticks, v, -7));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15000);
  });

  it('reports the decimal digits a binary resolution can show', () => {
    const itf: PcapngInterface = { linkType: 1, snapLen: 0, units: 1e6, nsMul: 1000, nsDiv: 1, tsDigits: 6, tsOffset: 0 };
    setResolution(itf, 0x80 | 10);
    expect(itf.tsDigits).toBe(4);
    setResolution(itf, 0x80 | 30);
    expect(itf.tsDigits).toBe(9);
    setResolution(itf, 12);
    expect(itf.tsDigits).toBe(9);
  });
});
