/**
 * gzip files (RFC 1952) member by member: each member's header is read here and its deflate
 * data inflated raw, so the end of every member is known exactly. Node's Gunzip joins members
 * itself, and bytes after the last member that are not another one ("trailing garbage", which
 * gzip -d ignores) made it fail in the step that held the last member's end: the last 736 bytes
 * of a 2.5 MB capture were lost, and a small file was rejected whole. Here everything before
 * such bytes is read and they are counted (`gzip_trailing_garbage`); zero padding is ignored.
 */
import type * as fs from 'fs';
import { Readable } from 'stream';
import * as zlib from 'zlib';
import type { CaptureParser } from './framed';
import { CaptureError } from './packet';

const FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16, FRESERVED = 0xe0;
/** a header longer than this (a hostile file name field) is not read */
const MAX_HEADER = 1 << 20;
const INFLATE_CHUNK = 1 << 20;

type Header = { length: number } | { error: string };

/** the header of the member at the start of `b` (`eof`: nothing follows `b` in the file) */
function parseHeader(b: Buffer, eof: boolean): Header | null {
  if ((b.length > 0 && b[0] !== 0x1f) || (b.length > 1 && b[1] !== 0x8b)) return { error: 'not gzip' };
  if (b.length < 10) return eof ? { error: 'truncated' } : null;
  if (b[2] !== 8) return { error: `unknown compression method ${b[2]}` };
  const flg = b[3];
  if (flg & FRESERVED) return { error: 'reserved header flags set' };
  let p = 10;
  const need = (n: number): boolean => p + n <= b.length;
  if (flg & FEXTRA) {
    if (!need(2)) return eof ? { error: 'truncated' } : null;
    p += 2 + b.readUInt16LE(p);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flg & flag)) continue;
    const z = b.indexOf(0, p);
    if (z < 0) return eof ? { error: 'truncated' } : null;
    p = z + 1;
  }
  if (flg & FHCRC) p += 2;
  if (p > b.length) return eof ? { error: 'truncated' } : null;
  return { length: p };
}

async function readAt(fh: fs.promises.FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}

/** the file from `start` to `end` in chunks of `size`, each read into a new buffer (the inflater may hold it) */
async function* chunks(
  fh: fs.promises.FileHandle, start: number, end: number, size: number, progress?: (fileBytes: number) => void,
): AsyncGenerator<Buffer> {
  for (let p = start; p < end;) {
    const b = Buffer.allocUnsafe(Math.min(size, end - p));
    const { bytesRead } = await fh.read(b, 0, b.length, p);
    if (bytesRead === 0) return;
    p += bytesRead;
    progress?.(p);
    yield b.subarray(0, bytesRead);
  }
}

async function headerAt(fh: fs.promises.FileHandle, pos: number, size: number): Promise<Header> {
  for (let len = 4096; ; len *= 4) {
    const b = await readAt(fh, pos, Math.min(len, MAX_HEADER));
    const eof = pos + b.length >= size;
    const h = parseHeader(b, eof);
    if (h !== null) return h;
    if (len >= MAX_HEADER) return { error: `member header longer than ${MAX_HEADER >> 20} MiB` };
  }
}

function isZlibError(err: unknown): err is Error & { code?: string } {
  const code: unknown = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Corrupt or cut-off gzip: an anomaly once the capture has started, else the file is unreadable. */
export function gzipFailure(parser: CaptureParser, kind: 'truncated' | 'corrupt' | 'trailing_garbage' | 'crc_mismatch', detail?: string): void {
  if (!parser.started) {
    const what = kind === 'truncated' ? 'truncated gzip file' : kind === 'trailing_garbage' ? 'not a gzip file after its first bytes' : 'corrupt gzip data';
    throw new CaptureError(detail && kind !== 'truncated' ? `${what} (${detail})` : what);
  }
  parser.abort(`gzip_${kind}`);
}

/** gzip failure kind of a zlib error */
export function zlibFailure(err: Error & { code?: string }): 'truncated' | 'corrupt' {
  return err.code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message) ? 'truncated' : 'corrupt';
}

/**
 * Inflates every member of the gzip file `fh` (`size` bytes) into `parser`; stops at the first
 * problem, counted as an anomaly once packets have been read (CaptureError before that).
 */
