/**
 * The scan command: inputs → (worker threads | stitched stream) → sorted events → writer, with
 * progress and per-file lines on stderr and the summary at the end.
 */
import * as fs from 'fs';
import { Writable } from 'stream';
import type { Severity } from '../events/event';
import { createTempDir, reduceRuns, removeTempDir, RunMerge, RunSpiller, SorterError, wholeLines, writeFullyAt } from '../events/sorter';
import type { EventRecord } from '../events/record';
import { buildStories } from '../detect/stories-thread';
import { StepBudget } from '../detect/step';
import { SEVERITY_RANK } from '../detect/rules';
import type { RulesConfig } from '../detect/config';
import { createEventWriter, OutputFormat } from '../output';
import { createTextWriter } from '../output/writer';
import { drawTableFromRuns } from '../output/draw-table';
import { EventFilter, wanted } from '../scan/filter';
import { formatLine } from '../output/writer';
import { CSV_EOL, CSV_HEADER } from '../output/csv';
import { SPLIT_MIN_RECORDS, startUpperHalf } from '../output/split-merge';
import { forTerminal } from '../output/sanitize';
import { captureNames, headWidths, measureEvent } from '../output/table';
import { finalFanIn, JobCallbacks, MAX_STEP_BYTES_TOTAL, MAX_STEPS_TOTAL, ProduceOptions, RunTarget, runJobs, runStitchedJob } from '../scan/jobs';
import { expandInputs, InputFile } from './inputs';
import { createProgress } from './progress';
import { debugPhase } from '../util/debug';
import { addCapture, addStories, addTally, formatSummary, newTotals } from './summary';

export interface ScanOptions {
  inputs: string[];
  format: OutputFormat;
  output?: string;
  minSeverity: Severity;
  actions: string[] | null;
  quiet: boolean;
  color?: boolean;
  jobs: number;
  stitch: boolean;
  progress?: boolean;
  perFile: boolean;
  /** only the stories (lateral-movement chains) */
  stories?: boolean;
  /** --rules-config, validated */
  rules?: RulesConfig | null;
}

/** A problem with the command itself (exit status 2), e.g. an output file that cannot be written. */
export class UsageError extends Error {}

function cannotWrite(file: string, e: unknown): UsageError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such directory' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : code ?? String(e);
  return new UsageError(`cannot write ${file}: ${why}`);
}

/** The output: `start()` empties an existing file (once; awaited before the first write), `discard()` leaves it as it was. */
interface Output { out: NodeJS.WritableStream; start(): Promise<void>; discard(): void; /** the -o file's descriptor */ fd?: number }

/**
 * An earlier output of the same name (a re-run) is emptied in the background once packets are
 * being read (truncating 232 MB of JSON lines took 57 ms of kernel time that held up the
 * workers), and not at all when no capture could be read: yesterday's timeline stays.
 */
function openOutput(file: string | undefined): Output {
  if (!file) return { out: process.stdout, start: () => Promise.resolve(), discard: () => {} };
  const existed = fs.existsSync(file);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o666);
  } catch (e) {
    throw cannotWrite(file, e);
  }
  let emptied: Promise<void> | null = null;
  const start = (): Promise<void> => {
    emptied ??= new Promise<void>((resolve, reject) => fs.ftruncate(fd, 0, (err) => {
      // a terminal, a pipe or /dev/null cannot be truncated and need not be
      if (err === null || !fs.fstatSync(fd).isFile()) resolve();
      else reject(cannotWrite(file, err));
    }));
    emptied.catch(() => undefined); // awaited before the first write; not an unhandled rejection meanwhile
    return emptied;
  };
  // 1 MiB queued before the stream asks to wait (default 16 KiB): the merge of a batch's runs
  // goes on while the previous chunk is being written, instead of one round trip per chunk
  const out = fs.createWriteStream(file, { fd, highWaterMark: 1 << 20 });
  const discard = (): void => {
    out.destroy();
    if (!existed) fs.rmSync(file, { force: true });
  };
  return { out, start, discard, fd };
}

/**
 * `-o` naming one of the captures would truncate the evidence before it is read. Compared by
 * device and inode, so a hard link or a symlink to an input is refused like its own path.
 */
