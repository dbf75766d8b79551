/**
 * SMB2/SMB3 messages of one TCP connection → session state → events. Requests are remembered
 * by MessageId until their response (interim STATUS_PENDING answers skipped); an event is
 * complete when its response arrives, or when the connection or capture ends (status null).
 */
import type { Packet } from '../capture/packet';
import type { Flow } from '../tcp/flows';
import type { HeldStubs } from '../rpc/pipe';
import { PEEK } from '../smb/framer';
import { ntlmAuthenticate } from '../smb/ntlmssp';
import {
  accessNames, dialectName, dispositionName, FILE_DELETE_ON_CLOSE, statusName,
} from '../smb/names';
import {
  Body, closeFileId, Cmd, createRequest, createResponse, FLAG_ASYNC, FLAG_RELATED, FLAG_RESPONSE,
  FSCTL_PIPE_TRANSCEIVE, ioctl, negotiateDialect, emptyHeader, parseHeaderInto, readResponseData, readResponseLength,
  writeResponseCount, readWriteRequest, sessionSetupRequest, setInfoRequest, SHARE_TYPES, Smb2Header,
  SMB2_HEADER_SIZE, STATUS_PENDING, transformSessionId, treeConnectPath, treeConnectShareType,
  writeRequestData,
} from '../smb/smb2/records';
import type { Action, SmbEvent } from './event';
import { EventSink, isoTime } from './record';
import { Smb1Handler, smb1KeepFor } from './smb1';
import { isPipe, looksLikeRpc, PipeTap, unknownTree } from './pipes';
import { complete, newPending, PendingInit, PendingTable } from './pending';
import { addTree, closeFile, ConnRef, filePath, forgetFile, hex8, newOpenFile, newTree, OpenFile, openFile, removeTree, Session, SessionTable, Stamp, stampOf, Transfer, Tree } from './state';

/** What every connection of one scan shares. */
export interface ScanState {
  capture: string;
  sessions: SessionTable;
  emit: EventSink;
  anomaly(kind: string, n?: number): void;
  /** request counter: wire order for sorting ties */
  seq: number;
  smbMessages: number;
  /** named-pipe data goes to the DCE/RPC stage */
  pipes: PipeTap;
  /** requests waiting for their answer, all connections together (pending.ts MAX_PENDING_TOTAL) */
  pendingTotal?: number;
  /** DCE/RPC stub bytes held by every pipe and RPC connection together (RpcPipeLimits.held) */
  rpcHeld?: HeldStubs;
}

/** the previous message of a compound chain, for related operations (MS-SMB2 3.2.4.1.4) */
interface Chain { session: Session | null; treeId: number; file: OpenFile | null }

const MAX_COMPOUND = 64;
/** largest message decoded whole; larger ones are decoded from their first KEEP_LARGE bytes */
const MAX_KEEP = 1 << 20;
const KEEP_LARGE = 64 << 10;
const STATUS_BUFFER_OVERFLOW = 0x80000005;
const STATUS_MORE_PROCESSING_REQUIRED = 0xc0000016;
const ZERO_SESSION = '0x0000000000000000';
const ALL_F = 'ffffffffffffffffffffffffffffffff';

const EMPTY = Buffer.alloc(0);

const messageKey = (h: Smb2Header): number => (h.messageIdHi >>> 0) * 0x100000000 + (h.messageIdLo >>> 0);
export { hex8 };
/** one session's messages follow each other: the last id's text is reused */
let lastSid = { hi: -1, lo: -1, text: '' };
const sessionHex = (h: Smb2Header): string => {
  if (h.sessionIdHi === lastSid.hi && h.sessionIdLo === lastSid.lo) return lastSid.text;
  const text = `0x${(h.sessionIdHi >>> 0).toString(16).padStart(8, '0')}${(h.sessionIdLo >>> 0).toString(16).padStart(8, '0')}`;
  lastSid = { hi: h.sessionIdHi, lo: h.sessionIdLo, text };
  return text;
};
const stripLeading = filePath;

/** commands whose request body we decode in full (they carry names or security blobs) */
const FULL_REQUEST = new Set<number>([Cmd.SESSION_SETUP, Cmd.TREE_CONNECT, Cmd.CREATE, Cmd.SET_INFO, Cmd.IOCTL]);