export async function inflateMembers(
  fh: fs.promises.FileHandle, size: number, parser: CaptureParser, readSize: number, progress?: (fileBytes: number) => void,
): Promise<void> {
  let pos = 0;
  // one read per member while members are small: header, deflate data and trailer from one block
  const block = Buffer.allocUnsafe(SMALL_READ);
  for (let member = 0; pos < size; member++) {
    const { bytesRead } = await fh.read(block, 0, Math.min(SMALL_READ, size - pos), pos);
    const view = block.subarray(0, bytesRead);
    const h = parseHeader(view, pos + bytesRead >= size) ?? await headerAt(fh, pos, size);
    if ('error' in h) {
      if (member === 0) throw new CaptureError(h.error === 'truncated' ? 'truncated gzip file' : `corrupt gzip data (${h.error})`);
      // zeros after the last member (tape blocks, preallocated files) are not data; gzip -d skips them too
      if (h.error === 'not gzip' && await zerosTo(fh, pos, size)) return;
      gzipFailure(parser, h.error === 'not gzip' ? 'trailing_garbage' : h.error === 'truncated' ? 'truncated' : 'corrupt', h.error);
      return;
    }
    const start = pos + h.length;
    // a member that fits in the block (concatenated small parts; a hostile file of thousands of
    // empty members) is inflated at once: a stream per member cost 0.75 ms each
    const small = h.length < view.length ? inflateSmall(view.subarray(h.length)) : null;
    let data: { crc: number; length: number; used: number } | null;
    if (small !== null) {
      const b = small.data;
      data = { crc: zlib.crc32(b), length: b.length, used: small.used };
      progress?.(start + small.used);
      if (b.length > 0 && !parser.push(b)) return;
    } else {
      data = await inflateStreaming(fh, start, size, member === 0 ? readSize : 256 << 10, parser, progress);
      if (data === null) return;
    }
    // the trailer: in the block when the member was, else read after the streamed data
    const trailerAt = h.length + data.used;
    pos = start + data.used;
    const trailer = small !== null && trailerAt + 8 <= view.length ? view.subarray(trailerAt, trailerAt + 8) : await readAt(fh, pos, 8);
    if (trailer.length < 8) { gzipFailure(parser, 'truncated'); return; }
    if (trailer.readUInt32LE(0) !== data.crc >>> 0 || trailer.readUInt32LE(4) !== data.length % 0x1_0000_0000) {
      gzipFailure(parser, 'crc_mismatch', 'CRC or length check failed');
      return;
    }
    pos += 8;
  }
}

const SMALL_READ = 64 << 10;
const SMALL_OUTPUT = 4 << 20;

/** a member whose deflate data ends within `b` and inflates to at most SMALL_OUTPUT; null otherwise */
function inflateSmall(b: Buffer): { data: Buffer; used: number } | null {
  try {
    const r = zlib.inflateRawSync(b, { info: true, maxOutputLength: SMALL_OUTPUT }) as unknown as { buffer: Buffer; engine: zlib.InflateRaw };
    return { data: r.buffer, used: r.engine.bytesWritten };
  } catch {
    // cut by the block, too big, or corrupt: the streaming path reads on and names the problem
    return null;
  }
}

/** inflates the member's deflate data from `start` into `parser`; null when it stopped (problem counted or parser done) */
async function inflateStreaming(
  fh: fs.promises.FileHandle, start: number, size: number, readSize: number, parser: CaptureParser,
  progress?: (fileBytes: number) => void,
): Promise<{ crc: number; length: number; used: number } | null> {
  const inflate = zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK });
  // not an fs read stream: destroying one closes the file whatever autoClose says, and the
  // next member is read from the same file
  const src = Readable.from(chunks(fh, start, size, readSize, progress), { objectMode: false });
  src.on('error', (err) => inflate.destroy(err));
  src.pipe(inflate);
  let crc = 0;
  let length = 0;
  try {
    for await (const chunk of inflate) {
      const b = chunk as Buffer;
      crc = zlib.crc32(b, crc);
      length += b.length;
      if (!parser.push(b)) return null;
    }
  } catch (err) {
    if (!isZlibError(err)) throw err;
    gzipFailure(parser, zlibFailure(err), err.message);
    return null;
  } finally {
    src.unpipe(inflate);
    src.destroy();
    inflate.destroy();
  }
  return { crc, length, used: inflate.bytesWritten };
}

/** true when every byte from `pos` to `size` is zero (read in bounded chunks) */
async function zerosTo(fh: fs.promises.FileHandle, pos: number, size: number): Promise<boolean> {
  for (let p = pos; p < size;) {
    const b = await readAt(fh, p, Math.min(size - p, 1 << 20));
    if (b.length === 0) return true;
    if (!b.every((x) => x === 0)) return false;
    p += b.length;
  }
  return true;
}