async function refuseOverwritingEvidence(output: string | undefined, files: InputFile[]): Promise<void> {
  if (!output) return;
  const target = await fs.promises.stat(output).catch(() => null);
  if (target === null || !target.isFile()) return; // a new file cannot be an input
  for (const f of files) {
    const st = await fs.promises.stat(f.path).catch(() => null);
    if (st !== null && st.dev === target.dev && st.ino === target.ino) {
      throw new UsageError(`refusing to write the output over the input capture ${f.label}`);
    }
  }
}

/** the output could not be written (exit status 1, one line, no "internal error") */
export class OutputError extends Error {
  override readonly name = 'OutputError';
}

/** SMBTRAIL_SPLIT_MIN_RECORDS (tests): the record count from which the final merge is split */
function splitMinRecords(): number {
  const v = process.env.SMBTRAIL_SPLIT_MIN_RECORDS;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : SPLIT_MIN_RECORDS;
}

/**
 * Anomalies that say the file itself is damaged (cut short, corrupt records or compression), not
 * the traffic in it: named on stderr even without --per-file, as the file is evidence (a cut
 * capture was only counted in the summary's totals: found by a new-user trial).
 */
const DAMAGE = /^(truncated_record|bad_caplen|absurd_caplen|malformed_block|oversized_block|bad_block_length|bad_section_header)$|_(truncated|corrupt|crc_mismatch|trailing_garbage)$/;

export function damageOf(anomalies: Record<string, number>): string | null {
  const kinds = Object.entries(anomalies).filter(([k, n]) => n > 0 && DAMAGE.test(k)).map(([k, n]) => `${k}=${n}`);
  return kinds.length > 0 ? kinds.join(' ') : null;
}

function sizeOf(f: InputFile): number {
  try { return fs.statSync(f.path).size; } catch { return 0; }
}

