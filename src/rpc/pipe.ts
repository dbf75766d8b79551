import { lookupInterface, operationName } from './interfaces';
import {
  AUTH_LEVEL_PKT_PRIVACY,
  BindAckPdu,
  BindPdu,
  CommonHeader,
  FaultPdu,
  HEADER_LEN,
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  RequestPdu,
  ResponsePdu,
  parseHeader,
  parsePdu,
  plausibleHeader,
  plausibleHeaderPrefix,
} from './pdu';
import type { RpcCall, RpcContext } from './types';
import { oldestKey } from '../util/oldest';
import { giveStubBuffer, stubClass, takeStubBuffer } from './stub-pool';

/**
 * One DCE/RPC association: the two byte streams of a named-pipe handle, or of a TCP connection
 * carrying DCE/RPC. The caller hands in the bytes of each direction in order, cut anywhere (one
 * SMB WRITE may hold several PDUs or part of one, a READ may end mid-header); this class finds
 * the PDUs with frag_length, follows the presentation contexts bound, puts REQUEST and RESPONSE
 * fragments back together per call_id, and reports each call once it is answered (or at close()).
 *
 * Memory is bounded whatever the peer sends: a partial PDU is at most 65,535 bytes (frag_length
 * is 16 bits), a stub at most `maxStub`, all stubs of a pipe together at most `maxBuffered` bytes
 * (in buffers of up to twice that room, as they grow by doubling),
 * at most `maxCalls` calls and `maxContexts` contexts are remembered. Beyond a bound, data is
 * dropped and `anomaly` is told why; calls are still reported, with a null stub.
 */

export interface RpcPipeCallbacks<T> {
  /** a call completed (RESPONSE last fragment or FAULT), or unanswered at close() / eviction */
  onCall(call: RpcCall<T>): void;
  /** contexts accepted by a BIND_ACK / ALTER_CONTEXT_RESP, or offered by a BIND whose answer was not seen */
  onBind?(contexts: RpcContext[], at: T): void;
  /** the client's authentication token (auth_value) in a BIND, ALTER_CONTEXT or AUTH3: NTLMSSP or SPNEGO */
  onAuth?(token: Buffer, authType: number, at: T): void;
  /** something was dropped or malformed; `kind` is one of the RPC_ANOMALY values */
  anomaly(kind: string): void;
}

export interface RpcPipeLimits {
  /** bytes of one request or response stub */
  maxStub: number;
  /** bytes of all stubs being assembled on the pipe */
  maxBuffered: number;
  /** calls awaiting an answer */
  maxCalls: number;
  /** presentation contexts remembered */
  maxContexts: number;
  /**
   * onCall keeps no view of a call's request or response stub once it returns, so their memory
   * can serve later stubs (see stub-pool.ts)
   */
  reuseStubs: boolean;
  /**
   * stub bytes held by every pipe of a scan together (shared, mutated): one pipe's maxBuffered
   * does not bound a capture of many connections each holding unfinished calls (found by
   * fuzzing: 4 MB a connection, 90 connections 449 MB)
   */
  held?: HeldStubs;
}

/**
 * The stub bytes of a scan's pipes together. When a new stub does not fit, the calls held longest
 * give theirs up (reported with a null stub when they end): refusing the new one instead let
 * connections that never finish their calls blind every later call of the capture (found in
 * review).
 */
export interface HeldStubs {
  limit: number;
  used: number;
  /** pipes holding stub bytes, the one holding longest first */
  holders: Set<StubHolder>;
}
export interface StubHolder {
  /** drops the stubs of this pipe's oldest call that holds any (not `keep`'s); false when none */
  evictOldest(keep: Stub): boolean;
}

export const heldStubs = (limit: number): HeldStubs => ({ limit, used: 0, holders: new Set() });

export const DEFAULT_RPC_LIMITS = (): RpcPipeLimits => ({
  maxStub: 1 << 20,
  maxBuffered: 4 << 20,
  maxCalls: 256,
  maxContexts: 1024,
  reuseStubs: false,
});

