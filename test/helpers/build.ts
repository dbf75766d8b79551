/**
 * Byte builders for hand-made captures: pcap files, link layers, IPv4/IPv6, TCP, NetBIOS and
 * SMB2/SMB3 messages laid out as MS-SMB2 section 2.2 (and MS-NLMP 2.2.1.3 for NTLMSSP)
 * describes them. Offsets are spelled out next to each field so that a test reads as a spec.
 */

// ------------------------------------------------------------------------------------------
// small byte helpers
// ------------------------------------------------------------------------------------------

export const utf16 = (s: string): Buffer => Buffer.from(s, 'utf16le');
export const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

export function u8(v: number): Buffer { return Buffer.from([v & 0xff]); }
export function u16le(v: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); return b; }
export function u32le(v: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; }
export function u64le(v: bigint | number): Buffer { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; }
export function u16be(v: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(v & 0xffff); return b; }
export function u32be(v: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; }

/** zero bytes up to the next multiple of `n` */
export function padTo(b: Buffer, n: number): Buffer {
  const r = (n - (b.length % n)) % n;
  return r ? Buffer.concat([b, Buffer.alloc(r)]) : b;
}

// ------------------------------------------------------------------------------------------
// classic pcap (microsecond magic, little-endian)
// ------------------------------------------------------------------------------------------

export interface Frame {
  data: Buffer;
  sec: number;
  usec: number;
  /** length on the wire; defaults to data.length */
  origLen?: number;
}

export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, LOOP: 108, SLL: 113, IPV4: 228, IPV6: 229, SLL2: 276 } as const;

