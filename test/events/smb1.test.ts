/**
 * The SMB1 handler on synthetic conversations: legacy opens, TRANS2 rename/delete/open, named
 * pipe data (TransactNmPipe, WRITE_ANDX/READ_ANDX) to the PipeTap, smb1KeepFor, and hostile
 * input (AndX loops, every prefix of every message) counted, never thrown.
 */
import { describe, expect, it } from 'vitest';
import { Smb1Handler, smb1KeepFor } from '../../src/events/smb1';
import type { ScanState } from '../../src/events/smb2';
import { SessionTable } from '../../src/events/state';
import type { Flow } from '../../src/tcp/flows';
import { cat, u16le, u32le, u8, utf16 } from '../helpers/build';
import { CaptureBuilder, Conversation, only, scanBuilder } from '../helpers/conversation';
import { pkt } from '../helpers/record';
import {
  andx, andxChain, block, closeRequest, CMD1, failedReply, emptyResponse, ntCreateRequest, ntCreateResponse, readAndx, readAndxResponse,
  recordingTap, scanSmb1Pcap, smb1, Smb1HeaderFields, smbString, TapCall, transRequest, transResponse,
  transSecondary, treeConnect, treeConnectResponse, writeAndx, writeAndxResponse,
} from './smb1-helpers';

const BIND = Buffer.from('05000b0310000000480000000100000000000000', 'hex');
const BIND_ACK = Buffer.from('05000c0310000000440000000100000000000000', 'hex');
const STATUS_ACCESS_DENIED = 0xc0000022;

/** An SMB1 client on a conversation: numbers MIDs and answers as told. */
class Client {
  mid = 1;
  constructor(readonly conv: Conversation, readonly uid = 0x0800) {}
  h(tid: number, command = 0): Smb1HeaderFields { return { command, tid, uid: this.uid, mid: this.mid }; }
  x(req: (h: Smb1HeaderFields) => Buffer, res: ((h: Smb1HeaderFields) => Buffer) | null, tid = 0): { req: number; res: number | null } {
    const h = this.h(tid);
    const reqFrame = this.conv.c(req(h));
    const resFrame = res ? this.conv.s(res(h)) : null;
    this.mid++;
    return { req: reqFrame, res: resFrame };
  }
  tree(path: string, tid: number, service: 'IPC' | 'A:'): void {
    this.x((h) => treeConnect(h, path), (h) => treeConnectResponse({ ...h, tid }, service));
  }
  open(tid: number, name: string, fid: number): void {
    this.x((h) => ntCreateRequest(h, name), (h) => ntCreateResponse(h, fid), tid);
  }
}

function setup(): { cap: CaptureBuilder; c: Client } {
  const cap = new CaptureBuilder();
  const conv = cap.conversation().handshake();
  return { cap, c: new Client(conv) };
}

const data = (calls: TapCall[]): string[] => calls.filter((k) => k.kind !== 'closed').map((k) => `${k.kind} ${k.path} ${k.bytes.toString('hex')} #${k.frame}`);

