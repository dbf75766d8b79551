/**
 * Rule hits kept for the stories, packed as lines of JSON without their empty fields.
 *
 * Stories are built after the scan, from the hits of every file (a chain may span captures), so
 * up to MAX_STEPS_TOTAL hits wait in the main thread. As event objects copied out of a worker
 * one by one, four files of 20,000 hits (a flood of CreateService calls) raised the peak RSS by
 * ~140 MiB; a file's hits now travel as arrays of numbers, their lines outside V8's heap: on disk
 * when a worker scanned the file (see stepCollector).
 */
import * as fs from 'node:fs';
import type { SmbEvent } from '../events/event';
import type { EventRecord } from '../events/record';
import { SorterError } from '../events/sorter';

/** sorts like any event (capture, frame); `line` is the rest of the event */
export interface PackedStep { capture: string; frame: number; line: string }

const blank = (): SmbEvent => ({
  ts: '', capture: '', frame: 0, response_frame: null, src_ip: '', src_port: 0, dst_ip: '', dst_port: 0,
  smb_dialect: null, session_id: null, user: null, domain: null, workstation: null, action: 'rpc', share: null,
  share_type: null, tree_id: null, path: null, new_path: null, status: null, disposition: null, access: [],
  bytes: null, rpc_interface: null, rpc_operation: null, rpc_args: null, flags: [], attack: [], severity: 'info',
  rules: [], summary: null, refs: [],
});

export function packStep(r: EventRecord<SmbEvent>): EventRecord<PackedStep> {
  const e = r.ev;
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'capture' || k === 'frame' || v === null || (Array.isArray(v) && v.length === 0)) continue;
    kept[k] = v;
  }
  return { sec: r.sec, ns: r.ns, seq: r.seq, ev: { capture: e.capture, frame: e.frame, line: JSON.stringify(kept) } };
}

export function unpackStep(r: EventRecord<PackedStep>): EventRecord<SmbEvent> {
  const ev = Object.assign(blank(), JSON.parse(r.ev.line) as Partial<SmbEvent>);
  ev.capture = r.ev.capture;
  ev.frame = r.ev.frame;
  return { sec: r.sec, ns: r.ns, seq: r.seq, ev };
}


/**
 * A file's rule hits: one packed event per line (UTF-8), in `text` or in the file `file` (a
 * worker's hits wait on disk, beside its sorted runs); `ends` the byte offset just past each
 * line's newline; `keys` KEY_FIELDS numbers per hit to sort it by, without reading the line.
 */
export interface StepBatch { text: Uint8Array | null; file: string | null; ends: Float64Array; keys: Float64Array; count: number; captures: string[] }

/** sec, ns, seq, frame, index into captures */
const KEY_FIELDS = 5;

/** bytes of a batch's lines */
export const batchBytes = (b: StepBatch): number => (b.count > 0 ? b.ends[b.count - 1] : 0);

export interface StepCollector {
  add(r: EventRecord<SmbEvent>): void;
  readonly count: number;
  readonly bytes: number;
  /** hits lost because their file could not be written (the batch is then empty) */
  readonly lost: number;
  done(): StepBatch;
}

/** lines written to a step file at once */
const WRITE_CHUNK = 64 << 10;

/**
 * Collects a file's hits; `done` gives them as one batch of exactly their size. With `file`, the
 * lines go to that file as they come: four files of 15,000 CreateService hits (~700 bytes each)
 * held 16 MiB of lines in each worker (in a buffer grown by doubling, then copied) and 32 MiB in
 * the main thread until the stories were built; peak RSS 211 / 255 MiB with one / two jobs,
 * 113 / 116 without hits. A write that fails (disk full) costs the file's hits, counted as
 * `lost`, never its timeline.
 */
