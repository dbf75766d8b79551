/**
 * Progress on stderr while a batch runs: files done/total, bytes, MB/s, ETA. Only on a
 * terminal (or when asked with --progress), never mixed into stdout.
 */
import type * as CliProgress from 'cli-progress';

export interface Progress {
  /** a file is done (or failed): counted once, also when it was counted as read before */
  fileDone(key: string, size: number): void;
  /** a file was read to its end; its done report comes later (--stitch) */
  fileRead(key: string, size: number): void;
  /** bytes read so far of a file still being scanned (replaces its previous figure) */
  partial(key: string, bytes: number): void;
  clearPartial(key: string): void;
  stop(): void;
}

const NONE: Progress = { fileDone() {}, fileRead() {}, partial() {}, clearPartial() {}, stop() {} };

export function createProgress(enabled: boolean, files: number, totalBytes: number): Progress {
  if (!enabled) return NONE;
  const started = Date.now();
  let doneBytes = 0, doneFiles = 0;
  const partials = new Map<string, number>();
  const counted = new Set<string>();
  // required here: a run without a progress bar (not a terminal) does not load the library
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SingleBar } = require('cli-progress') as typeof CliProgress;
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'smbtrail {bar} {percentage}% | {files}/{totalFiles} files | {mb}/{totalMb} MB | {rate} MB/s | ETA {eta_formatted}',
    barsize: 24,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 20,
    fps: 5,
    noTTYOutput: !process.stderr.isTTY,
    notTTYSchedule: 2000,
  });
  const mb = (b: number): string => (b / 1e6).toFixed(0);
  const payload = () => {
    const seen = doneBytes + [...partials.values()].reduce((a, b) => a + b, 0);
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    return { seen, files: doneFiles, totalFiles: files, mb: mb(seen), totalMb: mb(totalBytes), rate: (seen / 1e6 / secs).toFixed(0) };
  };
  bar.start(Math.max(1, totalBytes), 0, payload());
  const update = () => { const p = payload(); bar.update(Math.min(p.seen, Math.max(1, totalBytes)), p); };
  // a stitched file is counted when read, and its done report (at the stream's end) not again
  const count = (key: string, size: number): void => {
    partials.delete(key);
    if (counted.has(key)) return;
    counted.add(key);
    doneBytes += size;
    doneFiles++;
    update();
  };
  return {
    fileDone: count,
    fileRead: count,
    partial(key, bytes) { partials.set(key, bytes); update(); },
    clearPartial(key) { partials.delete(key); },
    stop() { bar.stop(); },
  };
}
