/**
 * With two jobs or more, the final merge of a batch's sorted runs into an output file is done by
 * two threads at once: it copies every byte of the timeline (1.1 GB for 16 metadata captures,
 * 0.9 s), and alone it was the longest part of a batch that did not use both cores. The runs are
 * cut at a key (splitKey); this thread writes the records below it through the usual stream,
 * a worker writes the rest at its own place in the file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { SorterError, splitKey } from '../events/sorter';
import type { UpperHalfJob, UpperHalfOpened, UpperHalfResult } from '../events/merge-worker';

/** below this many records a worker's start-up (~40 ms) costs more than it saves */
export const SPLIT_MIN_RECORDS = 100_000;

export interface UpperHalf {
  /** the key the main thread's merge stops at */
  until: number[];
  /** settles once the worker holds every run open (never, when it fails before) */
  opened: Promise<void>;
  /** settles when the worker's half is written; rejects with a SorterError, or the output's write error */
  done: Promise<void>;
  /** stops the worker (the lower half failed: the output is cut where that half stopped) */
  stop(): Promise<void>;
}

/**
 * Starts the upper half, or gives null when the merge should stay whole: fewer records than
 * `minRecords`, or an output that is not a regular file (`fd`: the main thread's descriptor of
 * `file`; the worker opens `file` itself).
 */
export function startUpperHalf(files: string[], fd: number, file: string, base: number, minRecords = SPLIT_MIN_RECORDS): UpperHalf | null {
  if (!fs.fstatSync(fd).isFile()) return null;
  const { key, count } = splitKey(files);
  if (count < minRecords) return null;
  const job: UpperHalfJob = { files, from: key, file, base };
  const w = new Worker(path.join(__dirname, '..', 'events', 'merge-worker.js'), { workerData: job });
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  let markOpened!: () => void;
  const opened = new Promise<void>((resolve) => { markOpened = resolve; });
  const done = new Promise<void>((resolve, reject) => {
    let result: UpperHalfResult | null = null;
    w.on('message', (m: UpperHalfResult | UpperHalfOpened) => {
      if ('opened' in m) markOpened();
      else result = m;
    });
    w.on('error', reject);
    void exited.then(() => {
      if (result === null) reject(new SorterError('the merging thread ended without a result'));
      else if (result.ok) resolve();
      else reject(result.output ? Object.assign(new Error(result.message), { code: result.code, cutAt: result.cutAt }) : new SorterError(result.message, result.code));
    });
  });
  done.catch(() => undefined); // awaited by the caller; not an unhandled rejection meanwhile
  return { until: key, opened, done, stop: async () => { await w.terminate(); await exited; } };
}