describe('named pipes feed the PipeTap', () => {
  it('TransactNmPipe: request data to clientData, response data to serverData; CLOSE closes the handle', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\IPC$', 7, 'IPC');
    c.open(7, '\\srvsvc', 0x4000);
    const t = c.x((h) => transRequest(h, { command: CMD1.TRANSACTION, setup: [0x26, 0x4000], data: BIND }),
      (h) => transResponse(h, { command: CMD1.TRANSACTION, data: BIND_ACK }), 7);
    c.x((h) => closeRequest(h, 0x4000), (h) => emptyResponse({ ...h, command: CMD1.CLOSE }), 7);
    const r = scanSmb1Pcap(cap.pcap());
    expect(data(r.calls)).toEqual([`client srvsvc ${BIND.toString('hex')} #${t.req}`, `server srvsvc ${BIND_ACK.toString('hex')} #${t.res}`]);
    expect(r.calls.filter((k) => k.kind === 'closed').map((k) => k.path)).toEqual(['srvsvc']);
    expect(r.anomalies).toEqual({});
  });

  it('WRITE_ANDX and READ_ANDX on an IPC$ handle (smbclient, impacket) carry DCE/RPC too; the connection end closes the handle', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\IPC$', 7, 'IPC');
    c.open(7, '\\svcctl', 0x4001);
    const w = c.x((h) => writeAndx(h, 0x4001, BIND), (h) => writeAndxResponse(h, BIND.length), 7);
    const rd = c.x((h) => readAndx(h, 0x4001, 1024), (h) => readAndxResponse(h, BIND_ACK), 7);
    c.conv.fin();
    const r = scanSmb1Pcap(cap.pcap());
    expect(data(r.calls)).toEqual([`client svcctl ${BIND.toString('hex')} #${w.req}`, `server svcctl ${BIND_ACK.toString('hex')} #${rd.res}`]);
    expect(r.calls.filter((k) => k.kind === 'closed').map((k) => k.path)).toEqual(['svcctl']);
    // the handle's reads and writes are still reported as such
    expect(r.events.filter((e) => e.action === 'write' || e.action === 'read').map((e) => [e.action, e.bytes])).toEqual([['write', 20], ['read', 20]]);
  });

  it('the connection end lets go of its sessions (UIDs are per connection): a disk handle left open reports its write then, not at the capture\'s end', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 7, 'A:');
    c.open(7, '\\left-open.txt', 0x4002);
    c.x((h) => writeAndx(h, 0x4002, Buffer.alloc(33)), (h) => writeAndxResponse(h, 33), 7);
    c.conv.fin();
    const end = cap.frames.length - 1; // the second FIN ends the flow
    const other = new Client(cap.conversation({ clientPort: 50000 }).handshake());
    other.tree('\\\\srv\\share', 7, 'A:');
    const r = scanBuilder(cap);
    const i = r.events.findIndex((e) => e.action === 'write');
    expect(r.events[i]).toMatchObject({ path: 'left-open.txt', bytes: 33 });
    expect(r.emittedAt[i]).toBe(end);
  });

  it('a disk file\'s WRITE_ANDX data never reaches the tap', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\C$', 9, 'A:');
    c.open(9, '\\x.bin', 0x11);
    c.x((h) => writeAndx(h, 0x11, BIND), (h) => writeAndxResponse(h, BIND.length), 9);
    expect(data(scanSmb1Pcap(cap.pcap()).calls)).toEqual([]);
  });

  it('midstream (no tree connect, no create): TransactNmPipe still names a pipe handle, and plain writes on it follow', () => {
    const { cap, c } = setup();
    c.x((h) => transRequest(h, { command: CMD1.TRANSACTION, setup: [0x26, 0x77], data: BIND }), (h) => transResponse(h, { command: CMD1.TRANSACTION, data: BIND_ACK }), 3);
    c.x((h) => writeAndx(h, 0x77, Buffer.from('0500000310', 'hex')), (h) => writeAndxResponse(h, 5), 3);
    const r = scanSmb1Pcap(cap.pcap());
    expect(data(r.calls).map((s) => s.split(' ').slice(0, 3).join(' '))).toEqual([
      `client null ${BIND.toString('hex')}`, `server null ${BIND_ACK.toString('hex')}`, 'client null 0500000310']);
  });

  it('a request too big for the primary goes on in TRANSACTION_SECONDARY; a multi-part answer is joined in order', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\IPC$', 7, 'IPC');
    c.open(7, '\\lsarpc', 0x4002);
    const h = c.h(7);
    c.conv.c(transRequest(h, { command: CMD1.TRANSACTION, setup: [0x26, 0x4002], data: BIND.subarray(0, 8), totalData: BIND.length }));
    c.conv.s(smb1({ ...h, command: CMD1.TRANSACTION, reply: true }, block(Buffer.alloc(0)))); // interim: send the rest
    c.conv.c(transSecondary(h, BIND.length, BIND.subarray(8), 8));
    c.conv.s(transResponse(h, { command: CMD1.TRANSACTION, data: BIND_ACK.subarray(0, 10), totalData: BIND_ACK.length }));
    c.conv.s(transResponse(h, { command: CMD1.TRANSACTION, data: BIND_ACK.subarray(10), totalData: BIND_ACK.length, dataDisplacement: 10 }));
    const r = scanSmb1Pcap(cap.pcap());
    const joined = (kind: string): string => r.calls.filter((k) => k.kind === kind).map((k) => k.bytes.toString('hex')).join('');
    expect(joined('client')).toBe(BIND.toString('hex'));
    expect(joined('server')).toBe(BIND_ACK.toString('hex'));
    expect(r.anomalies).toEqual({});
  });

  it('\\PIPE\\LANMAN (RAP) and mailslots are not pipe-handle traffic', () => {
    const { cap, c } = setup();
    c.x((h) => transRequest(h, { command: CMD1.TRANSACTION, name: '\\PIPE\\LANMAN', setup: [0x26, 1], data: BIND }), null, 3);
    c.x((h) => transRequest(h, { command: CMD1.TRANSACTION, name: '\\MAILSLOT\\BROWSE', setup: [0x26, 1], data: BIND }), null, 3);
    expect(scanSmb1Pcap(cap.pcap()).calls).toEqual([]);
  });
});

