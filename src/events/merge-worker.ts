/** A worker thread that writes the upper half of a split final merge (sorter.ts writeUpperHalf). */
import * as fs from 'fs';
import { parentPort, workerData } from 'worker_threads';
import { SorterError, writeUpperHalf } from './sorter';

/** `file`: the output, opened here (the main thread's stream may close its own descriptor on an error) */
export interface UpperHalfJob { files: string[]; from: number[]; file: string; base: number }
/** `output`: writing the output failed (else reading the runs did) */
export type UpperHalfResult = { ok: true } | { ok: false; message: string; code?: string; output: boolean; cutAt?: number };
/** every run is open here: their names may go (see startUpperHalf) */
export interface UpperHalfOpened { opened: true }

const job = workerData as UpperHalfJob;
let result: UpperHalfResult;
try {
  const fd = fs.openSync(job.file, 'r+');
  try {
    writeUpperHalf(job.files, job.from, fd, job.base, () => parentPort?.postMessage({ opened: true } satisfies UpperHalfOpened));
  } finally {
    fs.closeSync(fd);
  }
  result = { ok: true };
} catch (e) {
  result = { ok: false, message: e instanceof Error ? e.message : String(e), code: (e as NodeJS.ErrnoException).code, output: !(e instanceof SorterError), cutAt: (e as { cutAt?: number }).cutAt };
}
parentPort?.postMessage(result);
