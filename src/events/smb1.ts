/**
 * SMB1 (CIFS) messages of one connection → the same events as SMB2. UIDs, TIDs and FIDs are
 * per connection in SMB1, so sessions are scoped to the connection. Requests pair with their
 * responses by PID+MID and command (an AndX chain answers each of its commands).
 */
import type { Packet } from '../capture/packet';
import type { Flow } from '../tcp/flows';
import { ntlmAuthenticate } from '../smb/ntlmssp';
import { accessNames, dispositionName, FILE_DELETE_ON_CLOSE } from '../smb/names';
import {
  accessModeMask, andxBlocks, Block, closeFid, coreOpen, coreOpenFid, createDirectoryParams, deleteName,
  directoryName, FLAGS_REPLY, negotiateDialects, ntCreate, ntCreateFid, open2Params,
  open2ResponseFid, openAndx, openAndxFid, openFunctionDisposition, parseSmb1Header, Piece, PIPE_TRANSACTIONS,
  readData, readLength, readWriteFid, renameNames, sessionSetup, SET_INFO_LEVELS, setFileInfoParams,
  setInfoData, setPathInfoParams, Slice, Smb1Cmd, Smb1Header, STATUS_BUFFER_OVERFLOW, Trans2, transRequest,
  transResponse, transSecondary, treeConnectPath, treeConnectService, word, writeData, writeLength,
} from '../smb/smb1/records';
import type { Action, SmbEvent } from './event';
import { complete, newPending, PendingInit, PendingTable } from './pending';
import { flushTransfers, hex8, newEvent, ScanState } from './smb2';
import { isPipe, looksLikeRpc, pipeTree, unknownTree } from './pipes';
import { addTree, closeFile, ConnRef, filePath, forgetFile, newOpenFile, newTree, OpenFile, openFile, removeTree, Session, stampOf, Transfer, Tree } from './state';
import { oldestKey } from '../util/oldest';

const stripLeading = filePath;
const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** Trans names that are not a pipe handle's traffic: RAP calls and mailslot broadcasts */
const NOT_PIPE_TRAFFIC = /^\\(PIPE\\LANMAN|MAILSLOT\\)/i;
/** transactions and pipe reads in flight per connection: more are hostile, the oldest is dropped */
const MAX_IN_FLIGHT = 1024;
/** a created directory (CREATE_DIRECTORY, TRANS2_CREATE_DIRECTORY) reads as an NT create of one */
const FILE_CREATE = 2;

/** a pipe TRANSACTION between its request and its last response */
interface Transaction {
  /** the pipe handle a TRANSACTION moves data through; undefined when it is not pipe traffic */
  pipe?: OpenFile;
  /** the response data goes to the pipe tap (TransactNmPipe, ReadNmPipe) */
  pipeResponse: boolean;
  /** displacement the next request / response data piece must have to continue the stream */
  requestNext: number;
  responseNext: number;
  /** the request data goes on in TRANSACTION_SECONDARY messages */
  requestMore: boolean;
}

export class Smb1Handler {
  private readonly pending: PendingTable;
  private offered: string[] = [];

  constructor(
    private readonly scan: ScanState,
    private readonly flow: Flow,
    private readonly conn: () => ConnRef,
    private readonly setDialect: (d: string) => void,
  ) {
    this.pending = new PendingTable(scan);
  }

  private readonly transactions = new Map<number, Transaction>();
  /** READ_ANDX requests on pipe handles, by PID+MID: their responses carry pipe data */
  private readonly pipeReads = new Map<number, { f: OpenFile; sure: boolean }>();
  /** pipe handles opened on this connection and not yet closed, told to the pipe tap at the end */
  private readonly pipeFiles = new Set<OpenFile>();