describe('smb1KeepFor', () => {
  it('keeps a pipe WRITE_ANDX whole, a disk one to its parameter words, a TRANSACTION whole; works without a handler', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\IPC$', 7, 'IPC');
    c.open(7, '\\srvsvc', 0x4000);
    // the handler learns the pipe FID from the capture; then we ask it about two writes
    const scan: ScanState = { capture: 'm', sessions: new SessionTable(), emit: () => {}, anomaly: () => {}, seq: 0, smbMessages: 0, pipes: recordingTap([]) };
    const flow = { id: 1, a: { ip: '10.0.0.5', port: 49700 }, b: { ip: '10.0.0.12', port: 445 }, clientIsA: true } as unknown as Flow;
    const h = new Smb1Handler(scan, flow, () => ({ clientIp: '10.0.0.5', clientPort: 49700, serverIp: '10.0.0.12', serverPort: 445, dialect: null }), () => {});
    const hdr = { tid: 7, uid: 0x0800 };
    const feed = (m: Buffer, fromA: boolean): void => h.message(m, 0, m.length, pkt(1), fromA);
    feed(treeConnect({ ...hdr, mid: 1 }, '\\\\srv\\IPC$'), true);
    feed(treeConnectResponse({ ...hdr, mid: 1 }, 'IPC'), false);
    feed(ntCreateRequest({ ...hdr, mid: 2 }, '\\srvsvc'), true);
    feed(ntCreateResponse({ ...hdr, mid: 2 }, 0x4000), false);
    const pipeWrite = writeAndx({ ...hdr, mid: 3 }, 0x4000, Buffer.alloc(3000, 5));
    const diskWrite = writeAndx({ tid: 9, uid: 0x0800, mid: 4 }, 0x1234, Buffer.alloc(3000, 0x4d));
    const head = (m: Buffer): number => Math.min(128, m.length);
    expect(smb1KeepFor(h, pipeWrite, 0, head(pipeWrite), pipeWrite.length)).toBe(pipeWrite.length);
    expect(smb1KeepFor(h, diskWrite, 0, head(diskWrite), diskWrite.length)).toBe(32 + 1 + 28 + 2);
    expect(smb1KeepFor(null, pipeWrite, 0, head(pipeWrite), pipeWrite.length)).toBe(32 + 1 + 28 + 2);
    // a READ_ANDX response is kept whole when its request read a pipe handle
    feed(readAndx({ ...hdr, mid: 5 }, 0x4000, 4280), true);
    const pipeRead = readAndxResponse({ ...hdr, mid: 5 }, Buffer.alloc(2000, 5));
    expect(smb1KeepFor(h, pipeRead, 0, head(pipeRead), pipeRead.length)).toBe(pipeRead.length);
    const otherRead = readAndxResponse({ ...hdr, mid: 6 }, Buffer.alloc(2000, 5));
    expect(smb1KeepFor(h, otherRead, 0, head(otherRead), otherRead.length)).toBe(32 + 1 + 24 + 2);
    const trans = transRequest({ ...hdr, mid: 7 }, { command: CMD1.TRANSACTION, setup: [0x26, 0x4000], data: Buffer.alloc(5000) });
    expect(smb1KeepFor(h, trans, 0, head(trans), trans.length)).toBe(trans.length);
    expect(smb1KeepFor(h, trans, 0, 20, trans.length)).toBe(trans.length);
    void cap;
  });
});

