/**
 * --stitch: files of one sensor split by rotation (tcpdump -C/-G, dumpcap ring buffers) are one
 * stream. They are put in the order of their first packet and fed through one pipeline, so a
 * session whose TREE_CONNECT is in one file and whose CREATEs are in the next keeps its share
 * and user, and TCP streams continue across the cut.
 */
import type { PathLike } from 'fs';
import * as path from 'path';
import { CaptureError, PacketSink } from '../capture/packet';
import { readCapture } from '../capture/reader';
import type { InputFile } from '../cli/inputs';
import { JobCallbacks, newTally, ProduceOptions, progressEvery, spillEvent, StitchRuns } from './jobs';
import { RunSpiller, SorterError } from '../events/sorter';
import { headWidths } from '../output/table';
import { createCapturePipeline, newSummary } from './scan-capture';
import { stepCollector, StepCollector } from '../detect/step';

class FirstPacket extends Error {}

/** time of the first packet (seconds, fractional), null for a file without packets */
export async function firstPacketTime(file: PathLike): Promise<number | null> {
  let t: number | null = null;
  const sink: PacketSink = { packet(p) { t = p.tsSec + p.tsNs / 1e9; throw new FirstPacket(); } };
  try {
    await readCapture(file, sink);
  } catch (e) {
    if (!(e instanceof FirstPacket)) throw e;
  }
  return t;
}

export async function stitchOrder(files: InputFile[], cb: JobCallbacks): Promise<InputFile[]> {
  const timed: { f: InputFile; t: number }[] = [];
  for (const f of files) {
    try {
      const t = await firstPacketTime(f.path);
      timed.push({ f, t: t ?? Number.POSITIVE_INFINITY });
    } catch (e) {
      cb.failed(f, (e instanceof Error ? e.message : String(e)).split('\n')[0], !(e instanceof CaptureError));
    }
  }
  timed.sort((a, b) => a.t - b.t || (a.f.label < b.f.label ? -1 : a.f.label > b.f.label ? 1 : 0));
  return timed.map((x) => x.f);
}

/**
 * The events go into keyed runs (one producer for the whole stream, each capture ranked by its
 * label), handed over through `cb.runs` at the end. A run that cannot be written (a full
 * temporary disk) ends the stream and costs its whole timeline: every file is named with the
 * cause, as the scan's own failure, not a bug (it was an internal error for each file in turn).
 * The files read are reported done after the runs, so each file is reported once.
 */
export async function runStitched(files: InputFile[], o: ProduceOptions, cb: JobCallbacks, runs: StitchRuns): Promise<void> {
  const ordered = await stitchOrder(files, cb);
  if (!ordered.length) return;
  const spiller = new RunSpiller(runs.dir, runs.name, { maxRecords: runs.maxRecords, maxRuns: runs.maxRuns });
  const tableWidths = o.format === 'table' ? headWidths() : undefined;
  let tally = newTally();
  // each file's rule hits wait beside the runs (removed with them), not in memory: held in
  // memory and posted, 20 rotated files of hostile hits peaked at 302 MiB (measured in review)
  let fileNo = 0;
  const nextSteps = (): StepCollector => stepCollector(path.join(runs.dir, `${runs.name}.${fileNo++}.steps`));
  let steps = nextSteps();
  // the files read are reported done once the stream's runs are written: a stream that cannot be
  // sorted then reports each file once, failed (it said done, then failed, found in review)
  const reads: (() => void)[] = [];
  // the pipeline counts the stream's bytes; progress is reported per file, from its own start
  let streamBytes = 0;
  let fileStart = 0;
  let report = (_bytes: number): void => {};
  const pipe = createCapturePipeline(ordered[0].label, (r) => {
    spillEvent(r, o, tally, steps, spiller, runs.rankOf[r.ev.capture] ?? 0, tableWidths);
  }, (seen) => { streamBytes = seen; report(seen - fileStart); });
  for (let i = 0; i < ordered.length; i++) {
    const f = ordered[i];
    pipe.setCapture(f.label);
    fileStart = streamBytes;
    report = progressEvery((bytes) => cb.progress(f, bytes));
    const started = process.hrtime.bigint();
    const messagesBefore = pipe.smbMessages();
    try {
      const info = await readCapture(f.path, pipe.sink);
      const s = newSummary(f.label);
      s.info = info; s.bytes = info.bytes; s.packets = info.packets; s.anomalies = { ...info.anomalies };
      s.smbMessages = pipe.smbMessages() - messagesBefore;
      // connection-level counts belong to the whole stream: the last file's summary carries them
      if (i === ordered.length - 1) {
        const all = pipe.finish();
        s.tcpFlows = all.tcpFlows; s.smbConnections = all.smbConnections;
        s.smbMessages = all.smbMessages - messagesBefore;
        for (const [k, v] of Object.entries(all.anomalies)) s.anomalies[k] = (s.anomalies[k] ?? 0) + v;
      }
      // events of a file are counted when they are made: a handle's read/write total made
      // at a CLOSE in the next file counts there
      tally.steps = steps.done();
      tally.stepsDropped += steps.lost;
      const t = tally, seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // the bar moves as each file is read (its done report waits for the runs)
      cb.progress(f, info.bytes);
      cb.read?.(f);
      reads.push(() => cb.done(f, s, t, seconds));
      tally = newTally();
      steps = nextSteps();
    } catch (e) {
      if (e instanceof SorterError) {
        steps.done();
        sortFailed(ordered, e, cb);
        return;
      }
      cb.failed(f, (e instanceof Error ? e.message : String(e)).split('\n')[0], !(e instanceof CaptureError));
      // what the failed file's events added is not counted on the next file
      steps.done();
      tally = newTally();
      steps = nextSteps();
      if (i === ordered.length - 1) pipe.finish();
    }
  }
  let written: string[];
  try {
    written = spiller.finish();
  } catch (e) {
    if (!(e instanceof SorterError)) throw e;
    sortFailed(ordered, e, cb);
    return;
  }
  cb.runs(ordered[0], written, tableWidths);
  for (const done of reads) done();
}

function sortFailed(files: InputFile[], e: SorterError, cb: JobCallbacks): void {
  const why = `cannot sort the timeline: ${e.message.split('\n')[0]}`;
  for (const f of files) cb.failed(f, why, false);
}
