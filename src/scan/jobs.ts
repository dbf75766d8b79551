/**
 * Runs the per-capture pipeline over many files, in worker threads (in this thread for one job
 * over little data; each worker takes the next file when it is done with one). Producers flag,
 * filter and format their events (the table as JSON lines) and write them as sorted runs, so the
 * main thread only merges and copies lines at the end; the order in which files finish does not
 * matter, the merge makes the output deterministic.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import { Worker } from 'worker_threads';
import { CaptureError } from '../capture/packet';
import { sniffCaptureFormat } from '../capture/reader';
import type { SmbEvent } from '../events/event';
import type { EventRecord } from '../events/record';
import type { InputFile } from '../cli/inputs';
import { RunSpiller, SorterError } from '../events/sorter';
import { formatLine, OutputFormat } from '../output/writer';
import { ALL_EVENTS as DEFAULT_RULES, detect, EventFilter, wanted as isWanted } from './filter';
import { emptyStepBatch, StepBatch, StepBudget, stepCollector, StepCollector } from '../detect/step';
import type { CaptureSummary } from './scan-capture';
import type * as ScanCaptureModule from './scan-capture';
import type * as StitchModule from './stitch';
import { debugPhase } from '../util/debug';
import { CaptureNames, headWidths, measureEvent } from '../output/table';
import { runLanes } from './lanes';

/** what the events of one file add to the summary */
export interface Tally {
  found: number; events: number; byAction: Record<string, number>; byFlag: Record<string, number>; encrypted: number;
  /** events that hit a detection rule, wanted or not: the stories are built from them after the scan */
  steps: StepBatch;
  /** steps beyond MAX_STEPS (counted, not kept) */
  stepsDropped: number;
  /** rule hits, wanted or not */
  byRule: Record<string, number>;
  /** rule hits an allow-list entry of --rules-config removed */
  allowed: number;
  /**
   * events whose setup was before the capture: file actions without a share (TREE_CONNECT not
   * seen), RPC calls without an interface (bind not seen)
   */
  unseenSetup: number;
}

/**
 * Rule hits kept per file for the stories, and in all (run-scan), by count and by the bytes of
 * their packed lines (see detect/step.ts). A PsExec chain is a few dozen steps; beyond these,
 * hits are counted and stay in the timeline, but a flood of discovery calls in a hostile capture
 * cannot hold the scan's memory. The bytes matter because a hit carries the call's arguments,
 * each up to 32,768 characters: 20,000 CreateService calls with such names would have been
 * gigabytes outside V8's heap, where no worker limit applies. A lab hit takes 0.7–1.8 KB, so the
 * counts bind first on real captures.
 */
export const MAX_STEPS = 20_000;
export const MAX_STEPS_TOTAL = 50_000;
export const MAX_STEP_BYTES = 16 << 20;
export const MAX_STEP_BYTES_TOTAL = 32 << 20;

export interface JobCallbacks {
  /** one file finished */
  done(file: InputFile, summary: CaptureSummary, tally: Tally, seconds: number): void;
  /** one file could not be read: `message` is one line; internal = a bug, not the file's fault */
  failed(file: InputFile, message: string, internal: boolean): void;
  /** bytes of capture data read so far in a file still being scanned */
  progress(file: InputFile, bytes: number): void;
  /**
   * --stitch: a file of the stream has been read to its end; its done (or failed) report waits
   * for the stream's runs, so the progress bar counts the file from here
   */
  read?(file: InputFile): void;
  /** a file was stopped by the memory governor and will be scanned again alone (src/scan/lanes.ts) */
  stopped?(file: InputFile): void;
  /**
   * the keyed runs holding a file's events, before its done/failed (--stitch: once, for the whole
   * stream, named by its first file); for the table, the widths its events need (measureEvent)
   */
  runs(file: InputFile, runs: string[], tableWidths?: number[]): void;
}

/**
 * Where the producers write: each sorts its own file's lines (the table's as JSON lines, drawn at
 * the end) and writes them as keyed runs into `dir` (see RunSpiller), at most `maxRecords` a run.
 */
export interface RunTarget { dir: string; maxRecords: number }
/**
 * One file's part of a RunTarget: `rank` orders its capture label among all labels, `name`
 * prefixes its runs. `maxRuns`: runs a file may leave for the final merge; beyond, its producer merges its oldest
 * runs down to that many (RunSpiller.finish). The final merge's fan-in shared among the batch's
 * files, at least 32 each (or the whole fan-in, when the open-file limit makes it smaller).
 */
