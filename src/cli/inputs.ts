/**
 * Command-line inputs → capture files. Files named on the command line are always tried (a
 * non-capture gets a clear error); inside directories, files are recognised by their magic
 * bytes, not their extension, and the rest are counted as skipped — except a file named like a
 * capture, which is tried and named with the reason when it is not one (see namedLikeCapture).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { decompressorFor, failsToDecompress, peekExternal } from '../capture/external';
import { sniffCaptureFormat } from '../capture/reader';
import { numberAlike } from '../util/numbered';

/**
 * A file's path as the operating system has it: a string, or its bytes when they are not valid
 * UTF-8 (a file name is any bytes on Linux; decoding `evil\xff.pcap` as UTF-8 and back names
 * another, missing file, and an attacker could keep a capture out of the scan that way).
 * `label` is how it is shown: the same text, invalid bytes written as \xNN.
 */
export type FilePath = string | Buffer;
export interface InputFile { path: FilePath; label: string }

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** a name's bytes as text: valid UTF-8 as it is, each invalid byte as \xNN */
export function displayName(b: Uint8Array): string {
  try { return UTF8.decode(b); } catch { /* below, sequence by sequence */ }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    let text: string | null = null;
    if (n > 0 && i + n <= b.length) {
      try { text = UTF8.decode(b.subarray(i, i + n)); } catch { text = null; }
    }
    if (text === null) { out += `\\x${c.toString(16).padStart(2, '0')}`; i++; } else { out += text; i += n; }
  }
  return out;
}

/** `dir`/`name`: a string while every part is valid UTF-8, the bytes otherwise */
function child(dir: FilePath, name: Buffer): FilePath {
  if (typeof dir === 'string') {
    try { return path.join(dir, UTF8.decode(name)); } catch { /* bytes below */ }
  }
  const d = Buffer.from(dir);
  return Buffer.concat([d, d.length > 0 && d[d.length - 1] === 0x2f ? Buffer.alloc(0) : Buffer.from('/'), name]);
}

const show = (p: FilePath): string => (typeof p === 'string' ? p : displayName(p));
/** a key equal for equal bytes */
const realKey = async (p: FilePath): Promise<string> =>
  (await fs.realpath(p, { encoding: 'buffer' }).catch(() => Buffer.from(p))).toString('latin1');
export interface ExpandedInputs {
  files: InputFile[];
  /** inputs that could not be opened or listed: one message each */
  errors: string[];
  /** files inside directories that are not captures */
  skipped: number;
}

