/**
 * Worker lanes: each lane scans one file at a time in its own worker thread and takes the next
 * when it is done. With sorted runs as output (every format), a memory governor watches the
 * process: every bound of a scan applies per capture, so two hostile captures scanned side by
 * side add up (two copies of a 200,000-connection flood peaked at 187 MiB with two workers,
 * 133 MiB with one). Past GOVERNOR_RSS, with two files or more in progress, the file started
 * last is stopped, its partial runs are removed, and it is scanned again later with no other
 * file beside it. A file's output depends only on the file, so the timeline stays byte-identical
 * to `--jobs 1`; what the stop costs is the time already spent on that file.
 */
import { Worker } from 'worker_threads';
import type { InputFile } from '../cli/inputs';
import { debugPhase } from '../util/debug';

/**
 * Process RSS (all threads) past which the governor stops a file. The scan phase of the largest
 * benchmark batch (8 × metadata ×40, two workers) peaks at 120 MiB; the target is 150 MB
 * (143 MiB). Two floods starting together grow by up to ~10 MiB between two checks (a stop at
 * 132 MiB once peaked at 143 MiB), so the line sits 8 MiB above the first and 15 below the second.
 * SMBTRAIL_GOVERNOR_MIB overrides it (tests set it low to make every pair collide).
 */
export const GOVERNOR_RSS_MIB = 128;
export const GOVERNOR_POLL_MS = 20;

export function governorBytes(): number {
  const env = Number(process.env.SMBTRAIL_GOVERNOR_MIB);
  return (Number.isFinite(env) && env > 0 ? env : GOVERNOR_RSS_MIB) * 2 ** 20;
}

/** What the lanes need from their caller. */
export interface LaneJob<M> {
  files: InputFile[];
  /** indexes into files, in the order they are handed out */
  schedule: number[];
  /** lanes to run at once */
  lanes: number;
  newWorker(): Worker;
  /** the message that starts file i; `attempt` counts the earlier stopped tries (names its runs) */
  start(i: number, attempt: number): unknown;
  /** delivers one message of file i (in order: each after the previous one's promise, if any) */
  deliver(i: number, m: M): void | Promise<void>;
  /** whether m ends the file (done or failed) */
  ends(m: M): boolean;
  /** the worker died (out of memory, a bug) while scanning file i */
  crashed(i: number, e: Error): void;
  /** file i was stopped on its attempt `attempt`: remove what it wrote */
  discard(i: number, attempt: number): void;
}

interface Lane {
  w: Worker | null;
  /** file in progress, -1 when idle */
  file: number;
  /** order in which the current file was started (the governor stops the latest) */
  startedAt: number;
  /** the file's end message arrived: it is being delivered, too late to stop */
  ending: boolean;
  exclusive: boolean;
  /** settles the current file's promise */
  settle: (() => void) | null;
  /** bumped when the lane's worker is replaced or its file stopped: stale messages are dropped */
  token: number;
  queue: Promise<void>;
}