export class Smb2Connection {
  private dialect: string | null = null;
  private readonly pending: PendingTable;
  private ref: ConnRef | null = null;
  private readonly header = emptyHeader();
  private readonly chain: Chain = { session: null, treeId: 0, file: null };
  private readonly body: Body = { buf: EMPTY, hdr: 0, off: 0, end: 0 };
  private lastSession: { table: SessionTable; lo: number; hi: number; generation: number; session: Session } | null = null;
  smbSeen = false;

  constructor(private readonly scan: ScanState, private readonly flow: Flow) {
    this.pending = new PendingTable(scan);
  }

  /** how much of a message to keep (see MessageSink.keep) */
  keep(buf: Buffer, off: number, headLen: number, msgLen: number): number {
    const magic = buf[off];
    if (magic === 0xfd) return 52;
    if (magic === 0xfc) return 16;
    if (magic === 0xff) return smb1KeepFor(this.smb1, buf, off, headLen, msgLen);
    if (magic !== 0xfe || headLen < SMB2_HEADER_SIZE) return Math.min(msgLen, KEEP_LARGE);
    const cmd = buf.readUInt16LE(off + 12);
    const response = (buf.readUInt32LE(off + 16) & FLAG_RESPONSE) !== 0;
    const next = buf.readUInt32LE(off + 20);
    if (next === 0) {
      if (cmd === Cmd.WRITE && !response) return this.pipeWrite(buf, off, headLen, msgLen) ? msgLen : SMB2_HEADER_SIZE + 48;
      if (cmd === Cmd.READ && response) return this.pipeRead(buf, off, headLen, msgLen) ? msgLen : SMB2_HEADER_SIZE + 16;
      if (cmd === Cmd.CREATE && response) return SMB2_HEADER_SIZE + 88;
      if (cmd === Cmd.IOCTL && response) return Math.min(msgLen, MAX_KEEP); // a pipe transceive's output
      if (!(FULL_REQUEST.has(cmd) && !response)) return PEEK;
    }
    if (msgLen <= MAX_KEEP) return msgLen;
    this.scan.anomaly('oversized_message');
    return KEEP_LARGE;
  }

  /** a WRITE whose data goes to a pipe is kept whole (up to MAX_KEEP): it carries DCE/RPC */
  private pipeWrite(buf: Buffer, off: number, headLen: number, msgLen: number): boolean {
    if (msgLen > MAX_KEEP || headLen < SMB2_HEADER_SIZE + 32) return false;
    const dataAt = off + buf.readUInt16LE(off + SMB2_HEADER_SIZE + 2);
    if (looksLikeRpc(buf, dataAt, off + headLen)) return true;
    // a PDU continued in a second WRITE does not start with a header: ask the handle (only
    // on a connection that opened a pipe: a file server's small writes skip the lookup)
    if (!this.pipeOpened || this.flow.clientIsA === null) return false;
    const sid = `0x${buf.readUInt32LE(off + 44).toString(16).padStart(8, '0')}${buf.readUInt32LE(off + 40).toString(16).padStart(8, '0')}`;
    const f = this.scan.sessions.find(this.conn().serverIp, sid)?.files.get(buf.toString('hex', off + 80, off + 96));
    return f !== undefined && isPipe(f);
  }

  /** a READ response from a pipe handle is kept whole (its request says which handle) */
  private pipeRead(buf: Buffer, off: number, headLen: number, msgLen: number): boolean {
    if (msgLen > MAX_KEEP || headLen < SMB2_HEADER_SIZE + 16) return false;
    const key = (buf.readUInt32LE(off + 28) >>> 0) * 0x100000000 + (buf.readUInt32LE(off + 24) >>> 0);
    const f = this.pending.peek(key)?.file;
    if (f) return isPipe(f) || unknownTree(f.tree);
    return looksLikeRpc(buf, off + buf[off + SMB2_HEADER_SIZE + 2], off + headLen);
  }

  message(buf: Buffer, off: number, kept: number, msgLen: number, at: Packet, fromA: boolean): void {
    this.scan.smbMessages++;
    this.smbSeen = true;
    const magic = buf[off];
    if (magic === 0xfe) this.smb2(buf, off, off + kept, msgLen, at, fromA);
    else if (magic === 0xfd) this.transform(buf, off, off + kept, at, fromA);
    else if (magic === 0xfc) this.scan.anomaly('compressed_message');
    else this.smb1Handler().message(buf, off, off + kept, at, fromA);
  }

