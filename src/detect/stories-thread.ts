/** Builds the stories in a worker (stories-worker.ts); small batches stay on this thread. */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { EventRecord } from '../events/record';
import { SorterError } from '../events/sorter';
import { compiledRules } from '../scan/filter';
import type { RulesConfig } from './config';
import { batchBytes, StepBatch } from './step';
import { storiesFrom } from './stories';
import type { StoriesJob, StoriesResult } from './stories-worker';

/**
 * Below this many hits, and this many bytes of them, a thread's start-up costs more than the
 * garbage it saves. The bytes matter too: 330 hits of ~100 KB each (CreateService calls with
 * names as long as the decoder keeps) were parsed on this thread, 63 MiB of heap, 151 MiB of
 * RSS (found in review). SMBTRAIL_STORIES_IN_THREAD=N overrides the count (tests set 0 to send
 * every batch to the thread).
 */
export const STORIES_IN_THREAD = 2_000;
export const STORIES_IN_THREAD_BYTES = 2 << 20;

function inThreadBelow(): number {
  const v = process.env.SMBTRAIL_STORIES_IN_THREAD;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : STORIES_IN_THREAD;
}

/** rejects with a SorterError when a hits file cannot be read back, as storiesFrom throws */
export async function buildStories(batches: StepBatch[], rules: RulesConfig | null | undefined): Promise<EventRecord[]> {
  const count = batches.reduce((a, b) => a + b.count, 0);
  const bytes = batches.reduce((a, b) => a + batchBytes(b), 0);
  if (count < inThreadBelow() && bytes < STORIES_IN_THREAD_BYTES) return storiesFrom(batches, { config: compiledRules(rules) });
  const job: StoriesJob = { batches, rules: rules ?? null };
  const w = new Worker(path.join(__dirname, 'stories-worker.js'), { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 128 } });
  try {
    const r = await new Promise<StoriesResult>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new SorterError(`the stories thread ended with code ${code} and no result`)));
    });
    if (!r.ok) throw r.sorter ? new SorterError(r.message) : new Error(r.message);
    return r.stories;
  } catch (e) {
    // out of memory or a crash: the stories are lost, not the timeline
    if (e instanceof SorterError || !(e instanceof Error) || (e as NodeJS.ErrnoException).code !== 'ERR_WORKER_OUT_OF_MEMORY') throw e;
    throw new SorterError(`building them needed more than 128 MB of memory`);
  } finally {
    await w.terminate();
  }
}
