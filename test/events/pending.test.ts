/**
 * PendingTable keeps its newest request in a "slot" beside the Map (fewer allocations); it must
 * behave exactly like the Map-only table it replaced (adf650e), reused message ids and a full
 * table included: OldPendingTable below is that version, verbatim (found in review).
 */
import { describe, expect, it } from 'vitest';
import { complete, MAX_PENDING, MAX_PENDING_TOTAL, Pending, PendingTable } from '../../src/events/pending';
import type { ScanState } from '../../src/events/smb2';
import { oldestKey } from '../../src/util/oldest';
import { CMD, ACCESS, DISPOSITION, fileId, smallBody, writeRequestBody } from '../helpers/build';
import { CaptureBuilder, only, scanBuilder, Smb2Client } from '../helpers/conversation';

// the reference keeps the current per-connection bound (it was 1,024 when it was written)
class OldPendingTable {
  private readonly map = new Map<number, Pending>();
  constructor(private readonly scan: ScanState) {}
  add(key: number, p: Pending): void {
    if (this.map.size >= MAX_PENDING) {
      const oldKey = oldestKey(this.map) as number;
      const old = this.map.get(oldKey) as Pending;
      this.map.delete(oldKey);
      complete(this.scan, old, null, null);
      this.scan.anomaly('unanswered_requests_evicted');
    }
    const prior = this.map.get(key);
    if (prior) complete(this.scan, prior, null, null);
    this.map.set(key, p);
  }
  peek(key: number): Pending | undefined { return this.map.get(key); }
  take(key: number, cmd: number): Pending | undefined {
    const p = this.map.get(key);
    if (!p || p.cmd !== cmd) return undefined;
    this.map.delete(key);
    return p;
  }
  drain(): void {
    for (const p of this.map.values()) complete(this.scan, p, null, null);
    this.map.clear();
  }
}

type Table = { add(k: number, p: Pending): void; take(k: number, c: number): Pending | undefined; drain(): void };
function harness(make: (s: ScanState) => Table) {
  const log: string[] = [];
  const scan = { capture: 'c', emit: (r: { ev: { path: string | null } }) => log.push(`done ${r.ev.path}`), anomaly: (k: string) => log.push(k) } as unknown as ScanState;
  const t = make(scan);
  const add = (k: number, name: string): void => t.add(k, { cmd: 5, stamp: { capture: 'c', sec: 0, ns: 0, digits: 6, frame: 1 }, seq: 0, session: {} as never, ev: { path: name, access: [] } as never } as Pending);
  return { log, t, add };
}

function scenario(make: (s: ScanState) => Table): string[] {
  const { log, t, add } = harness(make);
  for (let k = 0; k < MAX_PENDING; k++) add(k, `r${k}`);
  add(0, 'again0'); // the oldest id used again while the table is full
  log.push(`take 1 -> ${t.take(1, 5)?.ev?.path ?? '-'}`);
  add(5000, 'x');
  add(5001, 'y');
  log.push(`take 2 -> ${t.take(2, 5)?.ev?.path ?? '-'}`);
  return log;
}

function drainOrder(make: (s: ScanState) => Table): string[] {
  const { log, t, add } = harness(make);
  add(1, 'a'); add(2, 'b'); add(1, 'c'); // id 1 reused: 'a' unanswered
  t.drain();
  return log;
}

