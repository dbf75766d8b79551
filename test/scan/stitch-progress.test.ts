/**
 * Found in review of 9ee2812: --stitch on the worker path (inputs of 2 MB or more): followStitched keeps
 * every 'done' until the stream's runs arrive, and the stitching worker sends no 'progress'
 * (runStitched reads without a progress callback), so run-scan hears nothing about the files
 * while the stream is read: `--progress` stays at "0/N files | 0/M MB" for the whole scan and
 * jumps to N/N at the end (before: it moved file by file), and the --per-file lines all come
 * out at the end. The in-thread path (under 2 MB) still reports each file as it is read.
 *
 * CLI: script -qfc 'node dist/cli/main.js DIR --stitch -f jsonl -o /tmp/x --progress' (8 parts of
 * meta-x40: a3ece86 shows 1/8, 2/8, 4/8 ... over 2 s; 9ee2812 shows 0/8 until the very end).
 */
import { EventEmitter } from 'events';
import { expect, it } from 'vitest';
import type { InputFile } from '../../src/cli/inputs';
import { followStitched, JobCallbacks, newTally, StitchWorker } from '../../src/scan/jobs';
import { newSummary } from '../../src/scan/scan-capture';

class FakeStitcher extends EventEmitter {
  terminate(): Promise<number> { return Promise.resolve(0); }
}

it('the files of a stitched stream move the progress bar as they are read, not all at the end', async () => {
  const files = ['a.pcap', 'b.pcap', 'c.pcap'].map((label) => ({ path: label, label }) as InputFile);
  /** what run-scan's progress bar hears about each file (progress bytes or a file done) */
  const heard = new Set<string>();
  /** files the bar counts as read (its file count moves; their done reports wait for the end) */
  const read: string[] = [];
  const cb = {
    read: (f: InputFile) => { read.push(f.label); },
    done: (f: InputFile) => { heard.add(f.label); },
    failed: (f: InputFile) => { heard.add(f.label); },
    progress: (f: InputFile) => { heard.add(f.label); },
    runs: () => {},
  } as JobCallbacks;
  const w = new FakeStitcher();
  const followed = followStitched(w as unknown as StitchWorker, files, cb);
  // the worker as it is (src/scan/worker.ts stitch): a done per file as the stream goes on
  for (let i = 0; i < 2; i++) {
    w.emit('message', { type: 'done', summary: newSummary(files[i].label), tally: newTally(), seconds: 1, file: i });
  }
  // let the message queue run (deliveries are chained on promises)
  await new Promise((resolve) => setImmediate(resolve));
  const beforeEnd = [...heard];
  const readBeforeEnd = [...read];
  w.emit('message', { type: 'done', summary: newSummary(files[2].label), tally: newTally(), seconds: 1, file: 2 });
  w.emit('message', { type: 'stitched', runs: [] });
  await followed;
  // a.pcap and b.pcap were read while c.pcap was still being scanned
  expect(beforeEnd).toEqual(['a.pcap', 'b.pcap']);
  // and counted as files read: the bar's "2/3 files" (it stayed at 0/3 until the end)
  expect(readBeforeEnd).toEqual(['a.pcap', 'b.pcap']);
  expect(read).toEqual(['a.pcap', 'b.pcap', 'c.pcap']);
});

it('the worker as it is now (done reports at the stream end): its read messages count each file as it is read', async () => {
  const files = ['a.pcap', 'b.pcap', 'c.pcap'].map((label) => ({ path: label, label }) as InputFile);
  const read: string[] = [];
  const done: string[] = [];
  const cb = {
    read: (f: InputFile) => { read.push(f.label); },
    done: (f: InputFile) => { done.push(f.label); },
    failed: () => {},
    progress: () => {},
    runs: () => {},
  } as JobCallbacks;
  const w = new FakeStitcher();
  const followed = followStitched(w as unknown as StitchWorker, files, cb);
  for (let i = 0; i < 2; i++) {
    w.emit('message', { type: 'progress', bytes: 100, file: i });
    w.emit('message', { type: 'read', file: i });
  }
  await new Promise((resolve) => setImmediate(resolve));
  expect(read).toEqual(['a.pcap', 'b.pcap']);
  expect(done).toEqual([]);
  w.emit('message', { type: 'read', file: 2 });
  for (let i = 0; i < 3; i++) w.emit('message', { type: 'done', summary: newSummary(files[i].label), tally: newTally(), seconds: 1, file: i });
  w.emit('message', { type: 'stitched', runs: [] });
  await followed;
  expect(done).toEqual(['a.pcap', 'b.pcap', 'c.pcap']);
});
