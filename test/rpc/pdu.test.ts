import { describe, expect, it } from 'vitest';
import {
  PFC_FIRST_FRAG,
  PFC_LAST_FRAG,
  PFC_OBJECT_UUID,
  PTYPE,
  parseBind,
  parseBindAck,
  parseFault,
  parseHeader,
  parsePdu,
  parseRequest,
  parseResponse,
  plausibleHeader,
  plausibleHeaderPrefix,
  uuidAt,
} from '../../src/rpc/pdu';
import { looksLikeDcerpc } from '../../src/rpc/sniff';
import { NDR, uuidBytes } from './wire';

/**
 * Real PDUs from the lab captures (bytes of tshark's `dcerpc_raw` for the frame), little-endian
 * NDR as every Windows and Samba stack sends them.
 */
const FIX = {
  // captures/09-discovery.pcap frame 19: BIND srvsvc 3.0, call_id 1
  srvsvcBind:
    '05000b03100000004800000001000000b810b810000000000100000000000100c84f324b7016d30112785a47bf6ee18803000000045d888aeb1cc9119fe808002b10486002000000',
  // frame 25: BIND_ACK, secondary address \pipe\srvsvc, one acceptance
  srvsvcAck:
    '05000c03100000004400000001000000b810b810afba00000d005c706970655c73727673766300000100000000000000045d888aeb1cc9119fe808002b10486002000000',
  // frame 27: REQUEST NetShareEnumAll (opnum 15), call_id 1
  shareEnumReq:
    '05000003100000004c000000010000003400000000000f0036b600000100000000000000010000000000abab0100000001000000b09900000000000000000000ffffffff24e9000000000000',
  // frame 30: RESPONSE to call_id 1 (416 bytes)
  shareEnumResp:
    '0500020310000000a001000001000000880100000000000001000000010000000c0002000400000010000200040000001400020000000000180002001c00020000000000200002002400020000000000280002002c0002000300008030000200070000000000000007000000410044004d0049004e002400000000000d000000000000000d000000520065006d006f00740065002000410064006d0069006e000000000003000000000000000300000043002400000000000e000000000000000e000000440065006600610075006c007400200073006800610072006500000005000000000000000500000064006f0063007300000000001500000000000000150000004400650070006100720074006d0065006e007400200064006f00630075006d0065006e0074007300000000000500000000000000050000004900500043002400000000001e000000000000001e00000049005000430020005300650072007600690063006500200028004c00610062002000660069006c00650020007300650072007600650072002900000004000000340002000000000000000000',
  // frame 31: REQUEST NetSrvGetInfo (opnum 21), call_id 2
  srvInfoReq: '0500000310000000200000000200000008000000000015000000000065000000',
  // frame 34: RESPONSE to call_id 2
  srvInfoResp:
    '0500020310000000800000000200000068000000000000006500000000000200f4010000040002000600000001000000039a8000080002000500000000000000050000004600530030003100000000001000000000000000100000004c00610062002000660069006c0065002000730065007200760065007200000000000000',
  // captures/06-impacket-psexec.pcap frame 93: BIND svcctl 2.0
  svcctlBind:
    '05000b03100000004800000001000000b810b81000000000010000000000010081bb7a364498f135ad3298f03800100302000000045d888aeb1cc9119fe808002b10486002000000',
  // frame 98: BIND_ACK \pipe\svcctl
  svcctlAck:
    '05000c03100000004400000001000000b810b810315b00010d005c706970655c73766363746c00000100000000000000045d888aeb1cc9119fe808002b10486002000000',
  // frame 100: OpenSCManagerW request (opnum 15), call_id 1
  openScmReq:
    '050000031000000068000000010000005000000000000f0049b10000060000000000000006000000440055004d004d0059000000d43d00000f000000000000000f000000530065007200760069006300650073004100630074006900760065000000bfbf3f000000',
  // frame 103: its response
  openScmResp: '050002031000000030000000010000001800000000000000000000005090c69740bcec4a838604d2f4174fd000000000',
  // frame 104: OpenServiceW request (opnum 16), call_id 2
  openSvcReq:
    '050000031000000048000000020000003000000000001000000000005090c69740bcec4a838604d2f4174fd00500000000000000050000006f004b00590059000000bfbfff010f00',
  // frame 107: its response (ERROR_SERVICE_DOES_NOT_EXIST in the stub)
  openSvcResp: '050002031000000030000000020000001800000000000000000000000000000000000000000000000000000024040000',
  // frame 108: CreateServiceW request (opnum 12), call_id 3
  createSvcReq:
    '0500000310000000cc00000003000000b400000000000c00000000005090c69740bcec4a838604d2f4174fd00500000000000000050000006f004b00590059000000aaaa3d6800000500000000000000050000006f004b00590059000000bfbfff010f001000000003000000000000001a000000000000001a0000002500730079007300740065006d0072006f006f00740025005c00790052006c006100680054006a0047002e00650078006500000000000000000000000000000000000000000000000000000000000000',
  // frame 111: FAULT nca_op_rng_error (0x1c010002) for call_id 3
  createSvcFault: '0500030310000000200000000300000018000000000000000200011c00000000',
};