/** anomaly kinds reported through `anomaly` */
export const RPC_ANOMALY = {
  /** bytes skipped to find a PDU header (mid-stream start, lost segment, garbage) */
  resync: 'rpc_resync',
  /** a PDU whose header is valid but whose body is not */
  malformed: 'rpc_malformed_pdu',
  /** a partial PDU was pending at close() */
  truncated: 'rpc_truncated_pdu',
  /** a stub exceeded maxStub or the pipe's maxBuffered: the stub is reported as null */
  stubTooLarge: 'rpc_stub_too_large',
  /** the stubs of all pipes together reached the scan's limit (held): the longest-held call's stubs were dropped (reported as null) */
  stubsHeldBudget: 'rpc_stubs_budget_exceeded',
  /** more than maxCalls unanswered calls: the oldest was reported unanswered */
  callsEvicted: 'rpc_calls_evicted',
  /** more than maxContexts contexts: the new ones were not remembered */
  contextsDropped: 'rpc_contexts_dropped',
  /** a middle or last fragment whose first fragment was not seen */
  fragmentWithoutFirst: 'rpc_fragment_without_first',
  /** a RESPONSE or FAULT for a call_id with no REQUEST seen */
  answerWithoutRequest: 'rpc_answer_without_request',
  /** a BIND_ACK result list whose length differs from the contexts offered */
  bindAckMismatch: 'rpc_bind_ack_mismatch',
} as const;

/** A stub assembled from fragments in one growing buffer (never one Buffer per fragment). */
export class Stub {
  buf: Buffer | null = null;
  len = 0;
  /** false once data was lost (bound, missing fragment, encryption): the stub reports null */
  ok = true;
}

interface Call<T> {
  callId: number;
  opnum: number;
  ctxId: number;
  uuid: string | null;
  ndr64: boolean;
  authLevel: number;
  littleEndian: boolean;
  request: Stub;
  requestDone: boolean;
  requestAt: T;
  response: Stub | null;
  responseEncrypted: boolean;
}

/** the NDR64 transfer syntax (MS-RPCE 2.2.5.1.1) */
const NDR64_SYNTAX = '71710533-beba-4937-8319-b5dbef9ccc36';

interface Ctx {
  ctx: RpcContext;
  /** false until a BIND_ACK accepted it; such a context is still used when no ack was seen */
  accepted: boolean;
}

interface PendingBind<T> {
  callId: number;
  contexts: RpcContext[];
  at: T;
}

/** Per-direction framing state: the partial PDU carried over between chunks. */
class Direction {
  carry: Buffer | null = null;
  carryLen = 0;
  /** false while looking for a header (start of the stream, or after garbage) */
  synced = false;
  started = false;
  /** true while bytes are being skipped, so that one resynchronisation is one anomaly */
  skipping = false;
  /**
   * The carried PDU was found by resynchronising inside a chunk and may be a false header (stub
   * bytes such as `05 00 00 00 00 00 00 00` pass every header check): a chunk that itself starts
   * with a header is the better boundary, since SMB reads and writes start on PDU boundaries.
   */
  tentative = false;
}

export class RpcPipe<T> implements StubHolder {
  private readonly limits: RpcPipeLimits;
  private readonly client = new Direction();
  private readonly server = new Direction();
  private readonly contexts = new Map<number, Ctx>();
  private readonly calls = new Map<number, Call<T>>();
  private pendingBind: PendingBind<T> | null = null;
  /** integer byte order of the PDUs read so far (null: none yet), to reject resync candidates in the other one */
  private order: boolean | null = null;
  private buffered = 0;
  private closed = false;
  /** bytes skipped while resynchronising, both directions */
  skippedBytes = 0;

  /** bytes of stubs being assembled (partial PDUs, at most 64 KiB per direction, not counted) */
  get bufferedBytes(): number {
    return this.buffered;
  }

  evictOldest(keep: Stub): boolean {
    for (const call of this.calls.values()) {
      const stubs = [call.request, call.response];
      if (stubs.includes(keep) || !stubs.some((x) => x !== null && x.len > 0)) continue;
      for (const x of stubs) if (x !== null) this.drop(x);
      return true;
    }
    return false;
  }

  /** calls awaiting their answer */
  get pendingCalls(): number {
    return this.calls.size;
  }

  constructor(
    private readonly cb: RpcPipeCallbacks<T>,
    limits: Partial<RpcPipeLimits> = {},
  ) {
    this.limits = { ...DEFAULT_RPC_LIMITS(), ...limits };
  }

  /** bytes from the client (SMB WRITE data, TCP client → server payload) */
  clientData(buf: Buffer, off: number, end: number, at: T): void {
    this.feed(this.client, buf, off, end, at);
  }

