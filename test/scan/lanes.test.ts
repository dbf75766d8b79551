/**
 * The lanes' scheduler with fake workers, to pin interleavings down in time. Found in review: a lane that
 * decides to wait, then awaits its idle worker's terminate() before parking, misses every wake()
 * that happens meanwhile (lost wake-up). If the other lanes finish everything in that window, the
 * waiting lane parks with nobody left to wake it and runLanes never resolves.
 */
import { EventEmitter } from 'events';
import type { Worker } from 'worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLanes } from '../../src/scan/lanes';
import type { InputFile } from '../../src/cli/inputs';

type Msg = { type: 'done'; i: number };

class FakeWorker extends EventEmitter {
  private timer: NodeJS.Timeout | null = null;
  busy = false;
  constructor(readonly id: number, private readonly scanMs: (i: number, attempt: number) => number, private readonly terminateMs: (id: number, busy: boolean) => number) { super(); }
  postMessage(m: { type: string; i: number; attempt: number }): void {
    if (m.type !== 'file') return;
    this.busy = true;
    this.timer = setTimeout(() => { this.busy = false; this.emit('message', { type: 'done', i: m.i }); }, this.scanMs(m.i, m.attempt));
  }
  terminate(): Promise<number> {
    if (this.timer) clearTimeout(this.timer);
    const ms = this.terminateMs(this.id, this.busy);
    return new Promise((r) => setTimeout(() => r(1), ms));
  }
}

function scenario(idleTerminateOfFirstWorkerMs: number) {
  const files = [0, 1].map((k) => ({ path: `f${k}`, label: `f${k}` }) as unknown as InputFile);
  const log: string[] = [];
  let made = 0;
  const p = runLanes<Msg>({
    files,
    schedule: [0, 1],
    lanes: 2,
    // f0 takes 60 ms; f1 would take 5 s on its first attempt (the governor stops it at the first poll)
    newWorker: () => new FakeWorker(++made, (i, a) => (i === 0 ? 60 : a === 0 ? 5000 : 20),
      // a busy worker takes 100 ms to go (stopped in a synchronous write); the first worker,
      // idle when terminated, takes `idleTerminateOfFirstWorkerMs`; the others 10 ms
      (id, busy) => (busy ? 100 : id === 1 ? idleTerminateOfFirstWorkerMs : 10)) as unknown as Worker,
    start: (i, attempt) => ({ type: 'file', i, attempt }),
    deliver: async (i, m) => { log.push(`${m.type} f${i}`); },
    ends: () => true,
    crashed: (i) => { log.push(`crashed f${i}`); },
    discard: (i, attempt) => { log.push(`stopped f${i}#${attempt}`); },
  });
  return { p, log };
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'hung'> => Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms))]);

let saved: string | undefined;
beforeAll(() => { saved = process.env.SMBTRAIL_GOVERNOR_MIB; process.env.SMBTRAIL_GOVERNOR_MIB = '1'; });
afterAll(() => { if (saved === undefined) delete process.env.SMBTRAIL_GOVERNOR_MIB; else process.env.SMBTRAIL_GOVERNOR_MIB = saved; });

describe('runLanes scheduler', () => {
  it('control: the idle worker terminates quickly: both files done, runLanes resolves', async () => {
    const { p, log } = scenario(10);
    expect(await within(p, 3000)).toBeUndefined();
    expect(log).toEqual(['done f0', 'stopped f1#0', 'done f1']);
  });
  it('lost wake-up (found in review): lane A decides to wait (f1 deferred, lane B still being stopped) and its idle worker takes 1 s to terminate while B rescans f1 alone and ends: A still wakes and runLanes returns', async () => {
    const { p, log } = scenario(1000);
    const r = await within(p, 3000);
    // every file was handled, yet runLanes did not return (the governor's setInterval keeps a real process alive)
    expect(log).toEqual(['done f0', 'stopped f1#0', 'done f1']);
    expect(r).toBeUndefined();
  });
});

/** generic harness: scanMs(i, attempt) or 'crash'; a terminated busy worker delivers its pending 'done' while exiting (Node drains the port) */
function harness(n: number, lanes: number, plan: (i: number, attempt: number) => number | 'crash', drainOnTerminate = false) {
  const files = Array.from({ length: n }, (_, k) => ({ path: `f${k}`, label: `f${k}` }) as unknown as InputFile);
  const log: string[] = [];
  let running = 0, maxRunning = 0, exclusiveOverlap = false;
  const alone = new Set<number>();
  class W extends EventEmitter {
    timer: NodeJS.Timeout | null = null; pending: Msg | null = null;
    postMessage(m: { type: string; i: number; attempt: number }): void {
      if (m.type !== 'file') return;
      running++; maxRunning = Math.max(maxRunning, running);
      if (m.attempt > 0) { alone.add(m.i); if (running > 1) exclusiveOverlap = true; }
      for (const a of alone) if (a !== m.i && running > 1) exclusiveOverlap = true;
      const p = plan(m.i, m.attempt);
      this.timer = setTimeout(() => {
        this.timer = null; running--; alone.delete(m.i);
        if (p === 'crash') { const e = Object.assign(new Error('oom'), { code: 'ERR_WORKER_OUT_OF_MEMORY' }); this.emit('error', e); return; }
        this.emit('message', { type: 'done', i: m.i });
      }, p === 'crash' ? 30 : p);
      this.pending = { type: 'done', i: m.i };
    }
    terminate(): Promise<number> {
      if (this.timer) { clearTimeout(this.timer); this.timer = null; running--; if (this.pending) alone.delete(this.pending.i); if (drainOnTerminate && this.pending) this.emit('message', this.pending); }
      return new Promise((r) => setTimeout(() => r(1), 5));
    }
  }
  const p = runLanes<Msg>({
    files, schedule: files.map((_, k) => k), lanes,
    newWorker: () => new W() as unknown as Worker,
    start: (i, attempt) => ({ type: 'file', i, attempt }),
    deliver: async (i) => { log.push(`done f${i}`); },
    ends: () => true,
    crashed: (i) => { log.push(`crashed f${i}`); },
    discard: (i, attempt) => { log.push(`stopped f${i}#${attempt}`); },
  });
  return { p, log, stats: () => ({ maxRunning, exclusiveOverlap }) };
}

