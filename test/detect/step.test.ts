/**
 * Rule hits wait for the stories packed as JSON lines (detect/step.ts): every event of the lab
 * captures must come back field for field, and an attacker's names must survive the trip.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/events/record';
import { scanCapture } from '../../src/scan/scan-capture';
import { ALL_EVENTS } from '../../src/scan/filter';
import { admit, detectWithStep, MAX_STEP_BYTES, newTally } from '../../src/scan/jobs';
import * as os from 'os';
import { batchBytes, batchOf, firstHits, MAX_OPEN_STEP_FILES, packStep, StepBatch, stepCollector, StepBudget, stepsInOrder, unpackStep } from '../../src/detect/step';
import { SorterError } from '../../src/events/sorter';
import { compareRecords } from '../../src/events/record';
import { CAPTURES } from '../e2e/truth';

describe('packed steps', () => {
  const all: EventRecord[] = [];

  it('give back every lab event unchanged, and take less room than the event as JSON', async () => {
    const files = fs.readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(13);
    let n = 0, packed = 0, whole = 0;
    for (const f of files) {
      const recs: EventRecord[] = [];
      await scanCapture(path.join(CAPTURES, f), f, (r) => { recs.push(detectWithStep(r, ALL_EVENTS)); });
      all.push(...recs);
      for (const r of recs) {
        const p = packStep(r);
        expect(unpackStep(p)).toEqual(r);
        packed += p.ev.line.length;
        whole += JSON.stringify(r.ev).length;
        n++;
      }
    }
    expect(n).toBeGreaterThan(2000);
    expect(packed).toBeLessThan(whole * 0.8);
  });

  it('come out of several batches in output order, each event whole', () => {
    expect(all.length).toBeGreaterThan(2000);
    // two batches of interleaved halves, each in reverse: the order must come from the keys
    const odd = all.filter((_, i) => i % 2 === 1).reverse(), even = all.filter((_, i) => i % 2 === 0).reverse();
    const got = [...stepsInOrder([batchOf(odd), batchOf(even)])].map(unpackStep);
    // records that tie on every key (a create and a delete of one message) may swap
    const key = (r: EventRecord): string => `${r.sec} ${r.ns} ${r.ev.capture} ${r.ev.frame} ${r.seq}`;
    expect(got.map(key)).toEqual([...all].sort(compareRecords).map(key));
    const text = (rs: EventRecord[]): string[] => rs.map((r) => JSON.stringify(r)).sort();
    expect(text(got)).toEqual(text(all));
    // a batch cut to its first hits (the total bound in run-scan) yields only those
    const cut = { ...batchOf(even), count: 10 };
    expect(text([...stepsInOrder([cut])].map(unpackStep))).toEqual(text(even.slice(0, 10)));
  });

  it('a worker\'s hits wait in a file: the batch holds numbers only, and gives back the same hits as one held in memory, cut or not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-steps-'));
    try {
      const odd = all.filter((_, i) => i % 2 === 1).reverse(), even = all.filter((_, i) => i % 2 === 0).reverse();
      const onDisk = (recs: EventRecord[], name: string): StepBatch => {
        const c = stepCollector(path.join(dir, name));
        for (const r of recs) c.add(r);
        const b = c.done();
        expect(b.text).toBeNull();
        expect(batchBytes(b)).toBe(c.bytes);
        expect(fs.statSync(b.file as string).size).toBe(c.bytes);
        return b;
      };
      const files = [onDisk(odd, 'odd.steps'), onDisk(even, 'even.steps')];
      const mem = [batchOf(odd), batchOf(even)];
      expect(files.map(batchBytes)).toEqual(mem.map(batchBytes));
      const lines = (bs: StepBatch[]): string[] => [...stepsInOrder(bs)].map((r) => `${r.sec} ${r.ns} ${r.seq} ${r.ev.capture} ${r.ev.frame} ${r.ev.line}`);
      expect(lines(files)).toEqual(lines(mem));
      // the bounds on all files cut a file-backed batch like one in memory
      const kept = (bs: StepBatch[]): string[] => {
        const budget = new StepBudget(all.length, Math.floor(batchBytes(bs[0]) * 1.5));
        bs.forEach((b, i) => budget.add(i, b));
        return lines(budget.take());
      };
      expect(kept(files)).toEqual(kept(mem));
      expect(kept(files).length).toBeLessThan(all.length);
      // no hit: no file is named
      expect(stepCollector(path.join(dir, 'none.steps')).done()).toMatchObject({ count: 0, file: null });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hits of hundreds of files are read back with a bounded number of step files open (found in review: one per file ran out of descriptors)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-steps-'));
    try {
      // 300 files of two hits each, the hits of all files interleaved in time
      const batches = Array.from({ length: 300 }, (_, f) => {
        const c = stepCollector(path.join(dir, `f${f}.steps`));
        for (const k of [0, 1]) c.add({ ...all[f], sec: 1000 + k, ns: f, ev: { ...all[f].ev, capture: `c${String(f).padStart(3, '0')}.pcap` } });
        return c.done();
      });
      const fds = (): number => fs.readdirSync('/proc/self/fd').length;
      const before = fds();
      let peak = 0, n = 0;
      for (const r of stepsInOrder(batches)) {
        peak = Math.max(peak, fds() - before);
        expect(unpackStep(r).ev.capture).toBe(r.ev.capture);
        n++;
      }
      expect(n).toBe(600);
      expect(peak).toBeLessThanOrEqual(Math.min(64, MAX_OPEN_STEP_FILES));
      expect(fds()).toBe(before);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a step file that cannot be written costs its hits, counted as lost; one that cannot be read back is a SorterError', () => {
    // a write fails once 64 KiB of lines are waiting, or at the end
    for (const n of [3, 500]) {
      const c = stepCollector(path.join(os.tmpdir(), 'smbtrail-no-such-dir', 'x.steps'));
      for (const r of all.slice(0, n)) c.add(r);
      expect(c.done()).toMatchObject({ count: 0, file: null });
      expect(c.lost).toBe(n);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smbtrail-steps-'));
    try {
      const w = stepCollector(path.join(dir, 'a.steps'));
      for (const r of all.slice(0, 50)) w.add(r);
      const b = w.done();
      fs.truncateSync(b.file as string, 100);
      expect(() => [...stepsInOrder([b])]).toThrow(SorterError);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keep names with lone surrogates, quotes, control characters and nested arguments', () => {
    const r: EventRecord = {
      sec: 1, ns: 2, seq: 3,
      ev: {
        ts: '1970-01-01T00:00:01.000000002Z', capture: 'a "b"\u001b.pcap', frame: 7, response_frame: null, src_ip: '::1', src_port: 1,
        dst_ip: '::2', dst_port: 445, smb_dialect: '3.1.1', session_id: null, user: 'ad\ud800min', domain: null, workstation: null,
        action: 'rpc', share: '\\\\h\\IPC$', share_type: 'pipe', tree_id: null, path: 'svcctl', new_path: null, status: null,
        disposition: null, access: [], bytes: 0, rpc_interface: 'svcctl', rpc_operation: 'CreateServiceW',
        rpc_args: { service_name: 'x\u0000y', binary_path: '=cmd|"/c calc"!A1' }, flags: ['IPC$'], attack: ['T1569.002'],
        severity: 'high', rules: ['SVC-CREATE'], summary: null, refs: [],
      },
    };
    const back = unpackStep(packStep(r));
    expect(back).toEqual(r);
    expect([...stepsInOrder([batchOf([r])])].map(unpackStep)).toEqual([r]);
    expect(back.ev.bytes).toBe(0);
  });
});

describe('the bytes of rule hits kept for the stories', () => {
  /** a CreateService call whose names are as long as the RPC decoder keeps (32,768 characters) */
  const hostile = (i: number): EventRecord => ({
    sec: 1000 + i, ns: 0, seq: i,
    ev: {
      ts: '1970-01-01T00:16:40.000000000Z', capture: 'flood.pcap', frame: i + 1, response_frame: null, src_ip: '10.0.0.5', src_port: 50000,
      dst_ip: '10.0.0.12', dst_port: 445, smb_dialect: '3.1.1', session_id: '0x1', user: 'eve', domain: 'CORP', workstation: null,
      action: 'rpc', share: '\\\\h\\IPC$', share_type: 'pipe', tree_id: null, path: 'svcctl', new_path: null, status: 'STATUS_SUCCESS',
      disposition: null, access: [], bytes: null, rpc_interface: 'svcctl', rpc_operation: 'CreateServiceW',
      rpc_args: { service_name: `s${i}${'é'.repeat(32_760)}`, binary_path: `C:\\${'x'.repeat(32_760)}.exe` }, flags: [], attack: [],
      severity: 'info', rules: [], summary: null, refs: [],
    },
  });

  it('stop at MAX_STEP_BYTES per file: beyond, hits are counted as dropped (a flood of long names cannot hold gigabytes)', () => {
    const tally = newTally();
    const steps = stepCollector();
    const n = 400; // ~100 KB per hit: ~40 MB offered
    for (let i = 0; i < n; i++) admit(hostile(i), { filter: ALL_EVENTS, format: 'jsonl' }, tally, steps);
    expect(steps.count + tally.stepsDropped).toBe(n);
    expect(tally.stepsDropped).toBeGreaterThan(0);
    // at most one hit beyond the budget
    expect(steps.bytes).toBeGreaterThanOrEqual(MAX_STEP_BYTES);
    expect(steps.bytes).toBeLessThan(MAX_STEP_BYTES + 200_000);
    const b = steps.done();
    expect(batchBytes(b)).toBe(steps.bytes);
    expect(b.text?.byteLength).toBe(steps.bytes);
    // the kept hits are whole and in order
    const back = [...stepsInOrder([b])].map(unpackStep);
    expect(back.length).toBe(steps.count);
    expect(back[0].ev.rpc_args).toEqual(hostile(0).ev.rpc_args);
  });

  it('a batch is cut to its first hits within a count and a byte budget (the bounds on all files together)', () => {
    const recs = Array.from({ length: 5 }, (_, i) => hostile(i));
    const b = batchOf(recs);
    const text = b.text as Uint8Array;
    const one = text.indexOf(10) + 1;
    const all = text.byteLength;
    expect(firstHits(b, 10, all)).toEqual({ count: 5, bytes: all });
    expect(firstHits(b, 10, one - 1)).toEqual({ count: 0, bytes: 0 });
    expect(firstHits(b, 10, one)).toEqual({ count: 1, bytes: one });
    expect(firstHits(b, 0, all)).toEqual({ count: 0, bytes: 0 });
    const three = firstHits(b, 3, all);
    expect(three.count).toBe(3);
    expect(firstHits(b, 10, three.bytes + 10)).toEqual(three);
    const cut = { ...b, count: 3, text: text.slice(0, three.bytes), ends: b.ends.slice(0, 3) };
    expect([...stepsInOrder([cut])].map((r) => unpackStep(r).ev.frame)).toEqual([1, 2, 3]);
  });

  it('the bounds on all files keep the same hits whatever order the files finish in (as --jobs 1 would: found in review)', () => {
    // six files of 7 hits each; bounds of 20 hits and of a byte count inside the fourth file
    const files = Array.from({ length: 6 }, (_, f) => batchOf(Array.from({ length: 7 }, (_, i) => ({ ...hostile(f * 7 + i), ev: { ...hostile(f * 7 + i).ev, capture: `c${f}.pcap` } }))));
    const perHit = batchBytes(files[0]) / 7;
    const kept = (order: number[], maxCount: number, maxBytes: number): string => {
      const b = new StepBudget(maxCount, maxBytes);
      for (const f of order) b.add(f, files[f]);
      const hits = [...stepsInOrder(b.take())].map((r) => `${r.ev.capture}#${r.ev.frame}`);
      return `${hits.join(' ')} dropped ${b.dropped}`;
    };
    for (const [maxCount, maxBytes] of [[20, 1e12], [1000, Math.floor(perHit * 24.5)], [20, Math.floor(perHit * 17.5)]]) {
      const inOrder = kept([0, 1, 2, 3, 4, 5], maxCount, maxBytes);
      expect(kept([5, 3, 1, 0, 4, 2], maxCount, maxBytes)).toBe(inOrder);
      expect(kept([4, 5, 2, 3, 0, 1], maxCount, maxBytes)).toBe(inOrder);
      const n = inOrder.split(' dropped ')[0].split(' ').length;
      expect(n).toBe(Math.min(maxCount, Math.floor(maxBytes / perHit)));
      expect(inOrder).toContain(`dropped ${42 - n}`);
    }
  });
});
