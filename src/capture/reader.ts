import * as fs from 'fs';
import * as zlib from 'zlib';
import { decompressorFor, readExternal } from './external';
import { gzipFailure, inflateMembers, zlibFailure } from './gzip';
import { CaptureParser, newInfo } from './framed';
import { CaptureError, CaptureInfo, Compression, PacketSink } from './packet';
import { isPcapMagic, PcapParser } from './pcap';
import { BT_SHB, PcapngParser } from './pcapng';

/** what a file's first bytes say it is: a capture, or a compressed file that may hold one */
export type CaptureFormat = 'pcap' | 'pcapng' | Compression;

/**
 * Read size. Large enough that per-read overhead (a syscall, a promise) vanishes, small enough that
 * two buffers per scanning thread stay well inside the memory budget: scripts/bench-reader.mjs
 * (1 MiB costs a thread-pool round trip per MiB; 8 MiB gains nothing); 2 MiB instead of 4 MiB
 * kept bulk scans as fast (bench, 8 bulk parts) and took 8 MiB off peak RSS with two workers.
 */
export const DEFAULT_CHUNK = 2 << 20;

export interface ReadOptions {
  /** bytes per read (default DEFAULT_CHUNK) */
  chunkSize?: number;
  /**
   * Read on this thread (SYNC_CHUNK at a time) instead of double-buffering on the thread pool.
   * For a scanning worker when other workers keep the other cores busy: the overlap then buys
   * nothing, and a chunk the size of a core's L2 cache is still in that cache when it is
   * parsed, where a 2 MiB chunk copied by a pool thread on another core is not.
   */
  sync?: boolean;
  /**
   * For a compressed file: how far into the file (compressed bytes) the decompressor has read,
   * now and then. Progress on the file's own scale; the packets give decompressed bytes, which
   * run past the file's size.
   */
  compressedProgress?: (fileBytes: number) => void;
}

/**
 * Chunk of a synchronous read. Measured on 8 links to the 1.07 GB bulk capture with two
 * workers (hyperfine, 4 runs): thread-pool reads of 2 MiB 2.32 s (user 2.3 s, system 1.7 s);
 * synchronous 256 KiB 1.72 s (user 2.1 s, system 1.0 s), 128 KiB 2.10 s.
 */
export const SYNC_CHUNK = 256 << 10;