export function stepCollector(file?: string): StepCollector {
  let text = Buffer.allocUnsafeSlow(file === undefined ? 1 << 16 : WRITE_CHUNK), used = 0;
  /** bytes already in the file */
  let flushed = 0;
  let fd = -1;
  let keys = new Float64Array(1 << 10), ends = new Float64Array(1 << 8), count = 0;
  const captures: string[] = [];
  let failed = false;
  const flush = (): void => {
    if (file === undefined || used === 0) return;
    if (!failed) {
      try {
        // private like the sorted runs beside it: the hits name users and files
        if (fd < 0) fd = fs.openSync(file, 'wx', 0o600);
        for (let at = 0; at < used;) at += fs.writeSync(fd, text, at, used - at);
      } catch {
        failed = true;
      }
    }
    flushed += used;
    used = 0;
  };
  return {
    get count() { return count; },
    get bytes() { return flushed + used; },
    get lost() { return failed ? count : 0; },
    add(r) {
      const p = packStep(r);
      let c = captures.length - 1;
      if (c < 0 || captures[c] !== p.ev.capture) {
        c = captures.indexOf(p.ev.capture);
        if (c < 0) c = captures.push(p.ev.capture) - 1;
      }
      // JSON escapes line breaks inside strings: a newline only ends a line
      const len = Buffer.byteLength(p.ev.line) + 1;
      if (file !== undefined && used + len > text.length) flush();
      if (used + len > text.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(used + len, text.length * 2));
        text.copy(grown, 0, 0, used);
        text = grown;
      }
      used += text.write(p.ev.line, used);
      text[used++] = 10;
      if ((count + 1) * KEY_FIELDS > keys.length) {
        const grown = new Float64Array(keys.length * 2);
        grown.set(keys);
        keys = grown;
      }
      if (count + 1 > ends.length) {
        const grown = new Float64Array(ends.length * 2);
        grown.set(ends);
        ends = grown;
      }
      const k = count * KEY_FIELDS;
      keys[k] = p.sec; keys[k + 1] = p.ns; keys[k + 2] = p.seq; keys[k + 3] = p.ev.frame; keys[k + 4] = c;
      ends[count] = flushed + used;
      count++;
    },
    done() {
      const base = { ends: ends.slice(0, count), keys: keys.slice(0, count * KEY_FIELDS), count, captures };
      if (file === undefined) {
        // a view would take the whole grown buffer along to the main thread
        return { ...base, text: Uint8Array.prototype.slice.call(text, 0, used), file: null };
      }
      flush();
      if (fd >= 0) {
        try { fs.closeSync(fd); } catch { failed = true; }
        fd = -1;
      }
      if (failed) return emptyStepBatch();
      return { ...base, text: null, file: count > 0 ? file : null };
    },
  };
}

/**
 * A batch's first hits within `maxCount` hits and `maxBytes` of their lines: how many, and the
 * bytes of their lines (the bounds on all files together).
 */
export function firstHits(b: StepBatch, maxCount: number, maxBytes: number): { count: number; bytes: number } {
  const all = batchBytes(b);
  if (b.count <= maxCount && all <= maxBytes) return { count: b.count, bytes: all };
  let n = Math.max(0, Math.min(b.count, maxCount));
  while (n > 0 && b.ends[n - 1] > maxBytes) n--;
  return { count: n, bytes: n > 0 ? b.ends[n - 1] : 0 };
}

/**
 * The hits of a scan's files within a count and a byte bound, kept as if the files had finished
 * in input order whatever order they finish in (so that --jobs 2 builds the same stories as
 * --jobs 1): a batch taking the total beyond a bound cuts the batches of the latest inputs first.
 */
export class StepBudget {
  private readonly kept: { index: number; batch: StepBatch }[] = [];
  private count = 0;
  private bytes = 0;
  /** hits offered and not kept */
  dropped = 0;

  constructor(private readonly maxCount: number, private readonly maxBytes: number) {}

  /** a file's hits; `index` is the file's place among the inputs */
  add(index: number, batch: StepBatch): void {
    if (batch.count === 0) return;
    let at = this.kept.length;
    while (at > 0 && this.kept[at - 1].index > index) at--;
    this.kept.splice(at, 0, { index, batch });
    this.count += batch.count;
    this.bytes += batchBytes(batch);
    while (this.count > this.maxCount || this.bytes > this.maxBytes) {
      const last = this.kept[this.kept.length - 1];
      const b = last.batch;
      const restCount = this.count - b.count, restBytes = this.bytes - batchBytes(b);
      const fit = firstHits(b, this.maxCount - restCount, this.maxBytes - restBytes);
      this.dropped += b.count - fit.count;
      this.count = restCount + fit.count;
      this.bytes = restBytes + fit.bytes;
      if (fit.count === 0) this.kept.pop();
      // a copy: a view would keep every byte of the batch (a file's lines past the cut are not read)
      else last.batch = { ...b, count: fit.count, text: b.text ? b.text.slice(0, fit.bytes) : null, ends: b.ends.slice(0, fit.count), keys: b.keys.slice(0, fit.count * KEY_FIELDS) };
    }
  }