const hex = (h: string): Buffer => Buffer.from(h, 'hex');



/** Little writer that follows the NDR integer order, for PDUs no capture holds (big-endian, auth, fragments). */
class W {
  private parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  uuid(u: string): this {
    this.parts.push(uuidBytes(u, this.le));
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  get length(): number {
    return this.parts.reduce((n, p) => n + p.length, 0);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

interface Auth {
  type: number;
  level: number;
  pad: number;
  value: Buffer;
}

/** A whole PDU: common header with frag_length/auth_length filled in, body, then auth pad + sec_trailer + auth_value. */
function pduBytes(o: { ptype: number; flags?: number; callId: number; le?: boolean; body: (w: W) => void; auth?: Auth }): Buffer {
  const le = o.le ?? true;
  const body = new W(le);
  o.body(body);
  const tail = new W(le);
  if (o.auth) {
    tail.bytes(Buffer.alloc(o.auth.pad, 0xaa));
    tail.u8(o.auth.type).u8(o.auth.level).u8(o.auth.pad).u8(0).u32(0x12345);
    tail.bytes(o.auth.value);
  }
  const fragLength = 16 + body.length + tail.length;
  const h = new W(le)
    .u8(5)
    .u8(0)
    .u8(o.ptype)
    .u8(o.flags ?? PFC_FIRST_FRAG | PFC_LAST_FRAG)
    .bytes(Buffer.from([le ? 0x10 : 0x00, 0, 0, 0]))
    .u16(fragLength)
    .u16(o.auth ? o.auth.value.length : 0)
    .u32(o.callId);
  return Buffer.concat([h.done(), body.done(), tail.done()]);
}

function bindBytes(callId: number, ctxs: { ctxId: number; uuid: string; major: number; minor?: number }[], le = true, ptype: number = PTYPE.BIND): Buffer {
  return pduBytes({
    ptype,
    callId,
    le,
    body: (w) => {
      w.u16(4280).u16(4280).u32(0).u8(ctxs.length).u8(0).u16(0);
      for (const c of ctxs) w.u16(c.ctxId).u8(1).u8(0).uuid(c.uuid).u16(c.major).u16(c.minor ?? 0).uuid(NDR).u16(2).u16(0);
    },
  });
}

function ackBytes(callId: number, results: number[], le = true, ptype: number = PTYPE.BIND_ACK): Buffer {
  return pduBytes({
    ptype,
    callId,
    le,
    body: (w) => {
      // sec_addr "135\0" (4 bytes) puts the result list at 16+8+2+4 = 30, padded to 32
      w.u16(4280).u16(4280).u32(0x1234).u16(4).bytes(Buffer.from('135\0', 'latin1')).u16(0);
      w.u8(results.length).u8(0).u16(0);
      for (const r of results) w.u16(r).u16(r === 0 ? 0 : 2).uuid(r === 0 ? NDR : '00000000-0000-0000-0000-000000000000').u16(r === 0 ? 2 : 0).u16(0);
    },
  });
}

function requestBytes(o: { callId: number; opnum: number; ctxId?: number; stub: Buffer; flags?: number; le?: boolean; auth?: Auth; object?: string }): Buffer {
  return pduBytes({
    ptype: PTYPE.REQUEST,
    callId: o.callId,
    le: o.le,
    flags: (o.flags ?? PFC_FIRST_FRAG | PFC_LAST_FRAG) | (o.object ? PFC_OBJECT_UUID : 0),
    auth: o.auth,
    body: (w) => {
      w.u32(o.stub.length).u16(o.ctxId ?? 0).u16(o.opnum);
      if (o.object) w.uuid(o.object);
      w.bytes(o.stub);
    },
  });
}

describe('common header', () => {
  it('reads the header of a real BIND', () => {
    const b = hex(FIX.srvsvcBind);
    const h = parseHeader(b, 0, b.length);
    expect(h).toEqual({
      version: 5,
      minor: 0,
      ptype: PTYPE.BIND,
      flags: 3,
      drep0: 0x10,
      littleEndian: true,
      fragLength: 72,
      authLength: 0,
      callId: 1,
    });
  });

  it('needs only the 16 header bytes, and reads at an offset', () => {
    const b = Buffer.concat([Buffer.from([1, 2, 3]), hex(FIX.shareEnumResp).subarray(0, 16)]);
    expect(parseHeader(b, 3, b.length)?.fragLength).toBe(416);
    expect(parseHeader(b, 3, b.length - 1)).toBeNull();
  });

  it('reads frag_length, auth_length and call_id big-endian when drep[0] & 0x10 is clear', () => {
    const b = requestBytes({ callId: 0x01020304, opnum: 7, stub: Buffer.alloc(8), le: false });
    const h = parseHeader(b, 0, b.length);
    expect(h?.littleEndian).toBe(false);
    expect(h?.callId).toBe(0x01020304);
    expect(h?.fragLength).toBe(b.length);
    expect(b.readUInt16BE(8)).toBe(b.length);
  });

  it('rejects other versions, minor versions, unknown or connectionless types and impossible lengths', () => {
    const good = hex(FIX.srvInfoReq);
    const bad = (i: number, v: number): Buffer => {
      const b = Buffer.from(good);
      b[i] = v;
      return b;
    };
    expect(parseHeader(good, 0, good.length)).not.toBeNull();
    expect(parseHeader(bad(0, 4), 0, 32)).toBeNull(); // version 4 (connectionless)
    expect(parseHeader(bad(1, 2), 0, 32)).toBeNull(); // minor 2
    expect(parseHeader(bad(2, 1), 0, 32)).toBeNull(); // PING is connectionless
    expect(parseHeader(bad(2, 99), 0, 32)).toBeNull();
    expect(parseHeader(bad(8, 20), 0, 32)).toBeNull(); // a REQUEST cannot be 20 bytes
    expect(parseHeader(bad(10, 9), 0, 32)).toBeNull(); // auth_length 9 + trailer 8 + header 16 > 32
  });

  it('plausibleHeader also wants a data representation NDR defines; prefixes are judged on what is there', () => {
    const b = hex(FIX.srvInfoReq);
    expect(plausibleHeader(b, 0, b.length)).not.toBeNull();
    const odd = Buffer.from(b);
    odd[6] = 1; // reserved drep byte
    expect(parseHeader(odd, 0, odd.length)).not.toBeNull();
    expect(plausibleHeader(odd, 0, odd.length)).toBeNull();
    for (let n = 1; n < 16; n++) expect(plausibleHeaderPrefix(b, 0, n)).toBe(true);
    expect(plausibleHeaderPrefix(odd, 0, 7)).toBe(false);
    expect(plausibleHeaderPrefix(Buffer.from([5, 0, 99]), 0, 3)).toBe(false);
    expect(plausibleHeaderPrefix(Buffer.from([4]), 0, 1)).toBe(false);
  });
});

describe('uuids', () => {
  it('prints the first three fields in the drep order and the last eight bytes as they are', () => {
    const u = '4b324fc8-1670-01d3-1278-5a47bf6ee188';
    expect(uuidAt(uuidBytes(u, true), 0, true)).toBe(u);
    expect(uuidAt(uuidBytes(u, false), 0, false)).toBe(u);
    // the srvsvc UUID as it lies in the real BIND (offset 32)
    expect(uuidAt(hex(FIX.srvsvcBind), 32, true)).toBe(u);
  });
});

describe('BIND / ALTER_CONTEXT', () => {
  it('reads the presentation context list of a real BIND', () => {
    const b = hex(FIX.srvsvcBind);
    const p = parseBind(b, 0, b.length);
    expect(p).not.toBeNull();
    expect(p?.maxXmitFrag).toBe(4280);
    expect(p?.contexts).toEqual([
      { ctxId: 0, uuid: '4b324fc8-1670-01d3-1278-5a47bf6ee188', version: '3.0', transferSyntaxes: [{ uuid: NDR, version: '2.0' }] },
    ]);
  });

  it('reads several contexts, little- and big-endian alike, and ALTER_CONTEXT the same way', () => {
    const ctxs = [
      { ctxId: 0, uuid: 'e3514235-4b06-11d1-ab04-00c04fc2dcd2', major: 4 },
      { ctxId: 1, uuid: '367abb81-9844-35f1-ad32-98f038001003', major: 2 },
    ];
    for (const le of [true, false]) {
      for (const ptype of [PTYPE.BIND, PTYPE.ALTER_CONTEXT]) {
        const b = bindBytes(7, ctxs, le, ptype);
        const p = parseBind(b, 0, b.length);
        expect(p?.header.ptype).toBe(ptype);
        expect(p?.header.littleEndian).toBe(le);
        expect(p?.contexts.map((c) => [c.ctxId, c.uuid, c.version, c.transferSyntaxes[0].uuid])).toEqual([
          [0, ctxs[0].uuid, '4.0', NDR],
          [1, ctxs[1].uuid, '2.0', NDR],
        ]);
      }
    }
  });

  it('is null when the context list claims more than the PDU holds', () => {
    const b = hex(FIX.srvsvcBind);
    b[24] = 200; // n_context_elem
    expect(parseBind(b, 0, b.length)).toBeNull();
    const c = hex(FIX.srvsvcBind);
    c[30] = 0xff; // n_transfer_syn of the first context (at 28 + 2): 255 syntaxes cannot fit
    expect(parseBind(c, 0, c.length)).toBeNull();
  });
});

describe('BIND_ACK / ALTER_CONTEXT_RESP', () => {
  it('reads the secondary address (aligned result list) and the results of a real BIND_ACK', () => {
    const b = hex(FIX.srvsvcAck);
    const p = parseBindAck(b, 0, b.length);
    expect(p?.secondaryAddress).toBe('\\pipe\\srvsvc');
    expect(p?.assocGroupId).toBe(0xbaaf);
    expect(p?.results).toEqual([{ result: 0, reason: 0, transferSyntax: { uuid: NDR, version: '2.0' } }]);
  });

  it('keeps the results in the order offered, both byte orders', () => {
    for (const le of [true, false]) {
      const b = ackBytes(3, [0, 2, 0], le, PTYPE.ALTER_CONTEXT_RESP);
      const p = parseBindAck(b, 0, b.length);
      expect(p?.secondaryAddress).toBe('135');
      expect(p?.results.map((r) => r.result)).toEqual([0, 2, 0]);
      expect(p?.results[1].reason).toBe(2);
    }
  });

  it('is null when the secondary address runs past the PDU', () => {
    const b = hex(FIX.srvsvcAck);
    b.writeUInt16LE(500, 24);
    expect(parseBindAck(b, 0, b.length)).toBeNull();
  });
});

describe('REQUEST / RESPONSE / FAULT', () => {
  it('reads a real REQUEST: context, opnum, alloc_hint and the stub after the 24-byte header', () => {
    const b = hex(FIX.shareEnumReq);
    const p = parseRequest(b, 0, b.length);
    expect(p).toMatchObject({ allocHint: 0x34, ctxId: 0, opnum: 15, object: null, stubStart: 24, stubEnd: 76, auth: null });
    expect(p?.header.callId).toBe(1);
  });

  it('reads a real RESPONSE and a real FAULT', () => {
    const r = hex(FIX.shareEnumResp);
    expect(parseResponse(r, 0, r.length)).toMatchObject({ allocHint: 0x188, ctxId: 0, stubStart: 24, stubEnd: 416 });
    const f = hex(FIX.createSvcFault);
    expect(parseFault(f, 0, f.length)).toMatchObject({ status: 0x1c010002, ctxId: 0 });
    expect(parseFault(f, 0, f.length)?.header.callId).toBe(3);
    expect(parseFault(r, 0, r.length)).toBeNull(); // a RESPONSE is not a FAULT
  });

  it('reads the object UUID of a REQUEST with PFC_OBJECT_UUID, and the stub after it', () => {
    const ipid = '0000a001-1234-5678-9abc-def012345678';
    for (const le of [true, false]) {
      const b = requestBytes({ callId: 9, opnum: 24, stub: Buffer.from('stub'), object: ipid, le });
      const p = parseRequest(b, 0, b.length);
      expect(p?.object).toBe(ipid);
      expect(p?.opnum).toBe(24);
      expect(b.subarray(p!.stubStart, p!.stubEnd).toString()).toBe('stub');
    }
  });

  it('finds the sec_trailer at frag_length - auth_length - 8 and leaves the auth pad out of the stub', () => {
    const stub = Buffer.from('0123456789ab'); // 12 bytes, padded by 4 to 16
    const value = Buffer.alloc(16, 0xee);
    for (const le of [true, false]) {
      const b = requestBytes({ callId: 2, opnum: 3, stub, le, auth: { type: 10, level: 6, pad: 4, value } });
      const p = parseRequest(b, 0, b.length);
      expect(p?.header.authLength).toBe(16);
      expect(p?.auth).toMatchObject({ authType: 10, authLevel: 6, padLength: 4, contextId: 0x12345 });
      expect(b.subarray(p!.stubStart, p!.stubEnd)).toEqual(stub);
      expect(b.subarray(p!.auth!.authStart, p!.auth!.authEnd)).toEqual(value);
    }
  });

  it('is null when the auth pad would reach into the fixed fields', () => {
    const b = requestBytes({ callId: 2, opnum: 3, stub: Buffer.alloc(4), auth: { type: 10, level: 5, pad: 0, value: Buffer.alloc(16) } });
    const trailer = b.length - 16 - 8;
    b[trailer + 2] = 200;
    expect(parseRequest(b, 0, b.length)).toBeNull();
  });

  it('parsePdu tells the kinds apart and ignores bytes after frag_length', () => {
    const two = Buffer.concat([hex(FIX.srvInfoReq), hex(FIX.srvInfoResp)]);
    expect(parsePdu(two, 0, two.length)?.kind).toBe('request');
    expect(parsePdu(two, 32, two.length)?.kind).toBe('response');
    expect(parsePdu(hex(FIX.svcctlAck), 0, 68)?.kind).toBe('bind_ack');
  });
});

describe('hostile and truncated input', () => {
  const all = Object.values(FIX).map(hex);

  it('every truncation of every real PDU is null, never a throw', () => {
    for (const b of all) {
      for (let n = 0; n < b.length; n++) expect(parsePdu(b, 0, n)).toBeNull();
      expect(parsePdu(b, 0, b.length)).not.toBeNull();
    }
  });

  it('out-of-range offsets are null', () => {
    const b = hex(FIX.srvInfoReq);
    expect(parsePdu(b, 10, 5)).toBeNull();
    expect(parsePdu(b, 0, b.length + 100)).toBeNull();
    expect(parsePdu(b, -3, b.length)).toBeNull();
    expect(parsePdu(b, b.length, b.length)).toBeNull();
  });

  it('random corruption of real PDUs never throws', () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.from(all[rnd(all.length)]);
      for (let k = 0; k < 1 + rnd(4); k++) b[rnd(b.length)] = rnd(256);
      const p = parsePdu(b, 0, b.length);
      if (p !== null && 'stubEnd' in p) {
        expect(p.stubStart).toBeLessThanOrEqual(p.stubEnd);
        expect(p.stubEnd).toBeLessThanOrEqual(p.header.fragLength);
      }
      looksLikeDcerpc(b, 0, b.length);
    }
  });
});

describe('looksLikeDcerpc', () => {
  it('recognises the first PDU of a DCE/RPC stream, whole or only its header', () => {
    const bind = hex(FIX.srvsvcBind);
    expect(looksLikeDcerpc(bind, 0, bind.length)).toBe(true);
    expect(looksLikeDcerpc(bind, 0, 16)).toBe(true);
    const req = hex(FIX.openScmReq);
    expect(looksLikeDcerpc(req, 0, req.length)).toBe(true); // a capture starting mid-connection
    const be = bindBytes(1, [{ ctxId: 0, uuid: 'e3514235-4b06-11d1-ab04-00c04fc2dcd2', major: 4 }], false);
    expect(looksLikeDcerpc(be, 0, be.length)).toBe(true);
  });

  it('rejects other protocols, too few bytes, and a BIND with no context', () => {
    const http = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(looksLikeDcerpc(http, 0, http.length)).toBe(false);
    const smb2 = Buffer.concat([Buffer.from([0, 0, 0, 64]), Buffer.from('\xfeSMB', 'latin1'), Buffer.alloc(60)]);
    expect(looksLikeDcerpc(smb2, 0, smb2.length)).toBe(false);
    const bind = hex(FIX.srvsvcBind);
    expect(looksLikeDcerpc(bind, 0, 15)).toBe(false);
    expect(looksLikeDcerpc(bindBytes(1, []), 0, 28)).toBe(false);
    const tls = Buffer.from('160301020001000200', 'hex');
    expect(looksLikeDcerpc(tls, 0, tls.length)).toBe(false);
    const odd = Buffer.from(bind);
    odd[4] = 0x55; // not a data representation NDR defines
    expect(looksLikeDcerpc(odd, 0, odd.length)).toBe(false);
  });
});
