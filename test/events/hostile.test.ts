/**
 * Hostile SMB2: offsets and lengths that point outside the message, compound chains that run
 * off the end, wrap or never end, odd UTF-16 lengths. Never a throw; each counted as an anomaly,
 * and the messages after them still decoded.
 */
import { describe, expect, it } from 'vitest';
import {
  ACCESS, CMD, compound, createRequestBody, DISPOSITION, fileId, ntlmAuthenticateMessage, readRequestBody, renameInfo,
  req, resp, sessionSetupRequestBody, setInfoRequestBody, setInfoResponseBody, smb2Header, smallBody, FILE_INFO,
  treeConnectRequestBody, utf16,
} from '../helpers/build';
import { CaptureBuilder, Conversation, only, scanBuilder, ScanResult, Smb2Client } from '../helpers/conversation';

const SID = 0x0000040000000011n;

/** a connection, `bad` messages from the client, then a well-formed CREATE that must still decode */
function run(bad: (conv: Conversation, cl: Smb2Client) => void): ScanResult {
  const cap = new CaptureBuilder();
  const conv = cap.conversation().handshake();
  const cl = new Smb2Client(conv, SID);
  // an ECHO first: the framer is in step before the hostile bytes (else they are scanned past)
  cl.exchange({ command: CMD.ECHO, messageId: 900 }, smallBody(), { body: smallBody() });
  cl.messageId = 1;
  bad(conv, cl);
  cl.messageId = 500;
  cl.create(1, { name: 'after.txt', access: ACCESS.READ_DATA, disposition: DISPOSITION.OPEN }, fileId(1));
  const r = scanBuilder(cap);
  expect(only(r, 'create').map((e) => [e.path, e.status])).toContainEqual(['after.txt', 'STATUS_SUCCESS']);
  return r;
}

const createReq = (mid: number, fields: Parameters<typeof createRequestBody>[0]): Buffer =>
  req({ command: CMD.CREATE, messageId: mid, sessionId: SID, treeId: 1 }, createRequestBody(fields));

describe('hostile CREATE', () => {
  it('a name offset beyond the message', () => {
    const r = run((conv) => conv.c(createReq(1, { name: 'x.txt', access: 1, disposition: 1, nameOffset: 0xfff0 })));
    expect(r.summary.anomalies.malformed_create).toBe(1);
    expect(only(r, 'create')).toHaveLength(1);
  });

  it('a name length running past the end of the message', () => {
    const r = run((conv) => conv.c(createReq(1, { name: 'x.txt', access: 1, disposition: 1, nameLength: 0xfffe })));
    expect(r.summary.anomalies.malformed_create).toBe(1);
  });

  it('a name offset inside the SMB2 header', () => {
    const r = run((conv) => conv.c(createReq(1, { name: 'x.txt', access: 1, disposition: 1, nameOffset: 8 })));
    expect(r.summary.anomalies.malformed_create).toBe(1);
  });

  it('an odd name length', () => {
    const r = run((conv) => conv.c(createReq(1, { name: 'x.txt', access: 1, disposition: 1, nameLength: 9 })));
    expect(r.summary.anomalies.malformed_create).toBe(1);
  });

  it('a CREATE cut short before its fixed part ends', () => {
    const r = run((conv) => conv.c(createReq(1, { name: 'x', access: 1, disposition: 1 }).subarray(0, 64 + 30)));
    expect(r.summary.anomalies.malformed_create).toBe(1);
  });

  it('a wrong StructureSize', () => {
    const r = run((conv) => {
      const m = createReq(1, { name: 'x', access: 1, disposition: 1 });
      m.writeUInt16LE(56, 64);
      conv.c(m);
    });
    expect(r.summary.anomalies.malformed_create).toBe(1);
  });
});

