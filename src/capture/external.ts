/**
 * Captures compressed with zstd, xz, bzip2 or lz4 (sensor ring buffers and evidence archives
 * often are) are read through the format's own command-line decompressor, found on PATH. Node
 * 20's zlib has gzip only; the one pure-JavaScript zstd decoder on npm (fzstd 0.1.1) threw a
 * RangeError on a valid 15 MB file written by zstd 1.5.4 and decoded 74 MB/s where the zstd
 * command does ~600 MB/s (README, design notes). The decompressor reads the open capture on its
 * standard input — the file name never reaches its command line — and its output is parsed as
 * it arrives, with the reader's back-pressure (a paused pipe stops the child).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CaptureParser } from './framed';
import { CaptureError, CaptureInfo } from './packet';

export type ExternalCompression = 'zstd' | 'xz' | 'bzip2' | 'lz4';

export interface Decompressor {
  name: ExternalCompression;
  /** true when a file's first bytes (at least 6 when the file has them) are this format's */
  matches(b: Buffer): boolean;
  command: string;
  /** decompress standard input to standard output, no messages but errors */
  args: readonly string[];
  /** where the command comes from on Debian, for the error message */
  debianPackage: string;
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const starts = (b: Buffer, magic: readonly number[]): boolean => b.length >= magic.length && magic.every((m, i) => b[i] === m);

/**
 * Magic numbers from each format's specification: zstd frames (RFC 8878; a file may start with a
 * skippable frame, 0x184D2A5?, as pzstd writes), xz (.xz file format 1.1), bzip2 ("BZh" and the
 * block size digit), lz4 frames and lz4's legacy frames.
 */
export const DECOMPRESSORS: readonly Decompressor[] = [
  {
    name: 'zstd',
    matches: (b) => starts(b, [0x28, 0xb5, 0x2f, 0xfd]) || (b.length >= 4 && (b[0] & 0xf0) === 0x50 && starts(b.subarray(1), [0x2a, 0x4d, 0x18])),
    command: 'zstd', args: ['-d', '-c', '-q'], debianPackage: 'zstd',
  },
  // four bytes of the six are enough to name a cut-off xz file as one
  { name: 'xz', matches: (b) => b.length >= 4 && starts(b, XZ_MAGIC.slice(0, Math.min(b.length, XZ_MAGIC.length))), command: 'xz', args: ['-d', '-c', '-q'], debianPackage: 'xz-utils' },
  {
    name: 'bzip2',
    matches: (b) => starts(b, [0x42, 0x5a, 0x68]) && b.length >= 4 && b[3] >= 0x31 && b[3] <= 0x39,
    // without -q: a cut-off file is then named as one ("Compressed file ends unexpectedly")
    command: 'bzip2', args: ['-d', '-c'], debianPackage: 'bzip2',
  },
  {
    name: 'lz4',
    matches: (b) => starts(b, [0x04, 0x22, 0x4d, 0x18]) || starts(b, [0x02, 0x21, 0x4c, 0x18]),
    command: 'lz4', args: ['-d', '-c', '-q'], debianPackage: 'lz4',
  },
];

export function decompressorFor(firstBytes: Buffer): Decompressor | null {
  return DECOMPRESSORS.find((d) => d.matches(firstBytes)) ?? null;
}

/** stderr kept for the error message: the first line is what is shown */
const STDERR_KEEP = 4096;

interface Child {
  /** null when the output goes to a named pipe, or when the process could not be started */
  stdout: (NodeJS.ReadableStream & AsyncIterable<Buffer>) | null;
  /** the spawn error (command not found, no file descriptors left) or null */
  failedToStart(): NodeJS.ErrnoException | null;
  /** resolves once the process and its pipes are closed: its exit code, or the signal that ended it */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** what it wrote on stderr (the start of it), once closed */
  stderrText(): string;
  kill(): void;
}

/**
 * Runs the decompressor on `fd`. Its output goes to `out` (a named pipe read synchronously) or
 * to a stream; its messages to `err` (a file: a stderr pipe would be drained by the event loop,
 * which a synchronous read blocks — a tool writing more than a pipe-full of messages before its
 * output would then wait for us while we wait for it) or to a stream.
 */
