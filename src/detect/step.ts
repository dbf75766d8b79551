/**
 * Rule hits kept for the stories, packed as lines of JSON without their empty fields.
 *
 * Stories are built after the scan, from the hits of every file (a chain may span captures), so
 * up to MAX_STEPS_TOTAL hits wait in the main thread. As event objects copied out of a worker
 * one by one, four files of 20,000 hits (a flood of CreateService calls) raised the peak RSS by
 * ~140 MiB; a file's hits now travel as two arrays of bytes and numbers, outside V8's heap.
 */
import type { SmbEvent } from '../events/event';
import type { EventRecord } from '../events/record';

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
 * A file's rule hits: `text` holds one packed event per line (UTF-8), `keys` KEY_FIELDS numbers
 * per hit to sort it by, without parsing the line.
 */
export interface StepBatch { text: Uint8Array; keys: Float64Array; count: number; captures: string[] }

/** sec, ns, seq, frame, index into captures */
const KEY_FIELDS = 5;

export interface StepCollector { add(r: EventRecord<SmbEvent>): void; readonly count: number; readonly bytes: number; done(): StepBatch }

/** collects a file's hits; `done` gives them as one batch of exactly their size */
export function stepCollector(): StepCollector {
  let text = Buffer.allocUnsafeSlow(1 << 16), used = 0;
  let keys = new Float64Array(1 << 10), count = 0;
  const captures: string[] = [];
  return {
    get count() { return count; },
    get bytes() { return used; },
    add(r) {
      const p = packStep(r);
      let c = captures.length - 1;
      if (c < 0 || captures[c] !== p.ev.capture) {
        c = captures.indexOf(p.ev.capture);
        if (c < 0) c = captures.push(p.ev.capture) - 1;
      }
      // JSON escapes line breaks inside strings: a newline only ends a line
      const need = used + Buffer.byteLength(p.ev.line) + 1;
      if (need > text.length) {
        const grown = Buffer.allocUnsafeSlow(Math.max(need, text.length * 2));
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
      const k = count * KEY_FIELDS;
      keys[k] = p.sec; keys[k + 1] = p.ns; keys[k + 2] = p.seq; keys[k + 3] = p.ev.frame; keys[k + 4] = c;
      count++;
    },
    done() {
      // a view would take the whole grown buffer along to the main thread
      return { text: Uint8Array.prototype.slice.call(text, 0, used), keys: keys.slice(0, count * KEY_FIELDS), count, captures };
    },
  };
}

/**
 * A batch's first hits within `maxCount` hits and `maxBytes` of their lines: how many, and the
 * bytes of their lines (the bounds on all files together).
 */
export function firstHits(b: StepBatch, maxCount: number, maxBytes: number): { count: number; bytes: number } {
  if (b.count <= maxCount && b.text.byteLength <= maxBytes) return { count: b.count, bytes: b.text.byteLength };
  let at = 0;
  const n = Math.max(0, Math.min(b.count, maxCount));
  for (let i = 0; i < n; i++) {
    const end = b.text.indexOf(10, at) + 1;
    if (end === 0 || end > maxBytes) return { count: i, bytes: at };
    at = end;
  }
  return { count: n, bytes: at };
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
    this.bytes += batch.text.byteLength;
    while (this.count > this.maxCount || this.bytes > this.maxBytes) {
      const last = this.kept[this.kept.length - 1];
      const b = last.batch;
      const restCount = this.count - b.count, restBytes = this.bytes - b.text.byteLength;
      const fit = firstHits(b, this.maxCount - restCount, this.maxBytes - restBytes);
      this.dropped += b.count - fit.count;
      this.count = restCount + fit.count;
      this.bytes = restBytes + fit.bytes;
      if (fit.count === 0) this.kept.pop();
      // a copy: a view would keep every byte of the batch
      else last.batch = { ...b, count: fit.count, text: b.text.slice(0, fit.bytes), keys: b.keys.slice(0, fit.count * KEY_FIELDS) };
    }
  }

  /** the kept batches, in input order; the budget lets go of them */
  take(): StepBatch[] {
    const out = this.kept.map((k) => k.batch);
    this.kept.length = 0;
    this.count = 0;
    this.bytes = 0;
    return out;
  }
}

export const emptyStepBatch = (): StepBatch => ({ text: new Uint8Array(0), keys: new Float64Array(0), count: 0, captures: [] });

/** the hits of records, as one batch (tests, and callers that have whole events) */
export function batchOf(records: Iterable<EventRecord<SmbEvent>>): StepBatch {
  const c = stepCollector();
  for (const r of records) c.add(r);
  return c.done();
}

/**
 * The hits of several batches in output order (time, capture, frame, wire order), one at a time:
 * nothing per hit is made before it is its turn.
 */
export function* stepsInOrder(batches: readonly StepBatch[]): Generator<EventRecord<PackedStep>> {
  let total = 0;
  for (const b of batches) total += b.count;
  const which = new Uint32Array(total), index = new Uint32Array(total);
  const starts: Uint32Array[] = [];
  // the batches' bytes as Buffers (a worker's batch arrives as a plain Uint8Array)
  const texts = batches.map((b) => Buffer.from(b.text.buffer, b.text.byteOffset, b.text.byteLength));
  let n = 0;
  batches.forEach((b, bi) => {
    const st = new Uint32Array(b.count + 1);
    let at = 0;
    for (let i = 0; i < b.count; i++) {
      st[i] = at;
      which[n] = bi;
      index[n++] = i;
      at = b.text.indexOf(10, at) + 1;
    }
    // a batch may be cut to its first hits: its text goes on
    st[b.count] = at;
    starts.push(st);
  });
  const key = (o: number, f: number): number => batches[which[o]].keys[index[o] * KEY_FIELDS + f];
  const capture = (o: number): string => batches[which[o]].captures[key(o, 4)];
  const order = Array.from({ length: total }, (_, i) => i);
  order.sort((a, b) => {
    const ca = capture(a), cb = capture(b);
    return key(a, 0) - key(b, 0) || key(a, 1) - key(b, 1) || (ca < cb ? -1 : ca > cb ? 1 : 0) || key(a, 3) - key(b, 3) || key(a, 2) - key(b, 2);
  });
  for (const o of order) {
    const i = index[o], st = starts[which[o]];
    const line = texts[which[o]].toString('utf8', st[i], st[i + 1] - 1);
    yield { sec: key(o, 0), ns: key(o, 1), seq: key(o, 2), ev: { capture: capture(o), frame: key(o, 3), line } };
  }
}