  /**
   * The connection ended: unanswered requests are reported, and pipe handles are closed (by
   * flushTransfers, which tells the pipe tap); they leave their session, whose UID dies with
   * the connection, so that the capture's end does not close them twice.
   */
  close(): void {
    this.pending.drain();
    for (const f of this.pipeFiles) {
      flushTransfers(this.scan, f);
      forgetFile(f.session, f);
    }
    this.pipeFiles.clear();
    // and so do its sessions, with the handles still open in them (30,000 short connections
    // each left the session of their NEGOTIATE behind until the capture's end)
    for (const s of this.scan.sessions.sessionsOf(this.flow.id)) {
      // only this connection's UIDs: after an SMB1 NEGOTIATE the same connection names SMB2
      // sessions, which may live on in other channels (found in review)
      if (this.scan.sessions.find(this.scope(), s.id, false) !== s) continue;
      for (const f of new Set(s.files.values())) flushTransfers(this.scan, f);
      this.scan.sessions.remove(s);
    }
    this.transactions.clear();
    this.pipeReads.clear();
  }

  /**
   * Whether a message's data must be kept whole, from its first `headLen` bytes: WRITE_ANDX
   * requests on pipe handles and the READ_ANDX responses to reads of one (see smb1KeepFor).
   */
  carriesPipeData(buf: Buffer, off: number, headLen: number): boolean {
    if (headLen < 33) return false;
    const cmd = buf[off + 4], reply = (buf[off + 9] & FLAGS_REPLY) !== 0;
    if (cmd === Smb1Cmd.READ_ANDX && reply) return this.pipeReads.has(keyOf(buf.readUInt16LE(off + 26), buf.readUInt16LE(off + 30)));
    // WRITE_ANDX words: AndX(4) FID(2) Offset(4) Timeout(4) WriteMode(2) Remaining(2) DataLengthHigh(2) DataLength(2) DataOffset(2)
    if (cmd !== Smb1Cmd.WRITE_ANDX || reply || headLen < 57 || buf[off + 32] < 12) return false;
    const uid = buf.readUInt16LE(off + 28), tid = buf.readUInt16LE(off + 24), fid = buf.readUInt16LE(off + 37);
    const dataAt = off + buf.readUInt16LE(off + 55);
    const data = { buf, off: dataAt, end: off + headLen };
    const s = this.scan.sessions.find(this.scope(), hex4(uid), false);
    const f = s?.files.get(String(fid));
    if (f) return this.pipeLike(f, data);
    const t = s?.trees.get(tid);
    return t && !unknownTree(t) ? pipeTree(t) : looksLikeRpc(buf, data.off, data.end);
  }

  message(buf: Buffer, off: number, end: number, at: Packet, fromA: boolean): void {
    const h = parseSmb1Header(buf, off, end);
    if (!h) { this.scan.anomaly('malformed_smb1_header'); return; }
    const reply = (h.flags & FLAGS_REPLY) !== 0;
    if (this.flow.clientIsA === null) this.flow.clientIsA = reply ? !fromA : fromA;
    const blocks = andxBlocks(buf, off, end, h, (p) => this.scan.anomaly(p));
    const base = keyOf(h.pid, h.mid);
    this.chainFile = null;
    for (const k of blocks) {
      if (reply) this.response(h, k, base, at);
      else this.request(h, k, base, at);
    }
    // an error answers the whole chain with its first block only
    if (reply && h.status !== 0 && blocks.length <= 1) this.failChain(base, h.status, at.frame);
  }

  private chains = new Map<number, number[]>();
  /**
   * The file an earlier block of this request's AndX chain opens: a READ_ANDX or WRITE_ANDX
   * chained after NT_CREATE_ANDX or OPEN_ANDX works on it, whatever FID it carries (the server
   * has not assigned one yet; Samba uses the chain's file the same way).
   */
  private chainFile: OpenFile | null = null;
  /** chained reads and writes of a chain's file still waiting for their answer */
  private readonly chainOps = new WeakMap<OpenFile, number>();

  private failChain(base: number, status: number, frame: number): void {
    const cmds = this.chains.get(base);
    if (!cmds) return;
    this.chains.delete(base);
    for (const c of cmds) {
      const p = this.pending.take(base + c, c);
      if (p) complete(this.scan, p, status, frame);
    }
  }