  /** bytes from the server (SMB READ data, TCP server → client payload) */
  serverData(buf: Buffer, off: number, end: number, at: T): void {
    this.feed(this.server, buf, off, end, at);
  }

  /** end of the pipe: reports unanswered calls and a BIND whose answer was not seen */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.client.carryLen > 0 || this.server.carryLen > 0) this.cb.anomaly(RPC_ANOMALY.truncated);
    this.client.carry = this.server.carry = null;
    this.client.carryLen = this.server.carryLen = 0;
    this.flushPendingBind();
    for (const call of [...this.calls.values()]) this.finish(call, null, false, null);
  }

  // ---- framing ----

  private feed(d: Direction, buf: Buffer, off: number, end: number, at: T): void {
    if (this.closed) return;
    off = Math.max(0, off);
    end = Math.min(end, buf.length);
    if (d.tentative && d.carryLen > 0 && this.candidate(buf, off, end) !== null) {
      this.skip(d, d.carryLen);
      d.carryLen = 0;
      d.synced = true;
    }
    let p = off;
    while (p < end) {
      if (d.carryLen > 0) {
        p = this.fillCarry(d, buf, p, end, at);
        continue;
      }
      if (!d.synced) {
        p = this.scan(d, buf, p, end);
        continue;
      }
      const avail = end - p;
      if (avail < HEADER_LEN) {
        if (plausibleHeaderPrefix(buf, p, end)) {
          this.toCarry(d, buf, p, end);
          return;
        }
        this.lostSync(d);
        continue;
      }
      const h = plausibleHeader(buf, p, end);
      if (h === null) {
        this.lostSync(d);
        continue;
      }
      if (avail >= h.fragLength) {
        this.pdu(d, buf, p, p + h.fragLength, at);
        p += h.fragLength;
      } else {
        this.toCarry(d, buf, p, end);
        return;
      }
    }
  }

  /** A header check failed at a PDU boundary: look for the next header from here on. */
  private lostSync(d: Direction): void {
    d.synced = false;
  }

  /**
   * Looking for a header in `[p, end)`: skips to the next plausible one and returns its offset
   * (synced again), or keeps a possible header cut by the chunk's end, or skips everything.
   * The first bytes of a stream are taken as a header when they look like one (the usual case:
   * the capture saw the pipe open). Past them, a 0x05 anywhere in stub data could start a false
   * header, so a candidate must also pass `candidate` and stays tentative until its PDU parses.
   */
  private scan(d: Direction, buf: Buffer, p: number, end: number): number {
    if (!d.started) {
      d.started = true;
      if (end - p >= HEADER_LEN ? plausibleHeader(buf, p, end) !== null : plausibleHeaderPrefix(buf, p, end)) {
        d.synced = true;
        return p;
      }
    }
    let q = p;
    while (q < end) {
      const i = buf.subarray(q, end).indexOf(5);
      if (i < 0) {
        q = end;
        break;
      }
      q += i;
      if (end - q >= HEADER_LEN ? this.candidate(buf, q, end) !== null : this.candidatePrefix(buf, q, end)) break;
      q++;
    }
    this.skip(d, q - p);
    if (q < end) {
      d.synced = true;
      d.tentative = true;
    }
    return q;
  }

  /**
   * A header worth resynchronising on: plausible, in the byte order seen so far, and, when the
   * whole PDU is in the chunk, a PDU that parses.
   */
  private candidate(buf: Buffer, q: number, end: number): CommonHeader | null {
    const h = plausibleHeader(buf, q, end);
    if (h === null || (this.order !== null && h.littleEndian !== this.order)) return null;
    if (end - q >= h.fragLength && parsePdu(buf, q, q + h.fragLength) === null) return null;
    return h;
  }

  private candidatePrefix(buf: Buffer, q: number, end: number): boolean {
    if (!plausibleHeaderPrefix(buf, q, end)) return false;
    return this.order === null || end - q <= 4 || ((buf[q + 4] & 0x10) !== 0) === this.order;
  }

  private skip(d: Direction, n: number): void {
    if (n <= 0) return;
    this.skippedBytes += n;
    if (!d.skipping) {
      d.skipping = true;
      this.cb.anomaly(RPC_ANOMALY.resync);
    }
  }

  private toCarry(d: Direction, buf: Buffer, p: number, end: number): void {
    if (d.carry === null) d.carry = Buffer.allocUnsafe(0x10000);
    buf.copy(d.carry, d.carryLen, p, end);
    d.carryLen += end - p;
  }

  /** Completes the carried partial PDU from `buf[p…]`; returns where its bytes end in `buf`. */
  private fillCarry(d: Direction, buf: Buffer, p: number, end: number, at: T): number {
    const c = d.carry as Buffer;
    if (d.carryLen < HEADER_LEN) {
      const take = Math.min(HEADER_LEN - d.carryLen, end - p);
      buf.copy(c, d.carryLen, p, p + take);
      d.carryLen += take;
      p += take;
      if (d.carryLen < HEADER_LEN) {
        if (!(d.skipping ? this.candidatePrefix(c, 0, d.carryLen) : plausibleHeaderPrefix(c, 0, d.carryLen))) this.dropCarryByte(d);
        return p;
      }
      const h = d.skipping ? this.candidate(c, 0, HEADER_LEN) : plausibleHeader(c, 0, HEADER_LEN);
      if (h === null) {
        this.dropCarryByte(d);
        return p;
      }
      d.synced = true;
    }
    const h = parseHeader(c, 0, HEADER_LEN) as CommonHeader;
    const take = Math.min(h.fragLength - d.carryLen, end - p);
    buf.copy(c, d.carryLen, p, p + take);
    d.carryLen += take;
    p += take;
    if (d.carryLen === h.fragLength) {
      d.carryLen = 0;
      this.pdu(d, c, 0, h.fragLength, at);
    }
    return p;
  }

  /**
   * The carried bytes do not start a header: drop bytes up to the next 0x05 that can still begin
   * one, so that resynchronising across a chunk boundary never loses a header cut in two.
   */
  private dropCarryByte(d: Direction): void {
    const c = d.carry as Buffer;
    let k = 1;
    while (k < d.carryLen && !(c[k] === 5 && this.candidatePrefix(c, k, d.carryLen))) k++;
    this.skip(d, k);
    c.copy(c, 0, k, d.carryLen);
    d.carryLen -= k;
    d.synced = false;
    d.skipping = true;
  }

  // ---- PDUs ----

  private pdu(d: Direction, buf: Buffer, off: number, end: number, at: T): void {
    const pdu = parsePdu(buf, off, end);
    if (pdu === null) {
      this.cb.anomaly(RPC_ANOMALY.malformed);
      return;
    }
    d.tentative = false;
    d.skipping = false;
    this.order = pdu.header.littleEndian;
    if (pdu.auth !== null && d === this.client && this.cb.onAuth && (pdu.kind === 'bind' || pdu.kind === 'other')) {
      this.cb.onAuth(buf.subarray(pdu.auth.authStart, pdu.auth.authEnd), pdu.auth.authType, at);
    }
    switch (pdu.kind) {
      case 'bind':
        this.bind(pdu, at);
        break;
      case 'bind_ack':
        this.bindAck(pdu, at);
        break;
      case 'bind_nak':
        if (this.pendingBind !== null && this.pendingBind.callId === pdu.header.callId) this.dropPendingContexts();
        break;
      case 'request':
        this.request(pdu, buf, at);
        break;
      case 'response':
        this.response(pdu, buf, at);
        break;
      case 'fault':
        this.fault(pdu, at);
        break;
      default:
        break;
    }
  }

  private bind(pdu: BindPdu, at: T): void {
    this.flushPendingBind();
    const contexts: RpcContext[] = [];
    for (const c of pdu.contexts) {
      const ndr64 = c.transferSyntaxes.length > 0 && c.transferSyntaxes.every((t) => t.uuid === NDR64_SYNTAX);
      const ctx: RpcContext = { ctxId: c.ctxId, uuid: c.uuid, version: c.version, name: lookupInterface(c.uuid)?.name ?? null, ndr64 };
      contexts.push(ctx);
      if (!this.contexts.has(c.ctxId) && this.contexts.size >= this.limits.maxContexts) {
        this.cb.anomaly(RPC_ANOMALY.contextsDropped);
        continue;
      }
      this.contexts.set(c.ctxId, { ctx, accepted: false });
    }
    this.pendingBind = { callId: pdu.header.callId, contexts, at };
  }

  private bindAck(pdu: BindAckPdu, at: T): void {
    const pending = this.pendingBind;
    if (pending === null) return;
    this.pendingBind = null;
    if (pdu.results.length !== pending.contexts.length) this.cb.anomaly(RPC_ANOMALY.bindAckMismatch);
    const accepted: RpcContext[] = [];
    pending.contexts.forEach((ctx, i) => {
      const r = pdu.results[i];
      const entry = this.contexts.get(ctx.ctxId);
      if (r === undefined) return;
      if (r.result === 0) {
        ctx.ndr64 = r.transferSyntax.uuid === NDR64_SYNTAX;
        accepted.push(ctx);
        if (entry !== undefined && entry.ctx === ctx) entry.accepted = true;
      } else if (entry !== undefined && entry.ctx === ctx) {
        this.contexts.delete(ctx.ctxId);
      }
    });
    if (accepted.length > 0 && this.cb.onBind) this.cb.onBind(accepted, at);
  }

  /** A BIND was answered with BIND_NAK: its contexts are not usable. */
  private dropPendingContexts(): void {
    const pending = this.pendingBind as PendingBind<T>;
    this.pendingBind = null;
    for (const ctx of pending.contexts) {
      const entry = this.contexts.get(ctx.ctxId);
      if (entry !== undefined && entry.ctx === ctx) this.contexts.delete(ctx.ctxId);
    }
  }

  /** The BIND's answer was not seen (or not yet, when a request already uses it): report what was offered. */
  private flushPendingBind(): void {
    const pending = this.pendingBind;
    if (pending === null) return;
    this.pendingBind = null;
    if (pending.contexts.length > 0 && this.cb.onBind) this.cb.onBind(pending.contexts, pending.at);
  }

  private request(pdu: RequestPdu, buf: Buffer, at: T): void {
    const h = pdu.header;
    const first = (h.flags & PFC_FIRST_FRAG) !== 0;
    let call = this.calls.get(h.callId);
    if (first || call === undefined || call.requestDone) {
      if (call !== undefined) this.finish(call, null, false, null);
      if (!first) this.cb.anomaly(RPC_ANOMALY.fragmentWithoutFirst);
      if (this.pendingBind !== null && this.pendingBind.contexts.some((c) => c.ctxId === pdu.ctxId)) this.flushPendingBind();
      if (this.calls.size >= this.limits.maxCalls) {
        const oldest = this.calls.get(oldestKey(this.calls) as number) as Call<T>;
        this.cb.anomaly(RPC_ANOMALY.callsEvicted);
        this.finish(oldest, null, false, null);
      }
      const ctx = this.contexts.get(pdu.ctxId);
      call = {
        callId: h.callId,
        opnum: pdu.opnum,
        ctxId: pdu.ctxId,
        uuid: ctx !== undefined ? ctx.ctx.uuid : null,
        ndr64: ctx !== undefined && ctx.ctx.ndr64,
        authLevel: pdu.auth !== null ? pdu.auth.authLevel : 0,
        littleEndian: h.littleEndian,
        request: new Stub(),
        requestDone: false,
        requestAt: at,
        response: null,
        responseEncrypted: false,
      };
      if (!first) call.request.ok = false;
      this.calls.set(h.callId, call);
    }
    call.requestAt = at;
    if (pdu.auth !== null && pdu.auth.authLevel === AUTH_LEVEL_PKT_PRIVACY) {
      call.authLevel = AUTH_LEVEL_PKT_PRIVACY;
      this.drop(call.request);
    } else {
      this.append(call.request, buf, pdu.stubStart, pdu.stubEnd);
    }
    if (h.flags & PFC_LAST_FRAG) call.requestDone = true;
  }

  private response(pdu: ResponsePdu, buf: Buffer, at: T): void {
    const h = pdu.header;
    const call = this.calls.get(h.callId);
    if (call === undefined) {
      if (h.flags & PFC_LAST_FRAG) this.cb.anomaly(RPC_ANOMALY.answerWithoutRequest);
      return;
    }
    if (call.response === null || h.flags & PFC_FIRST_FRAG) {
      if (call.response !== null) this.release(call.response);
      call.response = new Stub();
      if (!(h.flags & PFC_FIRST_FRAG)) {
        this.cb.anomaly(RPC_ANOMALY.fragmentWithoutFirst);
        call.response.ok = false;
      }
    }
    if (call.authLevel === AUTH_LEVEL_PKT_PRIVACY || (pdu.auth !== null && pdu.auth.authLevel === AUTH_LEVEL_PKT_PRIVACY)) {
      call.responseEncrypted = true;
      this.drop(call.response);
    } else {
      this.append(call.response, buf, pdu.stubStart, pdu.stubEnd);
    }
    if (h.flags & PFC_LAST_FRAG) this.finish(call, 0, false, at);
  }

  private fault(pdu: FaultPdu, at: T): void {
    const call = this.calls.get(pdu.header.callId);
    if (call === undefined) {
      this.cb.anomaly(RPC_ANOMALY.answerWithoutRequest);
      return;
    }
    if (call.response !== null) this.drop(call.response);
    call.response = null;
    this.finish(call, pdu.status, true, at);
  }

  // ---- stubs ----

  private append(s: Stub, buf: Buffer, start: number, end: number): void {
    const n = end - start;
    if (!s.ok || n <= 0) return;
    const need = s.len + n;
    // the budgets count stub bytes, not the room reserved for them (at most twice as much)
    if (need > this.limits.maxStub || this.buffered + n > this.limits.maxBuffered) {
      this.cb.anomaly(RPC_ANOMALY.stubTooLarge);
      this.drop(s);
      return;
    }
    const held = this.limits.held;
    if (held !== undefined && held.used + n > held.limit) {
      // the longest-held calls make room, this pipe's older ones included
      for (const p of held.holders) {
        while (held.used + n > held.limit && p.evictOldest(s)) this.cb.anomaly(RPC_ANOMALY.stubsHeldBudget);
        if (held.used + n <= held.limit) break;
      }
      if (held.used + n > held.limit) {
        this.cb.anomaly(RPC_ANOMALY.stubsHeldBudget);
        this.drop(s);
        return;
      }
    }
    const cap = s.buf === null ? 0 : s.buf.length;
    if (need > cap) {
      const grown = this.limits.reuseStubs
        ? stubClass(Math.max(need, cap * 2), this.limits.maxStub)
        : Math.min(this.limits.maxStub, Math.max(need, cap * 2, 256));
      const next = this.limits.reuseStubs ? takeStubBuffer(grown) : Buffer.allocUnsafe(grown);
      if (s.buf !== null) {
        s.buf.copy(next, 0, 0, s.len);
        if (this.limits.reuseStubs) giveStubBuffer(s.buf);
      }
      s.buf = next;
    }
    buf.copy(s.buf as Buffer, s.len, start, end);
    s.len = need;
    if (this.buffered === 0 && held !== undefined) held.holders.add(this);
    this.buffered += n;
    if (held !== undefined) held.used += n;
  }

  /** data lost for this stub: free it, and report it as null */
  private drop(s: Stub): void {
    this.release(s);
    s.ok = false;
  }

  /** frees the stub's buffer; `reuse` false while a view of it was handed out */
  private release(s: Stub, reuse = true): void {
    const b = s.buf;
    if (b === null) return;
    this.buffered -= s.len;
    const held = this.limits.held;
    if (held !== undefined) {
      held.used -= s.len;
      if (this.buffered === 0) held.holders.delete(this);
    }
    s.buf = null;
    s.len = 0;
    if (reuse && this.limits.reuseStubs) giveStubBuffer(b);
  }

  private view(s: Stub | null): Buffer | null {
    if (s === null || !s.ok) return null;
    return s.buf === null ? Buffer.alloc(0) : s.buf.subarray(0, s.len);
  }

  private finish(call: Call<T>, status: number | null, fault: boolean, responseAt: T | null): void {
    this.calls.delete(call.callId);
    const encrypted = call.authLevel === AUTH_LEVEL_PKT_PRIVACY;
    const request = encrypted ? null : this.view(call.request);
    const answered = status !== null && !fault;
    const response = answered && !encrypted && !call.responseEncrypted ? this.view(call.response) : null;
    const held = [call.request.buf, call.response !== null ? call.response.buf : null];
    this.release(call.request, false);
    if (call.response !== null) this.release(call.response, false);
    const iface = call.uuid !== null ? lookupInterface(call.uuid) : undefined;
    this.cb.onCall({
      callId: call.callId,
      opnum: call.opnum,
      uuid: call.uuid,
      iface: iface !== undefined ? iface.name : null,
      operation: operationName(call.uuid, call.opnum),
      authLevel: call.authLevel,
      request,
      response,
      littleEndian: call.littleEndian,
      ndr64: call.ndr64,
      status,
      fault,
      requestAt: call.requestAt,
      responseAt,
    });
    if (this.limits.reuseStubs) for (const b of held) if (b !== null) giveStubBuffer(b);
  }
}
