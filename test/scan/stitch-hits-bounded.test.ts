/**
 * Found in review of 9ee2812: followStitched holds every 'done' message of the stitched stream until the
 * stream's runs arrive. A done carries the file's rule hits for the stories (tally.steps, up to
 * MAX_STEP_BYTES = 16 MiB of text per file, in memory: runStitched's stepCollector() has no file).
 * Before, each done reached run-scan at once, whose StepBudget keeps at most
 * MAX_STEP_BYTES_TOTAL (32 MiB) of hits in all; now N rotated files hold N x 16 MiB on the main
 * thread until the end of the stream (CLI: 20 hostile files, peak RSS 324 -> 499 MB).
 */
import { EventEmitter } from 'events';
import * as v8 from 'v8';
import * as vm from 'vm';
import { expect, it } from 'vitest';
import { StepBatch, StepBudget } from '../../src/detect/step';
import type { InputFile } from '../../src/cli/inputs';
import { followStitched, JobCallbacks, MAX_STEP_BYTES, MAX_STEP_BYTES_TOTAL, MAX_STEPS_TOTAL, newTally, StitchWorker } from '../../src/scan/jobs';
import { newSummary } from '../../src/scan/scan-capture';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const used = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
const MB = 1024 * 1024;

class FakeStitcher extends EventEmitter {
  terminate(): Promise<number> { return Promise.resolve(0); }
}

/** a file's hits as the stitching worker posts them: ~16 MiB of packed lines held in memory */
function fullBatch(label: string): StepBatch {
  const count = 100;
  const per = Math.floor(MAX_STEP_BYTES / count);
  const ends = new Float64Array(count);
  const keys = new Float64Array(count * 5);
  for (let i = 0; i < count; i++) { ends[i] = (i + 1) * per; keys[i * 5] = i; }
  const text = new Uint8Array(count * per).fill(0x41);
  for (let i = 0; i < count; i++) text[(i + 1) * per - 1] = 0x0a;
  return { text, file: null, ends, keys, count, captures: [label] };
}

it('the rule hits of a stitched stream stay within the total step budget while the stream runs', async () => {
  const N = 20;
  const files = Array.from({ length: N }, (_, i) => ({ path: `rot-${i}.pcap`, label: `rot-${i}.pcap` }) as InputFile);
  // run-scan's callbacks as far as the hits go: a StepBudget of the totals
  const budget = new StepBudget(MAX_STEPS_TOTAL, MAX_STEP_BYTES_TOTAL);
  const order = new Map(files.map((f, i) => [f.label, i]));
  let doneCount = 0;
  const cb: JobCallbacks = {
    done: (f, _s, tally) => { budget.add(order.get(f.label) ?? 0, tally.steps); doneCount++; },
    failed: () => {},
    progress: () => {},
    runs: () => {},
  };
  const w = new FakeStitcher();
  const followed = followStitched(w as unknown as StitchWorker, files, cb);
  gc();
  const base = used();
  for (let i = 0; i < N; i++) {
    const tally = newTally();
    tally.steps = fullBatch(files[i].label);
    w.emit('message', { type: 'done', summary: newSummary(files[i].label), tally, seconds: 0.1, file: i });
  }
  gc();
  const held = (used() - base) / MB;
  w.emit('message', { type: 'stitched', runs: [] });
  await followed;
  expect(doneCount).toBe(N);
  // the budget's 32 MiB and a few files' 16 MiB in transit, with room to spare (N x 16 MiB = 320 MiB
  // held at 9ee2812; a local StepBudget in followStitched measured 64 MiB)
  expect(held).toBeLessThan((MAX_STEP_BYTES_TOTAL + 6 * MAX_STEP_BYTES) / MB);
});