  /** SMB1 UIDs are per connection */
  private scope(): string { return `${this.conn().serverIp}#${this.flow.id}`; }

  /** the sessions of this connection's UIDs: they end with it (see close) */
  private session(uid: number): Session {
    const s = this.scan.sessions.get(this.scope(), hex4(uid), this.conn().serverIp, false, false);
    this.scan.sessions.attach(s, this.flow.id);
    return s;
  }

  private tree(s: Session, tid: number): Tree {
    let t = s.trees.get(tid);
    if (t) { t.used = true; return t; }
    t = newTree(tid, null, null);
    this.addTree(s, t);
    return t;
  }

  private addTree(s: Session, t: Tree): void {
    const gone = addTree(s, t);
    if (gone) this.scan.anomaly('trees_evicted', gone);
  }

  private file(s: Session, tid: number, fid: number | null): OpenFile | undefined {
    if (fid === null) return undefined;
    let f = s.files.get(String(fid));
    if (f) f.used = true;
    else {
      f = newOpenFile(null, this.tree(s, tid), s, this.conn());
      this.keep(s, String(fid), f);
    }
    return f;
  }

  private event(action: Action, at: Packet, s: Session, tree: Tree | null, path: string | null): SmbEvent {
    return newEvent(action, stampOf(at, this.scan.capture), this.conn(), s, tree, path);
  }

  private track(key: number, cmd: number, at: Packet, p: PendingInit): void {
    this.pending.add(key + cmd, newPending(cmd, stampOf(at, this.scan.capture), this.scan.seq++, p));
    const base = key;
    const list = this.chains.get(base);
    if (list) { if (!list.includes(cmd)) list.push(cmd); } else this.chains.set(base, [cmd]);
    if (this.chains.size > 4096) this.chains.delete(oldestKey(this.chains) as number);
  }

  /** a FID the server assigned: pipe handles are remembered for the pipe tap's closed() */
  private register(s: Session, fid: number, f: OpenFile): void {
    f.opened = true;
    this.keep(s, String(fid), f);
    if (isPipe(f)) this.pipeFiles.add(f);
  }

  /** a handle to remember, within the session's bounds (state.ts openFile) */
  private keep(s: Session, fid: string, f: OpenFile): void {
    for (const old of openFile(s, fid, f)) {
      flushTransfers(this.scan, old);
      this.pipeFiles.delete(old);
      this.scan.anomaly('open_files_evicted');
    }
  }

  /** an IPC$ handle, or one a TransactNmPipe showed to be a pipe (its tree connect not captured) */
  private pipeLike(f: OpenFile, data?: { buf: Buffer; off: number; end: number } | null): boolean {
    return this.pipeFiles.has(f) || isPipe(f, data?.buf, data?.off, data?.end);
  }

  private bounded<V>(m: Map<number, V>, key: number, v: V): void {
    m.delete(key);
    m.set(key, v);
    if (m.size > MAX_IN_FLIGHT) {
      m.delete(oldestKey(m) as number);
      this.scan.anomaly('smb1_transactions_evicted');
    }
  }

  /** the create event of the opens older than NT_CREATE_ANDX */
  private legacyOpen(h: Smb1Header, base: number, cmd: number, at: Packet, s: Session, name: string, disposition: number | null, access: number): void {
    const tree = this.tree(s, h.tid);
    const f = newOpenFile(stripLeading(name), tree, s, this.conn());
    const ev = this.event('create', at, s, tree, f.path);
    ev.disposition = disposition === null ? null : dispositionName(disposition);
    ev.access = accessNames(access);
    this.track(base, cmd, at, { session: s, ev, file: f });
    this.chainFile = f;
  }

  private transfer(at: Packet): Transfer {
    return { first: stampOf(at, this.scan.capture), conn: this.conn(), seq: this.scan.seq++, responseFrame: null, bytes: 0, status: null };
  }

