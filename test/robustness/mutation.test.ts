/**
 * Hostile input is normal input: real captures with bytes flipped, records cut short and
 * packets duplicated must give events or counted anomalies, never an exception or a hang.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { parseCaptureBuffer } from '../../src/capture/reader';
import { CaptureError } from '../../src/capture/packet';
import { createCapturePipeline } from '../../src/scan/scan-capture';
import { applyFlagRules } from '../../src/detect/rules';
import { CAPTURES, SHARED_CORPUS } from '../e2e/truth';

/** xorshift32: the same mutations on every run, so a failure can be replayed */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000; };
}

function scanBuffer(buf: Buffer): { events: number; anomalies: Record<string, number> } {
  let events = 0;
  const pipe = createCapturePipeline('mutated', (r) => { applyFlagRules(r.ev); events++; });
  try {
    parseCaptureBuffer(buf, pipe.sink);
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e; // only a clean "cannot read this file" is allowed
  }
  const s = pipe.finish();
  return { events, anomalies: s.anomalies };
}

const plain = (dir: string): string[] => (fs.existsSync(dir)
  ? fs.readdirSync(dir).filter((n) => /\.(pcap|pcapng|cap)$/.test(n)).map((n) => path.join(dir, n)) : []);
const inputs = [
  ...plain(CAPTURES).filter((f) => fs.statSync(f).size < 4 << 20),
  ...plain(path.join(SHARED_CORPUS, 'zeek')).filter((f) => /smb2|smb3|many_open/.test(f)).slice(0, 6),
];

describe('mutated real captures', () => {
  it('has inputs to mutate', () => {
    expect(inputs.length).toBeGreaterThan(0);
  });
  for (const file of inputs) {
    it(`${path.basename(file)}: flipped bytes, cuts and duplicated chunks never throw`, () => {
      const orig = fs.readFileSync(file);
      const rnd = prng(orig.length);
      for (let round = 0; round < 6; round++) {
        const b = Buffer.from(orig);
        // flip ~0.5% of the bytes after the file header
        const flips = Math.max(1, Math.floor(b.length / 200));
        for (let i = 0; i < flips; i++) b[24 + Math.floor(rnd() * (b.length - 24))] ^= 1 + Math.floor(rnd() * 255);
        const r = scanBuffer(b);
        expect(r.events).toBeGreaterThanOrEqual(0);
        // cut at a random point
        const cut = scanBuffer(orig.subarray(0, 24 + Math.floor(rnd() * (orig.length - 24))));
        expect(cut.events).toBeGreaterThanOrEqual(0);
      }
      // the unmutated file decodes without malformed-message anomalies
      const clean = scanBuffer(orig);
      expect(Object.keys(clean.anomalies).filter((k) => k.startsWith('malformed'))).toEqual([]);
    });
  }
});
