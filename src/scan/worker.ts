/** Worker thread: scans the capture files the main thread hands it, one at a time. */
import { parentPort, workerData } from 'worker_threads';
import type { InputFile } from '../cli/inputs';
import type { EventFilter } from './filter';
import { scanOne, WorkerMessage } from './jobs';

const { filter } = workerData as { filter: EventFilter };
const port = parentPort;
if (port) {
  port.on('message', (file: InputFile) => {
    void scanOne(file, filter, (m: WorkerMessage) => { port.postMessage(m); });
  });
}