  private request(h: Smb1Header, k: Block, base: number, at: Packet): void {
    const s = this.session(h.uid);
    switch (k.command) {
      case Smb1Cmd.NEGOTIATE:
        this.offered = negotiateDialects(k);
        this.track(base, k.command, at, { session: s });
        return;
      case Smb1Cmd.SESSION_SETUP_ANDX: {
        const r = sessionSetup(k);
        if (!r) return;
        const id = r.blob ? ntlmAuthenticate(r.blob) : r.account !== null ? { user: r.account, domain: r.domain ?? '', workstation: '' } : null;
        if (!id) { this.track(base, k.command, at, { session: s }); return; }
        if (h.uid !== 0) { s.user = id.user; s.domain = id.domain; s.workstation = id.workstation; }
        const ev = this.event('session_setup', at, s, null, null);
        ev.user = id.user; ev.domain = id.domain; ev.workstation = id.workstation;
        this.track(base, k.command, at, { session: s, ev });
        return;
      }
      case Smb1Cmd.LOGOFF_ANDX:
        // once answered: the answers to reads and writes sent before it still count
        this.track(base, k.command, at, {
          session: s,
          then: () => {
            for (const f of new Set(s.files.values())) { flushTransfers(this.scan, f); this.pipeFiles.delete(f); }
            this.scan.sessions.remove(s);
          },
        });
        return;
      case Smb1Cmd.TREE_CONNECT_ANDX: {
        const path = treeConnectPath(k);
        if (path === null) { this.scan.anomaly('malformed_tree_connect'); return; }
        const ev = this.event('tree_connect', at, s, null, null);
        ev.share = path;
        this.track(base, k.command, at, { session: s, ev });
        return;
      }
      case Smb1Cmd.TREE_DISCONNECT:
        removeTree(s, h.tid);
        return;
      case Smb1Cmd.NT_CREATE_ANDX: {
        const r = ntCreate(k);
        if (!r) { this.scan.anomaly('malformed_create'); return; }
        const tree = this.tree(s, h.tid);
        const f = newOpenFile(stripLeading(r.name), tree, s, this.conn());
        const ev = this.event('create', at, s, tree, f.path);
        ev.disposition = dispositionName(r.disposition);
        ev.access = accessNames(r.desiredAccess);
        this.track(base, k.command, at, { session: s, ev, file: f, alsoDelete: (r.options & FILE_DELETE_ON_CLOSE) !== 0 });
        this.chainFile = f;
        return;
      }
      case Smb1Cmd.READ_ANDX:
      case Smb1Cmd.WRITE_ANDX: {
        const chained = this.chainFile;
        const f = chained ?? this.file(s, h.tid, readWriteFid(k));
        if (!f || readWriteFid(k) === null) { this.scan.anomaly('malformed_read_write'); return; }
        const t = k.command === Smb1Cmd.READ_ANDX ? (f.read ??= this.transfer(at)) : (f.write ??= this.transfer(at));
        if (chained) this.chainOps.set(f, (this.chainOps.get(f) ?? 0) + 1);
        this.track(base, k.command, at, {
          session: s, file: f, transfer: t, writeLength: k.command === Smb1Cmd.WRITE_ANDX ? writeLength(k) : undefined,
          // the open failed: its handle never existed, no CLOSE will report the attempt; once
          // every chained read and write has its answer (a WRITE+READ chain: both, not the first)
          then: chained ? () => {
            const left = (this.chainOps.get(f) ?? 1) - 1;
            this.chainOps.set(f, left);
            if (left <= 0 && !f.opened) flushTransfers(this.scan, f);
          } : undefined,
        });
        if (k.command === Smb1Cmd.READ_ANDX) {
          // a read on a tree we never saw connect may be a pipe's: its answer's bytes will say
          if (this.pipeLike(f) || unknownTree(f.tree)) this.bounded(this.pipeReads, base, { f, sure: this.pipeLike(f) });
        } else {
          const d = writeData(k);
          if (this.pipeLike(f, d && { buf: k.buf, off: d.off, end: d.end })) {
            this.pipeFiles.add(f);
            this.pipeData(f, k.buf, d, true, at);
          }
        }
        return;
      }
      case Smb1Cmd.CLOSE: {
        const fid = closeFid(k);
        const f = fid === null ? undefined : s.files.get(String(fid));
        if (!f || fid === null) return;
        closeFile(s, String(fid));
        // once answered: a WRITE_ANDX+CLOSE chain's write is counted by the answer's first block
        this.track(base, k.command, at, {
          session: s,
          then: () => { flushTransfers(this.scan, f); this.pipeFiles.delete(f); }, // flushTransfers tells the pipe tap
        });
        return;
      }
      case Smb1Cmd.DELETE: {
        const name = deleteName(k);
        if (name === null) return;
        this.track(base, k.command, at, { session: s, ev: this.event('delete', at, s, this.tree(s, h.tid), stripLeading(name)) });
        return;
      }
      case Smb1Cmd.RENAME: {
        const names = renameNames(k);
        if (!names) return;
        const ev = this.event('rename', at, s, this.tree(s, h.tid), stripLeading(names[0]));
        ev.new_path = stripLeading(names[1]);
        this.track(base, k.command, at, { session: s, ev });
        return;
      }
      case Smb1Cmd.OPEN_ANDX: {
        const r = openAndx(k);
        if (!r) { this.scan.anomaly('malformed_open_andx'); return; }
        this.legacyOpen(h, base, k.command, at, s, r.name, openFunctionDisposition(r.openFunction), accessModeMask(r.accessMode));
        return;
      }
      case Smb1Cmd.OPEN:
      case Smb1Cmd.CREATE:
      case Smb1Cmd.CREATE_NEW: {
        const r = coreOpen(k);
        if (!r) { this.scan.anomaly('malformed_create'); return; }
        this.legacyOpen(h, base, k.command, at, s, r.name, r.disposition, r.access);
        return;
      }
      case Smb1Cmd.CREATE_DIRECTORY:
      case Smb1Cmd.DELETE_DIRECTORY: {
        const name = directoryName(k);
        if (name === null) { this.scan.anomaly('malformed_directory_request'); return; }
        const tree = this.tree(s, h.tid);
        const ev = this.event(k.command === Smb1Cmd.CREATE_DIRECTORY ? 'create' : 'delete', at, s, tree, stripLeading(name));
        if (k.command === Smb1Cmd.CREATE_DIRECTORY) ev.disposition = dispositionName(FILE_CREATE);
        this.track(base, k.command, at, { session: s, ev });
        return;
      }
      case Smb1Cmd.TRANSACTION:
        this.transaction(h, k, base, at, s);
        return;
      case Smb1Cmd.TRANSACTION_SECONDARY:
        this.transactionSecondary(k, base, at);
        return;
      case Smb1Cmd.TRANSACTION2:
        this.trans2(h, k, base, at, s);
        return;
      case Smb1Cmd.TRANSACTION2_SECONDARY:
        // only a primary that did not hold its parameters sends these; it was counted then
        this.scan.anomaly('smb1_trans2_secondary_ignored');
        return;
      default:
        return;
    }
  }

