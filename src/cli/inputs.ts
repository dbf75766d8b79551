/**
 * Command-line inputs → capture files. Files named on the command line are always tried (a
 * non-capture gets a clear error); inside directories, files are recognised by their magic
 * bytes, not their extension, and the rest are counted as skipped.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { decompressorFor, peekExternal } from '../capture/external';
import { sniffCaptureFormat } from '../capture/reader';

export interface InputFile { path: string; label: string }
export interface ExpandedInputs {
  files: InputFile[];
  /** inputs that could not be opened or listed: one message each */
  errors: string[];
  /** files inside directories that are not captures */
  skipped: number;
}

/** the first bytes of a file, or the reason it cannot be read */
async function head(file: string, size = 8): Promise<Buffer | NodeJS.ErrnoException> {
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
 * Files of `dir` and below, in name order. Symbolic links are followed (evidence directories are
 * often assembled from links), each directory is walked once whatever the links (no loops), and
 * a link to nothing is named.
 */
async function walk(
  dir: string, out: InputFile[], errors: string[], counter: { skipped: number }, depth: number, visited: Set<string>,
): Promise<void> {
  if (depth > 64) { errors.push(`${dir}: directory nesting too deep, not descended`); return; }
  const real = await fs.realpath(dir).catch(() => dir);
  if (visited.has(real)) return;
  visited.add(real);
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    errors.push(`${dir}: cannot list directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    let isDir = e.isDirectory(), isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const st = await fs.stat(p).catch(() => null);
      if (st === null) { errors.push(`${p}: symbolic link to nothing`); continue; }
      isDir = st.isDirectory();
      isFile = st.isFile();
    }
    if (isDir) await walk(p, out, errors, counter, depth + 1, visited);
    else if (isFile) {
      const h = await head(p);
      // a file we cannot open may well be a capture: it is named, never counted as skipped
      if (!Buffer.isBuffer(h)) errors.push(`${p}: cannot read file (${h.code ?? h.message})`);
      else if (await isCapture(p, h)) out.push({ path: p, label: p });
      else counter.skipped++;
    }
  }
}

/**
 * Inside a directory, a compressed file is a capture only if what it holds is one: rotated logs
 * (`*.log.gz`, `*.log.zst`) beside the captures are skipped like other files, not reported as
 * broken captures. One whose start cannot be decompressed (corrupt, or zstd/xz/bzip2/lz4 without
 * its command installed) is kept, so that it is named with the reason instead of silently skipped.
 */
async function isCapture(file: string, first: Buffer): Promise<boolean> {
  const format = sniffCaptureFormat(first);
  if (format === null) return false;
  if (format === 'pcap' || format === 'pcapng') return true;
  const inner = format === 'gzip' ? await gunzipStart(file) : await decompressedStart(file, first);
  // decompressed without error into less than a capture header (an empty rotated log): not a capture
  return inner === null || (inner.length >= 4 && sniffCaptureFormat(inner.subarray(0, 12)) !== null);
}

/** the inflated start of a gzip file; null when it cannot be inflated (or, whole, is cut short) */
async function gunzipStart(file: string): Promise<Buffer | null> {
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

async function decompressedStart(file: string, first: Buffer): Promise<Buffer | null> {
  const d = decompressorFor(first);
  if (d === null) return null;
  let h: fs.FileHandle | undefined;
  try {
    h = await fs.open(file, 'r');
    return await peekExternal(h.fd, d, 12);
  } catch {
    return null;
  } finally {
    await h?.close().catch(() => undefined);
  }
}

export async function expandInputs(inputs: string[]): Promise<ExpandedInputs> {
  const found: InputFile[] = [];
  const errors: string[] = [];
  const counter = { skipped: 0 };
  const visited = new Set<string>();
  for (const input of inputs) {
    if (input === '-') { errors.push('-: reading a capture from standard input is not supported; give a file'); continue; }
    let st;
    try {
      st = await fs.stat(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      errors.push(`${input}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot open (${code ?? String(e)})`}`);
      continue;
    }
    if (st.isDirectory()) {
      // the same directory given twice (or inside another input) is walked once
      if (visited.has(await fs.realpath(input).catch(() => input))) continue;
      const before = found.length;
      await walk(input, found, errors, counter, 0, visited);
      if (found.length === before) errors.push(`${input}: no capture files found in this directory`);
    } else found.push({ path: input, label: input });
  }
  // the same file named twice (or inside a directory also given) is scanned once
  const files: InputFile[] = [];
  const seen = new Set<string>();
  for (const f of found) {
    const real = await fs.realpath(f.path).catch(() => f.path);
    if (seen.has(real)) continue;
    seen.add(real);
    files.push(f);
  }
  return { files, errors, skipped: counter.skipped };
}
