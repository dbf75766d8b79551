/**
 * Requests waiting for their response, per connection, keyed by message id (SMB2 MessageId,
 * SMB1 PID+MID). Bounded: the oldest unanswered request is reported (status null) when full.
 */
import type { Action, SmbEvent } from './event';
import type { ScanState } from './smb2';
import { OpenFile, Session, Stamp, Transfer } from './state';
import { statusName } from '../smb/names';
import { oldestKey } from '../util/oldest';

export interface Pending {
  cmd: number;
  stamp: Stamp;
  seq: number;
  session: Session;
  /** the event this request makes; it is emitted with the response's status */
  ev?: SmbEvent;
  file?: OpenFile;
  /** READ/WRITE: the handle's running total that this answer belongs to */
  transfer?: Transfer;
  /** an open that deletes (FILE_DELETE_ON_CLOSE): on success a delete event follows the create */
  alsoDelete?: boolean;
  /** WRITE: bytes the request carried, counted when no response was captured to say otherwise */
  writeLength?: number;
  /** the event is not worth reporting when the answer has this status (an intermediate logon leg) */
  dropOnStatus?: number;
  /**
   * Runs once the request is answered or known unanswered, after its own event: a CLOSE or
   * LOGOFF reports the handle's read and write totals then, not at the request, as the answers
   * to reads and writes sent before it (a compound CREATE+READ+CLOSE) arrive after it.
   */
  then?: () => void;
}

/** what a decoder says about a request; `newPending` adds the rest */
export type PendingInit = Omit<Pending, 'cmd' | 'stamp' | 'seq'>;

/** a request with every field set (one hidden class for all commands: see newOpenFile) */
export function newPending(cmd: number, stamp: Stamp, seq: number, p: PendingInit): Pending {
  return {
    cmd, stamp, seq, session: p.session, ev: p.ev, file: p.file, transfer: p.transfer, alsoDelete: p.alsoDelete,
    writeLength: p.writeLength, dropOnStatus: p.dropOnStatus, then: p.then,
  };
}

// requests in flight on one connection: clients keep a few hundred at most (SMB2 credits allow
// 8,192); a one-sided capture gets no answers at all, and its oldest are reported early (status
// null, as at the end). 4,096 let 20,000 CREATEs with 4,096-character names hold 159 MiB. An
// eighth of MAX_PENDING_TOTAL: a few connections whose answers were not captured cannot take the
// whole budget from a client still talking (beyond the total, a connection reports its own oldest).
export const MAX_PENDING = 512;

/**
 * Requests in flight on all connections of a scan together. Without it, 1,000 connections of
 * 1,000 unanswered CREATEs (a 258 MB capture) held 1 M requests with their events: the worker ran
 * out of its 256 MB and the whole capture was lost. Beyond it, a connection that adds a request
 * reports its own oldest unanswered one (a busy server's clients keep a few thousand in all;
 * 16,384 still let a flood of out-of-order answers on 1,000 connections peak above 230 MiB, 8,192
 * at 158-166 MiB: see MAX_FILES_TOTAL).
 */
export const MAX_PENDING_TOTAL = 4_096;

/** the response (or its absence: status null) completes a request */
export function complete(scan: ScanState, p: Pending, status: number | null, frame: number | null): void {
  // with --stitch the response can be in the next file: a frame number is only given in the
  // event's own capture (elsewhere it would point at an unrelated packet of that capture)
  const responseFrame = scan.capture === p.stamp.capture ? frame : null;
  const t = p.transfer;
  if (t) {
    if (status === null && p.writeLength) t.bytes += p.writeLength;
    if (t.responseFrame === null && scan.capture === t.first.capture) t.responseFrame = frame;
    if (status !== null && (t.status === null || (t.status !== 0 && status === 0))) t.status = status;
  }
  if (p.ev && !(p.dropOnStatus !== undefined && (status === null || (status >>> 0) === p.dropOnStatus))) {
    p.ev.status = status === null ? null : statusName(status);
    p.ev.response_frame = responseFrame;
    scan.emit({ sec: p.stamp.sec, ns: p.stamp.ns, seq: p.seq, ev: p.ev });
    if (p.alsoDelete && status === 0) {
      const del: SmbEvent = { ...p.ev, action: 'delete' as Action, access: [...p.ev.access], flags: [], attack: [], severity: 'info', rules: [], refs: [] };
      scan.emit({ sec: p.stamp.sec, ns: p.stamp.ns, seq: p.seq, ev: del });
    }
  }
  p.then?.();
}

export class PendingTable {
  private readonly map = new Map<number, Pending>();
  /**
   * The newest request, kept beside the map: most clients wait for each answer, and a Map whose
   * only entry is added and deleted for every message reallocates its table (measured on the
   * metadata capture: 100 bytes per message, 4% of all allocation).
   */
  private slot: Pending | null = null;
  private slotKey = 0;

  constructor(private readonly scan: ScanState) {}

  add(key: number, p: Pending): void {
    if (this.size() >= MAX_PENDING) this.evictOldest();
    const prior = this.get(key);
    if (prior) {
      // a reused id: the first request got no answer; the new one keeps its place in the order
      complete(this.scan, prior, null, null);
      if (this.slot && this.slotKey === key) this.slot = p;
      else this.map.set(key, p);
      return;
    }
    if ((this.scan.pendingTotal ?? 0) >= MAX_PENDING_TOTAL && this.size() > 0) this.evictOldest();
    if (this.slot) this.map.set(this.slotKey, this.slot);
    this.slot = p;
    this.slotKey = key;
    this.scan.pendingTotal = (this.scan.pendingTotal ?? 0) + 1;
  }

  /** the request a response answers, left in place (to decide how much of the response to keep) */
  peek(key: number): Pending | undefined {
    return this.get(key);
  }

  take(key: number, cmd: number): Pending | undefined {
    const p = this.get(key);
    if (!p || p.cmd !== cmd) return undefined;
    this.remove(key);
    return p;
  }

  /** the connection ended: what is left never got an answer */
  drain(): void {
    const rest = [...this.map.values()];
    if (this.slot) rest.push(this.slot);
    this.map.clear();
    this.slot = null;
    this.scan.pendingTotal = (this.scan.pendingTotal ?? 0) - rest.length;
    for (const p of rest) complete(this.scan, p, null, null);
  }

  private size(): number {
    return this.map.size + (this.slot ? 1 : 0);
  }

  /** the oldest request is reported unanswered; the slot is the newest, so it is in the map */
  private evictOldest(): void {
    const oldKey = this.map.size > 0 ? oldestKey(this.map) as number : this.slotKey;
    const old = this.get(oldKey) as Pending;
    this.remove(oldKey);
    complete(this.scan, old, null, null);
    this.scan.anomaly('unanswered_requests_evicted');
  }

  private get(key: number): Pending | undefined {
    if (this.slot && this.slotKey === key) return this.slot;
    return this.map.get(key);
  }

  private remove(key: number): void {
    if (this.slot && this.slotKey === key) this.slot = null;
    else if (!this.map.delete(key)) return;
    this.scan.pendingTotal = (this.scan.pendingTotal ?? 0) - 1;
  }
}
