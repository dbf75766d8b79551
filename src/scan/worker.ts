/**
 * Worker thread: scans the capture files the main thread hands it, one at a time. At most
 * IN_FLIGHT batches of events wait for the main thread's 'ack'; beyond that the reader pauses.
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import { parentPort, workerData } from 'worker_threads';
import { IN_FLIGHT, MainMessage, ProduceOptions, scanOne, WorkerMessage } from './jobs';

const options = workerData as ProduceOptions;
const port = parentPort;
let inFlight = 0;
/** one gate for every batch posted while too many are in flight (a chunk can make several) */
let gate: { promise: Promise<void>; open: () => void } | null = null;

/**
 * A full collection between files. Each file leaves its read buffers (2 × 4 MiB, allocated per
 * file by the reader, whatever the file's size) and its flow and session tables behind as
 * garbage; with a heap of a few MB, V8 collects them only when external memory has grown by
 * ~64 MiB, so a batch peaked far higher than one file (measured: 8 × 135 MB bulk parts, 126 vs
 * 70 MiB; 9 × 13 MB metadata parts with 2 workers, 153 vs 139 MiB). One collection of this small
 * heap takes 5-15 ms, so it runs once ~16 MiB of garbage (buffers + file bytes) have accumulated
 * and at most every 100 ms: at most a few % of the scanning time.
 */
let collect: (() => void) | null = null;
try {
  v8.setFlagsFromString('--expose-gc');
  collect = vm.runInNewContext('gc') as () => void;
} catch {
  collect = null; // not available: V8's own heuristics decide
}
const READ_BUFFERS = 8 << 20;
let garbage = 0;
let lastGc = process.hrtime.bigint();
function afterFile(bytes: number): void {
  garbage += READ_BUFFERS + bytes;
  const now = process.hrtime.bigint();
  if (collect && garbage >= 16 << 20 && now - lastGc >= 100_000_000n) {
    collect();
    garbage = 0;
    lastGc = process.hrtime.bigint();
  }
}

function post(m: WorkerMessage): Promise<void> | undefined {
  port?.postMessage(m);
  if (m.type === 'done') afterFile(m.summary.bytes);
  else if (m.type === 'failed') afterFile(0);
  if (m.type !== 'events') return undefined;
  inFlight++;
  if (inFlight < IN_FLIGHT) return undefined;
  if (!gate) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => { open = resolve; });
    gate = { promise, open };
  }
  return gate.promise;
}

if (port) {
  port.on('message', (m: MainMessage) => {
    if (m.type === 'ack') {
      inFlight--;
      if (gate && inFlight < IN_FLIGHT) { const g = gate; gate = null; g.open(); }
      return;
    }
    void scanOne(m.file, options, post, m.runs);
  });
}