export function pcapFile(frames: Frame[], linkType: number = LINKTYPE.ETHERNET, snapLen = 262144): Buffer {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0); // µs magic
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeInt32LE(0, 8); // thiszone
  hdr.writeUInt32LE(0, 12); // sigfigs
  hdr.writeUInt32LE(snapLen, 16);
  hdr.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [hdr];
  for (const f of frames) {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(f.sec, 0);
    r.writeUInt32LE(f.usec, 4);
    r.writeUInt32LE(f.data.length, 8);
    r.writeUInt32LE(f.origLen ?? f.data.length, 12);
    parts.push(r, f.data);
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------------
// link layers
// ------------------------------------------------------------------------------------------

export const ETHERTYPE_IPV4 = 0x0800, ETHERTYPE_IPV6 = 0x86dd, ETHERTYPE_VLAN = 0x8100, ETHERTYPE_QINQ = 0x88a8;

export interface EtherOptions {
  /** VLAN ids, outermost first; the first uses `outerTpid` (default 802.1Q) */
  vlans?: number[];
  outerTpid?: number;
  /** pad the frame with zero bytes to at least this length (Ethernet minimum 60 without FCS) */
  minLength?: number;
}

/** Ethernet II: dst(6) src(6) [TPID(2) TCI(2)]* EtherType(2) payload */
export function ethernet(payload: Buffer, etherType: number, o: EtherOptions = {}): Buffer {
  const macs = Buffer.from('020000000002020000000001', 'hex'); // dst, src
  const tags: Buffer[] = [];
  (o.vlans ?? []).forEach((id, i) => tags.push(u16be(i === 0 ? o.outerTpid ?? ETHERTYPE_VLAN : ETHERTYPE_VLAN), u16be(id & 0x0fff)));
  let f = Buffer.concat([macs, ...tags, u16be(etherType), payload]);
  if (o.minLength && f.length < o.minLength) f = Buffer.concat([f, Buffer.alloc(o.minLength - f.length)]);
  return f;
}

/** Linux cooked v1 (16 bytes): packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2) */
export function sll(payload: Buffer, protocol: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  Buffer.from('020000000001', 'hex').copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked v2 (20 bytes): protocol(2) reserved(2) ifindex(4) ARPHRD(2) pkttype(1) addrlen(1) addr(8) */
export function sll2(payload: Buffer, protocol: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(2, 4);
  h.writeUInt16BE(1, 8);
  h[10] = 0;
  h[11] = 6;
  Buffer.from('020000000001', 'hex').copy(h, 12);
  return Buffer.concat([h, payload]);
}

/** BSD null/loopback: a 4-byte address family in the capturing host's byte order */
export function nullLoopback(payload: Buffer, family: number, littleEndian = true): Buffer {
  return Buffer.concat([littleEndian ? u32le(family) : u32be(family), payload]);
}
export const AF_INET = 2, AF_INET6_BSD = 24;

// ------------------------------------------------------------------------------------------
// IP
// ------------------------------------------------------------------------------------------

export function ipv4Bytes(s: string): Buffer {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${s}`);
  return Buffer.from(p);
}

export function ipv6Bytes(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, null];
  const words = (x: string): number[] => (x === '' ? [] : x.split(':').map((w) => parseInt(w, 16)));
  const h = words(head), t = tail === null ? [] : words(tail);
  const zeros = tail === null ? 0 : 8 - h.length - t.length;
  const all = [...h, ...new Array<number>(zeros).fill(0), ...t];
  if (all.length !== 8 || all.some((w) => !(w >= 0 && w <= 0xffff))) throw new Error(`bad IPv6 ${s}`);
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

export interface Ipv4Options {
  /** IP options (padded to a multiple of 4) */
  options?: Buffer;
  /** flags + fragment offset word (DF = 0x4000, MF = 0x2000, offset in 8-byte units) */
  fragment?: number;
  /** override the total length field */
  totalLength?: number;
  id?: number;
  ttl?: number;
}

/** IPv4 header: ver/IHL(1) TOS(1) total(2) id(2) flags/frag(2) TTL(1) proto(1) cksum(2) src(4) dst(4) [options] */
export function ipv4(src: string, dst: string, proto: number, payload: Buffer, o: Ipv4Options = {}): Buffer {
  const opts = padTo(o.options ?? Buffer.alloc(0), 4);
  const h = Buffer.alloc(20 + opts.length);
  h[0] = 0x40 | ((20 + opts.length) / 4);
  h.writeUInt16BE(o.totalLength ?? h.length + payload.length, 2);
  h.writeUInt16BE(o.id ?? 1, 4);
  h.writeUInt16BE(o.fragment ?? 0x4000, 6);
  h[8] = o.ttl ?? 64;
  h[9] = proto;
  ipv4Bytes(src).copy(h, 12);
  ipv4Bytes(dst).copy(h, 16);
  opts.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}

export const IPPROTO_HOPOPTS = 0, IPPROTO_TCP = 6, IPPROTO_UDP = 17, IPPROTO_ROUTING = 43, IPPROTO_FRAGMENT = 44, IPPROTO_DSTOPTS = 60;

/** an IPv6 extension header of the 8-octet-unit kind (hop-by-hop, routing, destination options) */
export interface Ipv6Ext { type: number; /** total length in bytes, multiple of 8, ≥ 8 */ length?: number }

/** IPv6: ver/TC/flow(4) payload length(2) next header(1) hop limit(1) src(16) dst(16), then extension headers */
export function ipv6(src: string, dst: string, proto: number, payload: Buffer, ext: Ipv6Ext[] = []): Buffer {
  const exts: Buffer[] = [];
  for (let i = 0; i < ext.length; i++) {
    const len = ext[i].length ?? 8;
    const e = Buffer.alloc(len);
    e[0] = i + 1 < ext.length ? ext[i + 1].type : proto; // next header
    if (ext[i].type === IPPROTO_FRAGMENT) {
      e[1] = 0; // reserved; fragment offset/flags at 2 stay 0 except MF
      e.writeUInt16BE(1, 2); // offset 0, M flag
      e.writeUInt32BE(0x1234, 4);
    } else {
      e[1] = len / 8 - 1; // Hdr Ext Len in 8-octet units, not counting the first 8
      e[2] = 1; e[3] = len - 4; // a PadN option filling the rest
    }
    exts.push(e);
  }
  const body = Buffer.concat([...exts, payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(body.length, 4);
  h[6] = ext.length ? ext[0].type : proto;
  h[7] = 64;
  ipv6Bytes(src).copy(h, 8);
  ipv6Bytes(dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

// ------------------------------------------------------------------------------------------
// TCP
// ------------------------------------------------------------------------------------------

export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

/** TCP: sport(2) dport(2) seq(4) ack(4) data offset(1) flags(1) window(2) cksum(2) urgent(2) [options] */
export function tcp(sport: number, dport: number, seq: number, ack: number, flags: number, payload: Buffer = Buffer.alloc(0), options?: Buffer): Buffer {
  const opts = padTo(options ?? Buffer.alloc(0), 4);
  const h = Buffer.alloc(20 + opts.length);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  opts.copy(h, 20);
  return Buffer.concat([h, payload]);
}

// ------------------------------------------------------------------------------------------
// NetBIOS session service (RFC 1002 4.3.1; direct TCP uses a 24-bit length)
// ------------------------------------------------------------------------------------------

export const NBSS_MESSAGE = 0x00, NBSS_KEEPALIVE = 0x85;

export function nbss(msg: Buffer, type = NBSS_MESSAGE, length = msg.length): Buffer {
  return Buffer.concat([Buffer.from([type, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]), msg]);
}

// ------------------------------------------------------------------------------------------
// SMB2 (MS-SMB2 2.2)
// ------------------------------------------------------------------------------------------

export const CMD = {
  NEGOTIATE: 0, SESSION_SETUP: 1, LOGOFF: 2, TREE_CONNECT: 3, TREE_DISCONNECT: 4, CREATE: 5, CLOSE: 6,
  FLUSH: 7, READ: 8, WRITE: 9, LOCK: 10, IOCTL: 11, CANCEL: 12, ECHO: 13, QUERY_DIRECTORY: 14,
  CHANGE_NOTIFY: 15, QUERY_INFO: 16, SET_INFO: 17, OPLOCK_BREAK: 18,
} as const;

export const SMB2_FLAGS = { SERVER_TO_REDIR: 0x1, ASYNC: 0x2, RELATED: 0x4, SIGNED: 0x8 } as const;

export const STATUS = {
  SUCCESS: 0x00000000,
  PENDING: 0x00000103,
  MORE_PROCESSING_REQUIRED: 0xc0000016,
  ACCESS_DENIED: 0xc0000022,
  OBJECT_NAME_NOT_FOUND: 0xc0000034,
  LOGON_FAILURE: 0xc000006d,
  DISK_FULL: 0xc000007f,
  BAD_NETWORK_NAME: 0xc00000cc,
} as const;

export const ACCESS = {
  READ_DATA: 0x1, WRITE_DATA: 0x2, APPEND_DATA: 0x4, READ_EA: 0x8, WRITE_EA: 0x10, EXECUTE: 0x20,
  READ_ATTRIBUTES: 0x80, WRITE_ATTRIBUTES: 0x100, DELETE: 0x10000, READ_CONTROL: 0x20000, SYNCHRONIZE: 0x100000,
  MAXIMUM_ALLOWED: 0x02000000, GENERIC_ALL: 0x10000000, GENERIC_WRITE: 0x40000000, GENERIC_READ: 0x80000000,
} as const;

export const DISPOSITION = { SUPERSEDE: 0, OPEN: 1, CREATE: 2, OPEN_IF: 3, OVERWRITE: 4, OVERWRITE_IF: 5 } as const;
export const CREATE_OPTIONS = { DIRECTORY_FILE: 0x1, NON_DIRECTORY_FILE: 0x40, DELETE_ON_CLOSE: 0x1000 } as const;
export const SHARE_TYPE = { DISK: 1, PIPE: 2, PRINT: 3 } as const;

export interface Smb2HeaderFields {
  command: number;
  /** SMB2_FLAGS_*; SERVER_TO_REDIR is added by the response builders */
  flags?: number;
  messageId?: number | bigint;
  sessionId?: bigint;
  treeId?: number;
  /** async header: AsyncId replaces Reserved + TreeId */
  asyncId?: bigint;
  status?: number;
  nextCommand?: number;
  creditCharge?: number;
  credit?: number;
}

/**
 * 64-byte SMB2 header: ProtocolId(4) StructureSize(2)=64 CreditCharge(2) Status(4) Command(2)
 * Credit(2) Flags(4) NextCommand(4) MessageId(8) Reserved(4)+TreeId(4) | AsyncId(8) SessionId(8) Signature(16)
 */
export function smb2Header(h: Smb2HeaderFields): Buffer {
  const b = Buffer.alloc(64);
  b.write('\xfeSMB', 0, 'latin1');
  b.writeUInt16LE(64, 4);
  b.writeUInt16LE(h.creditCharge ?? 1, 6);
  b.writeUInt32LE((h.status ?? 0) >>> 0, 8);
  b.writeUInt16LE(h.command, 12);
  b.writeUInt16LE(h.credit ?? 1, 14);
  let flags = h.flags ?? 0;
  if (h.asyncId !== undefined) flags |= SMB2_FLAGS.ASYNC;
  b.writeUInt32LE(flags >>> 0, 16);
  b.writeUInt32LE(h.nextCommand ?? 0, 20);
  b.writeBigUInt64LE(BigInt(h.messageId ?? 0), 24);
  if (h.asyncId !== undefined) b.writeBigUInt64LE(h.asyncId, 32);
  else b.writeUInt32LE((h.treeId ?? 0) >>> 0, 36);
  b.writeBigUInt64LE(h.sessionId ?? 0n, 40);
  return b;
}

/** a request: header + body */
export function req(h: Smb2HeaderFields, body: Buffer): Buffer {
  return Buffer.concat([smb2Header(h), body]);
}
/** a response: header with SERVER_TO_REDIR + body */
export function resp(h: Smb2HeaderFields, body: Buffer): Buffer {
  return Buffer.concat([smb2Header({ ...h, flags: (h.flags ?? 0) | SMB2_FLAGS.SERVER_TO_REDIR }), body]);
}

/** ERROR response body (2.2.2): StructureSize(2)=9 ErrorContextCount(1) Reserved(1) ByteCount(4) ErrorData(1) */
export function errorBody(): Buffer {
  return Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** interim response to an async operation: ASYNC flag, STATUS_PENDING, an error body */
export function interimResponse(command: number, messageId: number, sessionId: bigint, asyncId: bigint): Buffer {
  return resp({ command, messageId, sessionId, asyncId, status: STATUS.PENDING }, errorBody());
}

/**
 * Several messages in one compound chain (3.2.4.1.4): every message but the last gets NextCommand
 * = its length padded to 8 bytes. Messages must be full header+body buffers (their NextCommand
 * field at offset 20 is overwritten).
 */
export function compound(msgs: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  msgs.forEach((m, i) => {
    const last = i === msgs.length - 1;
    const p = Buffer.from(last ? m : padTo(m, 8));
    p.writeUInt32LE(last ? 0 : p.length, 20);
    parts.push(p);
  });
  return Buffer.concat(parts);
}

// ---- NEGOTIATE (2.2.3 / 2.2.4) ------------------------------------------------------------

/** StructureSize(2)=36 DialectCount(2) SecurityMode(2) Reserved(2) Capabilities(4) ClientGuid(16) ClientStartTime(8) Dialects */
export function negotiateRequestBody(dialects: number[]): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt16LE(36, 0);
  b.writeUInt16LE(dialects.length, 2);
  b.writeUInt16LE(1, 4);
  return Buffer.concat([b, ...dialects.map(u16le)]);
}

/**
 * StructureSize(2)=65 SecurityMode(2) DialectRevision(2) NegotiateContextCount(2) ServerGuid(16)
 * Capabilities(4) MaxTransactSize(4) MaxReadSize(4) MaxWriteSize(4) SystemTime(8) ServerStartTime(8)
 * SecurityBufferOffset(2) SecurityBufferLength(2) NegotiateContextOffset(4) Buffer
 */
export function negotiateResponseBody(dialect: number, securityBlob: Buffer = Buffer.from([0x60, 0x00])): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt16LE(65, 0);
  b.writeUInt16LE(1, 2);
  b.writeUInt16LE(dialect, 4);
  b.writeUInt32LE(8 << 20, 28);
  b.writeUInt32LE(8 << 20, 32);
  b.writeUInt32LE(8 << 20, 36);
  b.writeUInt16LE(64 + 64, 56);
  b.writeUInt16LE(securityBlob.length, 58);
  return Buffer.concat([b, securityBlob]);
}

// ---- SESSION_SETUP (2.2.5 / 2.2.6) ---------------------------------------------------------

/**
 * StructureSize(2)=25 Flags(1) SecurityMode(1) Capabilities(4) Channel(4)
 * SecurityBufferOffset(2) SecurityBufferLength(2) PreviousSessionId(8) Buffer (at header + 88)
 */
export function sessionSetupRequestBody(blob: Buffer, o: { binding?: boolean } = {}): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt16LE(25, 0);
  b[2] = o.binding ? 1 : 0;
  b[3] = 1;
  b.writeUInt16LE(64 + 24, 12);
  b.writeUInt16LE(blob.length, 14);
  return Buffer.concat([b, blob]);
}

/** StructureSize(2)=9 SessionFlags(2) SecurityBufferOffset(2) SecurityBufferLength(2) Buffer */
export function sessionSetupResponseBody(sessionFlags = 0, blob: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(9, 0);
  b.writeUInt16LE(sessionFlags, 2);
  b.writeUInt16LE(blob.length ? 72 : 0, 4);
  b.writeUInt16LE(blob.length, 6);
  return Buffer.concat([b, blob.length ? blob : Buffer.alloc(1)]);
}

export interface NtlmIdentityFields { user: string; domain: string; workstation: string; unicode?: boolean }

/**
 * NTLMSSP AUTHENTICATE_MESSAGE (MS-NLMP 2.2.1.3): Signature(8) MessageType(4)=3
 * LmChallengeResponseFields(8)@12 NtChallengeResponseFields(8)@20 DomainNameFields(8)@28
 * UserNameFields(8)@36 WorkstationFields(8)@44 EncryptedRandomSessionKeyFields(8)@52
 * NegotiateFlags(4)@60 Version(8)@64 MIC(16)@72 Payload@88. Fields: Len(2) MaxLen(2) Offset(4).
 */
export function ntlmAuthenticateMessage(id: NtlmIdentityFields): Buffer {
  const unicode = id.unicode ?? true;
  const enc = (s: string): Buffer => (unicode ? utf16(s) : ascii(s));
  const lm = Buffer.alloc(24), nt = Buffer.alloc(24, 0x11), key = Buffer.alloc(16, 0x22);
  // payload order as Windows writes it: domain, user, workstation, LM, NT, session key
  const payload = [enc(id.domain), enc(id.user), enc(id.workstation), lm, nt, key];
  const fixed = Buffer.alloc(88);
  fixed.write('NTLMSSP\0', 0, 'latin1');
  fixed.writeUInt32LE(3, 8);
  let off = 88;
  const offsets: number[] = [];
  for (const p of payload) { offsets.push(off); off += p.length; }
  const field = (at: number, i: number): void => {
    fixed.writeUInt16LE(payload[i].length, at);
    fixed.writeUInt16LE(payload[i].length, at + 2);
    fixed.writeUInt32LE(offsets[i], at + 4);
  };
  field(12, 3); field(20, 4); field(28, 0); field(36, 1); field(44, 2); field(52, 5);
  // NTLMSSP_NEGOTIATE_UNICODE (0x1) or NTLM_NEGOTIATE_OEM (0x2), plus NTLM and KEY_EXCH bits
  fixed.writeUInt32LE((unicode ? 0x1 : 0x2) | 0x200 | 0x40000000 | 0x20000000, 60);
  fixed[64] = 10; fixed[65] = 0; fixed.writeUInt16LE(19041, 66); fixed[71] = 15;
  return Buffer.concat([fixed, ...payload]);
}

/** NTLMSSP NEGOTIATE_MESSAGE (type 1), minimal */
export function ntlmNegotiateMessage(): Buffer {
  const b = Buffer.alloc(32);
  b.write('NTLMSSP\0', 0, 'latin1');
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(0xe2088297, 12);
  return b;
}

/** DER: tag, definite length (short or long form), value */
export function der(tag: number, value: Buffer): Buffer {
  const n = value.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, value]);
}

/**
 * SPNEGO NegTokenResp carrying an NTLMSSP token, as clients send the AUTHENTICATE leg
 * (RFC 4178 4.2.2): [1] { SEQUENCE { [2] responseToken OCTET STRING } }
 */
export function spnegoResponseToken(token: Buffer): Buffer {
  return der(0xa1, der(0x30, der(0xa2, der(0x04, token))));
}

/**
 * SPNEGO NegTokenInit (first leg): APPLICATION[0] { OID spnego, [0] { SEQUENCE { [0] mechTypes, [2] mechToken } } }
 */
export function spnegoInitToken(token: Buffer): Buffer {
  const spnegoOid = Buffer.from('06062b0601050502', 'hex');
  const ntlmOid = Buffer.from('060a2b06010401823702020a', 'hex');
  const inner = der(0xa0, der(0x30, Buffer.concat([der(0xa0, der(0x30, ntlmOid)), der(0xa2, der(0x04, token))])));
  return der(0x60, Buffer.concat([spnegoOid, inner]));
}

// ---- TREE_CONNECT (2.2.9 / 2.2.10) ---------------------------------------------------------

/** StructureSize(2)=9 Flags(2) PathOffset(2) PathLength(2) Buffer (path at header + 72) */
export function treeConnectRequestBody(path: string, o: { pathLength?: number; pathOffset?: number } = {}): Buffer {
  const p = utf16(path);
  const b = Buffer.alloc(8);
  b.writeUInt16LE(9, 0);
  b.writeUInt16LE(o.pathOffset ?? 72, 4);
  b.writeUInt16LE(o.pathLength ?? p.length, 6);
  return Buffer.concat([b, p]);
}

/** StructureSize(2)=16 ShareType(1) Reserved(1) ShareFlags(4) Capabilities(4) MaximalAccess(4) */
export function treeConnectResponseBody(shareType: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(16, 0);
  b[2] = shareType;
  b.writeUInt32LE(0x001f01ff, 12);
  return b;
}

// ---- CREATE (2.2.13 / 2.2.14) --------------------------------------------------------------

export interface CreateFields {
  name: string;
  access: number;
  disposition: number;
  options?: number;
  attributes?: number;
  shareAccess?: number;
  /** override NameOffset/NameLength (hostile inputs) */
  nameOffset?: number;
  nameLength?: number;
}

/**
 * StructureSize(2)=57 SecurityFlags(1) RequestedOplockLevel(1) ImpersonationLevel(4)
 * SmbCreateFlags(8) Reserved(8) DesiredAccess(4)@24 FileAttributes(4)@28 ShareAccess(4)@32
 * CreateDisposition(4)@36 CreateOptions(4)@40 NameOffset(2)@44 NameLength(2)@46
 * CreateContextsOffset(4)@48 CreateContextsLength(4)@52 Buffer (name at header + 120)
 */
export function createRequestBody(c: CreateFields): Buffer {
  const name = utf16(c.name);
  const b = Buffer.alloc(56);
  b.writeUInt16LE(57, 0);
  b.writeUInt32LE(2, 4); // Impersonation
  b.writeUInt32LE(c.access >>> 0, 24);
  b.writeUInt32LE(c.attributes ?? 0x80, 28);
  b.writeUInt32LE(c.shareAccess ?? 7, 32);
  b.writeUInt32LE(c.disposition, 36);
  b.writeUInt32LE((c.options ?? CREATE_OPTIONS.NON_DIRECTORY_FILE) >>> 0, 40);
  b.writeUInt16LE(c.nameOffset ?? 120, 44);
  b.writeUInt16LE(c.nameLength ?? name.length, 46);
  // the buffer is at least one byte even for an empty name
  return Buffer.concat([b, name.length ? name : Buffer.alloc(1)]);
}

/** a FileId (Persistent 8 + Volatile 8) from a small number */
export function fileId(n: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(n), 0);
  b.writeBigUInt64LE(BigInt(n) + 0x1000n, 8);
  return b;
}
export const RELATED_FILE_ID = Buffer.alloc(16, 0xff);
export const fileIdHex = (b: Buffer): string => b.toString('hex');

/**
 * StructureSize(2)=89 OplockLevel(1) Flags(1) CreateAction(4) CreationTime(8) LastAccessTime(8)
 * LastWriteTime(8) ChangeTime(8) AllocationSize(8) EndofFile(8) FileAttributes(4) Reserved2(4)
 * FileId(16)@64 CreateContextsOffset(4) CreateContextsLength(4)
 */
export function createResponseBody(id: Buffer, createAction = 2): Buffer {
  const b = Buffer.alloc(88);
  b.writeUInt16LE(89, 0);
  b.writeUInt32LE(createAction, 4);
  b.writeUInt32LE(0x80, 56);
  id.copy(b, 64);
  return b;
}

// ---- READ / WRITE (2.2.19 - 2.2.22) --------------------------------------------------------

/**
 * StructureSize(2)=49 DataOffset(2) Length(4) Offset(8) FileId(16)@16 Channel(4)
 * RemainingBytes(4) WriteChannelInfoOffset(2) WriteChannelInfoLength(2) Flags(4) Buffer (data at header + 112)
 */
export function writeRequestBody(id: Buffer, data: Buffer, offset = 0n): Buffer {
  const b = Buffer.alloc(48);
  b.writeUInt16LE(49, 0);
  b.writeUInt16LE(112, 2);
  b.writeUInt32LE(data.length, 4);
  b.writeBigUInt64LE(offset, 8);
  id.copy(b, 16);
  return Buffer.concat([b, data]);
}

/** StructureSize(2)=17 Reserved(2) Count(4) Remaining(4) WriteChannelInfoOffset(2) WriteChannelInfoLength(2) */
export function writeResponseBody(count: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(17, 0);
  b.writeUInt32LE(count, 4);
  return b;
}

/**
 * StructureSize(2)=49 Padding(1) Flags(1) Length(4) Offset(8) FileId(16)@16 MinimumCount(4)
 * Channel(4) RemainingBytes(4) ReadChannelInfoOffset(2) ReadChannelInfoLength(2) Buffer(1)
 */
export function readRequestBody(id: Buffer, length: number, offset = 0n): Buffer {
  const b = Buffer.alloc(49);
  b.writeUInt16LE(49, 0);
  b[2] = 0x50;
  b.writeUInt32LE(length, 4);
  b.writeBigUInt64LE(offset, 8);
  id.copy(b, 16);
  return b;
}

/** StructureSize(2)=17 DataOffset(1)=0x50 Reserved(1) DataLength(4) DataRemaining(4) Reserved2(4) Buffer */
export function readResponseBody(data: Buffer): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(17, 0);
  b[2] = 0x50;
  b.writeUInt32LE(data.length, 4);
  return Buffer.concat([b, data]);
}

// ---- SET_INFO (2.2.39) ---------------------------------------------------------------------

export const INFO_FILE = 1;
export const FILE_INFO = { RENAME: 10, DISPOSITION: 13, DISPOSITION_EX: 64 } as const;

/**
 * StructureSize(2)=33 InfoType(1) FileInfoClass(1) BufferLength(4) BufferOffset(2)=96 Reserved(2)
 * AdditionalInformation(4) FileId(16)@16 Buffer (at header + 96)
 */
export function setInfoRequestBody(id: Buffer, infoClass: number, buffer: Buffer, infoType = INFO_FILE): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt16LE(33, 0);
  b[2] = infoType;
  b[3] = infoClass;
  b.writeUInt32LE(buffer.length, 4);
  b.writeUInt16LE(96, 8);
  id.copy(b, 16);
  return Buffer.concat([b, buffer]);
}

/** FILE_RENAME_INFORMATION_TYPE_2: ReplaceIfExists(1) Reserved(7) RootDirectory(8) FileNameLength(4) FileName */
export function renameInfo(newName: string, replace = false): Buffer {
  const n = utf16(newName);
  const b = Buffer.alloc(20);
  b[0] = replace ? 1 : 0;
  b.writeUInt32LE(n.length, 16);
  return Buffer.concat([b, n]);
}

/** FILE_DISPOSITION_INFORMATION: DeletePending(1) */
export function dispositionInfo(deletePending = true): Buffer {
  return Buffer.from([deletePending ? 1 : 0]);
}
/** FILE_DISPOSITION_INFORMATION_EX: Flags(4), FILE_DISPOSITION_DELETE = 1 */
export function dispositionInfoEx(flags = 1): Buffer {
  return u32le(flags);
}

/** SET_INFO response: StructureSize(2)=2 */
export function setInfoResponseBody(): Buffer {
  return u16le(2);
}

// ---- CLOSE (2.2.15 / 2.2.16), TREE_DISCONNECT, LOGOFF ----------------------------------------

/** StructureSize(2)=24 Flags(2) Reserved(4) FileId(16)@8 */
export function closeRequestBody(id: Buffer): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt16LE(24, 0);
  id.copy(b, 8);
  return b;
}
/** StructureSize(2)=60 Flags(2) Reserved(4) times, sizes, attributes */
export function closeResponseBody(): Buffer {
  const b = Buffer.alloc(60);
  b.writeUInt16LE(60, 0);
  return b;
}
/** TREE_DISCONNECT and LOGOFF requests/responses: StructureSize(2)=4 Reserved(2) */
export function smallBody(): Buffer {
  return Buffer.from([4, 0, 0, 0]);
}

// ---- TRANSFORM_HEADER (2.2.41) -------------------------------------------------------------

/**
 * ProtocolId(4)=FD 'SMB' Signature(16) Nonce(16) OriginalMessageSize(4) Reserved(2)
 * Flags/EncryptionAlgorithm(2) SessionId(8)@44, then the encrypted message
 */
export function transformMessage(sessionId: bigint, encrypted: Buffer): Buffer {
  const b = Buffer.alloc(52);
  b.write('\xfdSMB', 0, 'latin1');
  Buffer.alloc(16, 0x5a).copy(b, 4);
  Buffer.alloc(11, 0x3c).copy(b, 20);
  b.writeUInt32LE(encrypted.length, 36);
  b.writeUInt16LE(1, 42);
  b.writeBigUInt64LE(sessionId, 44);
  return Buffer.concat([b, encrypted]);
}
