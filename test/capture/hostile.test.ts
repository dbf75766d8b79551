import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { CaptureError, CaptureInfo } from '../../src/capture/packet';
import { createCaptureParser, ioError, parseCaptureBuffer } from '../../src/capture/reader';
import { buildPcap, collector, CORPUS, digest, epb, HAVE_CORPUS, idb, payload, shb, spb } from './helpers';

/** CAPTURE_FUZZ_ROUNDS=20000 for a longer local run. */
const ROUNDS = Number(process.env.CAPTURE_FUZZ_ROUNDS ?? 400);

type Outcome = { error: string } | { info: CaptureInfo; lines: string[] };

function whole(buf: Buffer): Outcome {
  const { sink, recs } = collector();
  try {
    return { info: parseCaptureBuffer(buf, sink), lines: digest(recs) };
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    return { error: err.message };
  }
}

function pieces(buf: Buffer, size: number): Outcome {
  const { sink, recs } = collector();
  try {
    const parser = createCaptureParser(sink);
    for (let off = 0; off < buf.length; off += size) parser.push(buf.subarray(off, off + size));
    return { info: parser.end(), lines: digest(recs) };
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    return { error: err.message };
  }
}

/** xorshift32: reproducible mutations. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function mutate(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const kind = Math.floor(r() * 4);
  const at = Math.floor(r() * b.length);
  if (kind === 0) {
    for (let i = 0; i < 1 + r() * 8; i++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
  } else if (kind === 1 && at + 4 <= b.length) {
    // a length-sized field replaced by an extreme value
    const values = [0, 1, 3, 0xffffffff, 0x7fffffff, 0x40000, 0x40001, 12, 13];
    b.writeUInt32LE(values[Math.floor(r() * values.length)], at & ~3);
  } else if (kind === 2) {
    return b.subarray(0, at);
  } else {
    return Buffer.concat([b.subarray(0, at), Buffer.from([0xde, 0xad, 0xbe]), b.subarray(at)]);
  }
  return b;
}

const SEEDS: Array<[string, Buffer]> = [
  ['hand-built pcap', buildPcap(true, false, 1, Array.from({ length: 40 }, (_, i) => ({ sec: i, frac: i, data: payload(i, 30 + i) })))],
  [
    'hand-built pcapng',
    Buffer.concat([
      shb(true),
      idb(true, { linkType: 1, tsresol: 9 }),
      idb(true, { linkType: 113, tsresol: 0x8a }),
      ...Array.from({ length: 30 }, (_, i) => epb(true, i % 2, BigInt(i) << 33n, payload(i, 20 + i))),
      spb(true, payload(99, 33)),
    ]),
  ],
];
if (HAVE_CORPUS) {
  for (const rel of ['zeek/smb2-zero-byte-error-ioctl.pcapng', 'zeek/SMBGhost.pcap']) {
    SEEDS.push([rel, fs.readFileSync(path.join(CORPUS, rel))]);
  }
}

describe('mutated captures: CaptureError or a clean stop, never a crash or a hang', () => {
  for (const [name, seed] of SEEDS) {
    it(name, () => {
      const r = rng(name.length * 7919 + seed.length);
      let errors = 0;
      let anomalous = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const buf = mutate(seed, r);
        const a = whole(buf);
        const b = pieces(buf, 1 + (i % 13));
        expect(b, `${name} mutation ${i}`).toEqual(a);
        if ('error' in a) {
          errors++;
          expect(a.error).not.toContain('\n');
        } else {
          if (Object.keys(a.info.anomalies).length > 0) anomalous++;
          expect(a.info.packets).toBeLessThanOrEqual(buf.length / 12);
          expect(a.info.bytes).toBeLessThanOrEqual(buf.length);
        }
      }
      // the mutations must actually reach both failure modes
      expect(errors).toBeGreaterThan(0);
      expect(anomalous).toBeGreaterThan(20);
    });
  }
});

describe('ioError', () => {
  it('keeps the reason and code, drops the path and stack', () => {
    const e = Object.assign(new Error("EACCES: permission denied, open '/secret/x.pcap'"), { code: 'EACCES' });
    expect(ioError(e).message).toBe('cannot read file: permission denied (EACCES)');
    const odd = Object.assign(new Error("EXDEV: cross-device link not permitted, open '/a'"), { code: 'EXDEV' });
    expect(ioError(odd).message).toBe('cannot read file: cross-device link not permitted (EXDEV)');
    expect(ioError(odd)).toBeInstanceOf(CaptureError);
  });
});