export async function runLanes<M>(job: LaneJob<M>): Promise<void> {
  const limit = governorBytes();
  const deferred: number[] = [];
  const attempts = new Map<number, number>();
  const lanes: Lane[] = [];
  const parked: (() => void)[] = [];
  let next = 0;
  let started = 0;
  let exclusive = false;
  /** the first error a delivery threw (a bug on this side): the file still ends, the batch rethrows it */
  let failure: unknown = null;
  const failed = (e: unknown): void => { failure ??= e; };
  const busy = (): Lane[] => lanes.filter((l) => l.file >= 0);
  const wake = (): void => { for (const p of parked.splice(0)) p(); };

  const stopWorker = async (lane: Lane): Promise<void> => {
    const w = lane.w;
    lane.w = null;
    lane.token++;
    if (w) await w.terminate();
  };

  const ensureWorker = (lane: Lane): Worker => {
    if (lane.w) return lane.w;
    const w = job.newWorker();
    const token = ++lane.token;
    lane.w = w;
    w.on('message', (m: M) => {
      if (lane.token !== token || lane.file < 0) return;
      const i = lane.file;
      const settle = lane.settle;
      if (job.ends(m)) lane.ending = true;
      lane.queue = lane.queue.then(() => job.deliver(i, m)).catch(failed);
      if (job.ends(m)) void lane.queue.then(() => settle?.());
    });
    /** a crash inside the worker: that file is reported, and a fresh worker takes this lane */
    const lost = (e: Error): void => {
      if (lane.token !== token) return;
      lane.w = null;
      lane.token++;
      const i = lane.file;
      const settle = lane.settle;
      void lane.queue.then(() => {
        if (i >= 0) job.crashed(i, e);
        settle?.();
      });
    };
    w.on('error', lost);
    // gone without an 'error' (the worker ended itself): reported like a crash
    w.on('exit', (code) => lost(new Error(`scanning thread exited with code ${code}`)));
    return w;
  };

  const runFile = (lane: Lane, i: number, alone: boolean): Promise<void> => new Promise<void>((resolve) => {
    const w = ensureWorker(lane);
    lane.file = i;
    lane.startedAt = started++;
    lane.ending = false;
    lane.exclusive = alone;
    if (alone) exclusive = true;
    lane.settle = () => {
      lane.settle = null;
      lane.file = -1;
      if (alone) exclusive = false;
      resolve();
    };
    w.postMessage(job.start(i, attempts.get(i) ?? 0));
  });

  /** stops the lane's file: its worker ends, its partial output goes, it waits to run alone */
  const preempt = async (lane: Lane): Promise<void> => {
    const i = lane.file;
    const settle = lane.settle;
    const attempt = attempts.get(i) ?? 0;
    debugPhase(`${job.files[i].label} stopped (memory ${(process.memoryUsage.rss() / 2 ** 20).toFixed(1)} MiB with ${busy().length} files in progress); scanned again alone later`);
    deferred.push(i);
    attempts.set(i, attempt + 1);
    await stopWorker(lane);
    await lane.queue;
    job.discard(i, attempt);
    settle?.();
  };

  let stopping = false;
  const check = (): void => {
    if (stopping) return;
    const candidates = busy().filter((l) => !l.ending && !l.exclusive);
    if (candidates.length < 2 || process.memoryUsage.rss() <= limit) return;
    const victim = candidates.reduce((a, b) => (b.startedAt > a.startedAt ? b : a));
    stopping = true;
    void preempt(victim).finally(() => { stopping = false; });
  };
  const timer = job.lanes >= 2 ? setInterval(check, GOVERNOR_POLL_MS) : null;

  type Pick = { i: number; alone: boolean } | 'wait' | 'end';
  const choose = (): Pick => {
    if (exclusive) return 'wait';
    if (deferred.length > 0) return busy().length === 0 ? { i: deferred.shift() as number, alone: true } : 'wait';
    if (next < job.schedule.length) return { i: job.schedule[next++], alone: false };
    return 'end';
  };

  const lane = async (): Promise<void> => {
    const me: Lane = { w: null, file: -1, startedAt: 0, ending: false, exclusive: false, settle: null, token: 0, queue: Promise.resolve() };
    lanes.push(me);
    for (;;) {
      const pick = choose();
      if (pick === 'end') break;
      if (pick === 'wait') {
        // an idle worker still holds the garbage of its last file: let it go while another runs alone
        // parked before the await: a wake() while the worker terminates is not lost
        const woken = new Promise<void>((resolve) => parked.push(resolve));
        await stopWorker(me);
        await woken;
        continue;
      }
      await runFile(me, pick.i, pick.alone);
      wake();
    }
    await stopWorker(me);
    wake();
  };

  try {
    await Promise.all(Array.from({ length: job.lanes }, lane));
  } finally {
    if (timer) clearInterval(timer);
  }
  if (failure !== null) throw failure;
}