function start(d: Decompressor, fd: number, out?: number, err?: number): Child {
  let spawnError: NodeJS.ErrnoException | null = null;
  let stderr = '';
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(d.command, d.args, { stdio: [fd, out ?? 'pipe', err ?? 'pipe'] });
  } catch (e) {
    spawnError = e as NodeJS.ErrnoException;
    return { stdout: null, failedToStart: () => spawnError, closed: Promise.resolve({ code: null, signal: null }), stderrText: () => '', kill: () => {} };
  }
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => { spawnError = e; resolve({ code: null, signal: null }); });
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (t: string) => { if (stderr.length < STDERR_KEEP) stderr += t; });
  return {
    // undefined, not null, when the spawn failed before the process existed (EMFILE)
    stdout: (child.stdout ?? null) as (NodeJS.ReadableStream & AsyncIterable<Buffer>) | null,
    failedToStart: () => spawnError,
    closed,
    stderrText: () => {
      if (err === undefined) return stderr;
      const b = Buffer.alloc(STDERR_KEEP);
      try { return b.subarray(0, fs.readSync(err, b, 0, STDERR_KEEP, 0)).toString('utf8'); } catch { return ''; }
    },
    // a process that failed to start has no pid: kill() would signal our own process group
    kill: () => {
      if (spawnError === null && child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

function missing(d: Decompressor, e: NodeJS.ErrnoException): CaptureError {
  return new CaptureError(e.code === 'ENOENT'
    ? `${d.name}-compressed: the ${d.command} command is needed to read it (Debian package ${d.debianPackage}), or decompress the file first`
    : `${d.name}-compressed: cannot run ${d.command} (${e.code === 'EMFILE' || e.code === 'ENFILE' ? 'too many open files, ' : ''}${e.code ?? e.message})`);
}

/**
 * The decompressor's message: its first line without the program name and the stdin pseudo-name,
 * and the next line too when the first says memory is short (zstd then says which option would
 * decode the file: "Use --long=31 or --memory=2048MB").
 */
function reason(d: Decompressor, stderr: string, code: number | null): string {
  const lines = stderr.split('\n')
    .map((l) => l.replace(new RegExp(`^${d.command}:`), '').replace(/\(stdin\)|\/\*stdin\*\\/g, '').replace(/^[\s:]+|[\s:;]+$/g, ''))
    .filter((l) => l !== '');
  const text = lines.length === 0 ? `${d.command} exited with status ${code}` : MEMORY.test(lines[0]) && lines.length > 1 ? `${lines[0]}; ${lines[1]}` : lines[0];
  // control characters would come from a hostile stream's bytes echoed by the tool: never shown raw
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 300);
}

const TRUNCATED = /end of (file|stream|input)|premature|truncat|ends? unexpectedly|unexpected end|incomplete|unfinished/i;
const MEMORY = /memory|cannot allocate/i;

/**
 * A named pipe for the decompressor's output, both ends open: the read end is then read like a
 * file, into the same two buffers every time. A child's stdout stream allocates a new 64 KiB
 * buffer per read instead, which V8 frees late: on the 99 MB metadata capture compressed with
 * zstd, peak RSS 156 MiB through the stream against 112 MiB for the uncompressed file. Null when
 * no pipe can be made (no mkfifo command): the stream is used then.
 */
function namedPipe(): { readFd: number; writeFd: number; errFd: number } | null {
  let dir: string | null = null;
  const opened: number[] = [];
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-pipe-'));
    const fifo = path.join(dir, 'out');
    if (spawnSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' }).status !== 0) return null;
    // a non-blocking reader lets the writer open at once; the blocking reader opened next is
    // the one read from (end of file when the child exits)
    const probe = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    opened.push(probe);
    const writeFd = fs.openSync(fifo, fs.constants.O_WRONLY);
    opened.push(writeFd);
    const readFd = fs.openSync(fifo, fs.constants.O_RDONLY);
    opened.push(readFd);
    // the tool's messages, in a file with no name once the directory is gone
    const errFd = fs.openSync(path.join(dir, 'err'), 'w+', 0o600);
    opened.push(errFd);
    fs.closeSync(probe);
    return { readFd, writeFd, errFd };
  } catch {
    for (const fd of opened) { try { fs.closeSync(fd); } catch { /* already closed */ } }
    return null;
  } finally {
    // the open ends keep the pipe; its name is not needed any more
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
  }
}

const PIPE_CHUNK = 256 << 10;
/** decompressed bytes between two looks at how far the decompressor has read the file */
const PROGRESS_EVERY = 8 << 20;

/**
 * How far into the file the decompressor has read: the child reads the descriptor it was given,
 * which shares its offset with ours; Linux shows the offset in /proc. Null elsewhere.
 */
function offsetOf(fd: number): number | null {
  try {
    const m = /^pos:\s*(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
/** two read buffers per thread, reused from file to file (the parser may still refer to the previous chunk) */
const pipeBuffers: Buffer[] = [];

/**
 * Parses what the pipe delivers until its end; true when the parser stopped first. Synchronous
 * reads: a read returns as soon as the child has written anything, and a thread-pool round trip
 * per pipe-full (64 KiB) cost more than the parse. 1.07 GB SMB3 bulk capture compressed with
 * zstd: 3.0-4.4 s with fs.read, 1.2-1.8 s with fs.readSync (`zstd -dc | cat`: 1.06 s).
 */
async function parsePipe(
  fd: number, parser: CaptureParser, progress?: () => void,
): Promise<boolean> {
  while (pipeBuffers.length < 2) pipeBuffers.push(Buffer.allocUnsafe(PIPE_CHUNK));
  for (let k = 0, read = 0; ; k ^= 1) {
    let n: number;
    try {
      n = fs.readSync(fd, pipeBuffers[k], 0, PIPE_CHUNK, null);
    } catch (e) {
      throw new CaptureError(`cannot read the decompressor's output (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (n === 0) return false;
    if ((read += n) >= PROGRESS_EVERY) {
      read = 0;
      progress?.();
      // the reads block this thread: let signal handlers (Ctrl-C cleans up) and timers run
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (!parser.push(pipeBuffers[k].subarray(0, n))) return true;
  }
}

async function parseStream(stdout: AsyncIterable<Buffer>, parser: CaptureParser): Promise<boolean> {
  for await (const chunk of stdout) {
    if (!parser.push(chunk)) return true;
  }
  return false;
}

/**
 * Streams `fd` (an open capture file, read from its start) through the decompressor into
 * `parser`. A broken stream once packets have been read is an anomaly (`<format>_truncated` or
 * `<format>_corrupt`), like gzip; before that, the file is unreadable (CaptureError).
 */
export async function readExternal(
  fd: number, d: Decompressor, parser: CaptureParser,
  compressedProgress?: (fileBytes: number) => void,
): Promise<CaptureInfo> {
  const progress = compressedProgress && ((): void => {
    const at = offsetOf(fd);
    if (at !== null) compressedProgress(at);
  });
  const pipe = namedPipe();
  let child: Child;
  try {
    child = start(d, fd, pipe?.writeFd, pipe?.errFd);
  } finally {
    // the child has its own copy: the pipe ends when the child does
    if (pipe !== null) fs.closeSync(pipe.writeFd);
  }
  let stoppedEarly = false;
  try {
    if (child.failedToStart() === null) {
      if (pipe !== null) stoppedEarly = await parsePipe(pipe.readFd, parser, progress);
      else if (child.stdout !== null) stoppedEarly = await parseStream(child.stdout, parser);
    }
  } catch (e) {
    // the start is not a capture: a damaged file often decompresses into garbage before the
    // tool's check fails, so the damage is named rather than the garbage (found by fuzzing)
    const damage = e instanceof CaptureError && !parser.started && pipe !== null && child.failedToStart() === null
      ? await damageBehind(child, d, pipe.readFd, parser.info) : null;
    child.kill();
    if (pipe !== null) fs.closeSync(pipe.errFd);
    throw damage ?? e;
  } finally {
    if (stoppedEarly) child.kill();
    if (pipe !== null) fs.closeSync(pipe.readFd);
  }
  let result: { code: number | null; signal: NodeJS.Signals | null };
  let messages: string;
  try {
    result = await child.closed;
    messages = child.stderrText();
  } finally {
    if (pipe !== null) fs.closeSync(pipe.errFd);
  }
  return finish(d, parser, result, messages, stoppedEarly, child.failedToStart());
}

/** decompressed bytes read past a start that is not a capture, to see whether the tool then fails */
const DRAIN_LIMIT = 8 << 20;

/**
 * Lets the decompressor go on (its output discarded, DRAIN_LIMIT at most): the error it ends
 * with, as a CaptureError, or null when it ends well or has more to say than DRAIN_LIMIT.
 */
async function damageBehind(child: Child, d: Decompressor, fd: number, info: CaptureInfo): Promise<CaptureError | null> {
  let drained = 0;
  const discard: CaptureParser = {
    info, started: false,
    push: (b) => (drained += b.length) < DRAIN_LIMIT,
    abort() {},
    end: () => info,
  };
  try {
    if (await parsePipe(fd, discard)) return null;
  } catch {
    return null;
  }
  const { code, signal } = await child.closed;
  if (code === 0 || code === null || signal !== null) return null;
  return new CaptureError(`corrupt ${d.name} data (${reason(d, child.stderrText(), code)})`);
}

/**
 * Whether the file decompresses with an error within DRAIN_LIMIT bytes of output (inputs.ts: a
 * compressed file in a directory whose start is not a capture is a damaged capture, to be
 * named, when the tool fails on it; a log that decompresses well is skipped).
 */
export async function failsToDecompress(fd: number, d: Decompressor): Promise<boolean> {
  const r = await readOutput(fd, d, DRAIN_LIMIT, false);
  return r === 'failed' || (r.got < DRAIN_LIMIT && r.code !== 0 && r.started);
}

/**
 * Runs the decompressor until it has written `n` bytes (kept when `keep`) or ended: what it
 * wrote and how it ended ('failed' when its output could not be read).
 */
async function readOutput(fd: number, d: Decompressor, n: number, keep: boolean): Promise<'failed' | { parts: Buffer[]; got: number; code: number | null; started: boolean }> {
  const child = start(d, fd);
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of child.stdout ?? []) {
      if (keep) parts.push(chunk);
      got += chunk.length;
      if (got >= n) break;
    }
  } catch {
    child.kill();
    return 'failed';
  }
  // stopped by us once it has said enough; otherwise its exit status tells whether all was well
  if (got >= n) child.kill();
  const { code } = await child.closed;
  return { parts, got, code, started: child.failedToStart() === null };
}

/** what the decompressor's end says about the file */
function finish(
  d: Decompressor, parser: CaptureParser, { code, signal }: { code: number | null; signal: NodeJS.Signals | null },
  messages: string, stoppedEarly: boolean, spawnError: NodeJS.ErrnoException | null,
): CaptureInfo {
  if (spawnError !== null) throw missing(d, spawnError);
  if (stoppedEarly) return parser.end();
  if (code === 0) {
    // bzip2 and xz finish with status 0 after warning about bytes after the compressed data
    if (/trailing garbage/i.test(messages)) parser.abort(`${d.name}_trailing_garbage`);
    return parser.end();
  }
  // the tool did not finish (killed: out of memory, a user, a timeout): the file was not read in
  // full, which is not the data's fault; named, like an unreadable file (events before are kept)
  const mb = `${(parser.info.bytes / 1e6).toFixed(1)} MB`;
  if (signal !== null) throw new CaptureError(`${d.command} was killed by ${signal} after ${mb} of capture data; the rest of the file was not read`);
  const why = reason(d, messages, code);
  if (MEMORY.test(why)) throw new CaptureError(`${d.command} cannot decompress this file with its default memory limit (${why}); decompress it first with that option`);
  const truncated = TRUNCATED.test(why);
  if (!parser.started) throw new CaptureError(truncated ? `truncated ${d.name} file (${why})` : `corrupt ${d.name} data (${why})`);
  parser.abort(`${d.name}_${truncated ? 'truncated' : 'corrupt'}`);
  return parser.end();
}

/**
 * The first `n` decompressed bytes of a file (fewer, or none, if it holds fewer), to recognise a
 * capture inside a compressed file while walking a directory; null when the command is missing
 * or failed (the file is then kept, to be named with the reason).
 */
export async function peekExternal(fd: number, d: Decompressor, n: number): Promise<Buffer | null> {
  const r = await readOutput(fd, d, n, true);
  if (r === 'failed' || !r.started || (r.got < n && r.code !== 0)) return null;
  return Buffer.concat(r.parts).subarray(0, n);
}