describe('PendingTable, slot version vs Map-only version', () => {
  it('gives the same answers, evictions, anomalies and completion order on random operations', () => {
    let seed = 7;
    const r = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const play = (make: (s: ScanState) => Table & { peek(k: number): Pending | undefined }, ops: [string, number][]): string[] => {
      const log: string[] = [];
      const scan = { capture: 'c', emit: (x: { ev: { path: string } }) => log.push(`emit ${x.ev.path}`), anomaly: (k: string) => log.push(k) } as unknown as ScanState;
      const t = make(scan);
      let n = 0;
      for (const [op, k] of ops) {
        if (op === 'add') t.add(k, { cmd: 5, stamp: { capture: 'c', sec: 0, ns: 0, digits: 6, frame: 1 }, seq: n, session: {} as never, ev: { path: `r${n++}`, access: [] } as never } as Pending);
        else if (op === 'take') log.push(`take ${k} ${t.take(k, 5)?.ev?.path ?? '-'}`);
        else if (op === 'peek') log.push(`peek ${k} ${t.peek(k)?.ev?.path ?? '-'}`);
        else { log.push('drain'); t.drain(); }
      }
      t.drain();
      return log;
    };
    for (let trial = 0; trial < 60; trial++) {
      const keys = [4, 50, 1030, 3000, 1 << 20][trial % 5];
      const ops: [string, number][] = [];
      for (let i = 0, n = 500 + Math.floor(r() * 3000); i < n; i++) {
        const x = r(), k = Math.floor(r() * keys);
        ops.push([x < 0.75 ? 'add' : x < 0.9 ? 'take' : x < 0.995 ? 'peek' : 'drain', k]);
      }
      expect(play((s) => new PendingTable(s), ops)).toEqual(play((s) => new OldPendingTable(s), ops));
    }
  });

  it('full table, a reused id: same evictions, anomalies and answers as before', () => {
    expect(scenario((s) => new PendingTable(s))).toEqual(scenario((s) => new OldPendingTable(s)));
  });
  it('drain order after a reused id is the same as before', () => {
    expect(drainOrder((s) => new PendingTable(s))).toEqual(drainOrder((s) => new OldPendingTable(s)));
  });
});

describe('drain order is visible in the output', () => {
  it('WRITE, LOGOFF, WRITE reusing the first WRITE\'s MessageId, no answers: the second WRITE\'s bytes are counted', () => {
    const SID = 0x0000040000000011n;
    const cap = new CaptureBuilder();
    const conv = cap.conversation().handshake();
    const cl = new Smb2Client(conv, SID);
    cl.negotiate(0x0311);
    cl.treeConnect('\\\\10.0.0.12\\C$', 5, 1);
    cl.create(5, { name: 'f.bin', access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.OPEN }, fileId(1));
    cl.exchange({ command: CMD.WRITE, treeId: 5, messageId: 100 }, writeRequestBody(fileId(1), Buffer.alloc(1000)), null);
    cl.exchange({ command: CMD.LOGOFF, messageId: 101 }, smallBody(), null);
    cl.exchange({ command: CMD.WRITE, treeId: 5, messageId: 100 }, writeRequestBody(fileId(1), Buffer.alloc(234)), null);
    conv.fin();
    const w = only(scanBuilder(cap), 'write');
    // adf650e: one write event of 1234 bytes
    expect(w.map((e) => e.bytes)).toEqual([1234]);
  });
});

describe('requests in flight on all connections together', () => {
  it('stay under MAX_PENDING_TOTAL: a connection adding beyond it reports its own oldest; every request is reported once', () => {
    const log: string[] = [];
    let evicted = 0;
    const scan = { capture: 'c', pendingTotal: 0, emit: (x: { ev: { path: string } }) => log.push(x.ev.path), anomaly: (k: string) => { if (k === 'unanswered_requests_evicted') evicted++; } } as unknown as ScanState;
    // 1,000 connections of 1,000 unanswered CREATEs made a 258 MB capture that needed > 256 MB
    const tables = Array.from({ length: 40 }, () => new PendingTable(scan));
    let n = 0, peak = 0;
    for (let i = 0; i < 1000; i++) {
      for (const t of tables) {
        t.add(i, { cmd: 5, stamp: { capture: 'c', sec: 0, ns: 0, digits: 6, frame: 1 }, seq: n, session: {} as never, ev: { path: `r${n++}`, access: [] } as never } as Pending);
        peak = Math.max(peak, scan.pendingTotal ?? 0);
      }
    }
    expect(n).toBe(40_000);
    expect(peak).toBeLessThanOrEqual(MAX_PENDING_TOTAL + tables.length);
    expect(evicted).toBe(n - (scan.pendingTotal ?? 0));
    // answers still find the requests kept: the newest of each connection
    expect(tables[7].take(999, 5)?.ev?.path).toBe(`r${999 * 40 + 7}`);
    for (const t of tables) t.drain();
    expect(scan.pendingTotal).toBe(0);
    expect(log).toHaveLength(n - 1);
    expect(new Set(log).size).toBe(n - 1);
  });
});