describe('legacy opens and TRANS2 through the whole pipeline', () => {
  /** OPEN_ANDX request (wc 15) and response (wc 15) */
  const openAndxReq = (h: Smb1HeaderFields, name: string, accessMode: number, openFunction: number): Buffer => {
    const words = cat(andx(), u16le(0), u16le(accessMode), u16le(0x16), u16le(0), u32le(0), u16le(openFunction), u32le(0), u32le(0), u32le(0));
    return smb1({ ...h, command: CMD1.OPEN_ANDX }, block(words, smbString(name, true, 32 + 1 + 30 + 2)));
  };
  const openAndxRes = (h: Smb1HeaderFields, fid: number): Buffer =>
    smb1({ ...h, command: CMD1.OPEN_ANDX, reply: true }, block(cat(andx(), u16le(fid), Buffer.alloc(24))));

  it('OPEN_ANDX: a create event (path, access, disposition, status), and its FID names later writes', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\C$', 9, 'A:');
    const o = c.x((h) => openAndxReq(h, '\\Windows\\evil.exe', 0x0041, 0x0012), (h) => openAndxRes(h, 0x33), 9);
    c.x((h) => writeAndx(h, 0x33, Buffer.alloc(100)), (h) => writeAndxResponse(h, 100), 9);
    const denied = c.x((h) => openAndxReq(h, '\\secret.txt', 0x0000, 0x0001), (h) => smb1({ ...h, command: CMD1.OPEN_ANDX, reply: true, status: STATUS_ACCESS_DENIED }, block(Buffer.alloc(0))), 9);
    c.conv.fin();
    const r = scanBuilder(cap);
    const creates = only(r, 'create');
    expect(creates.map((e) => [e.frame, e.path, e.disposition, e.access, e.status, e.share])).toEqual([
      [o.req, 'Windows\\evil.exe', 'FILE_OVERWRITE_IF', ['GENERIC_WRITE'], 'STATUS_SUCCESS', '\\\\srv\\C$'],
      [denied.req, 'secret.txt', 'FILE_OPEN', ['GENERIC_READ'], 'STATUS_ACCESS_DENIED', '\\\\srv\\C$'],
    ]);
    expect(only(r, 'write').map((e) => [e.path, e.bytes])).toEqual([['Windows\\evil.exe', 100]]);
  });

  it('CREATE_NEW and OPEN: disposition by command', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\D', 9, 'A:');
    c.x((h) => smb1({ ...h, command: CMD1.CREATE_NEW }, block(cat(u16le(0x20), u32le(0)), cat(u8(4), smbString('\\new.txt', true, 32 + 1 + 6 + 2 + 1)))),
      (h) => smb1({ ...h, command: CMD1.CREATE_NEW, reply: true }, block(u16le(5))), 9);
    c.x((h) => smb1({ ...h, command: CMD1.OPEN }, block(cat(u16le(0x0040), u16le(0x16)), cat(u8(4), smbString('\\old.txt', true, 32 + 1 + 4 + 2 + 1)))),
      (h) => smb1({ ...h, command: CMD1.OPEN, reply: true }, block(cat(u16le(6), Buffer.alloc(12)))), 9);
    const r = scanBuilder(cap);
    expect(only(r, 'create').map((e) => [e.path, e.disposition, e.access])).toEqual([
      ['new.txt', 'FILE_CREATE', ['GENERIC_WRITE', 'GENERIC_READ']], ['old.txt', 'FILE_OPEN', ['GENERIC_READ']]]);
  });

  /** TRANS2 parameters */
  const setPath = (level: number, name: string): Buffer => cat(u16le(level), u32le(0), utf16(name), u16le(0));
  const setFile = (fid: number, level: number): Buffer => cat(u16le(fid), u16le(level), u16le(0));
  const renameInfo = (name: string): Buffer => cat(u8(0), Buffer.alloc(3), u32le(0), u32le(utf16(name).length), utf16(name));

  it('TRANS2 SET_PATH_INFORMATION FileRenameInformation (1010) is a rename with new_path; the response status completes it', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 9, 'A:');
    const x = c.x((h) => transRequest(h, { command: CMD1.TRANSACTION2, setup: [6], params: setPath(1010, '\\a\\old.txt'), data: renameInfo('\\a\\new.txt') }),
      (h) => transResponse(h, { command: CMD1.TRANSACTION2, params: u16le(0) }), 9);
    const r = scanBuilder(cap);
    expect(only(r, 'rename').map((e) => [e.frame, e.response_frame, e.path, e.new_path, e.status])).toEqual([
      [x.req, x.res, 'a\\old.txt', 'a\\new.txt', 'STATUS_SUCCESS']]);
  });

  it('TRANS2 SET_FILE_INFORMATION disposition (0x102 and pass-through 1013) is a delete of the FID\'s file; a cleared flag is not', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 9, 'A:');
    c.open(9, '\\doomed.txt', 0x21);
    const del = c.x((h) => transRequest(h, { command: CMD1.TRANSACTION2, setup: [8], params: setFile(0x21, 0x102), data: u8(1) }),
      (h) => transResponse(h, { command: CMD1.TRANSACTION2, params: u16le(0) }), 9);
    c.x((h) => transRequest(h, { command: CMD1.TRANSACTION2, setup: [8], params: setFile(0x21, 1013), data: u8(0) }),
      (h) => transResponse(h, { command: CMD1.TRANSACTION2, params: u16le(0) }), 9);
    const denied = c.x((h) => transRequest(h, { command: CMD1.TRANSACTION2, setup: [8], params: setFile(0x21, 1013), data: u8(1) }),
      (h) => smb1({ ...h, command: CMD1.TRANSACTION2, reply: true, status: STATUS_ACCESS_DENIED }, block(Buffer.alloc(0))), 9);
    const r = scanBuilder(cap);
    expect(only(r, 'delete').map((e) => [e.frame, e.path, e.status])).toEqual([
      [del.req, 'doomed.txt', 'STATUS_SUCCESS'], [denied.req, 'doomed.txt', 'STATUS_ACCESS_DENIED']]);
  });

  it('TRANS2_OPEN2 is a create whose FID comes from the response parameters; a split TRANS2 is counted, not guessed', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 9, 'A:');
    const params = cat(u16le(0), u16le(0x0042), u16le(0), u16le(0), u32le(0), u16le(0x11), u32le(0), Buffer.alloc(10), utf16('\\o2.txt'), u16le(0));
    c.x((h) => transRequest(h, { command: CMD1.TRANSACTION2, setup: [0], params }), (h) => transResponse(h, { command: CMD1.TRANSACTION2, params: cat(u16le(0x44), Buffer.alloc(28)) }), 9);
    c.x((h) => writeAndx(h, 0x44, Buffer.alloc(7)), (h) => writeAndxResponse(h, 7), 9);
    c.x((h) => transRequest(h, { command: CMD1.TRANSACTION2, setup: [6], params: setPath(1010, '\\x'), data: renameInfo('\\y').subarray(0, 4), totalData: 16 }), null, 9);
    c.x((h) => smb1({ ...h, command: CMD1.TRANSACTION2_SECONDARY }, block(Buffer.alloc(18))), null, 9);
    c.conv.fin();
    const r = scanBuilder(cap);
    expect(only(r, 'create').map((e) => [e.path, e.disposition, e.access])).toEqual([['o2.txt', 'FILE_OPEN_IF', ['GENERIC_WRITE', 'GENERIC_READ']]]);
    expect(only(r, 'write').map((e) => [e.path, e.bytes])).toEqual([['o2.txt', 7]]);
    expect(only(r, 'rename')).toEqual([]);
    expect(r.summary.anomalies).toMatchObject({ smb1_trans2_split: 1, smb1_trans2_secondary_ignored: 1 });
  });
});