  private response(h: Smb1Header, k: Block, base: number, at: Packet): void {
    if (k.command === Smb1Cmd.NEGOTIATE && h.status === 0 && k.wc >= 1) {
      const d = this.offered[word(k, 0)];
      if (d) this.setDialect(d);
    }
    const trans = k.command === Smb1Cmd.TRANSACTION || k.command === Smb1Cmd.TRANSACTION2;
    // the interim answer to a primary that announced secondaries: the real one follows
    if (trans && h.status === 0 && k.wc === 0) return;
    if (k.command === Smb1Cmd.TRANSACTION) { this.transactionResponse(h, k, base, at); return; }
    if (k.command === Smb1Cmd.READ_ANDX) {
      const read = this.pipeReads.get(base);
      if (read) {
        this.pipeReads.delete(base);
        const d = h.status === 0 || h.status === STATUS_BUFFER_OVERFLOW ? readData(k) : null;
        if (d && (read.sure || looksLikeRpc(k.buf, d.off, d.end))) {
          this.pipeFiles.add(read.f);
          this.pipeData(read.f, k.buf, d, false, at);
        }
      }
    }
    const p = this.pending.take(base + k.command, k.command);
    if (!p) return;
    const ok = h.status === 0;
    switch (k.command) {
      case Smb1Cmd.SESSION_SETUP_ANDX:
        if (p.ev && h.uid !== 0) {
          // plain (non-extended) logons learn their UID here
          const s = this.session(h.uid);
          s.user = p.ev.user; s.domain = p.ev.domain; s.workstation = p.ev.workstation;
          p.ev.session_id = s.id;
        }
        break;
      case Smb1Cmd.TREE_CONNECT_ANDX:
        if (p.ev) {
          p.ev.tree_id = hex8(h.tid);
          p.ev.share_type = ok ? treeConnectService(k) : null;
          if (ok) this.addTree(this.session(h.uid), newTree(h.tid, p.ev.share, p.ev.share_type));
        }
        break;
      case Smb1Cmd.NT_CREATE_ANDX: {
        const fid = ok ? ntCreateFid(k) : null;
        if (fid !== null && p.file) this.register(p.session, fid, p.file);
        break;
      }
      case Smb1Cmd.OPEN_ANDX:
      case Smb1Cmd.OPEN:
      case Smb1Cmd.CREATE:
      case Smb1Cmd.CREATE_NEW: {
        const fid = !ok ? null : k.command === Smb1Cmd.OPEN_ANDX ? openAndxFid(k) : coreOpenFid(k);
        if (fid !== null && p.file) this.register(p.session, fid, p.file);
        break;
      }
      case Smb1Cmd.TRANSACTION2: {
        // only TRANS2_OPEN2 is tracked with a file: its answer's parameters start with the FID
        const r = ok && p.file ? transResponse(k) : null;
        const fid = r && !r.params.cut ? open2ResponseFid(this.slice(k, r.params)) : null;
        if (fid !== null && p.file) this.register(p.session, fid, p.file);
        break;
      }
      case Smb1Cmd.READ_ANDX:
        // STATUS_BUFFER_OVERFLOW: a partial pipe read, which still carries data
        if ((ok || h.status === STATUS_BUFFER_OVERFLOW) && p.transfer) p.transfer.bytes += readLength(k);
        break;
      case Smb1Cmd.WRITE_ANDX:
        if (ok && p.transfer) p.transfer.bytes += p.writeLength ?? 0;
        break;
    }
    complete(this.scan, p, h.status, at.frame);
  }

