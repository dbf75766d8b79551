/**
 * SMB2 messages → events, end to end through createCapturePipeline on pcaps built in memory:
 * session setup identities, tree connects, creates, per-handle read/write totals, renames,
 * deletes, compounds, async interim responses, missing responses, encryption, frame numbers.
 */
import { describe, expect, it } from 'vitest';
import {
  ACCESS, CMD, closeRequestBody, closeResponseBody, compound, CREATE_OPTIONS, createRequestBody, createResponseBody,
  DISPOSITION, dispositionInfo, dispositionInfoEx, errorBody, FILE_INFO, fileId, interimResponse, nbss,
  ntlmNegotiateMessage, RELATED_FILE_ID, renameInfo, req, resp, sessionSetupRequestBody,
  setInfoRequestBody, setInfoResponseBody, SHARE_TYPE, SMB2_FLAGS, spnegoInitToken, STATUS,
  transformMessage, writeRequestBody, writeResponseBody, readRequestBody, readResponseBody, smallBody, ACK as ACK_FLAG,
} from '../helpers/build';
import { CaptureBuilder, only, scanBuilder, Smb2Client } from '../helpers/conversation';
import { applyFlagRules } from '../../src/detect/rules';

const SID = 0x0000040000000011n;
const SID_HEX = '0x0000040000000011';
const ADMIN = '\\\\10.0.0.12\\ADMIN$';
const ALICE = { user: 'alice', domain: 'CORP', workstation: 'WS01' };

/** handshake, NEGOTIATE 3.1.1, SESSION_SETUP as alice, TREE_CONNECT ADMIN$ as tree 5 */
function session(o: { dialect?: number; setup?: boolean; tree?: boolean } = {}) {
  const cap = new CaptureBuilder();
  const conv = cap.conversation().handshake();
  const cl = new Smb2Client(conv, SID);
  cl.negotiate(o.dialect ?? 0x0311);
  if (o.setup !== false) cl.sessionSetup(ALICE);
  if (o.tree !== false) cl.treeConnect(ADMIN, 5, SHARE_TYPE.DISK);
  return { cap, conv, cl };
}