describe('read and write totals are reported once the CLOSE or LOGOFF is answered', () => {
  const STATUS_OBJECT_NAME_NOT_FOUND = 0xc0000034;

  it('a WRITE_ANDX answered after the CLOSE request still counts (pipelined requests)', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 9, 'A:');
    c.open(9, '\\up.bin', 0x41);
    const hw = { ...c.h(9), mid: 50 }, hc = { ...c.h(9), mid: 51 };
    const w = c.conv.c(writeAndx(hw, 0x41, Buffer.alloc(68, 1)));
    c.conv.c(closeRequest(hc, 0x41));
    const wr = c.conv.s(writeAndxResponse(hw, 68));
    c.conv.s(emptyResponse({ ...hc, command: CMD1.CLOSE }));
    expect(only(scanBuilder(cap), 'write').map((e) => [e.path, e.bytes, e.status, e.frame, e.response_frame])).toEqual([['up.bin', 68, 'STATUS_SUCCESS', w, wr]]);
  });

  it('a WRITE_ANDX answered after the LOGOFF_ANDX request still counts', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\IPC$', 9, 'IPC');
    c.open(9, '\\samr', 0x42);
    const hw = { ...c.h(9), mid: 60 }, hl = { ...c.h(0), mid: 61 };
    c.conv.c(writeAndx(hw, 0x42, Buffer.alloc(512, 2)));
    c.conv.c(smb1({ ...hl, command: CMD1.LOGOFF_ANDX }, block(andx())));
    const wr = c.conv.s(writeAndxResponse(hw, 512));
    c.conv.s(smb1({ ...hl, command: CMD1.LOGOFF_ANDX, reply: true }, block(andx())));
    expect(only(scanBuilder(cap), 'write').map((e) => [e.path, e.bytes, e.response_frame])).toEqual([['samr', 512, wr]]);
  });

  it('NT_CREATE_ANDX + WRITE_ANDX + READ_ANDX whose open fails: both the write and the read carry the failure', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 9, 'A:');
    const h = c.h(9);
    const rq = c.conv.c(andxChain(ntCreateRequest(h, '\\x.txt'), writeAndx(h, 0xffff, Buffer.from('hello')), readAndx(h, 0xffff, 4096)));
    const rs = c.conv.s(failedReply(h, CMD1.NT_CREATE_ANDX, STATUS_OBJECT_NAME_NOT_FOUND));
    const rows = scanBuilder(cap).events.filter((e) => e.action === 'read' || e.action === 'write').map((e) => [e.action, e.path, e.status, e.frame, e.response_frame]);
    expect(rows).toEqual([
      ['write', 'x.txt', 'STATUS_OBJECT_NAME_NOT_FOUND', rq, rs],
      ['read', 'x.txt', 'STATUS_OBJECT_NAME_NOT_FOUND', rq, rs],
    ]);
  });

  it('READ_ANDX chained after NT_CREATE_ANDX reads the file the chain opens; a failed open fails the read too', () => {
    const { cap, c } = setup();
    c.tree('\\\\srv\\share', 9, 'A:');
    const h = c.h(9);
    // the READ_ANDX names FID 0xffff: the server has not assigned one yet
    const rq = c.conv.c(andxChain(ntCreateRequest(h, '\\x.lnk:com.apple.LaunchServices.OpenWith'), readAndx(h, 0xffff, 4096)));
    const rs = c.conv.s(failedReply(h, CMD1.NT_CREATE_ANDX, STATUS_OBJECT_NAME_NOT_FOUND));
    const r = scanBuilder(cap);
    expect(only(r, 'create').map((e) => [e.path, e.status])).toEqual([['x.lnk:com.apple.LaunchServices.OpenWith', 'STATUS_OBJECT_NAME_NOT_FOUND']]);
    expect(only(r, 'read').map((e) => [e.path, e.bytes, e.status, e.frame, e.response_frame])).toEqual([
      ['x.lnk:com.apple.LaunchServices.OpenWith', 0, 'STATUS_OBJECT_NAME_NOT_FOUND', rq, rs],
    ]);
  });
});