  private smb1: Smb1Handler | null = null;
  private smb1Handler(): Smb1Handler {
    return this.smb1 ??= new Smb1Handler(this.scan, this.flow, () => this.conn(), (d) => {
      this.dialect = d;
      if (this.ref) this.ref.dialect = d;
    });
  }

  /** connection end: requests without a response are reported with status null */
  close(): void {
    this.pending.drain();
    this.smb1?.close();
    this.scan.sessions.endConnection(this.flow.id);
  }

  /** this connection names the session (SessionTable.attach) */
  private attach(session: Session): Session {
    this.scan.sessions.attach(session, this.flow.id);
    return session;
  }

  private smb2(buf: Buffer, off: number, end: number, msgLen: number, at: Packet, fromA: boolean): void {
    try {
      this.messages(buf, off, end, msgLen, at, fromA);
    } finally {
      // a connection must not hold on to the buffer of its last message (10,000 connections)
      this.body.buf = EMPTY;
      this.chain.session = null;
      this.chain.file = null;
    }
  }

  private messages(buf: Buffer, off: number, end: number, msgLen: number, at: Packet, fromA: boolean): void {
    // one chain, body and header per connection, reset per message: nothing keeps them
    const chain = this.chain;
    chain.session = null; chain.treeId = 0; chain.file = null;
    const body = this.body;
    let pos = off;
    for (let i = 0; i < MAX_COMPOUND; i++) {
      const h = this.header;
      if (!parseHeaderInto(h, buf, pos, end)) { this.scan.anomaly('malformed_smb2_header'); return; }
      const next = h.nextCommand >>> 0;
      const msgEnd = next ? pos + next : off + msgLen;
      body.buf = buf; body.hdr = pos; body.off = pos + SMB2_HEADER_SIZE; body.end = Math.min(msgEnd, end);
      const response = (h.flags & FLAG_RESPONSE) !== 0;
      if (this.flow.clientIsA === null) this.flow.clientIsA = response ? !fromA : fromA;
      if (response) this.response(h, body, at);
      else this.request(h, body, at, chain);
      if (next === 0) return;
      if (next < SMB2_HEADER_SIZE || pos + next >= off + msgLen) { this.scan.anomaly('malformed_compound'); return; }
      if (pos + next + SMB2_HEADER_SIZE > end) { this.scan.anomaly('compound_beyond_kept_bytes'); return; }
      pos += next;
    }
    this.scan.anomaly('compound_too_long');
  }

  private conn(): ConnRef {
    if (this.ref) return this.ref;
    const f = this.flow, clientIsA = f.clientIsA !== false;
    const c = clientIsA ? f.a : f.b, s = clientIsA ? f.b : f.a;
    this.ref = { clientIp: c.ip, clientPort: c.port, serverIp: s.ip, serverPort: s.port, dialect: this.dialect };
    return this.ref;
  }

  private session(h: Smb2Header): Session {
    // consecutive messages of a connection name the same session: skip the keyed lookup
    const table = this.scan.sessions;
    const last = this.lastSession;
    if (last !== null && last.table === table && last.generation === table.generation && last.lo === h.sessionIdLo && last.hi === h.sessionIdHi) return last.session;
    const session = this.attach(table.get(this.conn().serverIp, sessionHex(h)));
    this.lastSession = { table, lo: h.sessionIdLo, hi: h.sessionIdHi, generation: table.generation, session };
    return session;
  }

