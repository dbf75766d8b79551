import { SmbEvent } from '../events/event';
import { CSV_EOL, CSV_HEADER, toCsvRow } from './csv';
import { toJsonLine } from './jsonl';
import { TableOptions, tableDrawer } from './table';

export type OutputFormat = 'table' | 'csv' | 'jsonl';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'csv', 'jsonl'];

export interface EventWriter {
  /**
   * Queue one event. Returns false while the output is backed up (like a Node stream); a
   * caller that can pause should then `await drained()`. Ignoring it is safe: the events
   * wait in memory.
   */
  write(e: SmbEvent): boolean;
  /** A line already made by `formatLine` (CSV/JSON lines only): workers format, the writer copies. */
  writeLine(line: string): boolean;
  /**
   * Bytes of whole lines already encoded (CSV/JSON lines only): the merged runs of a batch.
   * `release` is called once the output no longer needs `bytes` (the caller may refill it).
   */
  writeBytes(bytes: Buffer, release?: () => void): boolean;
  /** Resolves when the output has taken what it was given (at once when nothing is waiting). */
  drained(): Promise<void>;
  /**
   * Write everything still buffered (the whole table for `table`) and wait until the stream
   * has accepted it. Does not end `out` (process.stdout must stay open; a file stream is the
   * caller's to end). Rejects with the stream's error, except EPIPE.
   */
  end(): Promise<void>;
  /**
   * True once the reader went away (EPIPE, as in `smbtrail x.pcap | head`): later events are
   * dropped quietly and the caller may stop scanning early. Not an error.
   */
  readonly closed: boolean;
}

/** Strings are collected up to this many UTF-16 units before one write to the stream. */
export const FLUSH_CHARS = 64 * 1024;

/** One event as one output line, newline included (CSV or JSON lines). */
export function formatLine(format: 'csv' | 'jsonl', e: SmbEvent): string {
  return format === 'csv' ? toCsvRow(e) + CSV_EOL : toJsonLine(e, '\n');
}

/**
 * Every format streams out as events arrive. The table's column widths must be known before its
 * first row: `natural`, measured over the same events as they were found (table.ts measureEvent).
 */
export function createEventWriter(
  format: OutputFormat,
  out: NodeJS.WritableStream,
  opts: TableOptions,
  natural?: readonly number[],
): EventWriter {
  const sink = new BufferedSink(out);
  switch (format) {
    case 'table':
      if (!natural) throw new Error('the table needs its column widths measured over its events');
      return tableWriter(sink, opts, natural);
    case 'csv':
      sink.push(CSV_HEADER + CSV_EOL);
      return lineWriter(sink, (e) => formatLine('csv', e));
    case 'jsonl':
      return lineWriter(sink, (e) => formatLine('jsonl', e));
    default:
      throw new Error(`unknown output format: ${String(format)}`);
  }
}

/** Text drawn elsewhere (a batch's table, drawn by a worker), passed through `writeLine` as it is. */
export function createTextWriter(out: NodeJS.WritableStream): EventWriter {
  return lineWriter(new BufferedSink(out), () => {
    throw new Error('this output takes drawn text only');
  });
}

function lineWriter(sink: BufferedSink, format: (e: SmbEvent) => string): EventWriter {
  let ended = false;
  return {
    write(e) {
      if (ended) throw new Error('event written after end()');
      return sink.push(format(e));
    },
    writeLine(line) {
      if (ended) throw new Error('event written after end()');
      return sink.push(line);
    },
    writeBytes(bytes, release) {
      if (ended) throw new Error('event written after end()');
      return sink.push(bytes, release);
    },
    drained: () => sink.drained(),
    end() {
      ended = true;
      return sink.finish();
    },
    get closed() {
      return sink.closed;
    },
  };
}

function tableWriter(sink: BufferedSink, opts: TableOptions, natural: readonly number[]): EventWriter {
  const draw = tableDrawer(natural, opts);
  let ended = false;
  return {
    write(e) {
      if (ended) throw new Error('event written after end()');
      return sink.push(draw.row(e));
    },
    writeLine() {
      throw new Error('the table needs whole events, not formatted lines');
    },
    writeBytes() {
      throw new Error('the table needs whole events, not formatted lines');
    },
    drained: () => sink.drained(),
    async end() {
      ended = true;
      sink.push(draw.end());
      return sink.finish();
    },
    get closed() {
      return sink.closed;
    },
  };
}

