/** Starts the table worker (table-worker.ts) and hands its text over chunk by chunk. */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { SorterError } from '../events/sorter';
import type { TableOptions } from './table';
import type { TableJob, TableMessage } from './table-worker';

/**
 * The worker's heap: it keeps one merge's buffers and a chunk of text, the rest is garbage.
 * Metadata ×40 (480,000 rows), peak RSS of the process: 4 / 64 MB 120 MiB, 2 / 32 MB 115 MiB.
 */
const YOUNG_MB = 2;
const OLD_MB = 32;

export interface DrawnTable {
  /** the table's text in order; rejects with a SorterError when a run cannot be read */
  chunks(): AsyncGenerator<string>;
  /** stops the worker (the reader went away) */
  stop(): Promise<void>;
}

export function drawTableFromRuns(runs: string[], widths: number[], opts: TableOptions): DrawnTable {
  const job: TableJob = { runs, widths, opts };
  const w = new Worker(path.join(__dirname, 'table-worker.js'), { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB, maxOldGenerationSizeMb: OLD_MB } });
  const queue: TableMessage[] = [];
  let failure: Error | null = null;
  let ended = false;
  let wake: (() => void) | null = null;
  const poke = (): void => { if (wake) { const f = wake; wake = null; f(); } };
  w.on('message', (m: TableMessage) => { queue.push(m); poke(); });
  w.on('error', (e) => { failure = e; poke(); });
  w.on('exit', () => { ended = true; poke(); });
  return {
    async *chunks() {
      for (;;) {
        const m = queue.shift();
        if (m === undefined) {
          if (failure) throw new SorterError(`cannot draw the table: ${failure.message}`);
          if (ended) throw new SorterError('the table drawing thread ended without the end of the table');
          await new Promise<void>((resolve) => { wake = resolve; });
          continue;
        }
        if ('error' in m) throw m.sort ? new SorterError(m.error) : new Error(m.error);
        w.postMessage('ack');
        yield m.text;
        if (m.done) { await w.terminate(); return; }
      }
    },
    async stop() { await w.terminate(); },
  };
}
