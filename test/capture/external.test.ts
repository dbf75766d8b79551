import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DECOMPRESSORS, decompressorFor } from '../../src/capture/external';
import { CaptureError } from '../../src/capture/packet';
import { readCapture, sniffCaptureFormat } from '../../src/capture/reader';
import { expandInputs } from '../../src/cli/inputs';
import { buildPcap, collector, digest, payload } from './helpers';

// a lab capture (Samba + smbclient, scripts/lab): compressed here by each format's own tool
const LAB = path.resolve(__dirname, '../../captures/10-many-small-files.pcap');

const installed = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** `cmd` compresses stdin to stdout with these arguments (lz4: 64 KiB blocks, so that a cut file still holds whole ones) */
const COMPRESS: Record<string, string[]> = { zstd: ['-q', '-c', '-3'], xz: ['-c', '-1'], bzip2: ['-c', '-9'], lz4: ['-q', '-c', '-B4'] };

function compress(cmd: string, data: Buffer): Buffer {
  const r = spawnSync(cmd, COMPRESS[cmd], { input: data, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${String(r.stderr)}`);
  return r.stdout;
}

let dir = '';
const file = (name: string, content: Buffer | string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

async function read(p: string): Promise<{ info: Awaited<ReturnType<typeof readCapture>>; lines: string[] }> {
  const { sink, recs } = collector();
  const info = await readCapture(p, sink);
  return { info, lines: digest(recs) };
}

const PATH = process.env.PATH;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-external-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => { process.env.PATH = PATH; });

describe('compressed captures by magic (zstd, xz, bzip2, lz4)', () => {
  it('recognises each format by its first bytes, not by a look-alike', () => {
    expect(decompressorFor(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00]))?.name).toBe('zstd');
    // pzstd starts its files with a skippable frame
    expect(decompressorFor(Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0x04, 0x00]))?.name).toBe('zstd');
    expect(decompressorFor(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))?.name).toBe('xz');
    expect(decompressorFor(Buffer.from('BZh91AY'))?.name).toBe('bzip2');
    expect(decompressorFor(Buffer.from('BZh is a word'))).toBeNull();
    expect(decompressorFor(Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40]))?.name).toBe('lz4');
    expect(decompressorFor(Buffer.from([0x02, 0x21, 0x4c, 0x18, 0x00, 0x00]))?.name).toBe('lz4');
    expect(sniffCaptureFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    // a file cut after four bytes of the xz magic is still named as a cut-off xz file; three are not enough
    expect(decompressorFor(Buffer.from([0xfd, 0x37, 0x7a, 0x58]))?.name).toBe('xz');
    expect(decompressorFor(Buffer.from([0xfd, 0x37, 0x7a]))).toBeNull();
    expect(decompressorFor(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x01]))).toBeNull();
  });

  const plain = fs.readFileSync(LAB);
  for (const d of DECOMPRESSORS) {
    const have = installed(d.command);
    it.skipIf(!have)(`reads a lab capture compressed by ${d.command} as the same packets`, async () => {
      const expected = await read(file(`plain-${d.name}.pcap`, plain));
      const got = await read(file(`lab-${d.name}`, compress(d.command, plain)));
      expect(got.info.compression).toBe(d.name);
      expect(got.info.gzip).toBe(false);
      expect(got.info.packets).toBe(expected.info.packets);
      expect(got.info.packets).toBeGreaterThan(1000);
      expect(got.lines).toEqual(expected.lines);
      expect(got.info.anomalies).toEqual({});
    });

    it.skipIf(!have)(`${d.name} cut short: the packets before the cut are kept and the cut is counted`, async () => {
      const z = compress(d.command, plain);
      const whole = await read(file(`whole-${d.name}`, z));
      const cut = await read(file(`cut-${d.name}`, z.subarray(0, Math.floor(z.length * 0.6))));
      expect(cut.info.packets).toBeGreaterThan(0);
      expect(cut.info.packets).toBeLessThan(whole.info.packets);
      expect(cut.lines).toEqual(whole.lines.slice(0, cut.lines.length));
      expect(Object.keys(cut.info.anomalies).some((k) => k.startsWith(`${d.name}_`))).toBe(true);
    });
  }

  // Found by fuzzing (2026-12-02): a bit flipped inside a bzip2/xz/lz4 capture decompresses into
  // garbage before the tool's check fails; the file was skipped as "not a capture" in a directory
  // and named with the garbage's first bytes, not the damage, when given by name
  for (const d of DECOMPRESSORS.filter((x) => x.name !== 'zstd')) {
    it.skipIf(!installed(d.command))(`a damaged ${d.name} capture is named with the damage, in a directory too; a ${d.name} log is still skipped`, async () => {
      const z = Buffer.from(compress(d.command, plain.subarray(0, 200_000)));
      // flip bits in the compressed body: the tool fails, after writing some garbage or none
      for (let i = 64; i < 128; i++) z[i] ^= 0x55;
      const w = fs.mkdtempSync(path.join(dir, `damaged-${d.name}-`));
      const damaged = path.join(w, `trace-${d.name}`);
      fs.writeFileSync(damaged, z);
      fs.writeFileSync(path.join(w, `app.log.${d.name}`), compress(d.command, Buffer.from('2026-12-02 service started\n'.repeat(200))));
      // named with the damage, or (when a capture's start came out whole) read up to it with the damage counted
      const e = await read(damaged).catch((x: unknown) => x);
      if (e instanceof Error) {
        expect(e).toBeInstanceOf(CaptureError);
        expect(e.message).toMatch(new RegExp(`^(corrupt ${d.name} data|truncated ${d.name} file) \\(.+\\)$`));
      } else {
        expect(Object.keys((e as Awaited<ReturnType<typeof read>>).info.anomalies).some((k) => k.startsWith(`${d.name}_`))).toBe(true);
      }
      const found = await expandInputs([w]);
      expect(found.files.map((f) => path.basename(String(f.path)))).toEqual([`trace-${d.name}`]);
      expect(found.skipped).toBe(1);
    });
  }

  it.skipIf(!installed('zstd'))('progress is reported in the compressed file\'s own bytes, gzip and zstd alike', async () => {
    const big = buildPcap(true, false, 1, Array.from({ length: 4000 }, (_, i) => ({ sec: i, frac: 0, data: payload(i, 4000) })));
    for (const [name, data] of [['progress.zst', compress('zstd', big)], ['progress.gz', zlib.gzipSync(big)]] as const) {
      const p = file(name, data);
      const seen: number[] = [];
      const { sink, recs } = collector();
      await readCapture(p, sink, { compressedProgress: (b) => seen.push(b), chunkSize: 1 << 20 });
      expect(recs.length).toBe(4000);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((b, i) => b <= data.length && (i === 0 || b >= seen[i - 1]))).toBe(true);
    }
  });

  it.skipIf(!installed('zstd'))('a corrupt or nested zstd file is named, with the reason on one line', async () => {
    const garbage = file('garbage.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from('\x1b[31mgarbage\x1b[0m garbage garbage')]));
    const e1 = await read(garbage).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(CaptureError);
    expect((e1 as Error).message).toMatch(/^corrupt zstd data \(.+\)$/);
    expect((e1 as Error).message).not.toMatch(/[\u0000-\u001f]/);
    const tooShort = file('short.zst', compress('zstd', plain).subarray(0, 20));
    expect(((await read(tooShort).catch((e: unknown) => e)) as Error).message).toMatch(/^truncated zstd file/);
    const text = file('text.zst', compress('zstd', Buffer.from('just a log line\n')));
    await expect(read(text)).rejects.toThrow('zstd content is not a pcap/pcapng file (starts with 6a 75 73 74)');
    const nested = file('nested.zst', compress('zstd', compress('zstd', plain)));
    await expect(read(nested)).rejects.toThrow('zstd content is itself zstd-compressed (decompress the outer layer first)');
  });

  /** a directory on PATH holding a fake `zstd` made of this shell script */
  function fakeZstd(script: string): string {
    const bin = fs.mkdtempSync(path.join(dir, 'fake-bin-'));
    fs.writeFileSync(path.join(bin, 'zstd'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return bin;
  }
  const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x00]);

  it('a decompressor killed part-way (out of memory, a user) names the file: it was not read in full', async () => {
    const p = file('killed.pcap.zst', zstdMagic);
    process.env.PATH = `${fakeZstd(`head -c 300000 '${LAB}'; kill -KILL $$`)}:${PATH}`;
    const { sink, recs } = collector();
    const e = await readCapture(p, sink).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CaptureError);
    expect((e as Error).message).toMatch(/^zstd was killed by SIGKILL after 0\.\d MB of capture data; the rest of the file was not read$/);
    // what was read before is still delivered
    expect(recs.length).toBeGreaterThan(100);
  });

  it('a file that needs more memory than the tool allows by default says so, with the tool\'s hint, not "corrupt"', async () => {
    const p = file('long31.pcap.zst', zstdMagic);
    const say = [
      'zstd: /*stdin*\\ : Decoding error (36) : Frame requires too much memory for decoding ',
      'zstd: /*stdin*\\ : Use --long=31 or --memory=2048MB ',
    ].map((l) => `echo '${l}' >&2`).join('; ');
    process.env.PATH = `${fakeZstd(`${say}; exit 1`)}:${PATH}`;
    await expect(read(p)).rejects.toThrow('zstd cannot decompress this file with its default memory limit (Decoding error (36) : Frame requires too much memory for decoding; Use --long=31 or --memory=2048MB); decompress it first with that option');
  });

  it.skipIf(!installed('zstd'))('a decompressor that writes pages of messages before its output does not stall the read', async () => {
    const p = file('chatty.pcap.zst', compress('zstd', plain));
    // 200 KB on stderr first: more than a pipe holds while the output is being read synchronously
    process.env.PATH = `${fakeZstd(`head -c 200000 /dev/zero | tr '\\0' x >&2; exec ${spawnSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).stdout.trim()} "$@"`)}:${PATH}`;
    const got = await read(p);
    const expected = await read(file('chatty-plain.pcap', plain));
    expect(got.lines).toEqual(expected.lines);
  });

  it.skipIf(!installed('bzip2'))('bytes after the compressed data that the tool only warns about are counted (bzip2)', async () => {
    const p = file('garbage.pcap.bz2', Buffer.concat([compress('bzip2', plain), Buffer.from('trailing bytes')]));
    const got = await read(p);
    expect(got.info.packets).toBe((await read(file('g-plain.pcap', plain))).info.packets);
    expect(got.info.anomalies).toEqual({ bzip2_trailing_garbage: 1 });
  });

  it('without the decompressor installed the file is named with the command to install', async () => {
    const p = file('needs-tool.pcap.zst', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x00]));
    process.env.PATH = fs.mkdtempSync(path.join(dir, 'empty-path-'));
    await expect(read(p)).rejects.toThrow('zstd-compressed: the zstd command is needed to read it (Debian package zstd), or decompress the file first');
  });
});

describe('compressed files inside a scanned directory', () => {
  it.skipIf(!installed('zstd'))('a compressed capture is scanned, a compressed log is skipped, a corrupt one is named', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'walk-'));
    fs.writeFileSync(path.join(d, 'ring-0001.zst'), compress('zstd', fs.readFileSync(LAB)));
    fs.writeFileSync(path.join(d, 'app.log.zst'), compress('zstd', Buffer.from('2026-11-30 service started\n'.repeat(100))));
    fs.writeFileSync(path.join(d, 'broken.zst'), Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff, 0xff, 0x00]));
    // logrotate compresses empty logs too: they hold no capture
    fs.writeFileSync(path.join(d, 'empty.log.zst'), compress('zstd', Buffer.alloc(0)));
    fs.writeFileSync(path.join(d, 'empty.log.gz'), zlib.gzipSync(Buffer.alloc(0)));
    fs.writeFileSync(path.join(d, 'ok.log.gz'), zlib.gzipSync(Buffer.from('ok\n')));
    fs.writeFileSync(path.join(d, 'cut.pcap.gz'), zlib.gzipSync(fs.readFileSync(LAB)).subarray(0, 5000));
    // a rotated log cut short (a copy made while it was written) is still a log
    fs.writeFileSync(path.join(d, 'syslog.1.gz'), zlib.gzipSync(Buffer.from('log line of a service\n'.repeat(2000))).subarray(0, 300));
    const found = await expandInputs([d]);
    expect(found.files.map((f) => path.basename(String(f.path)))).toEqual(['broken.zst', 'cut.pcap.gz', 'ring-0001.zst']);
    expect(found.skipped).toBe(5);
    const e = await read(path.join(d, 'broken.zst')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CaptureError);
  });

  it('without the decompressor, compressed files in a directory are named, never skipped silently', async () => {
    const d = fs.mkdtempSync(path.join(dir, 'walk-missing-'));
    fs.writeFileSync(path.join(d, 'ring.xz'), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]));
    process.env.PATH = fs.mkdtempSync(path.join(dir, 'empty-path-'));
    const found = await expandInputs([d]);
    expect(found.files.map((f) => path.basename(String(f.path)))).toEqual(['ring.xz']);
    expect(found.skipped).toBe(0);
  });
});
