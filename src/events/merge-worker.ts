/** A worker thread that writes the upper half of a split final merge (sorter.ts writeUpperHalf). */
import { parentPort, workerData } from 'worker_threads';
import { SorterError, writeUpperHalf } from './sorter';

export interface UpperHalfJob { files: string[]; from: number[]; fd: number; base: number }
/** `output`: writing the output failed (else reading the runs did) */
export type UpperHalfResult = { ok: true } | { ok: false; message: string; code?: string; output: boolean };

const job = workerData as UpperHalfJob;
let result: UpperHalfResult;
try {
  writeUpperHalf(job.files, job.from, job.fd, job.base);
  result = { ok: true };
} catch (e) {
  result = { ok: false, message: e instanceof Error ? e.message : String(e), code: (e as NodeJS.ErrnoException).code, output: !(e instanceof SorterError) };
}
parentPort?.postMessage(result);
