/**
 * A worker thread that draws the table of a batch from its sorted runs (JSON lines): it merges
 * the runs, parses each line back into its event and draws its row, and posts the text in chunks.
 * Here, not on the main thread: parsing and drawing 1.28 M rows left 186 MiB of garbage on the
 * main thread, whose young generation cannot be made small at run time; a worker's can.
 */
import { parentPort, workerData } from 'worker_threads';
import type { SmbEvent } from '../events/event';
import { RunMerge, SorterError } from '../events/sorter';
import { TableOptions, tableDrawer } from './table';

export interface TableJob { runs: string[]; widths: number[]; opts: TableOptions }
/** a chunk of the table's text (the last one with `done`), or why it stopped */
export type TableMessage = { text: string; done: boolean } | { error: string; sort: boolean };

/** characters per chunk posted, and chunks posted before waiting for an 'ack' */
export const TABLE_CHUNK = 256 << 10;
export const TABLE_IN_FLIGHT = 2;

const job = workerData as TableJob;
const port = parentPort;
let inFlight = 0;
let waiting: (() => void) | null = null;
port?.on('message', () => {
  inFlight--;
  if (waiting) { const w = waiting; waiting = null; w(); }
});

async function post(text: string, done: boolean): Promise<void> {
  port?.postMessage({ text, done } satisfies TableMessage);
  if (++inFlight >= TABLE_IN_FLIGHT) await new Promise<void>((resolve) => { waiting = resolve; });
}

async function draw(): Promise<void> {
  const draw = tableDrawer(job.widths, job.opts);
  const merge = new RunMerge(job.runs);
  let parts: string[] = [];
  let rows = 0;
  try {
    const into = Buffer.allocUnsafe(64 << 10);
    let size = 0;
    for (let b = merge.next(into); b !== null; b = merge.next(into)) {
      const text = b.toString('utf8');
      for (let at = 0, nl = text.indexOf('\n'); nl >= 0; at = nl + 1, nl = text.indexOf('\n', at)) {
        const row = draw.row(JSON.parse(text.slice(at, nl)) as SmbEvent);
        rows++;
        parts.push(row);
        size += row.length;
      }
      if (size >= TABLE_CHUNK) {
        await post(parts.join(''), false);
        parts = [];
        size = 0;
      }
    }
    parts.push(draw.end());
    await post(parts.join(''), true);
  } catch (e) {
    // a run that cannot be read: the rows drawn so far, closed by the bottom border, before the error
    if (rows > 0) await post(parts.join('') + draw.end(), false);
    throw e;
  } finally {
    merge.close();
  }
}

draw().catch((e: unknown) => {
  port?.postMessage({ error: e instanceof Error ? e.message : String(e), sort: e instanceof SorterError } satisfies TableMessage);
});
