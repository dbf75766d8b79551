/**
 * Global time order for the merged timeline with bounded memory: an external merge sort over
 * keyed runs (the format is described above RunSpiller). Each scanning thread sorts its own
 * file's formatted lines into runs in a private temporary directory (RunSpiller); the main thread
 * merges them (RunMerge, reduceRuns), in two halves at once with two jobs (splitKey,
 * writeUpperHalf), and copies their bytes to the output. Nothing is parsed on the main thread.
 *
 * A failure (disk full, directory gone, a run cut short) is a SorterError with a one-line
 * message; the temporary directories are removed by their owner, and at exit or on a fatal
 * signal as a last resort.
 */
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';
/** A sorter failure with a one-line message fit for the command line; `code` is the errno code. */
export class SorterError extends Error {
  override readonly name = 'SorterError';
  constructor(message: string, readonly code?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Temporary directories: removed by their owner, and by a process exit/signal hook as last resort

const liveDirs = new Set<string>();
let hooked = false;

/**
 * At exit or on a signal, worker threads may still be writing runs into the directory: removing
 * it in place raced with them (a file created between the listing and the rmdir left the
 * directory behind: 7 of 8 Ctrl-Cs with two workers). Renamed first, the old path is gone at
 * once, so no new file can appear in what is being removed.
 */
function removeLiveDirsSync(): void {
  for (const dir of liveDirs) {
    let target = dir;
    try {
      target = `${dir}.removing`;
      fs.renameSync(dir, target);
    } catch {
      target = dir;
    }
    try { fs.rmSync(target, { recursive: true, force: true, maxRetries: 2 }); } catch { /* nothing more can be done at exit */ }
  }
  liveDirs.clear();
}

/**
 * A signal that would kill the process (nobody else listens): remove the directories, then die of
 * it as Node would have. A program with its own handler decides; the exit hook cleans up after it.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  removeLiveDirsSync();
  process.removeListener(signal, onSignal);
  process.kill(process.pid, signal);
}

function track(dir: string): void {
  liveDirs.add(dir);
  if (hooked) return;
  hooked = true;
  process.on('exit', removeLiveDirsSync);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
}

async function removeDir(dir: string): Promise<void> {
  // forgotten only once gone: a Ctrl-C during the removal still finds it to clean up
  await fsp.rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => {});
  liveDirs.delete(dir);
}

/** "no space left on device (ENOSPC)" from Node's "ENOSPC: no space left on device, write" */
function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const msg = String(err?.message ?? e).split('\n')[0];
  if (err?.code) {
    const m = /^[A-Z0-9_]+: ([^,]+)/.exec(msg);
    return `${m ? m[1] : msg} (${err.code})`;
  }
  return msg;
}

function wrapError(e: unknown, what: string): SorterError {
  if (e instanceof SorterError) return e;
  return new SorterError(`${what}: ${errnoText(e)}`, (e as NodeJS.ErrnoException)?.code, { cause: e });
}

function positiveInt(v: number, name: string, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min} (got ${v})`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Keyed runs: the path of every format (the table's lines are JSON lines; see src/scan/jobs.ts).
// Each scanning thread sorts its own file's formatted lines and writes them as sorted runs; the main thread only merges
// the runs and copies their bytes to the output. Nothing is parsed or decoded on the main thread.
//
// A record is a 44-byte header — u32 LE length of the line in bytes, then sec, ns, rank, frame, seq
// as f64 LE — followed by the line's UTF-8 bytes. `rank` is the position of the record's capture
// label among all labels of the run (sorted as strings), so the order is exactly compareRecords'
// (time, capture, frame, wire order) with numbers only; equal keys (never emitted by the scanner)
// fall back to the line's bytes, so the result depends only on the set of records. Length-prefixed,
// so a line may hold any byte.
//
// A run file starts with RUN_HEAD bytes: a magic, its record count, the key of its middle
// record, where its index starts and how many entries it has (f64 LE). With two jobs the final
// merge is cut at such a key into two halves merged at once, each writing its own part of the
// output file (see splitKey). The index, after the records, has an entry for every INDEX_STRIDE-th
// record: its key, its offset in the file and the line bytes before it, so that the upper half
// starts at its cut without reading the lower half (which took it longer than the whole merge).

const HEADER = 44;
const KEYS = 5;
const RUN_MAGIC = Buffer.from('SMBTRUN2', 'latin1');
const RUN_HEAD = 8 + 8 + 8 * KEYS + 8 + 8;
export const INDEX_STRIDE = 256;
/** an index entry: KEYS keys, the record's offset in the file, the line bytes before it (f64 each) */
const INDEX_ENTRY = KEYS + 2;

/** what a run file's head says */
export interface RunHead {
  count: number;
  /** the middle record's key */
  mid: number[];
  /** where the records end and the index starts, and its entries */
  indexAt: number;
  indexCount: number;
}

function writeRunHead(fd: number, count: number, mid: ArrayLike<number>, indexAt: number, indexCount: number): void {
  const b = Buffer.alloc(RUN_HEAD);
  RUN_MAGIC.copy(b, 0);
  b.writeDoubleLE(count, 8);
  for (let i = 0; i < KEYS; i++) b.writeDoubleLE(mid[i] ?? 0, 16 + 8 * i);
  b.writeDoubleLE(indexAt, 16 + 8 * KEYS);
  b.writeDoubleLE(indexCount, 24 + 8 * KEYS);
  writeFullyAt(fd, b, 0);
}

/** an index entry for the record whose key is keys[k, k + KEYS), at `offset`, after `lineBytes` of lines */
function addIndexEntry(index: number[], keys: ArrayLike<number>, k: number, offset: number, lineBytes: number): void {
  for (let i = 0; i < KEYS; i++) index.push(keys[k + i]);
  index.push(offset, lineBytes);
}

/** the index entries (`INDEX_ENTRY` numbers each) as bytes, to be written at the end of a run */
function indexBytes(index: number[]): Buffer {
  const b = Buffer.allocUnsafe(8 * index.length);
  for (let i = 0; i < index.length; i++) b.writeDoubleLE(index[i], 8 * i);
  return b;
}

function parseRunHead(b: Buffer, file: string): RunHead {
  if (b.length < RUN_HEAD || !b.subarray(0, 8).equals(RUN_MAGIC)) throw new SorterError(`not a sorted run: ${file}`);
  const mid: number[] = [];
  for (let i = 0; i < KEYS; i++) mid.push(b.readDoubleLE(16 + 8 * i));
  const head = { count: b.readDoubleLE(8), mid, indexAt: b.readDoubleLE(16 + 8 * KEYS), indexCount: b.readDoubleLE(24 + 8 * KEYS) };
  if (!Number.isSafeInteger(head.indexAt) || head.indexAt < RUN_HEAD || !Number.isSafeInteger(head.indexCount) || head.indexCount < 0) {
    throw new SorterError(`not a sorted run: ${file}`);
  }
  return head;
}

/** a < b, key by key */
function keyLess(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < KEYS; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/**
 * The key that cuts the records of `files` into two halves of about equal count: the
 * count-weighted median of the runs' middle keys. Records below it are one half, the rest the
 * other; any key gives a correct cut, a good one only balances the work.
 */
export function splitKey(files: string[]): { key: number[]; count: number } {
  const heads = files.map((f) => {
    try {
      const fd = fs.openSync(f, 'r');
      try {
        const b = Buffer.alloc(RUN_HEAD);
        const got = fs.readSync(fd, b, 0, RUN_HEAD, 0);
        return parseRunHead(b.subarray(0, got), f);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw wrapError(e, 'cannot read a sorted run');
    }
  });
  const count = heads.reduce((a, h) => a + h.count, 0);
  const byKey = heads.filter((h) => h.count > 0).sort((a, b) => (keyLess(a.mid, b.mid) ? -1 : keyLess(b.mid, a.mid) ? 1 : 0));
  let seen = 0;
  for (const h of byKey) {
    seen += h.count;
    if (seen * 2 >= count) return { key: h.mid, count };
  }
  return { key: new Array<number>(KEYS).fill(0), count };
}

/** Creates a private temporary directory removed at exit or on a fatal signal if not before. */
export async function createTempDir(root: string = os.tmpdir(), prefix = 'smbtrail-sort-'): Promise<string> {
  let dir: string;
  try {
    dir = await fsp.mkdtemp(path.join(root, prefix));
  } catch (e) {
    throw wrapError(e, `cannot create a temporary directory under ${root} to sort events`);
  }
  track(dir);
  return dir;
}

export function removeTempDir(dir: string): Promise<void> {
  return removeDir(dir);
}

export interface RunSpillerOptions {
  /** records before a run is written (the sorter's maxInMemory) */
  maxRecords: number;
  /** line bytes before a run is written, whatever the count (default 4 MiB) */
  maxBytes?: number;
  /** a file holding more runs than this is merged into one run when it ends (default 32) */
  maxRuns?: number;
}

/**
 * Collects one producer's records and writes them as sorted runs, synchronously (it runs in a
 * scanning thread, which has nothing better to do meanwhile). Lines are copied into one reused
 * byte arena and keys into a Float64Array as they arrive, so the buffered records are not
 * JavaScript objects or strings that survive young-generation collections: the scanning
 * thread's heap stays at what the scan itself needs (measured: this is what kept peak RSS high).
 */
export class RunSpiller {
  private arena: Buffer;
  private used = 0;
  private keys: Float64Array;
  /** start of each record's line in the arena, and its byte length */
  private starts: Uint32Array;
  private lens: Uint32Array;
  private n = 0;
  private runNo = 0;
  private readonly runs: string[] = [];
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxRuns: number;
  records = 0;

  constructor(private readonly dir: string, private readonly name: string, o: RunSpillerOptions) {
    this.maxRecords = positiveInt(o.maxRecords, 'maxRecords', 1);
    this.maxBytes = positiveInt(o.maxBytes ?? 4 << 20, 'maxBytes', 1);
    this.maxRuns = positiveInt(o.maxRuns ?? 32, 'maxRuns', 2);
    const cap = Math.min(this.maxRecords, 1 << 16);
    this.arena = spareArena !== null && spareArena.length <= this.maxBytes ? spareArena : Buffer.allocUnsafe(Math.min(this.maxBytes, 1 << 20));
    if (this.arena === spareArena) spareArena = null;
    this.keys = new Float64Array(cap * KEYS);
    this.starts = new Uint32Array(cap);
    this.lens = new Uint32Array(cap);
  }

  add(sec: number, ns: number, rank: number, frame: number, seq: number, line: string): void {
    if (!Number.isFinite(sec) || !Number.isFinite(ns) || !Number.isFinite(frame) || !Number.isFinite(seq)) {
      throw new TypeError(`RunSpiller.add(): keys must be finite numbers (got ${sec}, ${ns}, ${frame}, ${seq})`);
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit: a bound, not a second pass over the line
    const max = 3 * line.length;
    if (this.n >= this.maxRecords || (this.n > 0 && this.used + max > this.maxBytes)) this.spill();
    if (this.used + max > this.arena.length) this.growArena(this.used + max);
    if (this.n >= this.starts.length) this.growIndex();
    const len = this.arena.write(line, this.used, 'utf8');
    const i = this.n++;
    const k = i * KEYS;
    this.keys[k] = sec; this.keys[k + 1] = ns; this.keys[k + 2] = rank; this.keys[k + 3] = frame; this.keys[k + 4] = seq;
    this.starts[i] = this.used;
    this.lens[i] = len;
    this.used += len;
    this.records++;
  }

  /**
   * writes what is buffered and, beyond maxRuns, merges the oldest runs until maxRuns are left
   * (33 runs and a bound of 32: two runs merged, not all 33 copied into one); the run files
   */
  finish(): string[] {
    if (this.n > 0) this.spill();
    if (this.runs.length > this.maxRuns) {
      const kept = reduceRuns(this.runs, this.maxRuns, this.dir, () => this.nextFile());
      this.runs.length = 0;
      this.runs.push(...kept);
    }
    // the next file's spiller in this thread starts with this arena (at most maxBytes, once per
    // thread): growing a new one per file left 3-7 MB of garbage per file outside V8's heap
    if (spareArena === null || spareArena.length < this.arena.length) spareArena = this.arena;
    this.arena = Buffer.allocUnsafe(0);
    return this.runs.slice();
  }

  private nextFile(): string {
    return path.join(this.dir, `${this.name}-${String(++this.runNo).padStart(6, '0')}.run`);
  }

  private growArena(need: number): void {
    const a = Buffer.allocUnsafe(Math.max(need, Math.min(this.maxBytes, this.arena.length * 2)));
    this.arena.copy(a, 0, 0, this.used);
    this.arena = a;
  }

  private growIndex(): void {
    const cap = this.starts.length * 2;
    const k = new Float64Array(cap * KEYS); k.set(this.keys); this.keys = k;
    const s = new Uint32Array(cap); s.set(this.starts); this.starts = s;
    const l = new Uint32Array(cap); l.set(this.lens); this.lens = l;
  }

  private spill(): void {
    const { keys, arena, starts, lens } = this;
    const order = new Array<number>(this.n);
    for (let i = 0; i < this.n; i++) order[i] = i;
    order.sort((a, b) => {
      const x = a * KEYS, y = b * KEYS;
      return keys[x] - keys[y] || keys[x + 1] - keys[y + 1] || keys[x + 2] - keys[y + 2]
        || keys[x + 3] - keys[y + 3] || keys[x + 4] - keys[y + 4]
        || arena.compare(arena, starts[b], starts[b] + lens[b], starts[a], starts[a] + lens[a]);
    });
    const file = this.nextFile();
    // opened inside: a name already taken (O_EXCL) or no descriptor left is the sorter's one-line
    // error like a failed write, not a bug of the capture's (found by test/sorter/errors.test.ts)
    let w: SyncRunWriter | null = null;
    try {
      w = new SyncRunWriter(file, this.n);
      for (const i of order) w.put(keys, i * KEYS, arena, starts[i], lens[i]);
      w.close();
    } catch (e) {
      w?.abort();
      throw wrapError(e, `cannot write a sorted run to ${file}`);
    }
    this.runs.push(file);
    this.n = 0;
    this.used = 0;
  }
}

/** the arena a finished RunSpiller leaves to the next one of the same thread */
let spareArena: Buffer | null = null;
/** SyncRunWriter's buffer, reused by the next writer once one is closed (they run one at a time) */
let spareWriteBuffer: Buffer | null = null;

/** Buffered synchronous writer of keyed records. */
class SyncRunWriter {
  private fd: number;
  private buf: Buffer;
  /** the head is written at close(), over these first bytes */
  private pos = RUN_HEAD;
  /** bytes of the file before the buffer */
  private flushed = 0;
  /** line bytes put so far */
  private lineBytes = 0;
  private readonly index: number[] = [];
  private n = 0;
  private readonly mid = new Array<number>(KEYS).fill(0);

  /** `count`: the records that will be put, to know the middle one */
  constructor(readonly file: string, private readonly count: number) {
    // never through a planted symlink (O_EXCL): the temporary directory is private, but the
    // name of a run is predictable
    this.fd = fs.openSync(file, 'wx', 0o600);
    this.buf = takeWriteBuffer();
  }

  put(keys: ArrayLike<number>, k: number, src: Buffer, start: number, len: number): void {
    if (this.n === this.count >> 1) for (let i = 0; i < KEYS; i++) this.mid[i] = keys[k + i];
    if (this.pos + HEADER + len > this.buf.length) {
      this.flush();
      if (HEADER + len > this.buf.length) this.buf = Buffer.allocUnsafe(HEADER + len);
    }
    if (this.n++ % INDEX_STRIDE === 0) {
      addIndexEntry(this.index, keys, k, this.flushed + this.pos, this.lineBytes);
    }
    this.lineBytes += len;
    const b = this.buf;
    let p = this.pos;
    b.writeUInt32LE(len, p);
    b.writeDoubleLE(keys[k], p + 4); b.writeDoubleLE(keys[k + 1], p + 12); b.writeDoubleLE(keys[k + 2], p + 20);
    b.writeDoubleLE(keys[k + 3], p + 28); b.writeDoubleLE(keys[k + 4], p + 36);
    p += HEADER;
    src.copy(b, p, start, start + len);
    this.pos = p + len;
  }

  private flush(): void {
    writeFullyAt(this.fd, this.buf.subarray(0, this.pos), this.flushed);
    this.flushed += this.pos;
    this.pos = 0;
  }

  close(): void {
    try {
      this.flush();
      writeFullyAt(this.fd, indexBytes(this.index), this.flushed);
      writeRunHead(this.fd, this.n, this.mid, this.flushed, this.index.length / INDEX_ENTRY);
    } finally {
      // once only: after a failed write the caller aborts, and the number may be another
      // thread's file by then (found in review)
      const fd = this.fd;
      this.fd = -1;
      fs.closeSync(fd);
      giveBackWriteBuffer(this.buf);
    }
  }

  abort(): void {
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* already failing */ }
      this.fd = -1;
    }
    fs.rmSync(this.file, { force: true });
  }
}

const WRITE_BUFFER = 256 * 1024;

function takeWriteBuffer(): Buffer {
  const b = spareWriteBuffer ?? Buffer.allocUnsafe(WRITE_BUFFER);
  spareWriteBuffer = null;
  return b;
}

function giveBackWriteBuffer(b: Buffer): void {
  if (b.length === WRITE_BUFFER) spareWriteBuffer = b;
}

/** One run being read back, synchronously, `chunk` bytes at a time; `key` is its head's key. */
class SyncRunReader {
  readonly key = new Float64Array(KEYS);
  /** the head record's line: buf[lineStart, lineStart + lineLen) */
  buf: Buffer;
  lineStart = 0;
  lineLen = 0;
  private pos = 0;
  private end = 0;
  private eof = false;
  private fd: number;
  /** where the next read starts in the file, and where the records end (the index) */
  private filePos = 0;
  private limit = RUN_HEAD;

  readonly head: RunHead;

  constructor(readonly file: string, chunk: number) {
    this.buf = Buffer.allocUnsafe(Math.max(chunk, RUN_HEAD));
    this.fd = fs.openSync(file, 'r');
    try {
      const got = fs.readSync(this.fd, this.buf, 0, RUN_HEAD, 0);
      this.head = parseRunHead(this.buf.subarray(0, got), file);
      // the index is written last: a run cut anywhere is caught here
      if (fs.fstatSync(this.fd).size < this.head.indexAt + 8 * INDEX_ENTRY * this.head.indexCount) throw new SorterError(`truncated run ${file}`);
      this.limit = this.head.indexAt;
      this.seek(RUN_HEAD);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** reads on from `off` (a record's start) */
  private seek(off: number): void {
    this.pos = 0;
    this.end = 0;
    this.filePos = off;
    this.eof = off >= this.limit;
  }

  /**
   * Moves to the first record whose key is not below `from`, by the index and then record by
   * record (at most INDEX_STRIDE of them); the line bytes before it. False: there is none.
   */
  skipBelow(from: ArrayLike<number>): { has: boolean; skipped: number } {
    const n = this.head.indexCount;
    const raw = Buffer.allocUnsafe(8 * INDEX_ENTRY * n);
    let got = 0;
    while (got < raw.length) {
      const r = fs.readSync(this.fd, raw, got, raw.length - got, this.limit + got);
      if (r === 0) throw new SorterError(`truncated run ${this.file}`);
      got += r;
    }
    const index = new Float64Array(INDEX_ENTRY * n);
    for (let i = 0; i < index.length; i++) index[i] = raw.readDoubleLE(8 * i);
    const entry = (i: number): Float64Array => index.subarray(i * INDEX_ENTRY, (i + 1) * INDEX_ENTRY);
    // the last entry below `from` (entries are in key order): start there
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keyLess(entry(mid), from)) lo = mid + 1; else hi = mid;
    }
    let skipped = 0;
    if (lo > 0) {
      const e = entry(lo - 1);
      this.seek(e[KEYS]);
      skipped = e[KEYS + 1];
    }
    let has = this.advance();
    while (has && keyLess(this.key, from)) { skipped += this.lineLen; has = this.advance(); }
    return { has, skipped };
  }

  /** moves to the next record; false at the end of the run */
  advance(): boolean {
    if (!this.ensure(HEADER)) {
      if (this.end > this.pos) throw new SorterError(`truncated run ${this.file}`);
      return false;
    }
    const b = this.buf;
    const p = this.pos;
    const len = b.readUInt32LE(p);
    if (len > this.limit) throw new SorterError(`corrupt run ${this.file}`);
    if (!this.ensure(HEADER + len)) throw new SorterError(`truncated run ${this.file}`);
    const q = this.pos; // ensure() may have moved the record to the start of the buffer
    const k = this.key;
    k[0] = this.buf.readDoubleLE(q + 4); k[1] = this.buf.readDoubleLE(q + 12); k[2] = this.buf.readDoubleLE(q + 20);
    k[3] = this.buf.readDoubleLE(q + 28); k[4] = this.buf.readDoubleLE(q + 36);
    this.lineStart = q + HEADER;
    this.lineLen = len;
    this.pos = q + HEADER + len;
    return true;
  }

  /** at least n bytes from pos in the buffer (false at the end of the records) */
  private ensure(n: number): boolean {
    if (this.end - this.pos >= n) return true;
    if (this.eof) return false;
    if (n > this.buf.length) {
      const b = Buffer.allocUnsafe(n);
      this.buf.copy(b, 0, this.pos, this.end);
      this.buf = b;
    } else {
      this.buf.copy(this.buf, 0, this.pos, this.end);
    }
    this.end -= this.pos;
    this.pos = 0;
    while (this.end < n && !this.eof) {
      const want = Math.min(this.buf.length - this.end, this.limit - this.filePos);
      const got = want > 0 ? fs.readSync(this.fd, this.buf, this.end, want, this.filePos) : 0;
      // the file ends before its index: cut short
      if (got === 0 && this.filePos < this.limit) throw new SorterError(`truncated run ${this.file}`);
      this.filePos += got;
      if (this.filePos >= this.limit) this.eof = true;
      this.end += got;
    }
    return this.end - this.pos >= n;
  }

  /** once only: a descriptor number closed twice could be another file's by then */
  close(): void {
    if (this.fd < 0) return;
    try { fs.closeSync(this.fd); } catch { /* nothing to do */ }
    this.fd = -1;
  }
}

function lessThan(a: SyncRunReader, b: SyncRunReader): boolean {
  const x = a.key, y = b.key;
  for (let i = 0; i < KEYS; i++) if (x[i] !== y[i]) return x[i] < y[i];
  return a.buf.compare(b.buf, b.lineStart, b.lineStart + b.lineLen, a.lineStart, a.lineStart + a.lineLen) < 0;
}

/**
 * k-way merge (binary heap) of keyed runs, synchronous: `next()` returns the next bytes of the
 * merged output, whole lines only, about `outBytes` (or the given buffer's size) at a time;
 * null at the end.
 */
export class RunMerge {
  private readonly heap: SyncRunReader[] = [];
  private readonly all: SyncRunReader[] = [];
  private headers = false;

  /** records of all the runs, from their heads */
  readonly count: number = 0;
  /** line bytes of the records passed over below `from` */
  readonly skippedBytes: number = 0;
  /** the key of record number `midAt` once it has been given out */
  readonly mid = new Array<number>(KEYS).fill(0);
  midAt = -1;
  private given = 0;
  private readonly until: ArrayLike<number> | null;
  /** with headers: the index of what was given, offsets counted from the first record given */
  readonly index: number[] = [];
  private outBytes = 0;
  private lineBytes = 0;

  /**
   * `withHeaders`: keep the records' headers (to write a run), else the lines only (the output).
   * `from` / `until`: only the records whose key is at least `from` / below `until` (the two
   * halves of a split merge).
   */
  constructor(files: string[], private readonly o: { chunk?: number; outBytes?: number; withHeaders?: boolean; from?: ArrayLike<number>; until?: ArrayLike<number> } = {}) {
    this.headers = o.withHeaders === true;
    this.until = o.until ?? null;
    let count = 0, skipped = 0;
    try {
      for (const f of files) {
        const r = new SyncRunReader(f, o.chunk ?? 32 * 1024);
        this.all.push(r);
        count += r.head.count;
        let has: boolean;
        if (o.from) {
          const at = r.skipBelow(o.from);
          has = at.has;
          skipped += at.skipped;
        } else has = r.advance();
        if (has) this.push(r);
        else r.close();
      }
    } catch (e) {
      this.close();
      throw wrapError(e, 'cannot read a sorted run');
    }
    this.count = count;
    this.skippedBytes = skipped;
  }

  /**
   * `into`: a buffer to fill (reused by the caller once the bytes are written; a fresh
   * buffer per call leaves garbage outside the heap that V8 collects late: measured +70 MiB
   * of peak RSS on a 100 MB output); the result is `into` or a new buffer when one line is longer.
   */
  next(into?: Buffer): Buffer | null {
    const h = this.heap;
    if (h.length === 0) return null;
    let out = into ?? Buffer.allocUnsafe(this.o.outBytes ?? 256 * 1024);
    let pos = 0;
    try {
      while (h.length > 0) {
        const top = h[0];
        // the smallest key left is past the cut: the rest is the other half's
        if (this.until !== null && !keyLess(top.key, this.until)) { h.length = 0; break; }
        const need = top.lineLen + (this.headers ? HEADER : 0);
        if (pos + need > out.length) {
          if (pos > 0) break;
          out = Buffer.allocUnsafe(need);
        }
        if (this.given === this.midAt) for (let i = 0; i < KEYS; i++) this.mid[i] = top.key[i];
        if (this.headers) {
          if (this.given % INDEX_STRIDE === 0) {
            addIndexEntry(this.index, top.key, 0, this.outBytes + pos, this.lineBytes);
          }
          this.lineBytes += top.lineLen;
          top.buf.copy(out, pos, top.lineStart - HEADER, top.lineStart + top.lineLen);
        } else {
          top.buf.copy(out, pos, top.lineStart, top.lineStart + top.lineLen);
        }
        pos += need;
        this.given++;
        if (top.advance()) this.siftDown(0);
        else {
          // closed at once: an unlinked run's pages are freed when its last descriptor goes
          top.close();
          const last = h.pop()!;
          if (h.length > 0) { h[0] = last; this.siftDown(0); }
        }
      }
    } catch (e) {
      throw wrapError(e, 'cannot read a sorted run');
    }
    this.outBytes += pos;
    return out.subarray(0, pos);
  }

  close(): void {
    for (const r of this.all) r.close();
    this.heap.length = 0;
  }

  private push(r: SyncRunReader): void {
    const h = this.heap;
    let i = h.length;
    h.push(r);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!lessThan(r, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = r;
  }

  private siftDown(i: number): void {
    const h = this.heap;
    const n = h.length;
    const s = h[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && lessThan(h[c + 1], h[c])) c++;
      if (!lessThan(h[c], s)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = s;
  }
}

/**
 * All of `b` at `pos` of `fd` (a positional write may take less at once); the file's offset
 * stays. A failing write's error carries `written`: the bytes of `b` that did reach the file.
 */
export function writeFullyAt(fd: number, b: Buffer, pos: number): void {
  let off = 0;
  try {
    while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off, pos + off);
  } catch (e) {
    throw Object.assign(e as Error, { written: off });
  }
}

/** of the first `written` bytes of `b`, those up to its last line end (a cut output keeps whole lines) */
export function wholeLines(b: Buffer, written: number): number {
  return written > 0 ? b.lastIndexOf(0x0a, written - 1) + 1 : 0;
}

/** Merges keyed runs into one keyed run file. */
export function mergeRunsToFile(files: string[], out: string): void {
  const m = new RunMerge(files, { withHeaders: true });
  m.midAt = Math.floor(m.count / 2);
  let fd = -1;
  try {
    fd = fs.openSync(out, 'wx', 0o600);
    let pos = RUN_HEAD;
    for (let b = m.next(); b !== null; b = m.next()) {
      writeFullyAt(fd, b, pos);
      pos += b.length;
    }
    // the index's offsets count from the first record
    const index = m.index;
    for (let i = KEYS; i < index.length; i += INDEX_ENTRY) index[i] += RUN_HEAD;
    writeFullyAt(fd, indexBytes(index), pos);
    writeRunHead(fd, m.count, m.mid, pos, index.length / INDEX_ENTRY);
  } catch (e) {
    throw wrapError(e, `cannot write a merged run to ${out}`);
  } finally {
    m.close();
    if (fd >= 0) fs.closeSync(fd);
  }
}

/**
 * At most `fanIn` runs: the oldest are merged into longer runs as often as needed (files named by
 * `name`, else `merged-N.run` in `dir`).
 */
export function reduceRuns(files: string[], fanIn: number, dir: string, name?: () => string): string[] {
  const runs = files.slice();
  let n = 0;
  while (runs.length > fanIn) {
    const group = runs.splice(0, Math.min(fanIn, runs.length - fanIn + 1));
    const file = name ? name() : path.join(dir, `merged-${String(++n).padStart(6, '0')}.run`);
    mergeRunsToFile(group, file);
    for (const f of group) fs.rmSync(f, { force: true });
    runs.push(file);
  }
  return runs;
}

/**
 * The upper half of a split merge: the records at or above `from`, merged and written into `fd`
 * at `base` plus the bytes of the records below `from` (the lower half, which another thread
 * writes from `base` on). Positional writes: the file's own offset is left to that thread.
 */
export function writeUpperHalf(files: string[], from: ArrayLike<number>, fd: number, base: number, opened?: () => void): void {
  const m = new RunMerge(files, { from });
  opened?.();
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    let pos = base + m.skippedBytes;
    for (let b = m.next(buf); b !== null; b = m.next(buf)) {
      try {
        writeFullyAt(fd, b, pos);
      } catch (e) {
        // where the file can be cut so that it ends with a whole line of this half
        throw Object.assign(e as Error, { cutAt: pos + wholeLines(b, (e as { written?: number }).written ?? 0) });
      }
      pos += b.length;
    }
  } finally {
    m.close();
  }
}