export interface RunTask { dir: string; maxRecords: number; rank: number; name: string; maxRuns: number }

/**
 * Runs the final merge reads at once (a 32 KiB buffer each), at most. A file's producer leaves at
 * most its share of them (RunTask.maxRuns): one file of 160,000 events (33 runs) was merged into
 * one run by its worker and then copied again by the final merge — a whole pass more than needed.
 */
export const FINAL_FAN_IN = 256;

/** descriptors kept for everything but the runs: standard streams, captures, output, Node's own */
const OPEN_FILE_RESERVE = 64;

let openFiles: number | null = null;
/**
 * The process's soft limit on open files (Linux: /proc/self/limits); 256 where it cannot be read
 * (macOS's default), so a merge never opens more runs than the system allows: with `ulimit -n
 * 256`, 8 captures leaving 32 runs each for a merge opened twice (two halves) failed with EMFILE.
 */
function openFileLimit(): number {
  if (openFiles !== null) return openFiles;
  openFiles = 256;
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) openFiles = m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch { /* not Linux: keep the conservative default */ }
  return openFiles;
}

/**
 * How many runs one final merge may open: FINAL_FAN_IN, or less under a low open-file limit;
 * halved when the merge may run in two halves at once (two jobs), each opening every run.
 */
export function finalFanIn(twoHalves: boolean): number {
  const free = Math.max(4, openFileLimit() - OPEN_FILE_RESERVE);
  return Math.max(2, Math.min(FINAL_FAN_IN, Math.floor(free / (twoHalves ? 2 : 1))));
}

/** what a producer is asked to do with events */
export interface ProduceOptions {
  filter: EventFilter;
  format: OutputFormat;
  /** synchronous reads (set for workers when two or more scan at once: see ReadOptions.sync) */
  syncReads?: boolean;
  /** the table: how each capture is named in it (table.ts captureNames), for its widths */
  captureNames?: CaptureNames;
}

/** messages a worker posts */
export type WorkerMessage =
  | { type: 'progress'; bytes: number; file?: number }
  /** --stitch: a file of the stream was read to its end (JobCallbacks.read) */
  | { type: 'read'; file?: number }
  | { type: 'done'; summary: CaptureSummary; tally: Tally; seconds: number; runs?: string[]; tableWidths?: number[]; file?: number }
  | { type: 'failed'; message: string; internal: boolean; runs?: string[]; tableWidths?: number[]; file?: number }
  /** --stitch: every file of the stream has been reported */
  | { type: 'stitched'; runs?: string[]; tableWidths?: number[] };

/**
 * what the main thread sends a worker: a file to scan, or (--stitch) all the files as one
 * stream, whose messages then name their file by its index in `files`
 */
export type MainMessage = { type: 'file'; file: InputFile; runs: RunTask } | { type: 'stitch'; files: InputFile[]; runs: StitchRuns };

/** --stitch into keyed runs: one producer for all the files, each capture ranked by its label */
export interface StitchRuns { dir: string; maxRecords: number; maxRuns: number; name: string; rankOf: Record<string, number> }

/**
 * Young generation of a scanning worker, in MB. V8 grows the semi-spaces up to 16 MiB each
 * under a high allocation rate (and a scan allocates a short-lived object or string per
 * message); nearly all of it dies young anyway. Measured on the 99 MB metadata capture
 * (160,000 events), peak RSS of the whole process: 2 → 105-119 MiB, 4 → 111-118, 8 → 132-139,
 * V8's default 164-170, with the same CPU time within the noise. With two workers on 8 × 25 MB
 * metadata parts: 4 → 145-150 MiB, 3 → 142-145 MiB, and the same times (hyperfine, 8 runs
 * interleaved: 2.85 ± 0.39 vs 2.59 ± 0.12 s; one 99 MB file 2.25 vs 2.27 s).
 */
export const WORKER_YOUNG_MB = 3;

/**
 * Old generation of a scanning worker, in MB. Without a cap V8 lets garbage grow to several times
 * what is live before a full collection: 100,000 one-packet SMB connections (a scan) peaked at
 * 273-336 MiB with 66 MB live; with 256 at 136 MiB. Every table a scan keeps is bounded well
 * below it; a worker that still runs out is reported as that file's failure (ERR_WORKER_OUT_OF_MEMORY).
 * Normal captures are not slowed (metadata ×40: 3.03 vs 3.08 s).
 */