describe('SESSION_SETUP', () => {
  it('SPNEGO-wrapped NTLMSSP AUTHENTICATE (unicode): user, domain, workstation, status, frames', () => {
    const cap = new CaptureBuilder();
    const conv = cap.conversation().handshake();
    const cl = new Smb2Client(conv, SID);
    cl.negotiate(0x0302);
    const f = cl.sessionSetup({ user: 'Administrator', domain: 'CORP', workstation: 'WKS-7' });
    conv.fin();
    const r = scanBuilder(cap, 'lab.pcap');
    expect(r.events).toEqual([{
      ts: cap.iso(f.req), capture: 'lab.pcap', frame: f.req, response_frame: f.resp,
      src_ip: '10.0.0.5', src_port: 49700, dst_ip: '10.0.0.12', dst_port: 445,
      smb_dialect: '3.0.2', session_id: SID_HEX, user: 'Administrator', domain: 'CORP', workstation: 'WKS-7',
      action: 'session_setup', share: null, share_type: null, tree_id: null, path: null, new_path: null,
      status: 'STATUS_SUCCESS', disposition: null, access: [], bytes: null, rpc_interface: null, rpc_operation: null,
      rpc_args: null, flags: [], attack: [], severity: 'info', rules: [], summary: null, refs: [],
    }]);
    expect([f.req, f.resp]).toEqual([6, 7]);
    expect(r.summary).toMatchObject({ tcpFlows: 1, smbConnections: 1, smbMessages: 4, anomalies: {} });
  });

  it('raw NTLMSSP (no SPNEGO) with OEM strings', () => {
    const cap = new CaptureBuilder();
    const conv = cap.conversation().handshake();
    const cl = new Smb2Client(conv, SID);
    cl.sessionSetup({ user: 'bob', domain: 'WORKGROUP', workstation: 'KALI', unicode: false }, { spnego: false });
    const r = scanBuilder(cap);
    expect(only(r, 'session_setup').map((e) => [e.user, e.domain, e.workstation, e.status])).toEqual([['bob', 'WORKGROUP', 'KALI', 'STATUS_SUCCESS']]);
  });

  it('non-ASCII unicode names survive', () => {
    const cap = new CaptureBuilder();
    const cl = new Smb2Client(cap.conversation().handshake(), SID);
    cl.sessionSetup({ user: 'Jürgen', domain: 'MÜNCHEN', workstation: 'PC-Ω' });
    expect(only(scanBuilder(cap), 'session_setup')[0]).toMatchObject({ user: 'Jürgen', domain: 'MÜNCHEN', workstation: 'PC-Ω' });
  });

  it('the NEGOTIATE leg (NTLMSSP type 1) makes no event; a failed AUTHENTICATE is reported with its status', () => {
    const cap = new CaptureBuilder();
    const conv = cap.conversation().handshake();
    const cl = new Smb2Client(conv, 0n);
    cl.exchange({ command: CMD.SESSION_SETUP }, sessionSetupRequestBody(spnegoInitToken(ntlmNegotiateMessage())),
      { status: STATUS.MORE_PROCESSING_REQUIRED, body: errorBody() });
    cl.sessionId = SID;
    const f = cl.sessionSetup({ user: 'mallory', domain: 'CORP', workstation: 'X' }, { status: STATUS.LOGON_FAILURE });
    const ev = only(scanBuilder(cap), 'session_setup');
    expect(ev.map((e) => [e.user, e.status, e.frame, e.response_frame])).toEqual([['mallory', 'STATUS_LOGON_FAILURE', f.req, f.resp]]);
  });

  it('later events of the session carry its user', () => {
    const { cap, cl } = session();
    cl.create(5, { name: 'x.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }, fileId(1));
    const r = scanBuilder(cap);
    expect(r.events.map((e) => [e.action, e.user, e.domain, e.workstation, e.session_id])).toEqual([
      ['session_setup', 'alice', 'CORP', 'WS01', SID_HEX],
      ['tree_connect', 'alice', 'CORP', 'WS01', SID_HEX],
      ['create', 'alice', 'CORP', 'WS01', SID_HEX],
    ]);
  });
});

describe('TREE_CONNECT', () => {
  it('share, tree id, share type and status from the response', () => {
    const { cap, cl } = session({ tree: false });
    const a = cl.treeConnect(ADMIN, 5, SHARE_TYPE.DISK);
    const b = cl.treeConnect('\\\\10.0.0.12\\IPC$', 1, SHARE_TYPE.PIPE);
    const c = cl.treeConnect('\\\\srv\\printer', 0x2001, SHARE_TYPE.PRINT);
    const d = cl.treeConnect('\\\\10.0.0.12\\NOPE', 0, SHARE_TYPE.DISK, STATUS.BAD_NETWORK_NAME);
    const r = scanBuilder(cap);
    expect(only(r, 'tree_connect').map((e) => [e.share, e.tree_id, e.share_type, e.status, e.frame, e.response_frame])).toEqual([
      [ADMIN, '0x00000005', 'disk', 'STATUS_SUCCESS', a.req, a.resp],
      ['\\\\10.0.0.12\\IPC$', '0x00000001', 'pipe', 'STATUS_SUCCESS', b.req, b.resp],
      ['\\\\srv\\printer', '0x00002001', 'print', 'STATUS_SUCCESS', c.req, c.resp],
      ['\\\\10.0.0.12\\NOPE', '0x00000000', null, 'STATUS_BAD_NETWORK_NAME', d.req, d.resp],
    ]);
    expect(only(r, 'tree_connect').every((e) => e.path === null && e.user === 'alice')).toBe(true);
  });

  it('a later CREATE on the tree carries its share, type and id', () => {
    const { cap, cl } = session();
    cl.create(5, { name: 'Temp\\a.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
    expect(only(scanBuilder(cap), 'create')[0]).toMatchObject({ share: ADMIN, share_type: 'disk', tree_id: '0x00000005', path: 'Temp\\a.txt' });
  });

  it('a CREATE on a tree connected before the capture has its id only', () => {
    const { cap, cl } = session({ tree: false });
    cl.create(9, { name: 'a.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
    expect(only(scanBuilder(cap), 'create')[0]).toMatchObject({ share: null, share_type: null, tree_id: '0x00000009' });
  });

  it('after TREE_DISCONNECT the id no longer names the share', () => {
    const { cap, cl } = session();
    cl.exchange({ command: CMD.TREE_DISCONNECT, treeId: 5 }, Buffer.from([4, 0, 0, 0]), { body: Buffer.from([4, 0, 0, 0]) });
    cl.create(5, { name: 'a.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
    expect(only(scanBuilder(cap), 'create')[0].share).toBeNull();
  });
});

describe('CREATE', () => {
  it('path, disposition and access names; the leading backslash is dropped; "" is the share root', () => {
    const { cap, cl } = session();
    const a = cl.create(5, {
      name: '\\Windows\\Temp\\evil.exe', access: ACCESS.WRITE_DATA | ACCESS.APPEND_DATA | ACCESS.SYNCHRONIZE | ACCESS.DELETE,
      disposition: DISPOSITION.OVERWRITE_IF,
    }, fileId(1), STATUS.SUCCESS, 2);
    cl.create(5, { name: '', access: ACCESS.READ_ATTRIBUTES, disposition: DISPOSITION.OPEN, options: CREATE_OPTIONS.DIRECTORY_FILE }, fileId(2));
    cl.create(5, { name: 'z', access: ACCESS.GENERIC_ALL | ACCESS.MAXIMUM_ALLOWED, disposition: 9 }, fileId(3));
    const ev = only(scanBuilder(cap), 'create');
    expect(ev[0]).toMatchObject({
      frame: a.req, response_frame: a.resp, path: 'Windows\\Temp\\evil.exe', status: 'STATUS_SUCCESS',
      disposition: 'FILE_OVERWRITE_IF', access: ['WRITE_DATA', 'APPEND_DATA', 'DELETE', 'SYNCHRONIZE'],
      share: ADMIN, user: 'alice', bytes: null,
    });
    expect(ev[1]).toMatchObject({ path: '', disposition: 'FILE_OPEN', access: ['READ_ATTRIBUTES'] });
    expect(ev[2]).toMatchObject({ disposition: '0x9', access: ['MAXIMUM_ALLOWED', 'GENERIC_ALL'] });
  });

  it('a failed CREATE is an event with its NT status', () => {
    const { cap, cl } = session();
    const f = cl.create(5, { name: 'missing.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }, fileId(1), STATUS.OBJECT_NAME_NOT_FOUND);
    const g = cl.create(5, { name: 'odd.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }, fileId(1), 0xc0ffee01);
    const ev = only(scanBuilder(cap), 'create');
    expect(ev.map((e) => [e.path, e.status, e.frame, e.response_frame])).toEqual([
      ['missing.txt', 'STATUS_OBJECT_NAME_NOT_FOUND', f.req, f.resp],
      ['odd.txt', '0xc0ffee01', g.req, g.resp],
    ]);
  });

  it('a request without a response has status null (reported when the connection ends)', () => {
    const { cap, cl, conv } = session();
    const f = cl.exchange({ command: CMD.CREATE, treeId: 5 }, createRequestBody({ name: 'lost.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }), null);
    conv.fin();
    const r = scanBuilder(cap);
    expect(only(r, 'create')).toMatchObject([{ path: 'lost.txt', status: null, response_frame: null, frame: f.req }]);
    expect(r.emittedAt[r.events.findIndex((e) => e.path === 'lost.txt')]).toBe(cap.frames.length - 1); // the server's FIN ends the flow
  });

  it('a request still unanswered at the end of the capture is reported by finish()', () => {
    const { cap, cl } = session();
    cl.exchange({ command: CMD.CREATE, treeId: 5 }, createRequestBody({ name: 'late.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }), null);
    const r = scanBuilder(cap);
    const i = r.events.findIndex((e) => e.path === 'late.txt');
    expect(r.events[i].status).toBeNull();
    expect(r.emittedAt[i]).toBe(0);
  });

  it('a request that spans three TCP segments is dated by the frame that completes it', () => {
    const { cap, conv } = session();
    const body = createRequestBody({ name: 'big\\split.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN });
    const frames = conv.send(true, nbss(req({ command: CMD.CREATE, treeId: 5, messageId: 50, sessionId: SID }, body)), [20, 60]);
    expect(frames).toHaveLength(3);
    const rf = conv.s(resp({ command: CMD.CREATE, messageId: 50, sessionId: SID, treeId: 5 }, createResponseBody(fileId(1))), [30]);
    const ev = only(scanBuilder(cap), 'create')[0];
    expect(ev.frame).toBe(frames[2]);
    expect(ev.ts).toBe(cap.iso(frames[2]));
    expect(ev.response_frame).toBe(rf);
  });

  it('an async CREATE: the STATUS_PENDING interim answer is skipped, the final one pairs', () => {
    const { cap, cl, conv } = session();
    const mid = cl.messageId++;
    const rq = conv.c(req({ command: CMD.CREATE, treeId: 5, messageId: mid, sessionId: SID },
      createRequestBody({ name: 'slow.txt', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN })));
    const interim = conv.s(interimResponse(CMD.CREATE, mid, SID, 0x77n));
    const final = conv.s(resp({ command: CMD.CREATE, messageId: mid, sessionId: SID, asyncId: 0x77n, status: STATUS.ACCESS_DENIED }, errorBody()));
    const ev = only(scanBuilder(cap), 'create');
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ frame: rq, response_frame: final, status: 'STATUS_ACCESS_DENIED' });
    expect(interim).toBe(rq + 1);
  });

  it('CREATE with FILE_DELETE_ON_CLOSE makes a create and a delete event (on success only)', () => {
    const { cap, cl } = session();
    const ok = cl.create(5, { name: 'tmp\\gone.bat', access: ACCESS.DELETE | ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE, options: CREATE_OPTIONS.DELETE_ON_CLOSE | CREATE_OPTIONS.NON_DIRECTORY_FILE }, fileId(1));
    cl.create(5, { name: 'tmp\\denied.bat', access: ACCESS.DELETE, disposition: DISPOSITION.OPEN, options: CREATE_OPTIONS.DELETE_ON_CLOSE }, fileId(2), STATUS.ACCESS_DENIED);
    const r = scanBuilder(cap);
    expect(r.events.filter((e) => e.action === 'create' || e.action === 'delete').map((e) => [e.action, e.path, e.status, e.frame])).toEqual([
      ['create', 'tmp\\gone.bat', 'STATUS_SUCCESS', ok.req],
      ['delete', 'tmp\\gone.bat', 'STATUS_SUCCESS', ok.req],
      ['create', 'tmp\\denied.bat', 'STATUS_ACCESS_DENIED', ok.req + 2],
    ]);
  });
});

describe('long names', () => {
  it('a path longer than 4,096 characters keeps its start and its final name: an .exe on ADMIN$ is still flagged', () => {
    const { cap, cl } = session();
    const name = `${'abcdefghi\\'.repeat(500)}evil.exe`;
    cl.create(5, { name, access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE }, fileId(1));
    const [ev] = only(scanBuilder(cap), 'create');
    expect(ev.path).toMatch(/^abcdefghi\\.*…\[cut: 5008 characters\]….*\\evil\.exe$/);
    expect(applyFlagRules(ev).flags).toContain('EXECUTABLE_WRITE');
  });
});

describe('READ / WRITE totals per handle', () => {
  it('one write and one read event per handle once its CLOSE is answered, dated by the first operation, with total bytes', () => {
    const { cap, cl } = session();
    const id = fileId(7);
    cl.create(5, { name: 'data.bin', access: ACCESS.GENERIC_READ | ACCESS.GENERIC_WRITE, disposition: DISPOSITION.OPEN_IF }, id);
    const w1 = cl.write(5, id, Buffer.alloc(100, 1));
    cl.write(5, id, Buffer.alloc(50, 2));
    const r1 = cl.read(5, id, Buffer.alloc(30, 3));
    cl.read(5, id, Buffer.alloc(20, 4));
    const close = cl.close(5, id);
    cl.write(5, id, Buffer.alloc(5)); // after CLOSE: a new, unknown handle as far as we know
    const r = scanBuilder(cap);
    const rw = r.events.filter((e) => e.action === 'read' || e.action === 'write');
    expect(rw.map((e) => [e.action, e.bytes, e.frame, e.ts, e.response_frame, e.status, e.path, e.share, e.user])).toEqual([
      ['write', 150, w1.req, cap.iso(w1.req), w1.resp, 'STATUS_SUCCESS', 'data.bin', ADMIN, 'alice'],
      ['read', 50, r1.req, cap.iso(r1.req), r1.resp, 'STATUS_SUCCESS', 'data.bin', ADMIN, 'alice'],
      ['write', 5, close.resp! + 1, cap.iso(close.resp! + 1), close.resp! + 2, 'STATUS_SUCCESS', null, ADMIN, 'alice'],
    ]);
    const idx = (a: string, frame: number) => r.events.findIndex((e) => e.action === a && e.frame === frame);
    expect(r.emittedAt[idx('write', w1.req)]).toBe(close.resp);
    expect(r.emittedAt[idx('read', r1.req)]).toBe(close.resp);
    expect(r.emittedAt[idx('write', close.resp! + 1)]).toBe(0); // never closed: at the end of the capture
  });

  it('an async READ answered after the CLOSE (interim STATUS_PENDING first) still counts', () => {
    const { cap, cl, conv } = session();
    const id = fileId(8);
    cl.create(5, { name: 'pipe-like.bin', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }, id);
    const m = cl.messageId;
    cl.messageId += 2;
    const rq = conv.c(req({ command: CMD.READ, messageId: m, sessionId: SID, treeId: 5 }, readRequestBody(id, 100)));
    conv.s(interimResponse(CMD.READ, m, SID, 0x99n));
    conv.c(req({ command: CMD.CLOSE, messageId: m + 1, sessionId: SID, treeId: 5 }, closeRequestBody(id)));
    conv.s(resp({ command: CMD.CLOSE, messageId: m + 1, sessionId: SID, treeId: 5 }, closeResponseBody()));
    const rs = conv.s(resp({ command: CMD.READ, messageId: m, sessionId: SID, asyncId: 0x99n }, readResponseBody(Buffer.alloc(100, 1))));
    expect(only(scanBuilder(cap), 'read').map((e) => [e.path, e.bytes, e.status, e.frame, e.response_frame])).toEqual([['pipe-like.bin', 100, 'STATUS_SUCCESS', rq, rs]]);
  });

  it('a handle whose CREATE was not captured still totals, with path null', () => {
    const { cap, cl } = session();
    const id = fileId(3);
    cl.read(5, id, Buffer.alloc(64));
    cl.close(5, id);
    expect(only(scanBuilder(cap), 'read')).toMatchObject([{ bytes: 64, path: null, share: ADMIN, tree_id: '0x00000005' }]);
  });

  it('a failed read adds nothing and keeps the failure status when nothing succeeded', () => {
    const { cap, cl } = session();
    const id = fileId(3);
    cl.create(5, { name: 'locked.db', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }, id);
    cl.read(5, id, Buffer.alloc(10), 0xc0000054);
    cl.close(5, id);
    expect(only(scanBuilder(cap), 'read')).toMatchObject([{ bytes: 0, status: 'STATUS_FILE_LOCK_CONFLICT' }]);
  });

  // BUG? (src/events/smb2.ts Smb2Connection.request, Cmd.WRITE): a WRITE's length is added when
  // the request is seen, whatever the answer; a READ counts only what a successful response
  // returned. A denied or failed WRITE thus reports bytes that were never written.
  it('a failed write is not counted as written bytes', () => {
    const { cap, cl } = session();
    const id = fileId(4);
    cl.create(5, { name: 'full.bin', access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE }, id);
    cl.write(5, id, Buffer.alloc(100));
    cl.write(5, id, Buffer.alloc(4000), STATUS.DISK_FULL);
    cl.close(5, id);
    expect(only(scanBuilder(cap), 'write')).toMatchObject([{ bytes: 100, status: 'STATUS_SUCCESS' }]);
  });

  it('a WRITE whose payload is spread over many segments is counted once, not copied', () => {
    const { cap, cl, conv } = session();
    const id = fileId(5);
    cl.create(5, { name: 'big.bin', access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE }, id);
    const mid = cl.messageId++;
    const w = req({ command: CMD.WRITE, treeId: 5, messageId: mid, sessionId: SID }, writeRequestBody(id, Buffer.alloc(200000, 0x41)));
    const frames = conv.send(true, nbss(w), new Array(140).fill(1460));
    conv.s(resp({ command: CMD.WRITE, messageId: mid, sessionId: SID, treeId: 5 }, writeResponseBody(200000)));
    cl.close(5, id);
    const ev = only(scanBuilder(cap), 'write');
    expect(ev).toMatchObject([{ bytes: 200000, frame: frames[frames.length - 1], status: 'STATUS_SUCCESS' }]);
  });
});

describe('READ / WRITE across capture loss', () => {
  /** a READ whose response loses one 1460-byte segment in the capture; the client ACKs it all */
  function lossyRead(afterAck: (cl: Smb2Client) => void) {
    const { cap, cl, conv } = session();
    const id = fileId(6);
    cl.create(5, { name: 'big.iso', access: ACCESS.GENERIC_READ, disposition: DISPOSITION.OPEN }, id);
    const mid = cl.messageId++;
    const rq = conv.c(req({ command: CMD.READ, treeId: 5, messageId: mid, sessionId: SID }, readRequestBody(id, 20000)));
    const bytes = nbss(resp({ command: CMD.READ, messageId: mid, sessionId: SID, treeId: 5 }, readResponseBody(Buffer.alloc(20000, 0x52))));
    let respFrame = 0;
    for (let off = 0, i = 0; off < bytes.length; off += 1460, i++) {
      const chunk = bytes.subarray(off, off + 1460);
      if (i === 5) { conv.sseq = (conv.sseq + chunk.length) >>> 0; continue; } // not captured
      respFrame = conv.packet(false, ACK_FLAG, chunk);
    }
    conv.packet(true, ACK_FLAG); // the client acknowledges everything, the lost segment included
    afterAck(cl);
    return { cap, rq, respFrame, id };
  }

  it('a segment lost inside a READ payload: bytes still counted, gap counted', () => {
    const { cap, rq } = lossyRead((cl) => { cl.messageId = 100; cl.exchange({ command: CMD.ECHO }, smallBody(), { body: smallBody() }); });
    const r = scanBuilder(cap);
    expect(only(r, 'read')).toMatchObject([{ bytes: 20000, frame: rq, status: 'STATUS_SUCCESS', path: 'big.iso' }]);
    expect(r.summary.anomalies).toMatchObject({ tcp_gaps: 1, tcp_gap_bytes: 1460, gap_in_skipped_payload: 1 });
    expect(r.summary.anomalies).not.toHaveProperty('message_lost_in_gap');
  });

  // BUG (src/tcp/flows.ts FlowTable.segment / src/tcp/reassembly.ts): an ACK that proves a hole
  // lost does not release the data held behind it; that waits for the next data segment of the
  // same direction. Here the READ response stays held while the client sends its CLOSE, so the
  // handle's read total is emitted (at CLOSE) before the response is seen: bytes 0, status null.
  // Fix: when FlowTable raises theirs.peerAck, let the half-stream cross acknowledged holes then
  // (make crossAckedHoles public and call it with the current packet).
  it('the READ completes when the client ACKs the hole, before the CLOSE that follows', () => {
    const { cap, rq } = lossyRead((cl) => { cl.messageId = 100; cl.close(5, fileId(6)); });
    const r = scanBuilder(cap);
    expect(only(r, 'read')).toMatchObject([{ bytes: 20000, frame: rq, status: 'STATUS_SUCCESS' }]);
  });
});

describe('SET_INFO: rename and delete', () => {
  it('FileRenameInformation is a rename with new_path (leading backslash dropped)', () => {
    const { cap, cl } = session();
    const id = fileId(1);
    cl.create(5, { name: 'Temp\\payload.tmp', access: ACCESS.DELETE | ACCESS.SYNCHRONIZE, disposition: DISPOSITION.OPEN }, id);
    const f = cl.setInfo(5, id, FILE_INFO.RENAME, renameInfo('\\Temp\\payload.exe'));
    cl.close(5, id);
    expect(only(scanBuilder(cap), 'rename')).toMatchObject([{
      path: 'Temp\\payload.tmp', new_path: 'Temp\\payload.exe', status: 'STATUS_SUCCESS', frame: f.req, response_frame: f.resp,
      share: ADMIN, user: 'alice',
    }]);
  });

  it('a failed rename keeps its status', () => {
    const { cap, cl } = session();
    const id = fileId(1);
    cl.create(5, { name: 'a', access: ACCESS.DELETE, disposition: DISPOSITION.OPEN }, id);
    cl.setInfo(5, id, FILE_INFO.RENAME, renameInfo('b'), 0xc0000035);
    expect(only(scanBuilder(cap), 'rename')).toMatchObject([{ new_path: 'b', status: 'STATUS_OBJECT_NAME_COLLISION' }]);
  });

  it('FileDispositionInformation and FileDispositionInformationEx delete; DeletePending=0 does not', () => {
    const { cap, cl } = session();
    const [a, b, c] = [fileId(1), fileId(2), fileId(3)];
    cl.create(5, { name: 'one.txt', access: ACCESS.DELETE, disposition: DISPOSITION.OPEN }, a);
    cl.create(5, { name: 'two.txt', access: ACCESS.DELETE, disposition: DISPOSITION.OPEN }, b);
    cl.create(5, { name: 'three.txt', access: ACCESS.DELETE, disposition: DISPOSITION.OPEN }, c);
    const d1 = cl.setInfo(5, a, FILE_INFO.DISPOSITION, dispositionInfo(true));
    const d2 = cl.setInfo(5, b, FILE_INFO.DISPOSITION_EX, dispositionInfoEx(0x1 | 0x2));
    cl.setInfo(5, c, FILE_INFO.DISPOSITION, dispositionInfo(false));
    cl.setInfo(5, c, FILE_INFO.DISPOSITION_EX, dispositionInfoEx(0x2));
    expect(only(scanBuilder(cap), 'delete').map((e) => [e.path, e.frame, e.response_frame, e.status])).toEqual([
      ['one.txt', d1.req, d1.resp, 'STATUS_SUCCESS'],
      ['two.txt', d2.req, d2.resp, 'STATUS_SUCCESS'],
    ]);
  });

  it('other info classes and info types make no event', () => {
    const { cap, cl } = session();
    const id = fileId(1);
    cl.create(5, { name: 'a', access: ACCESS.WRITE_ATTRIBUTES, disposition: DISPOSITION.OPEN }, id);
    cl.setInfo(5, id, 4, Buffer.alloc(40)); // FileBasicInformation
    cl.setInfo(5, id, FILE_INFO.DISPOSITION, dispositionInfo(true));
    const r = scanBuilder(cap);
    expect(only(r, 'delete')).toHaveLength(1);
    const { cap: cap2, cl: cl2 } = session();
    cl2.create(5, { name: 'a', access: ACCESS.READ_CONTROL, disposition: DISPOSITION.OPEN }, id);
    cl2.exchange({ command: CMD.SET_INFO, treeId: 5 }, setInfoRequestBody(id, FILE_INFO.DISPOSITION, dispositionInfo(true), 3), { body: setInfoResponseBody() });
    expect(only(scanBuilder(cap2), 'delete')).toHaveLength(0); // SMB2_0_INFO_SECURITY
  });
});

describe('compounds', () => {
  it('CREATE + SET_INFO(rename) + CLOSE with related FileId all-FF: the rename has the created path', () => {
    const { cap, cl, conv } = session();
    const m = cl.messageId;
    cl.messageId += 3;
    const chain = compound([
      req({ command: CMD.CREATE, messageId: m, sessionId: SID, treeId: 5 },
        createRequestBody({ name: 'Windows\\Temp\\svc.tmp', access: ACCESS.DELETE | ACCESS.SYNCHRONIZE, disposition: DISPOSITION.OPEN })),
      req({ command: CMD.SET_INFO, messageId: m + 1, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED },
        setInfoRequestBody(RELATED_FILE_ID, FILE_INFO.RENAME, renameInfo('Windows\\Temp\\svc.exe'))),
      req({ command: CMD.CLOSE, messageId: m + 2, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, closeRequestBody(RELATED_FILE_ID)),
    ]);
    const rq = conv.c(chain);
    const rs = conv.s(compound([
      resp({ command: CMD.CREATE, messageId: m, sessionId: SID, treeId: 5 }, createResponseBody(fileId(9))),
      resp({ command: CMD.SET_INFO, messageId: m + 1, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, setInfoResponseBody()),
      resp({ command: CMD.CLOSE, messageId: m + 2, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, closeResponseBody()),
    ]));
    const r = scanBuilder(cap);
    expect(r.events.filter((e) => e.action === 'create' || e.action === 'rename').map((e) => [e.action, e.path, e.new_path, e.status, e.frame, e.response_frame])).toEqual([
      ['create', 'Windows\\Temp\\svc.tmp', null, 'STATUS_SUCCESS', rq, rs],
      ['rename', 'Windows\\Temp\\svc.tmp', 'Windows\\Temp\\svc.exe', 'STATUS_SUCCESS', rq, rs],
    ]);
    expect(r.summary.anomalies).toEqual({});
  });

  // the macOS Finder reads AFP_AfpInfo streams this way: every answer comes after the CLOSE request
  const createReadClose = (cl: Smb2Client, name: string): Buffer[] => {
    const m = cl.messageId;
    cl.messageId += 3;
    return [
      req({ command: CMD.CREATE, messageId: m, sessionId: SID, treeId: 5 }, createRequestBody({ name, access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN })),
      req({ command: CMD.READ, messageId: m + 1, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, readRequestBody(RELATED_FILE_ID, 60)),
      req({ command: CMD.CLOSE, messageId: m + 2, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, closeRequestBody(RELATED_FILE_ID)),
    ];
  };

  it('CREATE + READ + CLOSE: the read counts the bytes and status of its answer, which follows the CLOSE request', () => {
    const { cap, cl, conv } = session();
    const [c, rd, cls] = createReadClose(cl, 'tata.txt:AFP_AfpInfo');
    const m = c.readBigUInt64LE(24);
    const rq = conv.c(compound([c, rd, cls]));
    const rs = conv.s(compound([
      resp({ command: CMD.CREATE, messageId: Number(m), sessionId: SID, treeId: 5 }, createResponseBody(fileId(9))),
      resp({ command: CMD.READ, messageId: Number(m) + 1, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, readResponseBody(Buffer.alloc(60, 7))),
      resp({ command: CMD.CLOSE, messageId: Number(m) + 2, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED }, closeResponseBody()),
    ]));
    expect(only(scanBuilder(cap), 'read').map((e) => [e.path, e.bytes, e.status, e.frame, e.response_frame])).toEqual([
      ['tata.txt:AFP_AfpInfo', 60, 'STATUS_SUCCESS', rq, rs],
    ]);
  });

  it('CREATE + READ + CLOSE on a missing stream: the read has the error its answer gives', () => {
    const { cap, cl, conv } = session();
    const [c, rd, cls] = createReadClose(cl, 'x:AFP_AfpInfo');
    const m = Number(c.readBigUInt64LE(24));
    conv.c(compound([c, rd, cls]));
    const rs = conv.s(compound([
      resp({ command: CMD.CREATE, messageId: m, sessionId: SID, treeId: 5, status: STATUS.OBJECT_NAME_NOT_FOUND }, errorBody()),
      resp({ command: CMD.READ, messageId: m + 1, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED, status: STATUS.OBJECT_NAME_NOT_FOUND }, errorBody()),
      resp({ command: CMD.CLOSE, messageId: m + 2, sessionId: SID, treeId: 5, flags: SMB2_FLAGS.RELATED, status: STATUS.OBJECT_NAME_NOT_FOUND }, errorBody()),
    ]));
    const r = scanBuilder(cap);
    expect(only(r, 'create').map((e) => e.status)).toEqual(['STATUS_OBJECT_NAME_NOT_FOUND']);
    expect(only(r, 'read').map((e) => [e.path, e.bytes, e.status, e.response_frame])).toEqual([['x:AFP_AfpInfo', 0, 'STATUS_OBJECT_NAME_NOT_FOUND', rs]]);
  });

  it('a one-sided capture (requests only): writes count what they carried although a CLOSE follows', () => {
    const { cap, cl, conv } = session();
    cl.create(5, { name: 'up.bin', access: ACCESS.GENERIC_WRITE, disposition: DISPOSITION.CREATE }, fileId(4));
    const m = cl.messageId;
    cl.messageId += 3;
    const w = conv.c(req({ command: CMD.WRITE, messageId: m, sessionId: SID, treeId: 5 }, writeRequestBody(fileId(4), Buffer.alloc(116, 1))));
    conv.c(req({ command: CMD.WRITE, messageId: m + 1, sessionId: SID, treeId: 5 }, writeRequestBody(fileId(4), Buffer.alloc(19040, 2))));
    conv.c(req({ command: CMD.CLOSE, messageId: m + 2, sessionId: SID, treeId: 5 }, closeRequestBody(fileId(4))));
    expect(only(scanBuilder(cap), 'write').map((e) => [e.path, e.bytes, e.status, e.frame, e.response_frame])).toEqual([['up.bin', 116 + 19040, null, w, null]]);
  });

  it('related requests with SessionId/TreeId all-FF inherit them from the previous request', () => {
    const { cap, cl, conv } = session();
    const m = cl.messageId;
    cl.messageId += 2;
    conv.c(compound([
      req({ command: CMD.CREATE, messageId: m, sessionId: SID, treeId: 5 },
        createRequestBody({ name: 'x.txt', access: ACCESS.DELETE, disposition: DISPOSITION.OPEN })),
      req({ command: CMD.SET_INFO, messageId: m + 1, sessionId: 0xffffffffffffffffn, treeId: 0xffffffff, flags: SMB2_FLAGS.RELATED },
        setInfoRequestBody(RELATED_FILE_ID, FILE_INFO.DISPOSITION, dispositionInfo(true))),
    ]));
    conv.s(compound([
      resp({ command: CMD.CREATE, messageId: m, sessionId: SID, treeId: 5 }, createResponseBody(fileId(9))),
      resp({ command: CMD.SET_INFO, messageId: m + 1, sessionId: SID, treeId: 5 }, setInfoResponseBody()),
    ]));
    expect(only(scanBuilder(cap), 'delete')).toMatchObject([{ path: 'x.txt', user: 'alice', share: ADMIN, session_id: SID_HEX, status: 'STATUS_SUCCESS' }]);
  });

  it('unrelated messages of a compound are decoded independently', () => {
    const { cap, cl, conv } = session({ tree: false });
    const m = cl.messageId;
    cl.messageId += 2;
    conv.c(compound([
      req({ command: CMD.TREE_CONNECT, messageId: m, sessionId: SID }, Buffer.concat([Buffer.from([9, 0, 0, 0, 72, 0, 12, 0]), Buffer.from('\\\\s\\C$', 'utf16le')])),
      req({ command: CMD.CREATE, messageId: m + 1, sessionId: SID, treeId: 7 }, createRequestBody({ name: 'boot.ini', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN })),
    ]));
    const r = scanBuilder(cap);
    expect(r.events.filter((e) => e.action !== 'session_setup').map((e) => [e.action, e.share, e.path, e.status])).toEqual([
      ['tree_connect', '\\\\s\\C$', null, null],
      ['create', null, 'boot.ini', null],
    ]);
  });
});

describe('encryption', () => {
  it('TRANSFORM messages: one encrypted event per session, with the user known from before', () => {
    const { cap, conv } = session({ tree: false });
    const f1 = conv.c(transformMessage(SID, Buffer.alloc(200, 0x99)));
    conv.s(transformMessage(SID, Buffer.alloc(120, 0x98)));
    conv.c(transformMessage(SID, Buffer.alloc(300, 0x97)));
    const f2 = conv.c(transformMessage(0x0000040000000099n, Buffer.alloc(80, 0x96)));
    const r = scanBuilder(cap);
    expect(only(r, 'encrypted').map((e) => [e.session_id, e.user, e.frame, e.status, e.path])).toEqual([
      [SID_HEX, 'alice', f1, null, null],
      ['0x0000040000000099', null, f2, null, null],
    ]);
    expect(r.summary.anomalies.encrypted_message).toBe(4);
    expect(r.summary.anomalies).not.toHaveProperty('malformed_smb2_header');
  });
});

describe('connections', () => {
  it('IPv6 endpoints and a midstream capture starting with a server response', () => {
    const cap = new CaptureBuilder();
    const conv = cap.conversation({ client: '2001:db8::5', server: '2001:db8::12' }); // no handshake
    conv.s(resp({ command: CMD.ECHO, messageId: 1, sessionId: SID }, Buffer.from([4, 0, 0, 0])));
    const cl = new Smb2Client(conv, SID);
    cl.messageId = 2;
    cl.create(3, { name: 'v6.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
    expect(only(scanBuilder(cap), 'create')).toMatchObject([{
      src_ip: '2001:db8::5', src_port: 49700, dst_ip: '2001:db8::12', dst_port: 445, smb_dialect: null, user: null, status: 'STATUS_SUCCESS',
    }]);
  });

  it('SMB2 on a non-SMB port is found; the client is the side sending requests', () => {
    const cap = new CaptureBuilder();
    const conv = cap.conversation({ serverPort: 8445, clientPort: 50000 }); // no handshake, no SMB port
    const cl = new Smb2Client(conv, SID);
    cl.create(3, { name: 'alt.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
    expect(only(scanBuilder(cap), 'create')).toMatchObject([{ src_port: 50000, dst_port: 8445, path: 'alt.txt' }]);
  });

  it('NetBIOS session request on port 139 before SMB2 is skipped', () => {
    const cap = new CaptureBuilder();
    const conv = cap.conversation({ serverPort: 139 }).handshake();
    conv.send(true, nbss(Buffer.alloc(68, 0x20), 0x81));
    conv.send(false, nbss(Buffer.alloc(0), 0x82));
    const cl = new Smb2Client(conv, SID);
    cl.sessionSetup(ALICE);
    const r = scanBuilder(cap);
    expect(only(r, 'session_setup')).toMatchObject([{ user: 'alice', dst_port: 139 }]);
    expect(r.summary.anomalies).toEqual({});
  });
});
