import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/capture/packet';
import { parseCaptureBuffer, readCapture, sniffCaptureFormat, SYNC_CHUNK } from '../../src/capture/reader';
import { buildPcap, collector, digest, epb, idb, payload, shb } from './helpers';

const PCAP = buildPcap(true, false, 1, Array.from({ length: 300 }, (_, i) => ({ sec: 1000 + i, frac: i, data: payload(i, 40 + (i % 200)) })));
const PCAPNG = Buffer.concat([
  shb(false),
  idb(false, { linkType: 1, tsresol: 9 }),
  ...Array.from({ length: 200 }, (_, i) => epb(false, 0, BigInt(i) * 1_000_000_007n, payload(i, 60 + (i % 100)))),
]);

/** Deterministic incompressible bytes. */
function noise(seed: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

let dir = '';
function file(name: string, content: Buffer | string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
}

async function read(p: string, chunkSize?: number): Promise<{ info: Awaited<ReturnType<typeof readCapture>>; lines: string[] }> {
  const { sink, recs } = collector();
  const info = await readCapture(p, sink, chunkSize === undefined ? {} : { chunkSize });
  return { info, lines: digest(recs) };
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-capture-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('sniffCaptureFormat', () => {
  it('recognises the four pcap magics, pcapng and gzip', () => {
    for (const m of ['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d']) expect(sniffCaptureFormat(Buffer.from(m, 'hex'))).toBe('pcap');
    expect(sniffCaptureFormat(shb(true))).toBe('pcapng');
    expect(sniffCaptureFormat(shb(false))).toBe('pcapng');
    expect(sniffCaptureFormat(zlib.gzipSync(PCAP))).toBe('gzip');
  });
  it('rejects everything else', () => {
    expect(sniffCaptureFormat(Buffer.from('<html><body>'))).toBeNull();
    expect(sniffCaptureFormat(Buffer.from('0a0d0d0a1c000000deadbeef', 'hex'))).toBeNull(); // pcapng magic, bad byte-order magic
    expect(sniffCaptureFormat(Buffer.from('d4c3b2', 'hex'))).toBeNull();
    expect(sniffCaptureFormat(Buffer.alloc(0))).toBeNull();
  });
});

describe('readCapture', () => {
  it('streams pcap and pcapng with any chunk size, matching the in-memory parse', async () => {
    for (const [name, buf] of [['a.pcap', PCAP], ['a.pcapng', PCAPNG]] as const) {
      const p = file(name, buf);
      const mem = collector();
      const memInfo = parseCaptureBuffer(buf, mem.sink);
      for (const chunk of [4096, 5000, 1 << 20]) {
        const { info, lines } = await read(p, chunk);
        expect(lines).toEqual(digest(mem.recs));
        expect(info).toEqual(memInfo);
      }
      expect(memInfo.bytes).toBe(buf.length);
    }
  });

  it('reads synchronously (as a worker beside others does) exactly what the double-buffered reader reads', async () => {
    // a lab capture larger than several synchronous chunks; a 4 KiB first read puts the
    // chunk boundaries everywhere inside records
    const lab = path.join(__dirname, '..', '..', 'captures', '10-many-small-files.pcap');
    expect(fs.statSync(lab).size).toBeGreaterThan(4 * SYNC_CHUNK);
    const plain = collector();
    const plainInfo = await readCapture(lab, plain.sink);
    for (const chunkSize of [4096, 1 << 20]) {
      const sync = collector();
      const syncInfo = await readCapture(lab, sync.sink, { sync: true, chunkSize });
      expect(digest(sync.recs)).toEqual(digest(plain.recs));
      expect(syncInfo).toEqual(plainInfo);
    }
    expect(plainInfo.packets).toBeGreaterThan(10_000);
  });

  it('reads gzip of a pcap and gzip of a pcapng by magic, whatever the name', async () => {
    for (const buf of [PCAP, PCAPNG]) {
      const p = file('no-extension', zlib.gzipSync(buf));
      const plain = collector();
      parseCaptureBuffer(buf, plain.sink);
      const { info, lines } = await read(p);
      expect(info.gzip).toBe(true);
      expect(info.bytes).toBe(buf.length);
      expect(info.anomalies).toEqual({});
      expect(lines).toEqual(digest(plain.recs));
      const inMemory = parseCaptureBuffer(zlib.gzipSync(buf), collector().sink);
      expect(inMemory).toEqual(info);
    }
  });

  it('reads a multi-member gzip (members appended to one file) as one capture', async () => {
    const cut = 24 + 16 + 40 + 7; // the second member starts inside the second record
    const gz = Buffer.concat([zlib.gzipSync(PCAP.subarray(0, cut)), zlib.gzipSync(PCAP.subarray(cut))]);
    const plain = collector();
    parseCaptureBuffer(PCAP, plain.sink);
    const { info, lines } = await read(file('members.pcap.gz', gz));
    expect(info).toMatchObject({ gzip: true, packets: 300, anomalies: {} });
    expect(lines).toEqual(digest(plain.recs));
  });

  it('a gzip cut short keeps the packets it holds and counts the truncation', async () => {
    const gz = zlib.gzipSync(PCAP, { level: 1 });
    const p = file('cut.pcap.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
    const { info } = await read(p);
    expect(info.packets).toBeGreaterThan(50);
    expect(info.packets).toBeLessThan(300);
    expect(info.anomalies.gzip_truncated).toBe(1);
  });

  it('bytes after the last gzip member (trailing garbage) are counted, everything before them is read', async () => {
    const whole = await read(file('whole.pcap', PCAP));
    for (const tail of [Buffer.from('XY'), Buffer.from('garbage after the member, more than a header'), Buffer.from([0x1f, 0x8b, 0x09])]) {
      const { info, lines } = await read(file('trailing.pcap.gz', Buffer.concat([zlib.gzipSync(PCAP), tail])));
      expect(lines).toEqual(whole.lines);
      expect(Object.keys(info.anomalies)).toHaveLength(1);
      expect(['gzip_trailing_garbage', 'gzip_corrupt', 'gzip_truncated']).toContain(Object.keys(info.anomalies)[0]);
    }
    expect((await read(file('garbage.pcap.gz', Buffer.concat([zlib.gzipSync(PCAP), Buffer.from('XY')])))).info.anomalies).toEqual({ gzip_trailing_garbage: 1 });
    // zero padding after the last member is not data (gzip -d skips it too), however long
    for (const pad of [512, 300_000]) {
      const padded = await read(file('padded.pcap.gz', Buffer.concat([zlib.gzipSync(PCAP), Buffer.alloc(pad)])));
      expect(padded.info.anomalies).toEqual({});
      expect(padded.lines).toEqual(whole.lines);
    }
    // many members, small and empty ones among them (concatenated parts; a hostile file of
    // thousands of empty members is read in one pass, not one stream per member)
    const parts: Buffer[] = [];
    for (let i = 0; i < PCAP.length; i += 3000) parts.push(zlib.gzipSync(PCAP.subarray(i, i + 3000)), zlib.gzipSync(Buffer.alloc(0)));
    for (let i = 0; i < 5000; i++) parts.push(zlib.gzipSync(Buffer.alloc(0)));
    const many = await read(file('many-members.pcap.gz', Buffer.concat(parts)));
    expect(many.info.anomalies).toEqual({});
    expect(many.lines).toEqual(whole.lines);
    // a small capture with garbage after it: read whole, not rejected
    const small = buildPcap(true, false, 1, [{ sec: 1, frac: 0, data: payload(1, 60) }]);
    const s = await read(file('small.pcap.gz', Buffer.concat([zlib.gzipSync(small), Buffer.from('XY')])));
    expect(s.info.packets).toBe(1);
    // a member's header with an absurdly long name field is read up to a bound, then named corrupt
    const longName = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]), Buffer.alloc(3 << 20, 0x41)]);
    await expect(read(file('long-name.gz', longName))).rejects.toThrow('corrupt gzip data (member header longer than 1 MiB)');
  });

  it('gzip corrupted mid-way is an anomaly once the capture has started', async () => {
    // incompressible payloads, so that the damage lands far from the start of the stream
    const big = buildPcap(true, false, 1, Array.from({ length: 2000 }, (_, i) => ({ sec: i, frac: 0, data: noise(i, 1400) })));
    // Stored (level 0) blocks: a flipped payload byte inflates fine and only the CRC check fails.
    const stored = Buffer.from(zlib.gzipSync(big, { level: 0 }));
    stored[Math.floor(stored.length / 2)] ^= 0xff;
    const crc = await read(file('crc.pcap.gz', stored), 65536);
    expect(crc.info.anomalies).toEqual({ gzip_crc_mismatch: 1 });
    // the check is made after the member: every packet was read, and the mismatch is counted
    expect(crc.info.packets).toBe(2000);
    // Deflated: the damage either breaks zlib or inflates to garbage the pcap framing rejects.
    const gz = Buffer.from(zlib.gzipSync(big, { level: 1 }));
    const mid = Math.floor(gz.length / 2);
    for (let i = mid; i < mid + 64; i++) gz[i] ^= 0x5a;
    const { info } = await read(file('corrupt.pcap.gz', gz), 65536);
    expect(info.packets).toBeGreaterThan(100);
    expect(info.packets).toBeLessThan(2000);
    expect(Object.keys(info.anomalies)).toHaveLength(1);
    expect(['gzip_corrupt', 'absurd_caplen']).toContain(Object.keys(info.anomalies)[0]);
  });

  it('gzip that is corrupt from the start, or holds no capture, is a CaptureError', async () => {
    const gz = Buffer.from(zlib.gzipSync(PCAP));
    gz.fill(0x33, 10, 40);
    await expect(read(file('bad.gz', gz))).rejects.toThrow(/^corrupt gzip data \(/);
    await expect(read(file('text.gz', zlib.gzipSync('hello world, not a capture')))).rejects.toThrow(
      'gzip content is not a pcap/pcapng file (starts with 68 65 6c 6c)',
    );
    await expect(read(file('empty.gz', zlib.gzipSync(Buffer.alloc(0))))).rejects.toThrow('gzip content is empty');
    await expect(read(file('head.gz', zlib.gzipSync(PCAP.subarray(0, 10))))).rejects.toThrow('truncated pcap file header (10 of 24 bytes)');
    await expect(read(file('nested.gz', zlib.gzipSync(zlib.gzipSync(PCAP))))).rejects.toThrow(/gzip content is itself gzip-compressed \(decompress the outer layer first\)/);
    await expect(read(file('trunc-early.gz', zlib.gzipSync(PCAP).subarray(0, 12)))).rejects.toThrow('truncated gzip file');
  });

  it('rejects files that are not captures with a one-line CaptureError', async () => {
    const cases: Array<[string, Buffer | string, string]> = [
      ['page.html', '<html><body>hi</body></html>', 'not a pcap/pcapng file (starts with 3c 68 74 6d)'],
      ['empty.pcap', Buffer.alloc(0), 'empty file'],
      ['tiny.pcap', Buffer.from([0xd4, 0xc3]), 'not a pcap/pcapng file (only 2 bytes)'],
      ['short.pcap', PCAP.subarray(0, 23), 'truncated pcap file header (23 of 24 bytes)'],
      ['short.pcapng', PCAPNG.subarray(0, 20), 'truncated pcapng section header (20 bytes)'],
    ];
    for (const [name, content, message] of cases) {
      const err = await read(file(name, content)).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(CaptureError);
      expect((err as Error).message).toBe(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('turns I/O errors into CaptureError with the reason', async () => {
    await expect(read(path.join(dir, 'missing.pcap'))).rejects.toThrow('cannot read file: no such file or directory (ENOENT)');
    await expect(read(dir)).rejects.toThrow('cannot read file: is a directory (EISDIR)');
    await expect(read(dir)).rejects.toBeInstanceOf(CaptureError);
  });

  it.skipIf(process.getuid?.() === 0)('reports permission denied', async () => {
    const p = file('locked.pcap', PCAP);
    fs.chmodSync(p, 0o000);
    await expect(read(p)).rejects.toThrow('cannot read file: permission denied (EACCES)');
  });

  it('stops reading after a fatal anomaly and reports a truncated record', async () => {
    const cut = file('cut.pcap', PCAP.subarray(0, PCAP.length - 5));
    const { info } = await read(cut, 4096);
    expect(info).toMatchObject({ packets: 299, anomalies: { truncated_record: 1 } });
  });

  it('lets a sink exception through and leaves no handle or rejection behind', async () => {
    const p = file('throws.pcap', PCAP);
    let n = 0;
    const sink = {
      packet(): void {
        if (++n === 7) throw new Error('sink failed');
      },
    };
    await expect(readCapture(p, sink, { chunkSize: 4096 })).rejects.toThrow('sink failed');
    expect(n).toBe(7);
  });
});