  private request(h: Smb2Header, b: Body, at: Packet, chain: Chain): void {
    const related = (h.flags & FLAG_RELATED) !== 0;
    const session = related && chain.session && h.sessionIdLo === 0xffffffff && h.sessionIdHi === 0xffffffff
      ? chain.session : this.session(h);
    const treeId = related && h.treeId === 0xffffffff ? chain.treeId : h.treeId;
    chain.session = session;
    chain.treeId = treeId;
    switch (h.command) {
      case Cmd.SESSION_SETUP: {
        const r = sessionSetupRequest(b);
        if (!r) { this.scan.anomaly('malformed_session_setup'); return; }
        const server = this.conn().serverIp;
        // a binding joins the session of another channel; any other logon is this server's own
        const session = this.attach(r.binding ? this.scan.sessions.get(server, sessionHex(h)) : this.scan.sessions.get(server, sessionHex(h), server, false));
        if (r.binding) this.scan.sessions.bind(server, session);
        const id = ntlmAuthenticate(r.blob);
        if (id) {
          session.user = id.user; session.domain = id.domain; session.workstation = id.workstation;
          this.track(h, at, { session, ev: this.event('session_setup', at, session, null) });
          return;
        }
        // Kerberos (or an NTLM leg before AUTHENTICATE): the logon is still worth an event once
        // the server ends the exchange; the user stays unknown, as the ticket does not show it
        this.track(h, at, { session, ev: this.event('session_setup', at, session, null), dropOnStatus: STATUS_MORE_PROCESSING_REQUIRED });
        return;
      }
      case Cmd.LOGOFF:
        this.track(h, at, { session, then: () => this.releaseSession(session) });
        return;
      case Cmd.TREE_CONNECT: {
        const path = treeConnectPath(b);
        if (path === null) { this.scan.anomaly('malformed_tree_connect'); return; }
        const ev = this.event('tree_connect', at, session, null);
        ev.share = path;
        this.track(h, at, { session, ev });
        return;
      }
      case Cmd.TREE_DISCONNECT:
        removeTree(session, treeId);
        return;
      case Cmd.CREATE: {
        const r = createRequest(b);
        if (!r) { this.scan.anomaly('malformed_create'); return; }
        const tree = this.tree(session, treeId);
        const f = newOpenFile(stripLeading(r.name), tree, session, this.conn());
        const ev = this.event('create', at, session, tree);
        ev.path = f.path;
        ev.disposition = dispositionName(r.disposition);
        ev.access = accessNames(r.desiredAccess);
        chain.file = f;
        this.track(h, at, { session, ev, file: f, alsoDelete: (r.options & FILE_DELETE_ON_CLOSE) !== 0 });
        return;
      }
      case Cmd.CLOSE: {
        const id = closeFileId(b);
        const f = this.file(session, treeId, related, chain, id);
        if (!f || id === null) return;
        f.closed = true;
        // all-FF (a related CLOSE): the handle is kept under the id its CREATE response gave
        if (id !== ALL_F) closeFile(session, id);
        else forgetFile(session, f);
        this.track(h, at, {
          session,
          then: () => {
            f.closeAnswered = true;
            if (!f.inFlight) flushTransfers(this.scan, f);
          },
        });
        return;
      }
      case Cmd.READ:
      case Cmd.WRITE: {
        const r = readWriteRequest(b);
        const f = r ? this.file(session, treeId, related, chain, r.fileId) : undefined;
        if (!r || !f) { this.scan.anomaly('malformed_read_write'); return; }
        const t = h.command === Cmd.READ ? (f.read ??= this.transfer(at)) : (f.write ??= this.transfer(at));
        f.inFlight = (f.inFlight ?? 0) + 1;
        this.track(h, at, {
          session, file: f, transfer: t, writeLength: h.command === Cmd.WRITE ? r.length : undefined,
          // an async READ can be answered after the CLOSE: the totals wait for the last answer
          // (one callback per handle, not one per READ/WRITE message)
          then: f.settle ??= () => {
            f.inFlight = (f.inFlight ?? 1) - 1;
            if (f.closeAnswered && f.inFlight === 0) flushTransfers(this.scan, f);
          },
        });
        if (h.command === Cmd.WRITE) {
          const d = writeRequestData(b);
          if (d && isPipe(f, b.buf, d.start, d.end)) this.scan.pipes.clientData(f, b.buf, d.start, d.end, stampOf(at, this.scan.capture), this.conn());
        }
        return;
      }
      case Cmd.IOCTL: {
        const r = ioctl(b, false);
        if (!r || r.ctlCode !== FSCTL_PIPE_TRANSCEIVE) return;
        const f = this.file(session, treeId, related, chain, r.fileId);
        if (!f) return;
        if (r.input) this.scan.pipes.clientData(f, b.buf, r.input.start, r.input.end, stampOf(at, this.scan.capture), this.conn());
        this.track(h, at, { session, file: f });
        return;
      }
      case Cmd.SET_INFO: {
        const r = setInfoRequest(b);
        if (!r) { this.scan.anomaly('malformed_set_info'); return; }
        const f = this.file(session, treeId, related, chain, r.fileId);
        if (!f) return;
        let ev: SmbEvent | undefined;
        if (r.newName !== undefined) {
          ev = this.fileEvent('rename', at, f);
          ev.new_path = stripLeading(r.newName);
        } else if (r.deletePending === true) {
          ev = this.fileEvent('delete', at, f);
        }
        if (ev) this.track(h, at, { session, ev, file: f });
        return;
      }
      case Cmd.NEGOTIATE:
        this.track(h, at, { session });
        return;
      default:
        return;
    }
  }

