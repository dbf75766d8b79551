/**
 * Runs the per-capture pipeline over many files: in this thread for one job, in worker
 * threads for several (each worker takes the next file when it is done with one). Events come
 * back in batches; their order does not matter, the sorter makes the output deterministic.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { CaptureError } from '../capture/packet';
import type { EventRecord } from '../events/record';
import type { InputFile } from '../cli/inputs';
import { EventFilter, flagAndFilter } from './filter';
import { CaptureSummary, scanCapture } from './scan-capture';

export interface JobCallbacks {
  /** a batch of wanted, flagged records; may return a promise to apply backpressure */
  events(records: EventRecord[]): void | Promise<void>;
  /** one file finished */
  done(file: InputFile, summary: CaptureSummary, seconds: number): void;
  /** one file could not be read: `message` is one line; internal = a bug, not the file's fault */
  failed(file: InputFile, message: string, internal: boolean): void;
  /** bytes of capture data read so far in a file still being scanned */
  progress(file: InputFile, bytes: number): void;
}

/** messages a worker posts */
export type WorkerMessage =
  | { type: 'events'; records: EventRecord[] }
  | { type: 'progress'; bytes: number }
  | { type: 'done'; summary: CaptureSummary; seconds: number }
  | { type: 'failed'; message: string; internal: boolean };

export const BATCH = 2000;
export const PROGRESS_EVERY = 32 << 20;

export function defaultJobs(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Scans one file in this thread, reporting through the same messages a worker would send. */
export async function scanOne(file: InputFile, filter: EventFilter, post: (m: WorkerMessage) => void | Promise<void>): Promise<void> {
  const started = process.hrtime.bigint();
  let batch: EventRecord[] = [];
  let pendingPost: void | Promise<void> = undefined;
  const emit = (r: EventRecord): void => {
    if (!flagAndFilter(r.ev, filter)) return;
    batch.push(r);
    if (batch.length >= BATCH) { pendingPost = post({ type: 'events', records: batch }); batch = []; }
  };
  let lastTick = 0;
  try {
    const summary = await scanCapture(file.path, file.label, emit, (bytes) => {
      if (bytes - lastTick >= PROGRESS_EVERY) { lastTick = bytes; void post({ type: 'progress', bytes }); }
    });
    await pendingPost;
    if (batch.length) await post({ type: 'events', records: batch });
    await post({ type: 'done', summary, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
  } catch (e) {
    if (batch.length) await post({ type: 'events', records: batch });
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
    case 'done': cb.done(file, m.summary, m.seconds); break;
    case 'failed': cb.failed(file, m.message, m.internal); break;
  }
}

export async function runJobs(files: InputFile[], jobs: number, filter: EventFilter, cb: JobCallbacks): Promise<void> {
  const n = Math.max(1, Math.min(jobs, files.length));
  if (n === 1) {
    for (const f of files) await scanOne(f, filter, (m) => deliver(f, m, cb));
    return;
  }
  let next = 0;
  const workerFile = path.join(__dirname, 'worker.js');
  const lane = (): Promise<void> => new Promise<void>((resolve) => {
    const w = new Worker(workerFile, { workerData: { filter } });
    let current: InputFile | null = null;
    let queue: Promise<void> = Promise.resolve();
    let finished = false;
    const give = (): void => {
      if (next >= files.length) { finished = true; current = null; void w.terminate().then(() => resolve()); return; }
      current = files[next++];
      w.postMessage(current);
    };
    w.on('message', (m: WorkerMessage) => {
      const file = current as InputFile;
      // deliveries are chained so that a file's events arrive before its 'done'
      queue = queue.then(() => deliver(file, m, cb));
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