/**
 * Joins small strings into large writes (one write per line would cost a syscall per event on
 * a synchronous stdout) and honours backpressure: after the stream returns false nothing more
 * is written to it until 'drain'; text keeps collecting here meanwhile.
 */
class BufferedSink {
  /** the reader went away (EPIPE) */
  closed = false;
  /** no more output possible: reader gone, stream error or stream closed */
  stopped = false;
  /** strings, or Buffers of UTF-8 text; `size` counts UTF-16 units of the one, bytes of the other */
  private parts: (string | Buffer)[] = [];
  private size = 0;
  private hasBytes = false;
  /** callbacks of Buffer parts waiting to be written (see EventWriter.writeBytes) */
  private releases: (() => void)[] = [];
  /** set while the stream has said "enough" and we wait for its 'drain' */
  private pendingDrain: Promise<void> | null = null;
  private failure: Error | null = null;
  /** settles when the stream has handled the last chunk given to it */
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly stoppedSignal: Promise<void>;
  private stop!: () => void;

  constructor(private readonly out: NodeJS.WritableStream) {
    this.stoppedSignal = new Promise((resolve) => (this.stop = resolve));
    // Without an 'error' listener an EPIPE on stdout is an uncaught exception with a stack trace.
    out.on('error', (err: Error) => this.onStreamError(err));
    out.on('close', () => this.onStreamClose());
  }

  push(text: string | Buffer, release?: () => void): boolean {
    if (this.stopped) {
      release?.();
      return true;
    }
    this.parts.push(text);
    if (release) this.releases.push(release);
    this.size += text.length;
    if (typeof text !== 'string') this.hasBytes = true;
    if (this.size >= FLUSH_CHARS) this.flush();
    return this.pendingDrain === null;
  }

  async drained(): Promise<void> {
    // A flush right after a drain can start a new wait, hence the loop.
    while (this.pendingDrain !== null) await this.pendingDrain;
  }

  async finish(): Promise<void> {
    await this.drained();
    this.flush();
    await Promise.race([this.lastWrite, this.stoppedSignal]);
    if (this.failure !== null) throw this.failure;
  }

  private flush(): void {
    if (this.pendingDrain !== null || this.stopped || this.size === 0) return;
    // a Buffer part (merged runs) is written as bytes: no decoding and re-encoding of the text
    const parts = this.parts;
    const chunk = !this.hasBytes ? (parts as string[]).join('')
      : parts.length === 1 ? parts[0]
        : Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    this.parts = [];
    this.size = 0;
    this.hasBytes = false;
    let releases = this.releases;
    this.releases = [];
    if (chunk !== parts[0]) { // copied by join/concat: the parts are free now
      for (const r of releases) r();
      releases = [];
    }
    let accepted = true;
    // Errors come through the 'error' listener; the callback only tells us the chunk is done.
    this.lastWrite = new Promise((resolve) => {
      accepted = this.out.write(chunk, () => {
        for (const r of releases) r();
        resolve();
      });
    });
    if (!accepted) this.waitForDrain();
  }

  private waitForDrain(): void {
    this.pendingDrain = this.drainOrStop().then(() => {
      this.pendingDrain = null;
      if (this.size >= FLUSH_CHARS) this.flush();
    });
  }

  private drainOrStop(): Promise<void> {
    return Promise.race([
      new Promise<void>((resolve) => this.out.once('drain', () => resolve())),
      this.stoppedSignal,
    ]);
  }

  private onStreamError(err: Error): void {
    if (this.stopped) return;
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') this.closed = true;
    else this.failure = err;
    this.halt();
  }

  private onStreamClose(): void {
    if (this.stopped) return;
    // A stream closed under us with text still to come lost events: say so, do not hang.
    if (this.size > 0 || this.pendingDrain !== null) {
      this.failure = new Error('output closed before all events were written');
    }
    this.halt();
  }

  private halt(): void {
    this.stopped = true;
    this.parts = [];
    this.size = 0;
    this.hasBytes = false;
    const releases = this.releases;
    this.releases = [];
    for (const r of releases) r();
    this.stop();
  }
}