/** Format from a file's first bytes (4 suffice; 12 let a pcapng header be checked more strictly). */
export function sniffCaptureFormat(firstBytes: Buffer): CaptureFormat | null {
  if (isGzip(firstBytes)) return 'gzip';
  const external = decompressorFor(firstBytes);
  if (external !== null) return external.name;
  if (firstBytes.length < 4) return null;
  const magic = firstBytes.readUInt32LE(0);
  if (isPcapMagic(magic)) return 'pcap';
  if (magic === BT_SHB) {
    if (firstBytes.length < 12) return 'pcapng';
    const bom = firstBytes.readUInt32LE(8);
    return bom === 0x1a2b3c4d || bom === 0x4d3c2b1a ? 'pcapng' : null;
  }
  return null;
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * A parser for pcap or pcapng chosen from the first bytes pushed into it; throws CaptureError from
 * push() when they are neither. `container` (the compression the bytes came out of) only marks
 * the info and the error messages.
 */
export function createCaptureParser(sink: PacketSink, container: Compression | null = null): CaptureParser {
  return new SniffingParser(sink, container);
}

/** Synchronous whole-buffer parse (tests, small inputs). Gzip is inflated in memory. */
export function parseCaptureBuffer(buf: Buffer, sink: PacketSink): CaptureInfo {
  if (!isGzip(buf)) {
    const parser = createCaptureParser(sink);
    parser.push(buf);
    return parser.end();
  }
  const parser = createCaptureParser(sink, 'gzip');
  const { data, error } = gunzipPartial(buf);
  parser.push(data);
  if (error !== null) gzipFailure(parser, zlibFailure(error), error.message);
  return parser.end();
}

/**
 * Streams a capture file through `sink`. Resolves with the file's facts; rejects only with
 * CaptureError (not a capture, unreadable) or with whatever the sink itself throws.
 */
export async function readCapture(path: fs.PathLike, sink: PacketSink, options: ReadOptions = {}): Promise<CaptureInfo> {
  const chunkSize = Math.max(4096, options.chunkSize ?? DEFAULT_CHUNK);
  const fh = await fs.promises.open(path, 'r').catch((err: unknown) => {
    throw ioError(err);
  });
  try {
    const first = takeBuffer(chunkSize);
    const n = await readAt(fh, first, 0).catch((err: unknown) => {
      giveBack(first);
      throw err;
    });
    const external = decompressorFor(first.subarray(0, Math.min(n, 8)));
    if (n === 0 || isGzip(first.subarray(0, n)) || external !== null) giveBack(first);
    if (n === 0) throw new CaptureError('empty file');
    // The parser itself names what is wrong with a file that is not a capture.
    if (isGzip(first.subarray(0, n))) return await readGzip(fh, sink, chunkSize, options.compressedProgress);
    if (external !== null) {
      return await readExternal(fh.fd, external, createCaptureParser(sink, external.name), options.compressedProgress);
    }
    if (options.sync) return await readSync(fh, createCaptureParser(sink), first, n);
    return await readPlain(fh, createCaptureParser(sink), first, n, chunkSize);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/**
 * Double buffering: the next chunk is read (on the libuv thread pool) while this one is parsed,
 * so the copy out of the page cache overlaps the parse. One promise per chunk, none per packet.
 */
async function readPlain(
  fh: fs.promises.FileHandle, parser: CaptureParser, first: Buffer, n: number, chunkSize: number,
): Promise<CaptureInfo> {
  let cur: Buffer = first;
  let curLen = n;
  let spare: Buffer = takeBuffer(chunkSize);
  let pos = n;
  try {
    while (curLen > 0) {
      const pending = readAt(fh, spare, pos);
      let more: boolean;
      try {
        more = parser.push(cur.subarray(0, curLen));
      } catch (err) {
        await pending.catch(() => undefined);
        throw err;
      }
      const got = await pending;
      if (!more) break;
      pos += got;
      [cur, spare] = [spare, cur];
      curLen = got;
    }
    return parser.end();
  } finally {
    // `cur` last: it holds the newest parsed bytes, so it is the last to be overwritten
    giveBack(spare);
    giveBack(cur);
  }
}

/** Synchronous reads into two alternating buffers (the previous chunk stays intact while the next is parsed). */
function readSync(fh: fs.promises.FileHandle, parser: CaptureParser, first: Buffer, n: number): CaptureInfo {
  const bufs = [takeBuffer(SYNC_CHUNK), takeBuffer(SYNC_CHUNK)];
  try {
    let more = parser.push(first.subarray(0, n));
    let pos = n;
    for (let k = 0; more; k ^= 1) {
      let got: number;
      try {
        got = fs.readSync(fh.fd, bufs[k], 0, SYNC_CHUNK, pos);
      } catch (err) {
        throw ioError(err);
      }
      if (got === 0) break;
      pos += got;
      more = parser.push(bufs[k].subarray(0, got));
    }
    return parser.end();
  } finally {
    giveBack(first);
    giveBack(bufs[0]);
    giveBack(bufs[1]);
  }
}

/**
 * Read buffers are reused from one file to the next (a worker scans thousands of files; a pair
 * of 4 MiB buffers per file was garbage V8 only collected when external memory had grown by
 * ~64 MiB, and forcing collections instead threw away the optimised code: README, "Speed"). First
 * in, first out: a buffer is overwritten only after the one given back after it has been read
 * into, which keeps the double-buffering guarantee (the previous chunk stays intact while the
 * next one is parsed) across files read one after another (--stitch).
 */
const spareBuffers: Buffer[] = [];
const SPARE_BUFFERS = 4;

function takeBuffer(size: number): Buffer {
  const i = spareBuffers.findIndex((b) => b.length === size);
  return i < 0 ? Buffer.allocUnsafe(size) : spareBuffers.splice(i, 1)[0];
}

function giveBack(buf: Buffer): void {
  if (spareBuffers.length < SPARE_BUFFERS && !spareBuffers.includes(buf)) spareBuffers.push(buf);
}

async function readGzip(
  fh: fs.promises.FileHandle, sink: PacketSink, chunkSize: number, progress?: (fileBytes: number) => void,
): Promise<CaptureInfo> {
  const parser = createCaptureParser(sink, 'gzip');
  try {
    await inflateMembers(fh, (await fh.stat()).size, parser, chunkSize, progress);
  } catch (err) {
    if (err instanceof CaptureError || typeof (err as NodeJS.ErrnoException)?.code !== 'string') throw err;
    throw ioError(err);
  }
  return parser.end();
}

/** gunzipSync, keeping what could be inflated before a truncation or corruption. */
function gunzipPartial(buf: Buffer): { data: Buffer; error: (Error & { code?: string }) | null } {
  try {
    return { data: zlib.gunzipSync(buf), error: null };
  } catch (err) {
    const error = err as Error & { code?: string };
    try {
      return { data: zlib.gunzipSync(buf, { finishFlush: zlib.constants.Z_SYNC_FLUSH }), error };
    } catch {
      return { data: Buffer.alloc(0), error };
    }
  }
}

async function readAt(fh: fs.promises.FileHandle, buf: Buffer, pos: number): Promise<number> {
  try {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    return bytesRead;
  } catch (err) {
    throw ioError(err);
  }
}

const IO_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a path component is not a directory',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
};

/** An fs error as a one-line CaptureError with the reason but not Node's stack or path echo. */
export function ioError(err: unknown): CaptureError {
  if (err instanceof CaptureError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const reason = IO_REASONS[code] ?? (String(e?.message ?? err).split(',')[0].replace(/^E[A-Z]+: /, '') || 'read failed');
  return new CaptureError(`cannot read file: ${reason}${code ? ` (${code})` : ''}`);
}

function notCapture(buf: Buffer, n: number, container: Compression | null): CaptureError {
  if (n === 0) return new CaptureError(container ? `${container} content is empty` : 'empty file');
  const what = container ? `${container} content is not a pcap/pcapng file` : 'not a pcap/pcapng file';
  if (n < 4) return new CaptureError(`${what} (only ${n} byte${n === 1 ? '' : 's'})`);
  const hex = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return new CaptureError(`${what} (starts with ${hex})`);
}

/** Holds the first 4 bytes, picks the parser they name, then forwards everything to it. */
class SniffingParser implements CaptureParser {
  private inner: CaptureParser | null = null;
  private readonly head = Buffer.alloc(4);
  private headLen = 0;
  private readonly pending: CaptureInfo;

  constructor(
    private readonly sink: PacketSink,
    private readonly container: Compression | null,
  ) {
    this.pending = newInfo('pcap');
    this.pending.gzip = container === 'gzip';
    this.pending.compression = container;
  }

  get info(): CaptureInfo {
    return this.inner === null ? this.pending : this.inner.info;
  }

  get started(): boolean {
    return this.inner !== null && this.inner.started;
  }

  push(chunk: Buffer): boolean {
    if (this.inner !== null) return this.inner.push(chunk);
    const take = Math.min(4 - this.headLen, chunk.length);
    chunk.copy(this.head, this.headLen, 0, take);
    this.headLen += take;
    if (this.headLen < 4) return true;
    this.inner = this.choose();
    this.inner.push(this.head);
    return this.inner.push(chunk.subarray(take));
  }

  abort(kind: string): void {
    this.inner?.abort(kind);
  }

  end(): CaptureInfo {
    if (this.inner === null) throw notCapture(this.head, this.headLen, this.container);
    return this.inner.end();
  }

  private choose(): CaptureParser {
    const format = sniffCaptureFormat(this.head);
    if (format === null) throw notCapture(this.head, 4, this.container);
    if (format !== 'pcap' && format !== 'pcapng') {
      throw new CaptureError(`${this.container ?? 'file'} content is itself ${format}-compressed (decompress the outer layer first)`);
    }
    const parser = format === 'pcap' ? new PcapParser(this.sink) : new PcapngParser(this.sink);
    parser.info.gzip = this.container === 'gzip';
    parser.info.compression = this.container;
    return parser;
  }
}
