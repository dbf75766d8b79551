import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareRecords, EventRecord } from '../../src/events/record';
import { createEventSorter } from '../../src/events/sorter';
import { synthetic } from './gen';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-mem-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

const heap = (): number => process.memoryUsage().heapUsed;
// a full collection on demand, so that garbage left by one phase is not counted in the next
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;

it('1,000,000 records with 50,000 in memory: spilled, merged in order, equal to an in-memory sort, heap bounded', async () => {
  const N = 1_000_000;
  const SEED = 77;
  gc();
  const base = heap();

  const sorter = createEventSorter({ tmpDir: tmp, maxInMemory: 50_000 });
  for (const r of synthetic(N, SEED)) if (!sorter.add(r)) await sorter.drained();
  // 20 buffers' worth: 19 spilled runs, the 20th buffer is merged straight from memory
  expect(sorter.spilledRuns).toBe(19);
  expect(fs.readdirSync(sorter.tempDir!)).toHaveLength(19);

  gc(); // what the add phase left behind is not the merge's
  const merged = createHash('sha256');
  let prev: EventRecord | null = null;
  let n = 0;
  let unordered = 0;
  let peak = 0;
  for await (const r of sorter.finish()) {
    if (prev && compareRecords(prev, r) >= 0) unordered++;
    prev = r;
    merged.update(`${JSON.stringify(r)}\n`);
    if (++n % 5000 === 0) peak = Math.max(peak, heap());
  }
  expect(n).toBe(N);
  expect(unordered).toBe(0);
  expect(fs.readdirSync(tmp)).toEqual([]);

  // the same input sorted in memory, and what holding it costs
  const all = [...synthetic(N, SEED)];
  gc();
  const holding = heap() - base;
  all.sort(compareRecords);
  const reference = createHash('sha256');
  for (const r of all) reference.update(`${JSON.stringify(r)}\n`);
  expect(merged.digest('hex')).toBe(reference.digest('hex'));

  const mergeHeap = peak - base;
  console.log(`sorter 1M: holding all ${(holding / MB).toFixed(0)} MB of heap; peak during the merge ${(mergeHeap / MB).toFixed(0)} MB above the start`);
  // generous: the merge holds one 50k buffer plus a chunk per run (plus garbage not yet collected)
  expect(holding).toBeGreaterThan(400 * MB);
  expect(mergeHeap).toBeLessThan(holding / 4);
  expect(mergeHeap).toBeLessThan(250 * MB);
}, 300_000);