export const WORKER_OLD_MB = 256;

/**
 * With two scanning workers or more, the cores are theirs: V8's background optimisation of each
 * worker's code then takes CPU from the scans instead of using an idle core (the workers run
 * unoptimised code while they wait for it). Measured on 8 metadata parts of 25 MB, two workers,
 * hyperfine 6 runs each in the same minutes: 3.17 s (user 5.25 s) with background optimisation,
 * 2.35 s (user 3.89 s) with each worker optimising on its own thread; one job 4.39 s. One job
 * keeps it (a single 99 MB file: 2.42 s with, 2.80 s with all helper threads off). Flags are
 * process-wide and read when a worker's isolate is created, hence set before the first worker
 * starts. Only this flag: an isolate keeps the optimising dispatcher it was created with, while
 * GC flags are read by the main thread's running collector too (--single-threaded-gc set here
 * made V8 abort while the table was being sorted; test/cli/batch.test.ts).
 */
let foreground = false;
export function foregroundV8(): void {
  if (foreground) return;
  foreground = true;
  v8.setFlagsFromString('--no-concurrent-recompilation');
}

/**
 * With one job, inputs smaller than this are scanned on the main thread: its young generation
 * (up to 16 MiB semi-spaces, not settable at run time) only fills up on larger inputs (measured
 * peak RSS on the main thread: 77 MiB for a 2.5 MB metadata capture, 143 MiB for 25 MB), and
 * its old generation cannot be capped (WORKER_OLD_MB): a 2.7 MB capture of 28,000 SMB
 * connections peaked at 162 MiB there, 127 MiB in a worker.
 */
export const IN_THREAD_BYTES = 2e6;

/**
 * What a compressed file is counted as against IN_THREAD_BYTES: capture data inflates several
 * times (the 99 MB metadata capture: 15 MB with zstd -3, 21 MB with gzip -1). Counted at its
 * own size, the zstd file stayed on the main thread and peaked at 156 MiB instead of 114 MiB.
 */
export const COMPRESSED_RATIO = 8;

