/**
 * A worker thread that builds the stories from the rule hits of a batch (stories.ts storiesFrom).
 * Here, not on the main thread: reading back 50,000 hits (32 MiB of lines) left ~50 MiB of
 * garbage in the main thread's heap, which cannot be made small at run time, just before the
 * table's drawing thread started (4 × 30,000 smbexec connections, table, two jobs: 165 MiB).
 */
import { parentPort, workerData } from 'worker_threads';
import type { EventRecord } from '../events/record';
import { SorterError } from '../events/sorter';
import { compiledRules } from '../scan/filter';
import type { RulesConfig } from './config';
import type { StepBatch } from './step';
import { storiesFrom } from './stories';

export interface StoriesJob { batches: StepBatch[]; rules: RulesConfig | null }
export type StoriesResult = { ok: true; stories: EventRecord[] } | { ok: false; message: string; sorter: boolean };

const job = workerData as StoriesJob;
let result: StoriesResult;
try {
  result = { ok: true, stories: storiesFrom(job.batches, { config: compiledRules(job.rules) }) };
} catch (e) {
  result = { ok: false, message: e instanceof Error ? e.message : String(e), sorter: e instanceof SorterError };
}
parentPort?.postMessage(result);
