/**
 * Worker thread: scans the capture files the main thread hands it, one at a time. At most
 * IN_FLIGHT batches of events wait for the main thread's 'ack'; beyond that the reader pauses.
 */
import { parentPort, workerData } from 'worker_threads';
import { IN_FLIGHT, MainMessage, ProduceOptions, scanOne, WorkerMessage } from './jobs';

const options = workerData as ProduceOptions;
const port = parentPort;
let inFlight = 0;
/** one gate for every batch posted while too many are in flight (a chunk can make several) */
let gate: { promise: Promise<void>; open: () => void } | null = null;

function post(m: WorkerMessage): Promise<void> | undefined {
  port?.postMessage(m);
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
    // a path given as bytes (cli/inputs.ts FilePath) arrives as a Uint8Array
    const at = m.file.path;
    const file = typeof at === 'string' || Buffer.isBuffer(at) ? m.file : { ...m.file, path: Buffer.from(at as Uint8Array) };
    void scanOne(file, options, post, m.runs);
  });
}
