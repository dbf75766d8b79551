/**
 * Runs the per-capture pipeline over many files: in this thread for one job, in worker
 * threads for several (each worker takes the next file when it is done with one). Producers
 * flag, filter and — for CSV and JSON lines — format their events, so the main thread only
 * sorts and copies lines. Events come back in batches with a bounded number in flight; their
 * order does not matter, the sorter makes the output deterministic.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { CaptureError } from '../capture/packet';
import type { SmbEvent } from '../events/event';
import type { EventRecord } from '../events/record';
import type { InputFile } from '../cli/inputs';
import { formatLine, OutputFormat } from '../output/writer';
import { EventFilter, flagAndFilter } from './filter';
import { CaptureSummary, scanCapture } from './scan-capture';

/** an event on its way to the sorter: one formatted output line (CSV/JSON lines) */
export interface FormattedEvent { capture: string; frame: number; line: string }
/** whole events for the table, formatted lines otherwise */
export type Shipped = EventRecord<SmbEvent> | EventRecord<FormattedEvent>;

/** what the events of one file add to the summary */
export interface Tally { found: number; events: number; byAction: Record<string, number>; byFlag: Record<string, number>; encrypted: number }

export interface JobCallbacks {
  /** a batch of wanted records; the returned promise holds the producer back until it settles */
  events(records: Shipped[]): void | Promise<void>;
  /** one file finished */
  done(file: InputFile, summary: CaptureSummary, tally: Tally, seconds: number): void;
  /** one file could not be read: `message` is one line; internal = a bug, not the file's fault */
  failed(file: InputFile, message: string, internal: boolean): void;
  /** bytes of capture data read so far in a file still being scanned */
  progress(file: InputFile, bytes: number): void;
}

/** what a producer is asked to do with events */
export interface ProduceOptions { filter: EventFilter; format: OutputFormat }

/** messages a worker posts; the main thread answers each 'events' with an 'ack' */
export type WorkerMessage =
  | { type: 'events'; records: Shipped[] }
  | { type: 'progress'; bytes: number }
  | { type: 'done'; summary: CaptureSummary; tally: Tally; seconds: number }
  | { type: 'failed'; message: string; internal: boolean };

export const BATCH = 2000;
export const PROGRESS_EVERY = 32 << 20;
/** batches a worker may have in flight before it waits for the main thread */
export const IN_FLIGHT = 4;

export function defaultJobs(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

export const newTally = (): Tally => ({ found: 0, events: 0, byAction: {}, byFlag: {}, encrypted: 0 });

function count(t: Tally, e: SmbEvent): void {
  t.events++;
  t.byAction[e.action] = (t.byAction[e.action] ?? 0) + 1;
  for (const f of e.flags) t.byFlag[f] = (t.byFlag[f] ?? 0) + 1;
  if (e.action === 'encrypted') t.encrypted++;
}

/** flags, filters, counts and formats one event; null when it is not wanted */
export function ship(r: EventRecord, o: ProduceOptions, tally: Tally): Shipped | null {
  tally.found++;
  if (!flagAndFilter(r.ev, o.filter)) return null;
  count(tally, r.ev);
  if (o.format === 'table') return r;
  return { sec: r.sec, ns: r.ns, seq: r.seq, ev: { capture: r.ev.capture, frame: r.ev.frame, line: formatLine(o.format, r.ev) } };
}

/**
 * Scans one file, reporting through the same messages a worker sends. `post` returns a promise
 * when the receiver wants the producer to slow down; the reader then waits between chunks.
 */
export async function scanOne(file: InputFile, o: ProduceOptions, post: (m: WorkerMessage) => void | Promise<void>): Promise<void> {
  const started = process.hrtime.bigint();
  const tally = newTally();
  let batch: Shipped[] = [];
  let hold: Promise<void> | undefined;
  const send = (): void => {
    const p = post({ type: 'events', records: batch });
    batch = [];
    if (p) hold = hold ? Promise.all([hold, p]).then(() => undefined) : p;
  };
  const emit = (r: EventRecord): void => {
    const s = ship(r, o, tally);
    if (s === null) return;
    batch.push(s);
    if (batch.length >= BATCH) send();
  };
  const between = (): Promise<void> | undefined => {
    const h = hold;
    hold = undefined;
    return h;
  };
  let lastTick = 0;
  try {
    const summary = await scanCapture(file.path, file.label, emit, (bytes) => {
      if (bytes - lastTick >= PROGRESS_EVERY) { lastTick = bytes; void post({ type: 'progress', bytes }); }
    }, between);
    if (batch.length) send();
    await hold;
    await post({ type: 'done', summary, tally, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  } catch (e) {
    if (batch.length) send();
    await hold;
    const internal = !(e instanceof CaptureError);
    const message = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    if (internal && process.env.SMBTRAIL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    await post({ type: 'failed', message, internal });
  }
}

async function deliver(file: InputFile, m: WorkerMessage, cb: JobCallbacks): Promise<void> {
  switch (m.type) {
    case 'events': await cb.events(m.records); break;
    case 'progress': cb.progress(file, m.bytes); break;
    case 'done': cb.done(file, m.summary, m.tally, m.seconds); break;
    case 'failed': cb.failed(file, m.message, m.internal); break;
  }
}

export async function runJobs(files: InputFile[], jobs: number, o: ProduceOptions, cb: JobCallbacks): Promise<void> {
  const n = Math.max(1, Math.min(jobs, files.length));
  if (n === 1) {
    for (const f of files) await scanOne(f, o, (m) => deliver(f, m, cb));
    return;
  }
  let next = 0;
  const workerFile = path.join(__dirname, 'worker.js');
  const lane = (): Promise<void> => new Promise<void>((resolve) => {
    const w = new Worker(workerFile, { workerData: o });
    let current: InputFile | null = null;
    let queue: Promise<void> = Promise.resolve();
    let finished = false;
    const give = (): void => {
      if (next >= files.length) { finished = true; current = null; void w.terminate().then(() => resolve()); return; }
      current = files[next++];
      w.postMessage({ type: 'file', file: current });
    };
    w.on('message', (m: WorkerMessage) => {
      const file = current as InputFile;
      // deliveries are chained so that a file's events arrive before its 'done'
      queue = queue.then(() => deliver(file, m, cb));
      if (m.type === 'events') void queue.then(() => w.postMessage({ type: 'ack' }));
      if (m.type === 'done' || m.type === 'failed') void queue.then(give);
    });
    w.on('error', (e) => {
      // a crash inside the worker: that file is reported, and a fresh worker takes this lane
      const file = current;
      void queue.then(() => {
        if (file) cb.failed(file, `internal error, capture abandoned: ${e.message.split('\n')[0]} (please report this file)`, true);
        if (!finished) void lane().then(resolve);
      });
    });
    give();
  });
  await Promise.all(Array.from({ length: n }, lane));
}
