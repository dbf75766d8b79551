/**
 * Found in review of b156061: runStitched now holds every cb.done until the stream's runs are written.
 * In the worker (src/scan/worker.ts) cb.done is what posts 'done', and followStitched turns each
 * 'done' into cb.progress(file, bytes) "as it is read" (stitch-progress.test.ts, fixed after
 * 9ee2812). Now all the 'done' messages come after the last file, so the progress bar hears
 * nothing about a file once it is read: CLI on 7 parts of meta-x20 (54 MB, worker path):
 *   b156061~1: 0% … 9% … 33% … 49% … 83% … 100%       HEAD: 0% … 7% … 16% … 100%
 * (stitch-progress.test.ts still passes: its fake worker sends the 'done's as it goes.)
 * Expected: runStitched tells its caller that a file was read (cb.progress with the file's bytes)
 * before the next file is read, i.e. before the stream's runs are handed over.
 */
import * as path from 'path';
import * as fs from 'fs';
import * as os from 'os';
import { expect, it } from 'vitest';
import { runStitched } from '../../src/scan/stitch';
import { ALL_EVENTS } from '../../src/scan/filter';
import type { JobCallbacks } from '../../src/scan/jobs';
import type { InputFile } from '../../src/cli/inputs';

it('runStitched reports each file read (progress to its size, or done) before the stream ends', async () => {
  const names = ['01-smb21-session.pcap', '05-admin-share-exe-copy.pcap', '07-psexec-footprint.pcap'];
  const caps = names.map((n) => ({ path: path.join(__dirname, '../../captures', n), label: n }) as InputFile);
  const size = new Map(caps.map((c) => [c.label, fs.statSync(c.path as string).size]));
  const log: string[] = [];
  const cb: JobCallbacks = {
    done: (f) => { log.push(`read ${f.label}`); },
    failed: (f) => { log.push(`failed ${f.label}`); },
    // a file's bytes, counted from its own start, up to its size: the bar has it in full
    progress: (f, bytes) => { if (bytes >= (size.get(f.label) ?? Infinity) - 24) log.push(`read ${f.label}`); },
    read: (f) => { log.push(`counted ${f.label}`); },
    runs: () => { log.push('runs'); },
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-r3-'));
  try {
    await runStitched(caps, { filter: ALL_EVENTS, format: 'jsonl' }, cb, { dir, maxRecords: 5000, maxRuns: 32, name: 'stitched', rankOf: Object.fromEntries(names.map((n, i) => [n, i])) });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const end = log.indexOf('runs');
  expect(end).toBeGreaterThanOrEqual(0);
  // observed at HEAD: ['runs', 'read 01-…', 'read 05-…', 'read 07-…']
  for (const n of names.slice(0, -1)) expect(log.indexOf(`read ${n}`), n).toBeLessThan(end);
  // the progress bar's file count moves with them (cb.read), each file once
  for (const n of names.slice(0, -1)) expect(log.indexOf(`counted ${n}`), n).toBeLessThan(end);
  expect(log.filter((l) => l.startsWith('counted ')).length).toBe(names.length);
});