describe('hostile input is counted, never thrown', () => {
  it('an AndX chain that points back at itself, on the wire', () => {
    const { cap, c } = setup();
    c.x((h) => cat(smb1({ ...h, command: CMD1.LOGOFF_ANDX }, block(andx(CMD1.LOGOFF_ANDX, 32)))), null);
    expect(scanBuilder(cap).summary.anomalies).toMatchObject({ smb1_andx_loop: 1 });
  });

  it('every prefix of every message this file builds goes through the handler without a throw', () => {
    const hdr: Smb1HeaderFields = { command: 0, tid: 7, uid: 0x0800, mid: 9 };
    const msgs = [
      treeConnect(hdr, '\\\\srv\\IPC$'), treeConnectResponse(hdr, 'IPC'), ntCreateRequest(hdr, '\\srvsvc'), ntCreateResponse(hdr, 0x4000),
      writeAndx(hdr, 0x4000, BIND), writeAndx(hdr, 0x4000, BIND, 0x000c), readAndx(hdr, 0x4000, 100), readAndxResponse(hdr, BIND_ACK),
      transRequest(hdr, { command: CMD1.TRANSACTION, setup: [0x26, 0x4000], data: BIND }), transResponse(hdr, { command: CMD1.TRANSACTION, data: BIND_ACK }),
      transSecondary(hdr, 40, BIND, 20),
      transRequest(hdr, { command: CMD1.TRANSACTION2, setup: [6], params: cat(u16le(1010), u32le(0), utf16('\\a'), u16le(0)), data: cat(Buffer.alloc(8), u32le(4), utf16('\\b')) }),
      transRequest(hdr, { command: CMD1.TRANSACTION2, setup: [8], params: cat(u16le(0x4000), u16le(0x102), u16le(0)), data: u8(1) }),
      transRequest(hdr, { command: CMD1.TRANSACTION2, setup: [0], params: Buffer.alloc(40, 0x41) }),
      transRequest(hdr, { command: CMD1.TRANSACTION2, setup: [0xd], params: cat(u32le(0), utf16('\\d'), u16le(0)) }),
      transResponse(hdr, { command: CMD1.TRANSACTION2, params: u16le(0x44) }),
      closeRequest(hdr, 0x4000),
      smb1({ ...hdr, command: CMD1.OPEN_ANDX }, block(Buffer.alloc(30), smbString('\\f', true, 65))),
      smb1({ ...hdr, command: CMD1.OPEN_ANDX, reply: true }, block(Buffer.alloc(30))),
      smb1({ ...hdr, command: CMD1.CREATE }, block(Buffer.alloc(6), cat(u8(4), smbString('\\g', true, 42)))),
      smb1({ ...hdr, command: CMD1.CREATE_DIRECTORY }, block(Buffer.alloc(0), cat(u8(4), smbString('\\h', true, 36)))),
      smb1({ ...hdr, command: CMD1.DELETE_DIRECTORY }, block(Buffer.alloc(0), cat(u8(4), smbString('\\h', true, 36)))),
    ];
    const kinds: Record<string, number> = {};
    const scan: ScanState = {
      capture: 'm', sessions: new SessionTable(), emit: () => {}, anomaly: (k) => { kinds[k] = (kinds[k] ?? 0) + 1; }, seq: 0, smbMessages: 0, pipes: recordingTap([]),
    };
    const flow = { id: 1, a: { ip: '10.0.0.5', port: 1 }, b: { ip: '10.0.0.12', port: 445 }, clientIsA: true } as unknown as Flow;
    const h = new Smb1Handler(scan, flow, () => ({ clientIp: '10.0.0.5', clientPort: 1, serverIp: '10.0.0.12', serverPort: 445, dialect: null }), () => {});
    for (const m of msgs) {
      for (let len = 0; len <= m.length; len++) {
        // as a request and as a reply, and with every WordCount
        h.message(m, 0, len, pkt(1), true);
        const r = Buffer.from(m); r[9] |= 0x80;
        h.message(r, 0, len, pkt(2), false);
        expect(smb1KeepFor(h, m, 0, Math.min(len, 128), m.length)).toBeLessThanOrEqual(m.length);
      }
      for (let wc = 0; wc < 40 && m.length > 33; wc++) {
        const w = Buffer.from(m); w[32] = wc;
        h.message(w, 0, w.length, pkt(3), true);
      }
    }
    h.close();
    expect(kinds.malformed_smb1_header).toBeGreaterThan(0);
  });
});