describe('runLanes: stops, crashes and more lanes', () => {
  it('a crash (out of memory) during the exclusive rescan: reported once, the rest goes on, runLanes returns', async () => {
    const h = harness(4, 2, (i, a) => (i === 1 && a === 1 ? 'crash' : a === 0 && i % 2 === 1 ? 400 : 50));
    expect(await within(h.p, 5000)).toBeUndefined();
    const ends = h.log.filter((l) => !l.startsWith('stopped')).sort();
    expect(ends).toEqual(['crashed f1', 'done f0', 'done f2', 'done f3']);
    expect(h.stats().exclusiveOverlap).toBe(false);
  });
  it("a stopped worker's 'done' delivered while it exits is dropped; the file is counted once (rescan)", async () => {
    const h = harness(3, 2, (_i, a) => (a === 0 ? 200 : 20), true);
    expect(await within(h.p, 5000)).toBeUndefined();
    const ends = h.log.filter((l) => !l.startsWith('stopped')).sort();
    expect(ends).toEqual(['done f0', 'done f1', 'done f2']);
  });
  for (const lanes of [3, 4]) {
    it(`--jobs ${lanes}: several stops, every file once, no exclusive overlap`, async () => {
      const h = harness(9, lanes, (i, a) => (a === 0 ? 60 + 10 * i : 15));
      expect(await within(h.p, 8000)).toBeUndefined();
      const ends = h.log.filter((l) => !l.startsWith('stopped')).sort();
      expect(ends).toEqual(Array.from({ length: 9 }, (_, k) => `done f${k}`).sort());
      expect(h.log.filter((l) => l.startsWith('stopped')).length).toBeGreaterThan(1);
      expect(h.stats().exclusiveOverlap).toBe(false);
    });
  }
});

describe('runLanes: a worker that goes away, a delivery that throws', () => {
  // the governor out of the way (a line no process reaches): these tests are about ends, not stops
  let outer: string | undefined;
  beforeAll(() => { outer = process.env.SMBTRAIL_GOVERNOR_MIB; process.env.SMBTRAIL_GOVERNOR_MIB = String(2 ** 20); });
  afterAll(() => { if (outer === undefined) delete process.env.SMBTRAIL_GOVERNOR_MIB; else process.env.SMBTRAIL_GOVERNOR_MIB = outer; });
  /** file 1's worker exits (code 3) without an 'error' event; the others answer 'done' */
  function exiting(deliverThrowsOn: number | null) {
    const files = [0, 1, 2, 3].map((k) => ({ path: `f${k}`, label: `f${k}` }) as unknown as InputFile);
    const log: string[] = [];
    class W extends EventEmitter {
      postMessage(m: { type: string; i: number }): void {
        if (m.type !== 'file') return;
        setTimeout(() => (m.i === 1 && deliverThrowsOn === null ? this.emit('exit', 3) : this.emit('message', { type: 'done', i: m.i })), 10);
      }
      terminate(): Promise<number> { return Promise.resolve(0); }
    }
    const p = runLanes<Msg>({
      files, schedule: [0, 1, 2, 3], lanes: 2,
      newWorker: () => new W() as unknown as Worker,
      start: (i, attempt) => ({ type: 'file', i, attempt }),
      deliver: async (i) => { if (i === deliverThrowsOn) throw new Error('a bug in delivery'); log.push(`done f${i}`); },
      ends: () => true,
      crashed: (i, e) => { log.push(`crashed f${i}: ${e.message}`); },
      discard: () => { log.push('stopped'); },
    });
    return { p, log };
  }
  it('a worker exiting without an error: its file is reported, the others are scanned, runLanes returns', async () => {
    const { p, log } = exiting(null);
    expect(await within(p, 3000)).toBeUndefined();
    expect([...log].sort()).toEqual(['crashed f1: scanning thread exited with code 3', 'done f0', 'done f2', 'done f3']);
  });
  it('a delivery that throws: the other files still end and runLanes rejects with that error instead of hanging', async () => {
    const { p, log } = exiting(2);
    await expect(within(p, 3000)).rejects.toThrow('a bug in delivery');
    expect([...log].sort()).toEqual(['done f0', 'done f1', 'done f3']);
  });
});