/** the first bytes of a file, or the reason it cannot be read */
async function head(file: FilePath, size = 8): Promise<Buffer | NodeJS.ErrnoException> {
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(file, 'r');
    const b = Buffer.alloc(size);
    const { bytesRead } = await h.read(b, 0, size, 0);
    return b.subarray(0, bytesRead);
  } catch (e) {
    return e as NodeJS.ErrnoException;
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/**
 * A name a capture tool gives its files: `.pcap`, `.pcapng`, `.cap`, `.ntar`, tcpdump -C's
 * `.pcap1`, `.pcap2`…, any of them compressed. Inside a directory such a file that is not a
 * capture by its first bytes — an empty ring-buffer file, a capture whose header was overwritten
 * — is tried like a file named on the command line, so that it is named with the reason (and
 * counted as failed) instead of disappearing into the count of skipped files.
 */
const CAPTURE_NAME = /\.(?:pcap|pcapng|cap|ntar)\d*(?:\.(?:gz|zst|xz|bz2|lz4))?$/i;
export const namedLikeCapture = (name: Buffer | string): boolean => CAPTURE_NAME.test(typeof name === 'string' ? name : name.toString('latin1'));

/**
 * Files of `dir` and below, in name order. Symbolic links are followed (evidence directories are
 * often assembled from links), each directory is walked once whatever the links (no loops), and
 * a link to nothing is named.
 */
async function walk(
  dir: FilePath, out: InputFile[], errors: string[], counter: { skipped: number }, depth: number, visited: Set<string>,
): Promise<void> {
  if (depth > 64) { errors.push(`${show(dir)}: directory nesting too deep, not descended`); return; }
  const real = await realKey(dir);
  if (visited.has(real)) return;
  visited.add(real);
  let entries;
  try {
    // names as bytes: not every name is valid UTF-8 (see FilePath)
    entries = await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (e) {
    errors.push(`${show(dir)}: cannot list directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    return;
  }
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  for (const e of entries) {
    const p = child(dir, e.name);
    let isDir = e.isDirectory(), isFile = e.isFile();
    let special = !isDir && !isFile && !e.isSymbolicLink();
    if (e.isSymbolicLink()) {
      const st = await fs.stat(p).catch(() => null);
      if (st === null) { errors.push(`${show(p)}: symbolic link to nothing`); continue; }
      isDir = st.isDirectory();
      isFile = st.isFile();
      special = !isDir && !isFile;
    }
    if (isDir) await walk(p, out, errors, counter, depth + 1, visited);
    else if (isFile) {
      const h = await head(p);
      // a file we cannot open may well be a capture: it is named, never counted as skipped
      if (!Buffer.isBuffer(h)) errors.push(`${show(p)}: cannot read file (${h.code ?? h.message})`);
      else if (namedLikeCapture(e.name) || await isCapture(p, h)) out.push({ path: p, label: show(p) });
      else counter.skipped++;
    } else if (special) {
      // a FIFO, socket or device (or a link to one): never opened (a FIFO would block), counted
      counter.skipped++;
    }
  }
}

/**
 * Inside a directory, a compressed file is a capture only if what it holds is one: rotated logs
 * (`*.log.gz`, `*.log.zst`) beside the captures are skipped like other files, not reported as
 * broken captures. One whose start cannot be decompressed (corrupt, or zstd/xz/bzip2/lz4 without
 * its command installed) is kept, so that it is named with the reason instead of silently skipped.
 */
async function isCapture(file: FilePath, first: Buffer): Promise<boolean> {
  const format = sniffCaptureFormat(first);
  if (format === null) return false;
  if (format === 'pcap' || format === 'pcapng') return true;
  const inner = format === 'gzip' ? await gunzipStart(file) : await decompressedStart(file, first);
  // decompressed without error into less than a capture header (an empty rotated log): not a capture
  return inner === null || (inner.length >= 4 && sniffCaptureFormat(inner.subarray(0, 12)) !== null);
}

/** the inflated start of a gzip file; null when it cannot be inflated (or, whole, is cut short) */
async function gunzipStart(file: FilePath): Promise<Buffer | null> {
  const size = 64 << 10;
  const start = await head(file, size);
  if (!Buffer.isBuffer(start)) return null;
  // a file read whole should inflate whole (then an empty log is told from a damaged file); a
  // longer one, or a damaged one, as far as it goes: four bytes are enough to judge it by
  if (start.length < size) {
    try { return zlib.gunzipSync(start); } catch { /* cut short or damaged: judged by its start */ }
  }
  try {
    const partial = zlib.gunzipSync(start, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    return partial.length >= 4 ? partial : null;
  } catch {
    return null;
  }
}

/**
 * printable ASCII, tabs and line ends: what logs start with (a timestamp, a word); twelve random
 * bytes from a damaged stream pass this one time in 150,000
 */
const looksLikeText = (b: Buffer): boolean => b.length > 0 && b.every((c) => c === 9 || c === 10 || c === 13 || (c >= 0x20 && c < 0x7f));

async function decompressedStart(file: FilePath, first: Buffer): Promise<Buffer | null> {
  const d = decompressorFor(first);
  if (d === null) return null;
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(file, 'r');
    const start = await peekExternal(h.fd, d, 12);
    // a capture, or text (a log, cut short or not: a rotated log copied while written fails to
    // decompress), is judged by its start; anything else may be a damaged capture, whose stream
    // turns into garbage before the tool's check fails: kept (named with the damage) when the
    // tool fails on it, skipped when it decompresses well
    if (start === null || (start.length >= 4 && sniffCaptureFormat(start) !== null) || looksLikeText(start)) return start;
    // (a descriptor of its own: the first tool moved the shared file offset)
    const again = await fs.open(file, 'r');
    try {
      return await failsToDecompress(again.fd, d) ? null : start;
    } finally {
      await again.close().catch(() => undefined);
    }
  } catch {
    return null;
  } finally {
    await h?.close().catch(() => undefined);
  }
}

/**
 * The path whose bytes, decoded as UTF-8 with U+FFFD, read as the input: each part with U+FFFD
 * is the one entry of its directory that reads the same (null when none or several do).
 */
async function nameByBytes(input: string): Promise<Buffer | null> {
  const abs = input.startsWith('/');
  let at: Buffer | null = abs ? Buffer.from('/') : null;
  for (const part of (abs ? input.slice(1) : input).split('/')) {
    let name = Buffer.from(part);
    if (part.includes('\ufffd')) {
      const names = await fs.readdir(at ?? '.', { encoding: 'buffer' }).catch(() => null);
      const hits = (names ?? []).filter((n) => n.toString('utf8') === part);
      if (hits.length !== 1) return null;
      name = hits[0];
    }
    at = at === null ? name : Buffer.concat([at, at[at.length - 1] === 0x2f ? Buffer.alloc(0) : Buffer.from('/'), name]);
  }
  return at;
}

export async function expandInputs(inputs: string[]): Promise<ExpandedInputs> {
  const found: InputFile[] = [];
  const errors: string[] = [];
  const counter = { skipped: 0 };
  const visited = new Set<string>();
  for (const input of inputs) {
    if (input === '-') { errors.push('-: reading a capture from standard input is not supported; give a file'); continue; }
    let st;
    let where: FilePath = input;
    try {
      st = await fs.stat(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Node decodes the command line as UTF-8: a name with other bytes arrives with U+FFFD in
      // their place. The one entry of its directory that reads the same is the file meant.
      const byBytes = code === 'ENOENT' && input.includes('\ufffd') ? await nameByBytes(input) : null;
      st = byBytes === null ? null : await fs.stat(byBytes).catch(() => null);
      if (byBytes === null || st === null) {
        errors.push(`${input}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot open (${code ?? String(e)})`}`);
        continue;
      }
      where = byBytes;
    }
    if (st.isDirectory()) {
      // the same directory given twice (or inside another input) is walked once
      if (visited.has(await realKey(where))) continue;
      const before = found.length;
      await walk(where, found, errors, counter, 0, visited);
      if (found.length === before) errors.push(`${show(where)}: no capture files found in this directory`);
    } else if (!st.isFile()) {
      // a FIFO would block the scan until something writes to it; devices and sockets are no captures
      errors.push(`${show(where)}: not a regular file (${st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : 'a device'}); give a capture file`);
    } else found.push({ path: where, label: show(where) });
  }
  // the same file named twice (or inside a directory also given) is scanned once
  const unique: InputFile[] = [];
  const seen = new Set<string>();
  for (const f of found) {
    const real = await realKey(f.path);
    if (seen.has(real)) continue;
    seen.add(real);
    unique.push(f);
  }
  // two files shown alike (a byte 0xff and the four characters "\xff"): the label is what each
  // event names, so the second gets a number, one that no other file's own label has (a file
  // may be named `x.pcap [2]`: found in review)
  const labels = numberAlike(unique.map((f) => f.label));
  const files = unique.map((f, i) => (labels[i] === f.label ? f : { ...f, label: labels[i] }));
  return { files, errors, skipped: counter.skipped };
}