  private slice(k: Block, p: Piece): Slice {
    return { buf: k.buf, hdr: k.hdr, off: p.off, end: p.end, unicode: k.unicode };
  }

  /** pipe bytes to the tap; data we do not hold whole is counted, never passed on cut short */
  private pipeData(f: OpenFile, buf: Buffer, d: { off: number; end: number; complete: boolean } | null, fromClient: boolean, at: Packet): void {
    if (!d || !d.complete) { this.scan.anomaly(d ? 'smb1_pipe_data_not_kept' : 'malformed_pipe_data'); return; }
    if (d.end <= d.off) return;
    const stamp = stampOf(at, this.scan.capture);
    if (fromClient) this.scan.pipes.clientData(f, buf, d.off, d.end, stamp);
    else this.scan.pipes.serverData(f, buf, d.off, d.end, stamp);
  }

  private pipePiece(f: OpenFile, k: Block, p: Piece, fromClient: boolean, at: Packet): void {
    this.pipeData(f, k.buf, { off: p.off, end: p.end, complete: !p.cut }, fromClient, at);
  }

  /**
   * TRANSACTION: on a pipe (TransactNmPipe, Read/WriteNmPipe; Setup[1] is the FID) the data is
   * DCE/RPC for the pipe tap; RAP (\PIPE\LANMAN) and mailslots are not a handle's traffic.
   */
  private transaction(h: Smb1Header, k: Block, base: number, at: Packet, s: Session): void {
    const r = transRequest(k);
    if (!r) { this.scan.anomaly('malformed_transaction'); return; }
    const dir = PIPE_TRANSACTIONS[r.setup[0]];
    if (!dir || r.setup.length < 2 || (r.name !== null && NOT_PIPE_TRAFFIC.test(r.name))) return;
    const f = this.file(s, h.tid, r.setup[1]);
    if (!f) return;
    this.pipeFiles.add(f);
    if (dir.request) this.pipePiece(f, k, r.data, true, at);
    const requestMore = dir.request && !r.data.last;
    if (!dir.response && !requestMore) return;
    this.bounded(this.transactions, base, {
      pipe: f, pipeResponse: dir.response,
      requestNext: r.data.end - r.data.off, responseNext: 0, requestMore,
    });
  }

