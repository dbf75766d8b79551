import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CSV_HEADER, toCsvRow } from '../../src/output/csv';
import { toJsonLine } from '../../src/output/jsonl';
import { headWidths, measureEvent, NO_EVENTS, renderTable } from '../../src/output/table';
import { FLUSH_CHARS, createEventWriter } from '../../src/output/writer';
import { hostileEvent, makeEvent } from './fixtures';
import { SmbEvent } from '../../src/events/event';

const opts = { color: false, columns: 120 };

/** A stream that keeps what it is given, optionally slow and with a tiny buffer. */
function collector(options: { slow?: boolean; highWaterMark?: number } = {}) {
  const chunks: string[] = [];
  const stream = new Writable({
    highWaterMark: options.highWaterMark,
    decodeStrings: false,
    write(chunk: string, _enc, cb) {
      chunks.push(chunk);
      if (options.slow) setImmediate(cb);
      else cb();
    },
  });
  return { stream, chunks, text: () => chunks.join('') };
}

function failing(code: string) {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error(`write ${code}`), { code }));
    },
  });
}

function manyEvents(n: number): SmbEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent({ frame: i + 1, path: `dir\\file${i}.txt` }));
}

describe('createEventWriter', () => {
  it('streams JSON lines, one per event', async () => {
    const out = collector();
    const events = [makeEvent(), hostileEvent()];
    const w = createEventWriter('jsonl', out.stream, opts);
    for (const e of events) w.write(e);
    await w.end();
    expect(out.text()).toBe(events.map((e) => toJsonLine(e) + '\n').join(''));
    expect(out.text().split('\n').map((l) => (l ? JSON.parse(l) : null))).toEqual([...events, null]);
  });

  it('writes a CSV header then one record per event, LF line ends', async () => {
    const out = collector();
    const events = [makeEvent(), hostileEvent()];
    const w = createEventWriter('csv', out.stream, opts);
    for (const e of events) w.write(e);
    await w.end();
    expect(out.text()).toBe(`${CSV_HEADER}\n${toCsvRow(events[0])}\n${toCsvRow(events[1])}\n`);
  });

  it('writes only the CSV header, or nothing for JSON lines, when there are no events', async () => {
    const csv = collector();
    await createEventWriter('csv', csv.stream, opts).end();
    expect(csv.text()).toBe(CSV_HEADER + '\n');
    const jsonl = collector();
    await createEventWriter('jsonl', jsonl.stream, opts).end();
    expect(jsonl.text()).toBe('');
  });

  it('streams the table row by row with widths measured beforehand, and the note when empty', async () => {
    const out = collector();
    const events = [makeEvent(), hostileEvent()];
    const natural = headWidths();
    for (const e of events) measureEvent(natural, e);
    const w = createEventWriter('table', out.stream, opts, natural);
    for (const e of events) expect(w.write(e)).toBe(true);
    await w.end();
    expect(out.text()).toBe(renderTable(events, opts) + '\n');
    const empty = collector();
    await createEventWriter('table', empty.stream, opts, headWidths()).end();
    expect(empty.text()).toBe(NO_EVENTS + '\n');
    expect(() => createEventWriter('table', collector().stream, opts)).toThrow(/widths/);
  });

  it('batches lines into large writes', async () => {
    const out = collector();
    const events = manyEvents(5000);
    const w = createEventWriter('jsonl', out.stream, opts);
    for (const e of events) w.write(e);
    await w.end();
    const expected = events.map((e) => toJsonLine(e) + '\n').join('');
    expect(out.text()).toBe(expected);
    expect(out.chunks.length).toBeLessThanOrEqual(Math.ceil(expected.length / FLUSH_CHARS) + 1);
    expect(out.chunks.length).toBeGreaterThan(1);
  });

  it('respects backpressure and still delivers everything in order', async () => {
    const out = collector({ slow: true, highWaterMark: 1024 });
    const events = manyEvents(3000);
    const w = createEventWriter('csv', out.stream, opts);
    let sawBackpressure = false;
    let maxPending = 0;
    for (const e of events) {
      if (!w.write(e)) {
        sawBackpressure = true;
        maxPending = Math.max(maxPending, out.stream.writableLength);
        await w.drained();
      }
    }
    await w.end();
    expect(sawBackpressure).toBe(true);
    // never more than one batch handed to the stream beyond its buffer
    expect(maxPending).toBeLessThanOrEqual(2 * FLUSH_CHARS);
    expect(out.text()).toBe([CSV_HEADER, ...events.map(toCsvRow)].join('\n') + '\n');
  });

  it('end() waits until the stream has taken the last chunk', async () => {
    const out = collector({ slow: true, highWaterMark: 16 });
    const w = createEventWriter('jsonl', out.stream, opts);
    for (const e of manyEvents(500)) w.write(e); // ignoring the return value is allowed
    await w.end();
    expect(out.stream.writableLength).toBe(0);
    expect(out.text().split('\n')).toHaveLength(501);
  });

  it('treats EPIPE as the reader going away: quiet, no rejection, later events dropped', async () => {
    const stream = failing('EPIPE');
    const w = createEventWriter('jsonl', stream, opts);
    for (const e of manyEvents(3000)) w.write(e);
    await expect(w.end()).resolves.toBeUndefined();
    expect(w.closed).toBe(true);
  });

  it('survives a real closed pipe (like `smbtrail x.pcap | head`)', async () => {
    const head = spawn('head', ['-c', '10'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise((resolve) => head.on('exit', resolve));
    const w = createEventWriter('jsonl', head.stdin, opts);
    const batch = manyEvents(1000);
    for (let round = 0; round < 200 && !w.closed; round++) {
      for (const e of batch) w.write(e);
      await w.drained();
      if (round === 0) await exited;
    }
    await expect(w.end()).resolves.toBeUndefined();
    expect(w.closed).toBe(true);
  });

  it('rejects end() with any other stream error', async () => {
    const w = createEventWriter('csv', failing('ENOSPC'), opts);
    for (const e of manyEvents(3000)) w.write(e);
    await expect(w.end()).rejects.toThrow('write ENOSPC');
    expect(w.closed).toBe(false);
  });

  it('reports a stream closed before the end instead of hanging', async () => {
    const out = collector({ slow: true, highWaterMark: 16 });
    const w = createEventWriter('jsonl', out.stream, opts);
    for (const e of manyEvents(3000)) w.write(e);
    out.stream.destroy();
    await expect(w.end()).rejects.toThrow('output closed before all events were written');
  });

  it('refuses events after end() and unknown formats', async () => {
    const w = createEventWriter('jsonl', collector().stream, opts);
    await w.end();
    expect(() => w.write(makeEvent())).toThrow('after end');
    expect(() => createEventWriter('xml' as 'csv', collector().stream, opts)).toThrow('unknown output format');
  });
});