describe('hostile compound chains', () => {
  const echo = (mid: number, next = 0): Buffer => {
    const m = req({ command: CMD.ECHO, messageId: mid, sessionId: SID }, smallBody());
    m.writeUInt32LE(next, 20);
    return m;
  };

  it('NextCommand beyond the end of the message', () => {
    const r = run((conv) => conv.c(echo(1, 4096)));
    expect(r.summary.anomalies.malformed_compound).toBe(1);
  });

  it('NextCommand "backwards" (0xFFFFFFC0, i.e. -64)', () => {
    const r = run((conv) => conv.c(Buffer.concat([echo(1, 0xffffffc0), echo(2)])));
    expect(r.summary.anomalies.malformed_compound).toBe(1);
  });

  it('NextCommand smaller than a header (pointing inside the current message)', () => {
    const r = run((conv) => conv.c(Buffer.concat([echo(1, 8), echo(2)])));
    expect(r.summary.anomalies.malformed_compound).toBe(1);
  });

  it('NextCommand landing on bytes that are not an SMB2 header', () => {
    const r = run((conv) => conv.c(Buffer.concat([echo(1, 72), Buffer.alloc(72, 0x41)])));
    expect(r.summary.anomalies.malformed_smb2_header).toBe(1);
  });

  it('a chain longer than the compound limit stops with compound_too_long', () => {
    const r = run((conv) => {
      const parts: Buffer[] = [];
      for (let i = 0; i < 80; i++) parts.push(smb2Header({ command: CMD.ECHO, messageId: 1000 + i, sessionId: SID, nextCommand: i < 79 ? 64 : 0 }));
      conv.c(Buffer.concat(parts));
    });
    expect(r.summary.anomalies.compound_too_long).toBe(1);
  });

  it('a compound whose second message starts with a related CLOSE of an unknown FileId is harmless', () => {
    const r = run((conv) => conv.c(compound([
      req({ command: CMD.READ, messageId: 1, sessionId: SID, treeId: 1 }, readRequestBody(fileId(77), 10)),
      req({ command: CMD.CLOSE, messageId: 2, sessionId: SID, treeId: 1, flags: 4 }, Buffer.concat([Buffer.from([24, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16, 0xff)])),
    ])));
    expect(r.summary.anomalies).not.toHaveProperty('malformed_compound');
  });
});

describe('hostile TREE_CONNECT, SESSION_SETUP, SET_INFO', () => {
  it('a tree connect path of odd length is counted, not decoded', () => {
    const r = run((conv) => conv.c(req({ command: CMD.TREE_CONNECT, messageId: 1, sessionId: SID }, treeConnectRequestBody('\\\\srv\\C$', { pathLength: 15 }))));
    expect(r.summary.anomalies.malformed_tree_connect).toBe(1);
    expect(only(r, 'tree_connect')).toHaveLength(0);
  });

  it('a tree connect path offset beyond the message', () => {
    const r = run((conv) => conv.c(req({ command: CMD.TREE_CONNECT, messageId: 1, sessionId: SID }, treeConnectRequestBody('\\\\srv\\C$', { pathOffset: 0x7000 }))));
    expect(r.summary.anomalies.malformed_tree_connect).toBe(1);
  });

  it('NTLMSSP fields pointing outside the blob give no identity and no throw', () => {
    const r = run((_conv, cl) => {
      const ntlm = ntlmAuthenticateMessage({ user: 'u', domain: 'd', workstation: 'w' });
      ntlm.writeUInt32LE(0x7ffffff0, 36 + 4); // UserName offset
      cl.exchange({ command: CMD.SESSION_SETUP }, sessionSetupRequestBody(ntlm), null);
      const ntlm2 = ntlmAuthenticateMessage({ user: 'u', domain: 'd', workstation: 'w' });
      ntlm2.writeUInt16LE(0xffff, 28); // DomainName length
      cl.exchange({ command: CMD.SESSION_SETUP }, sessionSetupRequestBody(ntlm2), null);
      // a truncated AUTHENTICATE (shorter than its fixed part)
      cl.exchange({ command: CMD.SESSION_SETUP }, sessionSetupRequestBody(ntlm2.subarray(0, 40)), null);
      // a security buffer offset beyond the message
      const body = sessionSetupRequestBody(ntlmAuthenticateMessage({ user: 'u', domain: 'd', workstation: 'w' }));
      body.writeUInt16LE(0xfff0, 12);
      cl.exchange({ command: CMD.SESSION_SETUP }, body, null);
    });
    expect(only(r, 'session_setup')).toHaveLength(0);
  });

  it('an unterminated workstation field still yields user and domain', () => {
    const r = run((_conv, cl) => {
      const ntlm = ntlmAuthenticateMessage({ user: 'eve', domain: 'EVIL', workstation: 'W' });
      ntlm.writeUInt32LE(0x7ffffff0, 44 + 4);
      cl.exchange({ command: CMD.SESSION_SETUP }, sessionSetupRequestBody(ntlm), null);
    });
    expect(only(r, 'session_setup')).toMatchObject([{ user: 'eve', domain: 'EVIL', workstation: '' }]);
  });

  it('a rename whose FileNameLength runs past the buffer makes no event', () => {
    const r = run((_conv, cl) => {
      const info = renameInfo('x.exe');
      info.writeUInt32LE(0x10000, 16);
      cl.exchange({ command: CMD.SET_INFO, treeId: 1 }, setInfoRequestBody(fileId(1), FILE_INFO.RENAME, info), { body: setInfoResponseBody() });
      const odd = renameInfo('y.exe');
      odd.writeUInt32LE(9, 16);
      cl.exchange({ command: CMD.SET_INFO, treeId: 1 }, setInfoRequestBody(fileId(1), FILE_INFO.RENAME, odd), { body: setInfoResponseBody() });
    });
    expect(only(r, 'rename')).toHaveLength(0);
  });

  it('a READ/WRITE too short for its FileId is counted', () => {
    const r = run((conv) => conv.c(req({ command: CMD.WRITE, messageId: 1, sessionId: SID, treeId: 1 }, Buffer.from([49, 0, 0x70, 0, 4, 0, 0, 0]))));
    expect(r.summary.anomalies.malformed_read_write).toBe(1);
  });

  it('an SMB2 header with a wrong StructureSize is malformed_smb2_header', () => {
    const r = run((conv) => {
      const m = req({ command: CMD.CREATE, messageId: 1, sessionId: SID, treeId: 1 }, createRequestBody({ name: 'x', access: 1, disposition: 1 }));
      m.writeUInt16LE(65, 4);
      conv.c(m);
    });
    expect(r.summary.anomalies.malformed_smb2_header).toBe(1);
  });
});

describe('pairing edge cases', () => {
  it('a response with no request, and one whose command differs, pair with nothing', () => {
    const r = run((conv, cl) => {
      conv.s(resp({ command: CMD.CREATE, messageId: 77, sessionId: SID }, Buffer.alloc(88)));
      cl.exchange({ command: CMD.TREE_CONNECT }, treeConnectRequestBody('\\\\s\\x'), null);
      conv.s(resp({ command: CMD.CREATE, messageId: 1, sessionId: SID }, Buffer.alloc(88)));
    });
    expect(only(r, 'tree_connect')).toMatchObject([{ share: '\\\\s\\x', status: null, response_frame: null }]);
  });

  it('a reused MessageId completes the first request without a status', () => {
    const r = run((conv) => {
      conv.c(createReq(7, { name: 'first', access: 1, disposition: 1 }));
      conv.c(createReq(7, { name: 'second', access: 1, disposition: 1 }));
      conv.s(resp({ command: CMD.CREATE, messageId: 7, sessionId: SID, status: 0xc0000034 }, Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0])));
    });
    expect(only(r, 'create').filter((e) => e.path !== 'after.txt').map((e) => [e.path, e.status])).toEqual([['first', null], ['second', 'STATUS_OBJECT_NAME_NOT_FOUND']]);
  });

  it('UTF-16 names with unpaired surrogates do not throw', () => {
    const r = run((conv) => {
      const name = Buffer.concat([utf16('a'), Buffer.from([0x00, 0xd8]), utf16('b')]);
      const body = createRequestBody({ name: 'xxx', access: 1, disposition: 1 });
      name.copy(body, 56);
      conv.c(req({ command: CMD.CREATE, messageId: 1, sessionId: SID, treeId: 1 }, body));
    });
    expect(only(r, 'create')).toHaveLength(2);
  });
});