  /** TRANSACTION_SECONDARY: the rest of a pipe write that did not fit in the primary */
  private transactionSecondary(k: Block, base: number, at: Packet): void {
    const t = this.transactions.get(base);
    if (!t || !t.pipe || !t.requestMore) return;
    const r = transSecondary(k);
    if (!r) { this.scan.anomaly('malformed_transaction'); return; }
    if (r.data.displacement !== t.requestNext) {
      // out of order or overlapping: the pipe stream cannot be put back together
      this.scan.anomaly('smb1_trans_secondary_out_of_order');
      t.requestMore = false;
      return;
    }
    this.pipePiece(t.pipe, k, r.data, true, at);
    t.requestNext += r.data.end - r.data.off;
    if (r.data.last) t.requestMore = false;
  }

  private transactionResponse(h: Smb1Header, k: Block, base: number, at: Packet): void {
    const t = this.transactions.get(base);
    if (!t) return;
    if (h.status !== 0 && h.status !== STATUS_BUFFER_OVERFLOW) { this.transactions.delete(base); return; }
    const r = transResponse(k);
    if (!r) { this.scan.anomaly('malformed_transaction'); this.transactions.delete(base); return; }
    if (t.pipe && t.pipeResponse) {
      if (r.data.displacement === t.responseNext) {
        this.pipePiece(t.pipe, k, r.data, false, at);
        t.responseNext += r.data.end - r.data.off;
      } else {
        this.scan.anomaly('smb1_trans_response_out_of_order');
      }
    }
    // a reply that spans several messages ends with the one that reaches the totals
    if (r.data.last && r.params.last) this.transactions.delete(base);
  }

  /** TRANSACTION2 subcommands that open, create, rename or delete */
  private trans2(h: Smb1Header, k: Block, base: number, at: Packet, s: Session): void {
    const r = transRequest(k);
    if (!r) { this.scan.anomaly('malformed_transaction2'); return; }
    const decode = Smb1Handler.TRANS2_REQUESTS[r.setup[0]];
    if (!decode) return;
    if (r.params.cut || !r.params.last || r.data.cut || !r.data.last) {
      // the rest would come in TRANSACTION2_SECONDARY messages, which are not put together
      this.scan.anomaly(r.params.cut || r.data.cut ? 'smb1_trans2_truncated' : 'smb1_trans2_split');
      return;
    }
    decode(this, h, this.slice(k, r.params), this.slice(k, r.data), base, at, s);
  }

  /** TRANS2_SET_PATH_INFORMATION / TRANS2_SET_FILE_INFORMATION with a rename or delete level */
  private setInfo(h: Smb1Header, base: number, at: Packet, s: Session, level: number, data: Slice, target: { path: string } | { file: OpenFile }): void {
    const kind = SET_INFO_LEVELS[level];
    if (!kind) return;
    const d = setInfoData(level, data);
    if (!d) { this.scan.anomaly('malformed_set_info'); return; }
    if (kind === 'delete' && !d.deletes) return;
    const tree = 'file' in target ? target.file.tree : this.tree(s, h.tid);
    const path = 'file' in target ? target.file.path : stripLeading(target.path);
    const ev = this.event(kind, at, s, tree, path);
    if (d.newName !== undefined) ev.new_path = stripLeading(d.newName);
    this.track(base, Smb1Cmd.TRANSACTION2, at, { session: s, ev });
  }

