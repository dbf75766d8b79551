/**
 * Worker thread: scans the capture files the main thread hands it, one at a time, into sorted
 * runs; only their names and the files' summaries travel back.
 */
import { parentPort, workerData } from 'worker_threads';
import type { InputFile } from '../cli/inputs';
import { JobCallbacks, MainMessage, ProduceOptions, scanOne, StitchRuns, WorkerMessage } from './jobs';
import { runStitched } from './stitch';

const options = workerData as ProduceOptions;
const port = parentPort;

function post(m: WorkerMessage): void {
  port?.postMessage(m);
}

/** a path given as bytes (cli/inputs.ts FilePath) arrives as a Uint8Array */
function asFile(f: InputFile): InputFile {
  const at = f.path;
  return typeof at === 'string' || Buffer.isBuffer(at) ? f : { ...f, path: Buffer.from(at as Uint8Array) };
}

/** --stitch: the files as one stream; messages name their file by its index */
async function stitch(files: InputFile[], runs: StitchRuns): Promise<void> {
  const index = new Map(files.map((f, i) => [f, i]));
  let kept: { runs: string[]; tableWidths?: number[] } | null = null;
  const cb: JobCallbacks = {
    done: (file, summary, tally, seconds) => { post({ type: 'done', summary, tally, seconds, file: index.get(file) }); },
    failed: (file, message, internal) => { post({ type: 'failed', message, internal, file: index.get(file) }); },
    progress: (file, bytes) => { post({ type: 'progress', bytes, file: index.get(file) }); },
    read: (file) => { post({ type: 'read', file: index.get(file) }); },
    runs: (_file, list, tableWidths) => { kept = { runs: list, tableWidths }; },
  };
  // a throw here (a bug) ends the worker with an error: the main thread names the files not reported
  await runStitched(files, options, cb, runs);
  const k = kept as { runs: string[]; tableWidths?: number[] } | null;
  post({ type: 'stitched', runs: k?.runs, tableWidths: k?.tableWidths });
}

if (port) {
  port.on('message', (m: MainMessage) => {
    if (m.type === 'stitch') {
      stitch(m.files.map(asFile), m.runs).catch((e: unknown) => { throw e; });
      return;
    }
    void scanOne(asFile(m.file), options, post, m.runs);
  });
}