  /** the kept batches, in input order; the budget lets go of them */
  take(): StepBatch[] {
    return this.takeIndexed().map((k) => k.batch);
  }

  /** the kept batches with the index each was added with, in input order */
  takeIndexed(): { index: number; batch: StepBatch }[] {
    const out = this.kept.slice();
    this.kept.length = 0;
    this.count = 0;
    this.bytes = 0;
    return out;
  }
}

export const emptyStepBatch = (): StepBatch => ({ text: new Uint8Array(0), file: null, ends: new Float64Array(0), keys: new Float64Array(0), count: 0, captures: [] });

/** the hits of records, as one batch (tests, and callers that have whole events) */
export function batchOf(records: Iterable<EventRecord<SmbEvent>>): StepBatch {
  const c = stepCollector();
  for (const r of records) c.add(r);
  return c.done();
}

/**
 * The hits of several batches in output order (time, capture, frame, wire order), one at a time:
 * nothing per hit is made (or read from a step file) before it is its turn.
 */
export function* stepsInOrder(batches: readonly StepBatch[]): Generator<EventRecord<PackedStep>> {
  let total = 0;
  for (const b of batches) total += b.count;
  const which = new Uint32Array(total), index = new Uint32Array(total);
  let n = 0;
  batches.forEach((b, bi) => {
    for (let i = 0; i < b.count; i++) {
      which[n] = bi;
      index[n++] = i;
    }
  });
  const key = (o: number, f: number): number => batches[which[o]].keys[index[o] * KEY_FIELDS + f];
  const capture = (o: number): string => batches[which[o]].captures[key(o, 4)];
  const order = Array.from({ length: total }, (_, i) => i);
  order.sort((a, b) => {
    const ca = capture(a), cb = capture(b);
    return key(a, 0) - key(b, 0) || key(a, 1) - key(b, 1) || (ca < cb ? -1 : ca > cb ? 1 : 0) || key(a, 3) - key(b, 3) || key(a, 2) - key(b, 2);
  });
  const lines = stepLines(batches);
  try {
    for (const o of order) {
      const i = index[o];
      yield { sec: key(o, 0), ns: key(o, 1), seq: key(o, 2), ev: { capture: capture(o), frame: key(o, 3), line: lines.line(which[o], i) } };
    }
  } finally {
    lines.close();
  }
}

/**
 * Step files open at once while the stories are built: one per input file would run out of
 * descriptors on a batch of a few hundred captures (found in review: 300 files under
 * `ulimit -n 256`); the least recently read is closed first.
 */
export const MAX_OPEN_STEP_FILES = 32;

/** the text of hit i of batch b, from memory or from its step file (read where it is) */
function stepLines(batches: readonly StepBatch[]): { line(b: number, i: number): string; close(): void } {
  // the batches' bytes as Buffers (a worker's batch arrives as a plain Uint8Array)
  const texts = batches.map((b) => (b.text ? Buffer.from(b.text.buffer, b.text.byteOffset, b.text.byteLength) : null));
  /** batch index → descriptor, least recently used first */
  const open = new Map<number, number>();
  let buf = Buffer.allocUnsafe(4096);
  const fdOf = (bi: number): number => {
    let fd = open.get(bi);
    if (fd !== undefined) {
      open.delete(bi);
      open.set(bi, fd);
      return fd;
    }
    if (open.size >= MAX_OPEN_STEP_FILES) {
      const [oldest, ofd] = open.entries().next().value as [number, number];
      open.delete(oldest);
      fs.closeSync(ofd);
    }
    fd = fs.openSync(batches[bi].file as string, 'r');
    open.set(bi, fd);
    return fd;
  };
  return {
    line(bi, i) {
      const b = batches[bi];
      const start = i > 0 ? b.ends[i - 1] : 0, len = b.ends[i] - start - 1;
      const t = texts[bi];
      if (t) return t.toString('utf8', start, start + len);
      try {
        const fd = fdOf(bi);
        if (len > buf.length) buf = Buffer.allocUnsafe(len);
        let got = 0;
        while (got < len) {
          const r = fs.readSync(fd, buf, got, len - got, start + got);
          if (r === 0) throw new Error('the file is shorter than its hits');
          got += r;
        }
      } catch (e) {
        throw new SorterError(`${b.file}: ${(e as Error).message}`, (e as NodeJS.ErrnoException).code, { cause: e });
      }
      return buf.toString('utf8', 0, len);
    },
    close() {
      for (const fd of open.values()) fs.closeSync(fd);
      open.clear();
    },
  };
}