  private response(h: Smb2Header, b: Body, at: Packet): void {
    if ((h.flags & FLAG_ASYNC) !== 0 && h.status === STATUS_PENDING) return; // interim: the real answer follows
    if (h.command === Cmd.NEGOTIATE) {
      const d = negotiateDialect(b);
      if (d !== null && h.status === 0) {
        this.dialect = dialectName(d);
        if (this.ref) this.ref.dialect = this.dialect;
      }
    }
    const p = this.pending.take(messageKey(h), h.command);
    if (!p) return;
    const ok = h.status === 0;
    switch (p.cmd) {
      case Cmd.SESSION_SETUP:
        // a first (Kerberos) leg asks with SessionId 0: the server's answer names the session
        if (p.ev && p.ev.session_id === ZERO_SESSION) p.ev.session_id = sessionHex(h);
        break;
      case Cmd.TREE_CONNECT:
        if (p.ev) {
          p.ev.tree_id = hex8(h.treeId);
          const st = ok ? treeConnectShareType(b) : null;
          p.ev.share_type = st === null ? null : SHARE_TYPES[st] ?? null;
          if (ok) this.addTree(p.session, newTree(h.treeId, p.ev.share, p.ev.share_type));
        }
        break;
      case Cmd.CREATE:
        if (ok && p.file && !p.file.closed) {
          const r = createResponse(b);
          if (r) this.register(p.session, r.fileId, p.file);
        }
        break;
      case Cmd.READ:
        // STATUS_BUFFER_OVERFLOW: a partial pipe read, which still carries data
        if ((ok || h.status === STATUS_BUFFER_OVERFLOW) && p.transfer) {
          p.transfer.bytes += readResponseLength(b) ?? 0;
          const d = p.file ? readResponseData(b) : null;
          if (d && p.file && isPipe(p.file, b.buf, d.start, d.end)) this.scan.pipes.serverData(p.file, b.buf, d.start, d.end, stampOf(at, this.scan.capture));
        }
        break;
      case Cmd.IOCTL:
        if ((ok || h.status === STATUS_BUFFER_OVERFLOW) && p.file) {
          const r = ioctl(b, true);
          if (r?.output) this.scan.pipes.serverData(p.file, b.buf, r.output.start, r.output.end, stampOf(at, this.scan.capture));
        }
        break;
      case Cmd.WRITE:
        if (ok && p.transfer) p.transfer.bytes += writeResponseCount(b) ?? p.writeLength ?? 0;
        break;
    }
    complete(this.scan, p, h.status, at.frame);
  }

  private track(h: Smb2Header, at: Packet, p: PendingInit): void {
    this.pending.add(messageKey(h), newPending(h.command, stampOf(at, this.scan.capture), this.scan.seq++, p));
  }

  /** the handle a request names; FileId all-FF in a related compound request: the chain's */
  private file(session: Session, treeId: number, related: boolean, chain: Chain, fileId: string | null): OpenFile | undefined {
    if (fileId === null) return undefined;
    if (related && fileId === ALL_F && chain.file) return chain.file;
    const f = session.files.get(fileId);
    if (f === undefined) return this.unknownFile(session, treeId, fileId);
    f.used = true;
    return f;
  }

  private tree(session: Session, treeId: number): Tree {
    let t = session.trees.get(treeId);
    if (t) { t.used = true; return t; }
    // the TREE_CONNECT was before the capture: the id is all we know
    t = newTree(treeId, null, null);
    this.addTree(session, t);
    return t;
  }

