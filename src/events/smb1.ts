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
  andxBlocks, Block, closeFid, deleteName, FLAGS_REPLY, negotiateDialects, ntCreate, ntCreateFid,
  parseSmb1Header, readLength, readWriteFid, renameNames, sessionSetup, Smb1Cmd, Smb1Header,
  treeConnectPath, treeConnectService, word, writeLength,
} from '../smb/smb1/records';
import type { Action, SmbEvent } from './event';
import { complete, Pending, PendingTable } from './pending';
import { flushTransfers, hex8, newEvent, ScanState } from './smb2';
import { ConnRef, OpenFile, Session, stampOf, Transfer, Tree } from './state';

const stripLeading = (s: string): string => s.replace(/^\\+/, '');
const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

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

  close(): void { this.pending.drain(); }

  message(buf: Buffer, off: number, end: number, at: Packet, fromA: boolean): void {
    const h = parseSmb1Header(buf, off, end);
    if (!h) { this.scan.anomaly('malformed_smb1_header'); return; }
    const reply = (h.flags & FLAGS_REPLY) !== 0;
    if (this.flow.clientIsA === null) this.flow.clientIsA = reply ? !fromA : fromA;
    const blocks = andxBlocks(buf, off, end, h);
    const base = (h.pid * 0x10000 + h.mid) * 256;
    for (const k of blocks) {
      if (reply) this.response(h, k, base, at);
      else this.request(h, k, base, at);
    }
    // an error answers the whole chain with its first block only
    if (reply && h.status !== 0 && blocks.length <= 1) this.failChain(base, h.status, at.frame);
  }

  private chains = new Map<number, number[]>();

  private failChain(base: number, status: number, frame: number): void {
    const cmds = this.chains.get(base);
    if (!cmds) return;
    this.chains.delete(base);
    for (const c of cmds) {
      const p = this.pending.take(base + c, c);
      if (p) complete(this.scan, p, status, frame);
    }
  }

  private session(uid: number): Session {
    const c = this.conn();
    return this.scan.sessions.get(`${c.serverIp}#${this.flow.id}`, hex4(uid), c.serverIp, false, false);
  }

  private tree(s: Session, tid: number): Tree {
    let t = s.trees.get(tid);
    if (!t) { t = { id: tid, share: null, shareType: null }; s.trees.set(tid, t); }
    return t;
  }

  private file(s: Session, tid: number, fid: number | null): OpenFile | undefined {
    if (fid === null) return undefined;
    let f = s.files.get(String(fid));
    if (!f) {
      f = { path: null, tree: this.tree(s, tid), session: s, conn: this.conn(), read: null, write: null, closed: false };
      s.files.set(String(fid), f);
    }
    return f;
  }

  private event(action: Action, at: Packet, s: Session, tree: Tree | null, path: string | null): SmbEvent {
    return newEvent(action, stampOf(at, this.scan.capture), this.conn(), s, tree, path);
  }

  private track(key: number, cmd: number, at: Packet, p: Omit<Pending, 'cmd' | 'stamp' | 'seq'>): void {
    this.pending.add(key + cmd, { ...p, cmd, stamp: stampOf(at, this.scan.capture), seq: this.scan.seq++ });
    const base = key;
    const list = this.chains.get(base);
    if (list) { if (!list.includes(cmd)) list.push(cmd); } else this.chains.set(base, [cmd]);
    if (this.chains.size > 4096) this.chains.delete(this.chains.keys().next().value as number);
  }

  private transfer(at: Packet): Transfer {
    return { first: stampOf(at, this.scan.capture), seq: this.scan.seq++, responseFrame: null, bytes: 0, status: null };
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
        for (const f of new Set(s.files.values())) flushTransfers(this.scan, f);
        this.scan.sessions.remove(s);
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
        s.trees.delete(h.tid);
        return;
      case Smb1Cmd.NT_CREATE_ANDX: {
        const r = ntCreate(k);
        if (!r) { this.scan.anomaly('malformed_create'); return; }
        const tree = this.tree(s, h.tid);
        const f: OpenFile = { path: stripLeading(r.name), tree, session: s, conn: this.conn(), read: null, write: null, closed: false };
        const ev = this.event('create', at, s, tree, f.path);
        ev.disposition = dispositionName(r.disposition);
        ev.access = accessNames(r.desiredAccess);
        this.track(base, k.command, at, { session: s, ev, file: f, alsoDelete: (r.options & FILE_DELETE_ON_CLOSE) !== 0 });
        return;
      }
      case Smb1Cmd.READ_ANDX:
      case Smb1Cmd.WRITE_ANDX: {
        const f = this.file(s, h.tid, readWriteFid(k));
        if (!f) { this.scan.anomaly('malformed_read_write'); return; }
        const t = k.command === Smb1Cmd.READ_ANDX ? (f.read ??= this.transfer(at)) : (f.write ??= this.transfer(at));
        this.track(base, k.command, at, { session: s, file: f, transfer: t, writeLength: k.command === Smb1Cmd.WRITE_ANDX ? writeLength(k) : undefined });
        return;
      }
      case Smb1Cmd.CLOSE: {
        const fid = closeFid(k);
        const f = fid === null ? undefined : s.files.get(String(fid));
        if (!f || fid === null) return;
        flushTransfers(this.scan, f);
        s.files.delete(String(fid));
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
      default:
        return;
    }
  }

  private response(h: Smb1Header, k: Block, base: number, at: Packet): void {
    if (k.command === Smb1Cmd.NEGOTIATE && h.status === 0 && k.wc >= 1) {
      const d = this.offered[word(k, 0)];
      if (d) this.setDialect(d);
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
          if (ok) this.session(h.uid).trees.set(h.tid, { id: h.tid, share: p.ev.share, shareType: p.ev.share_type });
        }
        break;
      case Smb1Cmd.NT_CREATE_ANDX: {
        const fid = ok ? ntCreateFid(k) : null;
        if (fid !== null && p.file) p.session.files.set(String(fid), p.file);
        break;
      }
      case Smb1Cmd.READ_ANDX:
        if (ok && p.transfer) p.transfer.bytes += readLength(k);
        break;
      case Smb1Cmd.WRITE_ANDX:
        if (ok && p.transfer) p.transfer.bytes += p.writeLength ?? 0;
        break;
    }
    complete(this.scan, p, h.status, at.frame);
  }
}