  /** TRANSACTION2 Setup[0] → how its parameters and data become an event */
  private static readonly TRANS2_REQUESTS: Readonly<Record<number, Trans2Decoder>> = {
    [Trans2.OPEN2](self, h, params, _data, base, at, s) {
      const r = open2Params(params);
      if (!r) { self.scan.anomaly('malformed_trans2_open2'); return; }
      self.legacyOpen(h, base, Smb1Cmd.TRANSACTION2, at, s, r.name, openFunctionDisposition(r.openFunction), accessModeMask(r.accessMode));
    },
    [Trans2.CREATE_DIRECTORY](self, h, params, _data, base, at, s) {
      const name = createDirectoryParams(params);
      if (name === null) { self.scan.anomaly('malformed_trans2_create_directory'); return; }
      const ev = self.event('create', at, s, self.tree(s, h.tid), stripLeading(name));
      ev.disposition = dispositionName(FILE_CREATE);
      self.track(base, Smb1Cmd.TRANSACTION2, at, { session: s, ev });
    },
    [Trans2.SET_PATH_INFORMATION](self, h, params, data, base, at, s) {
      const r = setPathInfoParams(params);
      if (!r) { self.scan.anomaly('malformed_set_info'); return; }
      self.setInfo(h, base, at, s, r.level, data, { path: r.name });
    },
    [Trans2.SET_FILE_INFORMATION](self, h, params, data, base, at, s) {
      const r = setFileInfoParams(params);
      if (!r) { self.scan.anomaly('malformed_set_info'); return; }
      const f = self.file(s, h.tid, r.fid);
      if (f) self.setInfo(h, base, at, s, r.level, data, { file: f });
    },
  };
}

/** PID and MID name a request and its answers; the command code is added to tell AndX blocks apart */
const keyOf = (pid: number, mid: number): number => (pid * 0x10000 + mid) * 256;

type Trans2Decoder = (self: Smb1Handler, h: Smb1Header, params: Slice, data: Slice, base: number, at: Packet, s: Session) => void;

/** bytes of a TRANSACTION or pipe READ/WRITE kept whole: 16-bit counts bound their data to 64 KiB, plus header and parameters */
const KEEP_PIPE = (64 << 10) + 1024;
/** other messages: enough for any request's names and parameters */
const KEEP_LARGE = 64 << 10;

/**
 * How many bytes of an SMB1 message the framer keeps (MessageSink.keep for magic 0xFF), decided
 * from its first `headLen` bytes. Pipe data (WRITE_ANDX requests on a pipe FID, READ_ANDX
 * responses to reads of one, TRANSACTION and TRANSACTION_SECONDARY in both directions) is kept
 * whole up to KEEP_PIPE, as DCE/RPC needs every byte; other lone WRITE_ANDX requests and
 * READ_ANDX responses keep their parameter words only (their data is counted, not copied).
 * `h`: the connection's handler, which knows the pipe FIDs; null before any SMB1 was seen.
 */
export function smb1KeepFor(h: Smb1Handler | null, buf: Buffer, off: number, headLen: number, msgLen: number): number {
  if (headLen < 36) return Math.min(msgLen, KEEP_LARGE);
  const cmd = buf[off + 4], reply = (buf[off + 9] & FLAGS_REPLY) !== 0, wc = buf[off + 32];
  if (cmd === Smb1Cmd.TRANSACTION || cmd === Smb1Cmd.TRANSACTION_SECONDARY) return Math.min(msgLen, KEEP_PIPE);
  const data = (cmd === Smb1Cmd.WRITE_ANDX && !reply) || (cmd === Smb1Cmd.READ_ANDX && reply);
  if (!data) return Math.min(msgLen, KEEP_LARGE);
  if (h && h.carriesPipeData(buf, off, headLen)) return Math.min(msgLen, KEEP_PIPE);
  const lone = buf[off + 33] === 0xff;
  return lone ? Math.min(msgLen, 33 + wc * 2 + 2) : Math.min(msgLen, KEEP_LARGE);
}
