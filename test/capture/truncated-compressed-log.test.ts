/**
 * Found in review of c233187..HEAD: since 499d0f4 a compressed file in a directory whose
 * decompressed start is not a capture is kept when the decompressor fails on it. A compressed
 * log cut short (a rotation caught mid-write, a partial copy) fails too, so it is now named as an
 * unreadable capture ("corrupt bzip2 data (Compressed file ends unexpectedly)") and the run exits 1,
 * although its start is plain text and the README says a compressed log beside the captures is
 * skipped like any other non-capture.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { expandInputs } from '../../src/cli/inputs';

const installed = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const compress = (cmd: string, data: Buffer): Buffer => spawnSync(cmd, ['-c'], { input: data, maxBuffer: 1 << 28 }).stdout as Buffer;

describe('a truncated compressed log in a directory (review of c233187..HEAD)', () => {
  for (const cmd of ['bzip2', 'xz']) {
    it.skipIf(!installed(cmd))(`a ${cmd} log cut short is skipped, not named as a damaged capture`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-review-log-'));
      try {
        const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `2026-12-02T10:00:${String(i % 60).padStart(2, '0')} INFO login ok session ${i * 7919 % 100_003}\n`).join(''));
        const z = compress(cmd, text);
        fs.writeFileSync(path.join(dir, `app.log.1.${cmd === 'xz' ? 'xz' : 'bz2'}`), z.subarray(0, Math.floor(z.length / 2)));
        const found = await expandInputs([dir]);
        expect(found.files.map((f) => path.basename(String(f.path)))).toEqual([]);
        expect(found.skipped).toBe(1);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
