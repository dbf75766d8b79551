/**
 * The keyed runs hold a bounded part of the timeline in memory whatever its length: a producer
 * keeps at most one run's records (in a reused arena, outside V8's heap), the merge one read
 * buffer per run. Measured with 1,000,000 realistic records against what holding them all costs.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compareRecords, EventRecord } from '../../src/events/record';
import { RunMerge, RunSpiller } from '../../src/events/sorter';
import { synthetic } from './gen';

let tmp: string;
beforeAll(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sorter-mem-')); });
afterAll(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

/** V8's heap and the buffers outside it (the spiller's arena, the merge's read buffers) */
const used = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
// a full collection on demand, so that garbage left by one phase is not counted in the next
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const MB = 1024 * 1024;
const CAPTURES = 4;
const line = (r: EventRecord): string => `${JSON.stringify(r.ev)}\n`;

it('1,000,000 records, 50,000 a run: merged in order, equal to an in-memory sort, memory bounded', () => {
  const N = 1_000_000;
  const SEED = 77;
  // the rank of each capture label among all labels, as the scan gives it
  const labels = [...new Set([...synthetic(2000, SEED, CAPTURES)].map((r) => r.ev.capture))].sort();
  expect(labels).toHaveLength(CAPTURES);
  const rank = new Map(labels.map((l, i) => [l, i]));
  gc();
  const base = used();

  // one producer per capture, as the workers are (each sees its own records only)
  const spillers = labels.map((_l, i) => new RunSpiller(tmp, `f${i}`, { maxRecords: 50_000, maxRuns: 1000 }));
  let peakSpill = 0;
  let k = 0;
  for (const r of synthetic(N, SEED, CAPTURES)) {
    const i = rank.get(r.ev.capture) as number;
    spillers[i].add(r.sec, r.ns, i, r.ev.frame, r.seq, line(r));
    if (++k % 5000 === 0) peakSpill = Math.max(peakSpill, used());
  }
  const runs = spillers.flatMap((s) => s.finish());
  expect(runs.length).toBeGreaterThanOrEqual(N / 50_000);

  gc(); // what the spill phase left behind is not the merge's
  const merged = createHash('sha256');
  const m = new RunMerge(runs);
  let peakMerge = 0;
  let bytes = 0;
  try {
    for (let b = m.next(); b !== null; b = m.next()) {
      merged.update(b);
      bytes += b.length;
      peakMerge = Math.max(peakMerge, used());
    }
  } finally {
    m.close();
  }

  // the same input sorted in memory (ties, never made by the scanner, by the line's bytes), and what holding it costs
  const all = [...synthetic(N, SEED, CAPTURES)].map((r) => ({ r, l: Buffer.from(line(r)) }));
  gc();
  const holding = used() - base;
  all.sort((a, b) => compareRecords(a.r, b.r) || Buffer.compare(a.l, b.l));
  const reference = createHash('sha256');
  let refBytes = 0;
  for (const x of all) { reference.update(x.l); refBytes += x.l.length; }
  expect(bytes).toBe(refBytes);
  expect(merged.digest('hex')).toBe(reference.digest('hex'));

  const spillMem = peakSpill - base;
  const mergeMem = peakMerge - base;
  console.log(`runs 1M: holding all ${(holding / MB).toFixed(0)} MB; peak while spilling ${(spillMem / MB).toFixed(0)} MB, while merging ${(mergeMem / MB).toFixed(0)} MB above the start`);
  expect(holding).toBeGreaterThan(400 * MB);
  // generous: four producers' arenas and indexes (one run each) plus garbage not yet collected
  expect(spillMem).toBeLessThan(holding / 4);
  expect(mergeMem).toBeLessThan(holding / 8);
}, 300_000);
