/**
 * Found in review of f488afe: "a run that cannot be written ends the stream with 'cannot sort the
 * timeline' on every file". On the in-thread path (inputs under IN_THREAD_BYTES) runStitched
 * calls the run's callbacks directly: a run that fails when it is written at the stream's end
 * (spiller.finish) or in a later file comes after cb.done of the files already read, so each
 * such file is reported done AND failed. run-scan's fileLine then drops the failure line (its
 * slot was already passed), the summary says "4 capture(s) read, 4 could not be read", counts
 * the lost events, and stories are built from the hits of the lost stream.
 */
import * as os from 'os';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import { runStitched } from '../../src/scan/stitch';
import { ALL_EVENTS } from '../../src/scan/filter';
import type { JobCallbacks } from '../../src/scan/jobs';
import type { InputFile } from '../../src/cli/inputs';

function recorder(): { cb: JobCallbacks; log: string[] } {
  const log: string[] = [];
  const cb: JobCallbacks = {
    done: (f) => { log.push(`done ${f.label}`); },
    failed: (f, message) => { log.push(`failed ${f.label}: ${message.split(':')[0]}`); },
    progress: () => {},
    runs: (_f, runs) => { log.push(`runs ${runs.length}`); },
  };
  return { cb, log };
}

describe('runStitched in-thread, a run that fails at the end of the stream', () => {
  it('reports each file once (failed), never done and then failed', async () => {
    const caps = ['05-admin-share-exe-copy.pcap', '07-psexec-footprint.pcap'].map((n) => ({ path: path.join(__dirname, '../../captures', n), label: n }) as InputFile);
    const { cb, log } = recorder();
    const missing = path.join(os.tmpdir(), `smbtrail-review-no-such-dir-${process.pid}`);
    // maxRecords large: the run is only written by spiller.finish(), after both files were read
    await runStitched(caps, { filter: ALL_EVENTS, format: 'jsonl' }, cb, { dir: missing, maxRecords: 1_000_000, maxRuns: 32, name: 'stitched', rankOf: { [caps[0].label]: 0, [caps[1].label]: 1 } });
    // observed: ['done 05-…', 'done 07-…', 'failed 05-…: cannot sort the timeline', 'failed 07-…: cannot sort the timeline']
    expect(log.filter((l) => l.startsWith('done'))).toEqual([]);
    expect(log).toEqual(caps.map((c) => `failed ${c.label}: cannot sort the timeline`));
  });
});