/** a file's size, times COMPRESSED_RATIO when its first bytes say it is compressed */
function scanWeight(file: fs.PathLike): number {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(8);
    const n = fs.readSync(fd, head, 0, 8, 0);
    const format = sniffCaptureFormat(head.subarray(0, n));
    return fs.fstatSync(fd).size * (format === null || format === 'pcap' || format === 'pcapng' ? 1 : COMPRESSED_RATIO);
  } catch {
    return 0;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

export const PROGRESS_EVERY = 32 << 20;
const PROGRESS_MIN = 1 << 20;
const PROGRESS_MS = 250;

export function defaultJobs(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

export const newTally = (): Tally => ({ found: 0, events: 0, byAction: {}, byFlag: {}, encrypted: 0, steps: emptyStepBatch(), stepsDropped: 0, byRule: {}, allowed: 0, unseenSetup: 0 });

const FILE_ACTIONS = new Set(['create', 'read', 'write', 'rename', 'delete']);

function count(t: Tally, e: SmbEvent): void {
  t.events++;
  t.byAction[e.action] = (t.byAction[e.action] ?? 0) + 1;
  for (const f of e.flags) t.byFlag[f] = (t.byFlag[f] ?? 0) + 1;
  if (e.action === 'encrypted') t.encrypted++;
  if ((FILE_ACTIONS.has(e.action) && e.share === null) || (e.action === 'rpc' && e.rpc_interface === null)) t.unseenSetup++;
}

/**
 * Flags and rule hits on an event (the tuning file applied), and the record the stories are
 * built from: the same event with the default rules. Stories are told from the default rules and
 * the tuning file applies to the stories themselves, so allow-listing a generic step (SVC-CREATE
 * for a client) neither breaks the PsExec chain it is part of nor re-links its other steps into
 * another story.
 */
export function detectWithStep(r: EventRecord, filter: EventFilter, onAllowed?: (ruleId: string) => void): EventRecord {
  if (!filter.rules) { detect(r.ev, filter); return r; }
  const plain = { ...r.ev, access: [...r.ev.access], flags: [], attack: [], rules: [], refs: [] };
  detect(plain, DEFAULT_RULES);
  detect(r.ev, filter, onAllowed);
  return { sec: r.sec, ns: r.ns, seq: r.seq, ev: plain };
}

/** flags, filters and counts one event; false when it is not wanted */
export function admit(r: EventRecord, o: ProduceOptions, tally: Tally, steps: StepCollector): boolean {
  tally.found++;
  const step = detectWithStep(r, o.filter, () => { tally.allowed++; });
  for (const id of r.ev.rules) tally.byRule[id] = (tally.byRule[id] ?? 0) + 1;
  if (step.ev.rules.length > 0) {
    if (steps.count < MAX_STEPS && steps.bytes < MAX_STEP_BYTES) steps.add(step);
    else tally.stepsDropped++;
  }
  if (!isWanted(r.ev, o.filter)) return false;
  count(tally, r.ev);
  return true;
}

/**
 * Flags, filters and counts one event and, when wanted, writes its line into the producer's
 * runs (the table's as a JSON line, its widths measured into `tableWidths`).
 */
export function spillEvent(r: EventRecord, o: ProduceOptions, tally: Tally, steps: StepCollector, spiller: RunSpiller, rank: number, tableWidths: number[] | undefined): void {
  if (!admit(r, o, tally, steps)) return;
  if (tableWidths) measureEvent(tableWidths, r.ev, o.captureNames);
  spiller.add(r.sec, r.ns, rank, r.ev.frame, r.seq, formatLine(o.format === 'table' ? 'jsonl' : o.format, r.ev));
}

/**
 * A file's bytes read so far, passed on every 32 MiB or every quarter second (a compressed file
 * reports its own, smaller bytes); the clock is read once per MiB, not per packet.
 */
export function progressEvery(report: (bytes: number) => void): (bytes: number) => void {
  let lastTick = 0;
  let lastTime = Date.now();
  let nextCheck = PROGRESS_MIN;
  return (bytes) => {
    if (bytes < nextCheck) return;
    nextCheck = bytes + PROGRESS_MIN;
    if (bytes - lastTick < PROGRESS_EVERY && Date.now() - lastTime < PROGRESS_MS) return;
    lastTick = bytes;
    lastTime = Date.now();
    report(bytes);
  };
}

/** Scans one file into its runs, reporting through the same messages a worker sends. */
export async function scanOne(file: InputFile, o: ProduceOptions, post: (m: WorkerMessage) => void, runTask: RunTask): Promise<void> {
  const started = process.hrtime.bigint();
  const tally = newTally();
  const spiller = new RunSpiller(runTask.dir, runTask.name, { maxRecords: runTask.maxRecords, maxRuns: runTask.maxRuns });
  // the rule hits wait beside the runs (removed with them), not in memory
  const steps = stepCollector(path.join(runTask.dir, `${runTask.name}.steps`));
  /** the runs written so far; undefined when they could not be finished */
  const finishRuns = (): string[] | undefined => {
    try { return spiller.finish(); } catch { return undefined; }
  };
  // the table's runs hold JSON lines, drawn as rows by the final merge; its widths are measured here
  const tableWidths = o.format === 'table' ? headWidths() : undefined;
  const emit = (r: EventRecord): void => spillEvent(r, o, tally, steps, spiller, runTask.rank, tableWidths);
  const onBytes = progressEvery((bytes) => { post({ type: 'progress', bytes }); });
  try {
    // required here: the main thread of a batch only hands out files, and the decoding stages
    // (~35 modules) would delay the start of the workers that do need them
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { scanCapture } = require('./scan-capture') as typeof ScanCaptureModule;
    const summary = await scanCapture(file.path, file.label, emit, onBytes, o.syncReads === true);
    const runs = spiller.finish();
    tally.steps = steps.done();
    tally.stepsDropped += steps.lost;
    post({ type: 'done', summary, tally, seconds: Number(process.hrtime.bigint() - started) / 1e9, runs, tableWidths });
  } catch (e) {
    // the hits of a failed file are not kept; their file is closed (and removed with the runs)
    steps.done();
    // a run that could not be written (disk full) is not a bug of the capture's
    const sortFailed = e instanceof SorterError;
    const internal = !(e instanceof CaptureError) && !sortFailed;
    const message = (sortFailed ? `cannot sort the timeline: ${e.message}` : e instanceof Error ? e.message : String(e)).split('\n')[0];
    if (internal && process.env.SMBTRAIL_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    // the events read before the failure are kept
    post({ type: 'failed', message, internal, runs: sortFailed ? undefined : finishRuns(), tableWidths });
  }
}

function deliver(file: InputFile, m: WorkerMessage, cb: JobCallbacks): void {
  if ((m.type === 'done' || m.type === 'failed') && m.runs) cb.runs(file, m.runs, m.tableWidths);
  switch (m.type) {
    case 'progress': cb.progress(file, m.bytes); break;
    case 'read': cb.read?.(file); break;
    case 'done': debugPhase(`${file.label} done (${m.seconds.toFixed(3)} s)`); cb.done(file, m.summary, m.tally, m.seconds); break;
    case 'failed': cb.failed(file, m.message, m.internal); break;
    case 'stitched': break;
  }
}

/**
 * --stitch in a worker (the same heap limits as any scan) unless the input is small: the stream's
 * state lives there, its events go into one set of keyed runs. On this thread the
 * 200,000-connection flood peaked at 279 MiB and metadata ×40 at 148 MiB.
 */
export async function runStitchedJob(files: InputFile[], o: ProduceOptions, cb: JobCallbacks, sortTo: RunTarget): Promise<void> {
  const labels = [...new Set(files.map((f) => f.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const runs: StitchRuns = {
    dir: sortTo.dir, maxRecords: sortTo.maxRecords, maxRuns: finalFanIn(false), name: 'stitched', rankOf: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  if (files.reduce((a, f) => a + scanWeight(f.path), 0) < IN_THREAD_BYTES) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runStitched } = require('./stitch') as typeof StitchModule;
    return runStitched(files, o, cb, runs);
  }
  const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: o, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, maxOldGenerationSizeMb: WORKER_OLD_MB } });
  // listening from here on: the worker's first message comes after this turn at the earliest
  const followed = followStitched(w, files, cb);
  w.postMessage({ type: 'stitch', files, runs } satisfies MainMessage);
  await followed;
}

/** what followStitched needs of a worker (a fake one in tests) */
export type StitchWorker = Pick<Worker, 'on' | 'terminate'>;

/**
 * Follows the stitched stream's worker until it ends. The stream is one unit: its files' events
 * share one set of runs, handed over at the end, so the files it read are reported done only then.
 * When the worker dies (out of memory, a bug), every file it had not reported failed is named with
 * the cause and no event of the stream is counted: done lines sent as they came were followed by
 * a timeline without their events (found in review).
 */
export function followStitched(w: StitchWorker, files: InputFile[], cb: JobCallbacks): Promise<void> {
  return new Promise<void>((resolve) => {
    const failedAlready = new Set<number>();
    /** done messages, delivered once the stream's runs have arrived */
    const dones: { i: number; m: Extract<WorkerMessage, { type: 'done' }> }[] = [];
    // their rule hits go into a budget of the totals as they come (run-scan's bounds, by input
    // order, so the same hits are kept): held whole until the end, N rotated files held up to
    // N × MAX_STEP_BYTES (20 files of hostile hits: 310 → 505 MB, found in review)
    const hits = new StepBudget(MAX_STEPS_TOTAL, MAX_STEP_BYTES_TOTAL);
    let queue: Promise<void> = Promise.resolve();
    let ended = false;
    let stream: Extract<WorkerMessage, { type: 'stitched' }> | null = null;
    const finish = (why: Error | null): void => {
      if (ended) return;
      ended = true;
      void queue.then(async () => {
        if (why) {
          for (let i = 0; i < files.length; i++) {
            if (failedAlready.has(i)) continue;
            if ((why as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
              cb.failed(files[i], `capture abandoned: decoding the stitched stream needed more than ${WORKER_OLD_MB} MB of memory (hostile or extreme input; please report this file)`, false);
            } else cb.failed(files[i], `internal error, capture abandoned: ${why.message.split('\n')[0]} (please report this file)`, true);
          }
        } else {
          if (stream?.runs) cb.runs(files[0], stream.runs, stream.tableWidths);
          const kept = new Map(hits.takeIndexed().map((k) => [k.index, k.batch]));
          const last = dones.filter((d) => !failedAlready.has(d.i)).pop();
          if (last) last.m.tally.stepsDropped += hits.dropped;
          for (const d of dones) {
            // a file failed after it was read (the stream's runs could not be written): once, failed
            if (failedAlready.has(d.i)) continue;
            d.m.tally.steps = kept.get(d.i) ?? emptyStepBatch();
            deliver(files[d.i], d.m, cb);
          }
        }
        await w.terminate();
        resolve();
      });
    };
    w.on('message', (m: WorkerMessage) => {
      if (ended) return;
      if (m.type === 'stitched') {
        stream = m;
        finish(null);
        return;
      }
      const i = Math.max(0, m.file ?? 0);
      if (m.type === 'done') {
        hits.add(i, m.tally.steps);
        m.tally.steps = emptyStepBatch();
        dones.push({ i, m });
        // the file was read (its 'read' message said so already, unless the worker posts its
        // done reports as it goes; the bar counts a file once)
        queue = queue.then(() => { cb.progress(files[i], m.summary.bytes); cb.read?.(files[i]); });
        return;
      }
      if (m.type === 'failed') failedAlready.add(i);
      queue = queue.then(() => deliver(files[i], m, cb));
    });
    w.on('error', (e: Error) => finish(e));
    w.on('exit', (code: number) => finish(new Error(`scanning thread exited with code ${code}`)));
  });
}

/**
 * Scans the files with `jobs` producers, in worker threads, even with one job unless the input is
 * small (IN_THREAD_BYTES): a worker writes each file's events as sorted runs and the main thread
 * keeps only their names; the worker's young generation is small (WORKER_YOUNG_MB), which the
 * main thread's cannot be made at run time.
 */
export async function runJobs(files: InputFile[], jobs: number, o: ProduceOptions, cb: JobCallbacks, sortTo: RunTarget): Promise<void> {
  const n = Math.max(1, Math.min(jobs, files.length));
  const sizes = files.map((f) => scanWeight(f.path));
  // rank of each capture label in string order: the runs sort by numbers only
  const labels = [...new Set(files.map((f) => f.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const rankOf = new Map(labels.map((l, i) => [l, i]));
  const fanIn = finalFanIn(jobs >= 2);
  const task = (f: InputFile, i: number): RunTask => ({
    dir: sortTo.dir, maxRecords: sortTo.maxRecords, rank: rankOf.get(f.label) ?? 0, name: `f${String(i).padStart(6, '0')}`, maxRuns: Math.max(2, Math.min(32, fanIn), Math.floor(fanIn / files.length)),
  });
  // one job over little data: this thread, as a worker costs its own start-up (~0.1 s of module
  // loading and warm-up) and only pays off in memory on larger inputs
  if (n === 1 && sizes.reduce((a, b) => a + b, 0) < IN_THREAD_BYTES) {
    for (let i = 0; i < files.length; i++) await scanOne(files[i], o, (m) => deliver(files[i], m, cb), task(files[i], i));
    return;
  }
  // largest files first: the last file a lane takes is then a small one, so the lanes end
  // together instead of one core scanning the last big file alone (the output order does not
  // depend on which lane scans what)
  const schedule = files.map((_, i) => i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  if (n >= 2) foregroundV8();
  const workerFile = path.join(__dirname, 'worker.js');
  // a stopped attempt's runs and hits carry its own name, so the next attempt starts clean
  const taskOf = (i: number, attempt: number): RunTask => {
    const t = task(files[i], i);
    return attempt > 0 ? { ...t, name: `${t.name}r${attempt}` } : t;
  };
  await runLanes<WorkerMessage>({
    files,
    schedule,
    lanes: n,
    newWorker: () => new Worker(workerFile, { workerData: { ...o, syncReads: n >= 2 }, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, maxOldGenerationSizeMb: WORKER_OLD_MB } }),
    start: (i, attempt): MainMessage => ({ type: 'file', file: files[i], runs: taskOf(i, attempt) }),
    deliver: (i, m) => deliver(files[i], m, cb),
    ends: (m) => m.type === 'done' || m.type === 'failed',
    crashed(i, e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        cb.failed(files[i], `capture abandoned: decoding it needed more than ${WORKER_OLD_MB} MB of memory (hostile or extreme input; please report this file)`, false);
      } else cb.failed(files[i], `internal error, capture abandoned: ${e.message.split('\n')[0]} (please report this file)`, true);
    },
    discard(i, attempt) {
      cb.stopped?.(files[i]);
      const t = taskOf(i, attempt);
      let names: string[] = [];
      try { names = fs.readdirSync(t.dir); } catch { return; }
      for (const f of names) {
        if (f.startsWith(`${t.name}-`) || f === `${t.name}.steps`) fs.rmSync(path.join(t.dir, f), { force: true });
      }
    },
  });
}