  private addTree(session: Session, t: Tree): void {
    const gone = addTree(session, t);
    if (gone) this.scan.anomaly('trees_evicted', gone);
  }

  private unknownFile(session: Session, treeId: number, fileId: string): OpenFile {
    const f = newOpenFile(null, this.tree(session, treeId), session, this.conn());
    this.register(session, fileId, f);
    return f;
  }

  /** a pipe handle was opened on this connection (see pipeWrite) */
  private pipeOpened = false;

  private register(session: Session, fileId: string, f: OpenFile): void {
    if (!this.pipeOpened && isPipe(f)) this.pipeOpened = true;
    for (const old of openFile(session, fileId, f)) {
      flushTransfers(this.scan, old);
      this.scan.anomaly('open_files_evicted');
    }
  }

  private transfer(at: Packet): Transfer {
    return { first: stampOf(at, this.scan.capture), conn: this.conn(), seq: this.scan.seq++, responseFrame: null, bytes: 0, status: null };
  }

  private event(action: Action, at: Packet, session: Session, tree: Tree | null): SmbEvent {
    return newEvent(action, stampOf(at, this.scan.capture), this.conn(), session, tree, null);
  }

  private fileEvent(action: Action, at: Packet, f: OpenFile): SmbEvent {
    return newEvent(action, stampOf(at, this.scan.capture), this.conn(), f.session, f.tree, f.path);
  }

  private releaseSession(session: Session): void {
    for (const f of new Set(session.files.values())) flushTransfers(this.scan, f);
    this.scan.sessions.remove(session);
  }

  private transform(buf: Buffer, off: number, end: number, at: Packet, fromA: boolean): void {
    this.scan.anomaly('encrypted_message');
    const sid = transformSessionId(buf, off, end);
    if (!sid) return;
    const id = `0x${(sid[1] >>> 0).toString(16).padStart(8, '0')}${(sid[0] >>> 0).toString(16).padStart(8, '0')}`;
    if (this.flow.clientIsA === null) this.flow.clientIsA = this.flow.b.port === 445 || this.flow.b.port === 139 || !fromA;
    const session = this.attach(this.scan.sessions.get(this.conn().serverIp, id));
    if (session.encryptedReported) return;
    session.encryptedReported = true;
    const ev = this.event('encrypted', at, session, null);
    this.scan.emit({ sec: at.tsSec, ns: at.tsNs, seq: this.scan.seq++, ev });
  }
}

/** `session` null: DCE/RPC straight on TCP, outside any SMB session */
export function newEvent(action: Action, s: Stamp, c: ConnRef, session: Session | null, tree: Tree | null, path: string | null): SmbEvent {
  return {
    ts: isoTime(s), capture: s.capture, frame: s.frame, response_frame: null,
    src_ip: c.clientIp, src_port: c.clientPort, dst_ip: c.serverIp, dst_port: c.serverPort,
    smb_dialect: c.dialect, session_id: session ? session.id : null, user: session ? session.user : null,
    domain: session ? session.domain : null, workstation: session ? session.workstation : null, action, share: tree ? tree.share : null,
    share_type: tree ? tree.shareType : null, tree_id: tree ? tree.hexId : null, path, new_path: null,
    status: null, disposition: null, access: [], bytes: null, rpc_interface: null, rpc_operation: null,
    rpc_args: null, flags: [], attack: [], severity: 'info', rules: [], summary: null, refs: [],
  };
}

/** read/write totals of a handle become two events, dated by their first operation */
export function flushTransfers(scan: ScanState, f: OpenFile): void {
  scan.pipes.closed(f);
  for (const [action, t] of [['read', f.read], ['write', f.write]] as const) {
    if (!t) continue;
    const ev = newEvent(action, t.first, t.conn, f.session, f.tree, f.path);
    ev.response_frame = t.responseFrame;
    ev.bytes = t.bytes;
    ev.status = t.status === null ? null : statusName(t.status);
    scan.emit({ sec: t.first.sec, ns: t.first.ns, seq: t.seq, ev });
  }
  f.read = null;
  f.write = null;
}

/** the capture ended: every handle still open reports its transfers */
export function flushAllTransfers(scan: ScanState): void {
  for (const s of scan.sessions.all()) for (const f of new Set(s.files.values())) flushTransfers(scan, f);
}