export async function runScan(o: ScanOptions): Promise<number> {
  const started = process.hrtime.bigint();
  // --stories: the producers keep no event; only the stories, built from their rule hits, come out
  const filter: EventFilter = { minRank: SEVERITY_RANK[o.minSeverity], actions: o.stories ? ['story'] : o.actions, rules: o.rules ?? null };
  const totals = newTotals();

  const expanded = await expandInputs(o.inputs);
  // the table names each capture by the shortest end of its path that tells it from the others
  const names = o.format === 'table' ? captureNames(expanded.files.map((f) => f.label)) : undefined;
  const produce: ProduceOptions = { filter, format: o.format, captureNames: names };
  await refuseOverwritingEvidence(o.output, expanded.files);
  // nothing to scan (a mistyped path): an existing output file keeps yesterday's timeline
  const output: Output = o.output && expanded.files.length === 0
    ? { out: new Writable({ write: (_c, _e, done) => done() }), start: () => Promise.resolve(), discard: () => {} }
    : openOutput(o.output);
  const out = output.out;
  /** captures read, in whole or in part (packets, events): with none, an existing -o file is left alone */
  let read = 0;
  const gotSomething = (): void => { if (read++ === 0) void output.start(); };
  // the first write error is the one to report (later calls only say the stream is destroyed)
  let outputError: NodeJS.ErrnoException | null = null;
  // (EPIPE: the reader went away, as in `smbtrail … | head`; not an error, see EventWriter.closed)
  out.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE') outputError ??= e; });
  totals.skippedFiles = expanded.skipped;
  totals.stitched = o.stitch;
  let failed = expanded.errors.length;
  // file names and messages can carry escape sequences (a hostile file name): shown escaped
  for (const msg of expanded.errors) process.stderr.write(`smbtrail: ${forTerminal(msg)}\n`);

  const sizes = new Map(expanded.files.map((f) => [f.label, sizeOf(f)]));
  const showProgress = o.progress ?? (!o.quiet && process.stderr.isTTY === true);
  const progress = createProgress(showProgress, expanded.files.length, [...sizes.values()].reduce((a, b) => a + b, 0));
  // the timeline is sorted with bounded memory: the workers sort and spill their files' lines (the
  // table's as JSON lines; --stitch: the stream's) as keyed runs, at most 5,000 records (~4 MB)
  // per run; this thread only merges them at the end. Measured on a 160,000-event capture, larger
  // buffers only raised peak RSS (50,000: 235 MiB; 5,000: 164 MiB) and were no faster
  const inMemory = Number(process.env.SMBTRAIL_SORT_RECORDS);
  const sortTo: RunTarget | null = expanded.files.length > 0
    ? { dir: await createTempDir(), maxRecords: Number.isInteger(inMemory) && inMemory > 0 ? inMemory : 5_000 }
    : null;
  const runFiles: string[] = [];
  /** the table's column widths, measured by the workers (it is drawn from the sorted stream) */
  const tableWidths = o.format === 'table' ? headWidths() : null;
  /** every rule hit of every file, for the stories */
  const steps = new StepBudget(MAX_STEPS_TOTAL, MAX_STEP_BYTES_TOTAL);

  // per-file lines come out in input order, whichever worker finishes first
  const order = new Map(expanded.files.map((f, i) => [f.label, i]));
  const pendingLines: (string | undefined)[] = [];
  let nextLine = 0;
  const fileLine = (file: InputFile, line: string | null): void => {
    pendingLines[order.get(file.label) ?? 0] = line ?? '';
    while (nextLine < expanded.files.length && pendingLines[nextLine] !== undefined) {
      const l = pendingLines[nextLine];
      pendingLines[nextLine++] = '';
      if (l) process.stderr.write(`${forTerminal(l.replace(/\n$/, ''))}\n`);
    }
  };

  const cb: JobCallbacks = {
    done(file, summary, tally, seconds) {
      gotSomething();
      steps.add(order.get(file.label) ?? 0, tally.steps);
      addCapture(totals, summary);
      addTally(totals, tally);
      progress.fileDone(file.label, sizes.get(file.label) ?? 0);
      const an = Object.entries(summary.anomalies).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
      const damage = damageOf(summary.info?.anomalies ?? {});
      fileLine(file, o.perFile
        ? `smbtrail: ${file.label}: ${summary.packets} packets, ${(summary.bytes / 1e6).toFixed(1)} MB, ` +
          `${summary.smbMessages} SMB messages, ${tally.events} events, anomalies: ${an}, ${seconds.toFixed(2)} s\n`
        : damage ? `smbtrail: ${file.label}: damaged capture file (${damage}); everything readable in it was scanned\n` : null);
    },
    failed(file, message, internal) {
      failed++;
      progress.fileDone(file.label, sizes.get(file.label) ?? 0);
      fileLine(file, internal
        ? `smbtrail: ${file.label}: internal error, capture abandoned: ${message} (please report this file)\n`
        : `smbtrail: ${file.label}: ${message}\n`);
    },
    progress(file, bytes) {
      // packets are being read: a long single file's earlier output is emptied meanwhile (not
      // for --stitch, whose stream may still fail as a whole: found in review)
      if (!o.stitch) gotSomething();
      progress.partial(file.label, Math.min(bytes, sizes.get(file.label) ?? bytes));
    },
    read(file) {
      progress.fileRead(file.label, sizes.get(file.label) ?? 0);
    },
    stopped(file) {
      totals.rescanned++;
      progress.clearPartial(file.label);
    },
    runs(_file, runs, widths) {
      if (runs.length > 0) gotSomething();
      if (tableWidths && widths) widths.forEach((w, i) => { tableWidths[i] = Math.max(tableWidths[i], w); });
      runFiles.push(...runs);
    },
  };

  debugPhase(`${expanded.files.length} inputs found`);
  try {
    if (sortTo && o.stitch) await runStitchedJob(expanded.files, produce, cb, sortTo);
    else if (sortTo) await runJobs(expanded.files, o.jobs, produce, cb, sortTo);
  } catch (e) {
    if (sortTo) await removeTempDir(sortTo.dir);
    throw e;
  } finally {
    progress.stop();
  }
  totals.failed = failed;
  debugPhase('scan done');

  // stories from all files at once, in time order: a chain may span captures
  totals.stepsDropped += steps.dropped;
  let allStories: EventRecord[] = [];
  try {
    allStories = await buildStories(steps.take(), o.rules);
  } catch (e) {
    // the rule hits wait in files beside the sorted runs: one that cannot be read back costs the
    // stories, not the timeline (found in review: the run ended as an internal error with -o emptied)
    if (!(e instanceof SorterError)) throw e;
    process.stderr.write(`smbtrail: cannot build the stories: ${forTerminal(e.message.split('\n')[0])}\n`);
    failed++;
  }
  const stories = allStories.filter((r) => wanted(r.ev, filter));
  // found: every event and story, shown or not (the summary's "of N found")
  totals.found += allStories.length;
  addStories(totals, stories.map((r) => r.ev));
  totals.events += stories.length;
  if (stories.length) totals.byAction.story = (totals.byAction.story ?? 0) + stories.length;
  if (sortTo && stories.length) {
    // a run of their own, keyed like the workers' runs (rank = the capture's place among the labels)
    const labels = [...new Set(expanded.files.map((f) => f.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const rank = new Map(labels.map((l, i) => [l, i]));
    const spill = new RunSpiller(sortTo.dir, 'stories', { maxRecords: sortTo.maxRecords });
    const fmt = o.format === 'table' ? 'jsonl' : o.format;
    for (const r of stories) {
      if (tableWidths) measureEvent(tableWidths, r.ev, names);
      spill.add(r.sec, r.ns, rank.get(r.ev.capture) ?? 0, r.ev.frame, r.seq, formatLine(fmt, r.ev));
    }
    runFiles.push(...spill.finish());
  }

  const tty = !o.output && process.stdout.isTTY === true;
  const color = o.color ?? (tty && !process.env.NO_COLOR);
  // not a terminal (a file, a pager): $COLUMNS if set, else wide enough not to split addresses
  const columns = tty ? process.stdout.columns || 120 : Number(process.env.COLUMNS) || 160;
  if (o.output && read === 0) {
    // nothing could be read (every input failed): yesterday's timeline stays as it was
    output.discard();
    if (sortTo) await removeTempDir(sortTo.dir);
  } else {
    try {
      await output.start();
    } catch (e) {
      if (sortTo) await removeTempDir(sortTo.dir);
      throw e;
    }
    // a batch's table is drawn from its runs by a worker (drawTableFromRuns): text passes through
    const drawnTable = o.format === 'table' && sortTo !== null;
    const writer = drawnTable ? createTextWriter(out) : createEventWriter(o.format, out, { color, columns }, tableWidths ?? undefined);
    /** set when a split merge's lower half failed: the output's length once written */
    let cutOutputAt: number | null = null;
    try {
      debugPhase('stories done');
      if (sortTo && drawnTable) {
        const runs = reduceRuns(runFiles, finalFanIn(false), sortTo.dir);
        debugPhase(`table drawn from ${runs.length} runs`);
        const drawn = drawTableFromRuns(runs, tableWidths ?? headWidths(), { color, columns, names });
        try {
          for await (const text of drawn.chunks()) {
            if (!writer.writeLine(text)) await writer.drained();
            if (writer.closed) break;
          }
        } finally {
          await drawn.stop();
        }
      } else if (sortTo) {
        // at most FINAL_FAN_IN runs at once (32 KiB read buffer each: 8 MiB), fewer under a low
        // open-file limit, half as many when two halves may open them all; beyond, the oldest
        // are merged first
        const runs = reduceRuns(runFiles, finalFanIn(o.jobs >= 2), sortTo.dir);
        // a regular file (-o FILE) is written in place, synchronously: the stream's round trips
        // through the thread pool took twice as long (932 MB: 0.45 vs 0.23 s); the event loop
        // still gets a turn every 16 MiB (a signal, the upper half's messages)
        const inPlace = output.fd !== undefined && o.output !== undefined && fs.fstatSync(output.fd).isFile();
        // two jobs: a worker writes the upper half of the timeline meanwhile
        const base = o.format === 'csv' ? Buffer.byteLength(CSV_HEADER + CSV_EOL) : 0;
        const upper = o.jobs >= 2 && inPlace && o.output
          ? startUpperHalf(runs, output.fd as number, o.output, base, splitMinRecords())
          : null;
        /** where the lower half ends in the file, as far as it was written or handed to the stream */
        let lowerEnd = base;
        debugPhase(upper ? `final merge of ${runs.length} runs in two halves, cut at ${upper.until.join(' ')}` : `final merge of ${runs.length} runs`);
        const merge = new RunMerge(runs, upper ? { until: upper.until } : {});
        // The runs' names go as soon as every merging thread holds them open, and a run is
        // closed when read to its end: its pages are then freed while the output is still being
        // written, and the output's new pages reuse them. On this VM, whose balloon hands free
        // memory back to the host, fresh pages cost ~2 s per GB against ~0.1 s for reused ones
        // (dd of 800 MB: 1.1-2.7 s, over an existing file 0.08 s); the merge of 8 × metadata ×40
        // (1.1 GB) went from 1.50-1.70 to 0.98-0.99 s with one job.
        const forgetRuns = (): void => { for (const f of runs) fs.rmSync(f, { force: true }); };
        if (upper) void upper.opened.then(forgetRuns);
        else forgetRuns();
        // through the stream (standard output, a pipe): output buffers are reused once written, at
        // most 8 (2 MiB; the stream holds 1 MiB); a synchronous stdout (a file, a pipe) releases
        // them on the next tick, hence the wait
        const free: Buffer[] = [];
        let allocated = 0;
        try {
          if (inPlace) {
            const buf = Buffer.allocUnsafe(1 << 20);
            let sinceTurn = 0;
            for (let b = merge.next(buf); b !== null; b = merge.next(buf)) {
              try {
                writeFullyAt(output.fd as number, b, lowerEnd);
              } catch (e) {
                outputError ??= e as NodeJS.ErrnoException;
                // the file keeps the timeline's beginning in whole lines, without a hole before
                // the upper half's bytes
                if (upper) await upper.stop();
                cutOutputAt = lowerEnd + wholeLines(b, (e as { written?: number }).written ?? 0);
                break;
              }
              lowerEnd += b.length;
              if ((sinceTurn += b.length) >= 16 << 20) {
                sinceTurn = 0;
                await new Promise<void>((r) => setImmediate(r));
              }
            }
          }
          while (!inPlace) {
            while (free.length === 0 && allocated >= 8) await new Promise<void>((r) => setImmediate(r));
            const buf = free.pop() ?? (allocated++, Buffer.allocUnsafe(256 * 1024));
            const b = merge.next(buf);
            if (b === null) break;
            if (b.buffer !== buf.buffer) free.push(buf); // one line longer than the buffer
            lowerEnd += b.length;
            const more = writer.writeBytes(b, b.buffer === buf.buffer ? () => free.push(buf) : undefined);
            if (!more) await writer.drained();
            if (writer.closed) break;
          }
        } catch (e) {
          // the lower half failed: without the upper half's bytes the file is the timeline so
          // far, with no hole (cut once the stream has written what it holds)
          if (upper) {
            await upper.stop();
            cutOutputAt = lowerEnd;
          }
          throw e;
        } finally {
          merge.close();
        }
        debugPhase('merge: this thread done');
        if (upper && cutOutputAt === null) {
          try {
            await upper.done;
            debugPhase('merge: upper half done');
          } catch (e) {
            // writing the output failed (a full disk): reported like the stream's own errors, the
            // file cut after the upper half's last whole line
            if (e instanceof SorterError) throw e;
            outputError ??= e as NodeJS.ErrnoException;
            const at = (e as { cutAt?: number }).cutAt;
            if (typeof at === 'number') cutOutputAt = at;
          }
        }
      }
    } catch (e) {
      if (!(e instanceof SorterError)) throw e;
      process.stderr.write(`smbtrail: cannot sort the timeline: ${e.message.split('\n')[0]}\n`);
      failed++;
    } finally {
      if (sortTo) await removeTempDir(sortTo.dir);
    }
    totals.failed = failed;
    debugPhase('temporary runs removed');
    try {
      await writer.end();
      if (o.output) await new Promise<void>((res, rej) => (out as fs.WriteStream).end((err?: Error | null) => (err ? rej(err) : res())));
      if (o.output && cutOutputAt !== null) {
        try {
          fs.truncateSync(o.output, cutOutputAt);
        } catch (e) {
          outputError ??= e as NodeJS.ErrnoException;
        }
      }
    } catch (e) {
      // a stream destroyed by a write error keeps that error (emitted only once its file is closed)
      const cause = ((out as Writable).errored ?? e) as NodeJS.ErrnoException;
      if (outputError === null && typeof cause?.code !== 'string') throw e;
      if (cause.code !== 'EPIPE') outputError ??= cause;
    }
    if (outputError !== null) {
      // a full disk or a failing device: the user's problem to fix, not smbtrail's bug
      const err: NodeJS.ErrnoException = outputError;
      throw new OutputError(`cannot write ${o.output ?? 'standard output'}: ${err.message.replace(/^E[A-Z]+: /, '').split(',')[0]} (${err.code ?? 'error'})`);
    }

  }

  debugPhase('output closed');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!o.quiet) process.stderr.write(`${formatSummary(totals, seconds)}\n`);
  return failed > 0 ? 1 : 0;
}
