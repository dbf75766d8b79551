/**
 * --stitch's worker is followed as one unit (followStitched): its files' events share one set of
 * runs, handed over only when the stream ends. Found in review: when that worker died, the files
 * it had already reported stayed counted as done (events in the summary, done lines on stderr)
 * while their events, never handed over, were missing from the timeline.
 */
import { EventEmitter } from 'events';
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { runStitched } from '../../src/scan/stitch';
import { ALL_EVENTS } from '../../src/scan/filter';
import { followStitched, JobCallbacks, newTally, StitchWorker } from '../../src/scan/jobs';
import { newSummary } from '../../src/scan/scan-capture';
import type { InputFile } from '../../src/cli/inputs';

const files = ['a.pcap', 'b.pcap', 'c.pcap'].map((label) => ({ path: label, label }) as InputFile);

/** the callbacks, logging what reaches them */
function recorder(): { cb: JobCallbacks; log: string[] } {
  const log: string[] = [];
  const cb: JobCallbacks = {
    done: (f) => { log.push(`done ${f.label}`); },
    failed: (f, message, internal) => { log.push(`failed ${f.label}${internal ? ' (internal)' : ''}: ${message}`); },
    progress: (f, bytes) => { log.push(`progress ${f.label} ${bytes}`); },
    runs: (_f, runs) => { log.push(`runs ${runs.join(' ')}`); },
  };
  return { cb, log };
}

class FakeStitcher extends EventEmitter {
  terminated = false;
  terminate(): Promise<number> { this.terminated = true; return Promise.resolve(0); }
}

const done = (file: number) => ({ type: 'done', summary: { ...newSummary(files[file].label), bytes: 1000 * (file + 1) }, tally: newTally(), seconds: 0.1, file });

describe('followStitched', () => {
  it('a stream that ends: each file read moves the progress bar at once; the runs, then every file read is reported done, in order', async () => {
    const w = new FakeStitcher();
    const { cb, log } = recorder();
    const p = followStitched(w as unknown as StitchWorker, files, cb);
    w.emit('message', { type: 'progress', bytes: 100, file: 0 });
    w.emit('message', done(0));
    w.emit('message', { type: 'failed', message: 'truncated capture', internal: false, file: 1 });
    w.emit('message', done(2));
    w.emit('message', { type: 'stitched', runs: ['/tmp/x/stitched-000001.run'] });
    await p;
    expect(log).toEqual([
      'progress a.pcap 100',
      'progress a.pcap 1000',
      'failed b.pcap: truncated capture',
      'progress c.pcap 3000',
      'runs /tmp/x/stitched-000001.run',
      'done a.pcap',
      'done c.pcap',
    ]);
    expect(w.terminated).toBe(true);
  });

  it('out of memory after two files: every file not failed on its own is named with the cause, none counted done', async () => {
    const w = new FakeStitcher();
    const { cb, log } = recorder();
    const p = followStitched(w as unknown as StitchWorker, files, cb);
    w.emit('message', done(0));
    w.emit('message', { type: 'failed', message: 'not a capture file', internal: false, file: 1 });
    w.emit('message', done(2));
    const oom = Object.assign(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'), { code: 'ERR_WORKER_OUT_OF_MEMORY' });
    w.emit('error', oom);
    w.emit('exit', 1);
    await p;
    expect(log).toEqual([
      'progress a.pcap 1000',
      'failed b.pcap: not a capture file',
      'progress c.pcap 3000',
      'failed a.pcap: capture abandoned: decoding the stitched stream needed more than 256 MB of memory (hostile or extreme input; please report this file)',
      'failed c.pcap: capture abandoned: decoding the stitched stream needed more than 256 MB of memory (hostile or extreme input; please report this file)',
    ]);
    expect(log.some((l) => l.startsWith('done') || l.startsWith('runs'))).toBe(false);
  });

  it('a file that fails after it was read (the stream\'s runs could not be written) is reported once, failed', async () => {
    const w = new FakeStitcher();
    const { cb, log } = recorder();
    const p = followStitched(w as unknown as StitchWorker, files.slice(0, 2), cb);
    w.emit('message', done(0));
    w.emit('message', done(1));
    for (const file of [0, 1]) w.emit('message', { type: 'failed', message: 'cannot sort the timeline: no space left on device (ENOSPC)', internal: false, file });
    w.emit('message', { type: 'stitched' });
    await p;
    expect(log).toEqual([
      'progress a.pcap 1000',
      'progress b.pcap 2000',
      'failed a.pcap: cannot sort the timeline: no space left on device (ENOSPC)',
      'failed b.pcap: cannot sort the timeline: no space left on device (ENOSPC)',
    ]);
  });

  it('a worker that exits on its own (a bug): an internal error for each file, and messages after it are ignored', async () => {
    const w = new FakeStitcher();
    const { cb, log } = recorder();
    const p = followStitched(w as unknown as StitchWorker, files.slice(0, 2), cb);
    w.emit('message', done(0));
    w.emit('exit', 7);
    w.emit('message', { type: 'stitched', runs: ['late.run'] });
    await p;
    expect(log).toEqual([
      'progress a.pcap 1000',
      'failed a.pcap (internal): internal error, capture abandoned: scanning thread exited with code 7 (please report this file)',
      'failed b.pcap (internal): internal error, capture abandoned: scanning thread exited with code 7 (please report this file)',
    ]);
  });
});

describe('runStitched (the stream itself)', () => {
  it('a run that cannot be written ends the stream: every file is named with the cause, not as an internal error', async () => {
    const caps = ['05-admin-share-exe-copy.pcap', '07-psexec-footprint.pcap'].map((n) => {
      const p = path.join(__dirname, '../../captures', n);
      return { path: p, label: n } as InputFile;
    });
    const { cb, log } = recorder();
    const missing = path.join(os.tmpdir(), `smbtrail-no-such-dir-${process.pid}`);
    await runStitched(caps, { filter: ALL_EVENTS, format: 'jsonl' }, cb, { dir: missing, maxRecords: 5, maxRuns: 32, name: 'stitched', rankOf: { [caps[0].label]: 0, [caps[1].label]: 1 } });
    const failed = log.filter((l) => l.startsWith('failed'));
    expect(failed).toEqual(caps.map((c) => `failed ${c.label}: cannot sort the timeline: cannot write a sorted run to ${missing}/stitched-000001.run: no such file or directory (ENOENT)`));
    expect(log.some((l) => l.startsWith('done') || l.startsWith('runs'))).toBe(false);
  });
});
