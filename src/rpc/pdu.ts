/**
 * DCE/RPC 5.0/5.1 connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2), as they travel on
 * named pipes and TCP. Every function reads one PDU in place from `buf[off, end)`, checks every
 * offset against `end` and against the PDU's own frag_length, and returns null for anything
 * malformed or truncated: the bytes come off the wire and may be hostile, so nothing here throws.
 * Stub data is returned as offsets into `buf`, never copied.
 */

/** PDU types (C706 12.6.4.1); connection-oriented ones only are accepted */
export const PTYPE = {
  REQUEST: 0,
  RESPONSE: 2,
  FAULT: 3,
  BIND: 11,
  BIND_ACK: 12,
  BIND_NAK: 13,
  ALTER_CONTEXT: 14,
  ALTER_CONTEXT_RESP: 15,
  AUTH3: 16,
  SHUTDOWN: 17,
  CO_CANCEL: 18,
  ORPHANED: 19,
} as const;

/** pfc_flags (C706 12.6.3.1) */
export const PFC_FIRST_FRAG = 0x01;
export const PFC_LAST_FRAG = 0x02;
export const PFC_PENDING_CANCEL = 0x04;
export const PFC_CONC_MPX = 0x10;
export const PFC_DID_NOT_EXECUTE = 0x20;
export const PFC_MAYBE = 0x40;
export const PFC_OBJECT_UUID = 0x80;

/** auth_level values of the sec_trailer (MS-RPCE 2.2.1.1.8) */
export const AUTH_LEVEL_PKT_PRIVACY = 6;

export const HEADER_LEN = 16;
const SEC_TRAILER_LEN = 8;
/** the 20-byte p_syntax_id_t: interface UUID + u16 major + u16 minor */
const SYNTAX_LEN = 20;

/** Smallest frag_length each type can have with its fixed fields: a shorter one is malformed. */
const MIN_FRAG: Readonly<Record<number, number>> = {
  [PTYPE.REQUEST]: 24,
  [PTYPE.RESPONSE]: 24,
  [PTYPE.FAULT]: 32,
  [PTYPE.BIND]: 28,
  [PTYPE.BIND_ACK]: 26,
  [PTYPE.BIND_NAK]: 18,
  [PTYPE.ALTER_CONTEXT]: 28,
  [PTYPE.ALTER_CONTEXT_RESP]: 26,
  [PTYPE.AUTH3]: 16,
  [PTYPE.SHUTDOWN]: 16,
  [PTYPE.CO_CANCEL]: 16,
  [PTYPE.ORPHANED]: 16,
};

/** the 16-byte common header of every connection-oriented PDU (C706 12.6.3.1) */
export interface CommonHeader {
  /** rpc_vers, always 5 */
  version: number;
  /** rpc_vers_minor, 0 or 1 */
  minor: number;
  ptype: number;
  /** pfc_flags */
  flags: number;
  /** drep[0]: bit 0x10 = little-endian integers, low nibble = character set */
  drep0: number;
  littleEndian: boolean;
  /** total PDU length, header included */
  fragLength: number;
  /** length of the auth_value after the sec_trailer; 0 without authentication */
  authLength: number;
  callId: number;
}

/** sec_trailer (MS-RPCE 2.2.2.11), 8 bytes before the auth_value at the end of the PDU */
export interface SecTrailer {
  authType: number;
  authLevel: number;
  /** auth_pad_length: padding between the stub and this trailer */
  padLength: number;
  contextId: number;
  /** auth_value (NTLMSSP / Kerberos token or verifier) within buf */
  authStart: number;
  authEnd: number;
}

/** one presentation context offered by BIND / ALTER_CONTEXT (p_cont_elem_t) */
export interface PresentationContext {
  ctxId: number;
  /** abstract syntax: the interface */
  uuid: string;
  /** "major.minor" */
  version: string;
  /** transfer syntaxes offered, "uuid/major.minor" as uuid text plus version */
  transferSyntaxes: { uuid: string; version: string }[];
}

/** one entry of a BIND_ACK / ALTER_CONTEXT_RESP result list (p_result_t), in the order offered */
export interface ContextResult {
  /** 0 acceptance, 1 user rejection, 2 provider rejection, 3 negotiate_ack (MS-RPCE bind time features) */
  result: number;
  reason: number;
  transferSyntax: { uuid: string; version: string };
}

interface Base {
  header: CommonHeader;
  /** null when auth_length is 0 */
  auth: SecTrailer | null;
}

export interface BindPdu extends Base {
  kind: 'bind';
  maxXmitFrag: number;
  maxRecvFrag: number;
  assocGroupId: number;
  contexts: PresentationContext[];
}

export interface BindAckPdu extends Base {
  kind: 'bind_ack';
  maxXmitFrag: number;
  maxRecvFrag: number;
  assocGroupId: number;
  /** sec_addr port spec without its NUL ("\\PIPE\\srvsvc", "49667"); latin1 */
  secondaryAddress: string;
  results: ContextResult[];
}

export interface BindNakPdu extends Base {
  kind: 'bind_nak';
  rejectReason: number;
}

export interface RequestPdu extends Base {
  kind: 'request';
  allocHint: number;
  ctxId: number;
  opnum: number;
  /** object UUID when PFC_OBJECT_UUID is set (DCOM IPID), else null */
  object: string | null;
  /** stub data (auth pad and trailer excluded) within buf */
  stubStart: number;
  stubEnd: number;
}

export interface ResponsePdu extends Base {
  kind: 'response';
  allocHint: number;
  ctxId: number;
  cancelCount: number;
  stubStart: number;
  stubEnd: number;
}

export interface FaultPdu extends Base {
  kind: 'fault';
  allocHint: number;
  ctxId: number;
  cancelCount: number;
  /** nca_s_* / Win32 / NTSTATUS */
  status: number;
}

/** PDUs carrying nothing this stage uses (AUTH3, SHUTDOWN, CO_CANCEL, ORPHANED) */
export interface OtherPdu extends Base {
  kind: 'other';
}

export type Pdu = BindPdu | BindAckPdu | BindNakPdu | RequestPdu | ResponsePdu | FaultPdu | OtherPdu;

function u16(buf: Buffer, off: number, le: boolean): number {
  return le ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
}

function u32(buf: Buffer, off: number, le: boolean): number {
  return le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A 16-byte UUID as canonical lower-case text. NDR sends the first three fields (u32, u16, u16)
 * in the data representation's integer order and the last eight bytes as they are.
 * The caller guarantees 16 readable bytes.
 */
export function uuidAt(buf: Buffer, off: number, littleEndian: boolean): string {
  const order = littleEndian ? [3, 2, 1, 0, -1, 5, 4, -1, 7, 6] : [0, 1, 2, 3, -1, 4, 5, -1, 6, 7];
  let s = '';
  for (const i of order) s += i < 0 ? '-' : HEX[buf[off + i]];
  s += '-' + HEX[buf[off + 8]] + HEX[buf[off + 9]] + '-';
  for (let i = 10; i < 16; i++) s += HEX[buf[off + i]];
  return s;
}

function knownPtype(ptype: number): boolean {
  return MIN_FRAG[ptype] !== undefined;
}

/**
 * The common header at `off`, or null unless it is a version 5.0/5.1 connection-oriented header
 * of a known type whose frag_length can hold its fixed fields and its auth_value. Only the 16
 * header bytes need to be in `[off, end)`; the rest of the PDU may still be on its way.
 */
export function parseHeader(buf: Buffer, off: number, end: number): CommonHeader | null {
  if (off < 0 || end > buf.length || end - off < HEADER_LEN) return null;
  const version = buf[off];
  const minor = buf[off + 1];
  const ptype = buf[off + 2];
  if (version !== 5 || minor > 1 || !knownPtype(ptype)) return null;
  const drep0 = buf[off + 4];
  const littleEndian = (drep0 & 0x10) !== 0;
  const fragLength = u16(buf, off + 8, littleEndian);
  const authLength = u16(buf, off + 10, littleEndian);
  if (fragLength < MIN_FRAG[ptype]) return null;
  if (authLength > 0 && fragLength < HEADER_LEN + SEC_TRAILER_LEN + authLength) return null;
  return {
    version,
    minor,
    ptype,
    flags: buf[off + 3],
    drep0,
    littleEndian,
    fragLength,
    authLength,
    callId: u32(buf, off + 12, littleEndian),
  };
}

/**
 * Stricter than parseHeader, for finding a PDU boundary in bytes of unknown alignment (a capture
 * that starts mid-stream, a lost segment): the data representation must be one NDR defines
 * (ASCII/EBCDIC, IEEE/VAX/Cray/IBM floats, reserved bytes zero), which real stacks always send.
 */
export function plausibleHeader(buf: Buffer, off: number, end: number): CommonHeader | null {
  const h = parseHeader(buf, off, end);
  if (h === null) return null;
  if ((h.drep0 & 0xee) !== 0 || buf[off + 5] > 3 || buf[off + 6] !== 0 || buf[off + 7] !== 0) return null;
  return h;
}

/**
 * Whether the `end - off` (< 16) bytes at `off` can begin a plausible header, so that a header
 * cut by a chunk boundary is kept rather than skipped.
 */
export function plausibleHeaderPrefix(buf: Buffer, off: number, end: number): boolean {
  const n = Math.min(end - off, HEADER_LEN);
  if (n <= 0) return false;
  if (buf[off] !== 5) return false;
  if (n > 1 && buf[off + 1] > 1) return false;
  if (n > 2 && !knownPtype(buf[off + 2])) return false;
  if (n > 4 && (buf[off + 4] & 0xee) !== 0) return false;
  if (n > 5 && buf[off + 5] > 3) return false;
  if (n > 6 && buf[off + 6] !== 0) return false;
  if (n > 7 && buf[off + 7] !== 0) return false;
  if (n > 9 && u16(buf, off + 8, (buf[off + 4] & 0x10) !== 0) < MIN_FRAG[buf[off + 2]]) return false;
  return true;
}

/**
 * The sec_trailer of a PDU whose header is `h`, at frag_length - auth_length - 8; `bodyStart` is
 * where the type-specific body begins (the pad must not reach into the fixed fields).
 * Returns undefined when the trailer does not fit, null when the PDU has no authentication.
 */
function secTrailer(buf: Buffer, off: number, h: CommonHeader, bodyStart: number): SecTrailer | null | undefined {
  if (h.authLength === 0) return null;
  const at = off + h.fragLength - h.authLength - SEC_TRAILER_LEN;
  if (at < bodyStart) return undefined;
  const padLength = buf[at + 2];
  if (at - padLength < bodyStart) return undefined;
  return {
    authType: buf[at],
    authLevel: buf[at + 1],
    padLength,
    contextId: u32(buf, at + 4, h.littleEndian),
    authStart: at + SEC_TRAILER_LEN,
    authEnd: off + h.fragLength,
  };
}

/** where the stub (or body) ends: before the auth pad and sec_trailer when there is one */
function bodyEnd(off: number, h: CommonHeader, auth: SecTrailer | null): number {
  return auth === null ? off + h.fragLength : auth.authStart - SEC_TRAILER_LEN - auth.padLength;
}

function syntaxAt(buf: Buffer, off: number, le: boolean): { uuid: string; version: string } {
  return { uuid: uuidAt(buf, off, le), version: `${u16(buf, off + 16, le)}.${u16(buf, off + 18, le)}` };
}

/** BIND or ALTER_CONTEXT body: p_context_elem_t after max_xmit/max_recv/assoc_group */
function bindBody(buf: Buffer, off: number, h: CommonHeader, auth: SecTrailer | null): BindPdu | null {
  const le = h.littleEndian;
  const limit = bodyEnd(off, h, auth);
  let p = off + HEADER_LEN;
  if (p + 12 > limit) return null;
  const maxXmitFrag = u16(buf, p, le);
  const maxRecvFrag = u16(buf, p + 2, le);
  const assocGroupId = u32(buf, p + 4, le);
  const n = buf[p + 8];
  p += 12;
  const contexts: PresentationContext[] = [];
  for (let i = 0; i < n; i++) {
    if (p + 4 + SYNTAX_LEN > limit) return null;
    const ctxId = u16(buf, p, le);
    const nTransfer = buf[p + 2];
    const abstract = syntaxAt(buf, p + 4, le);
    p += 4 + SYNTAX_LEN;
    if (p + nTransfer * SYNTAX_LEN > limit) return null;
    const transferSyntaxes: { uuid: string; version: string }[] = [];
    for (let t = 0; t < nTransfer; t++, p += SYNTAX_LEN) transferSyntaxes.push(syntaxAt(buf, p, le));
    contexts.push({ ctxId, uuid: abstract.uuid, version: abstract.version, transferSyntaxes });
  }
  return { kind: 'bind', header: h, auth, maxXmitFrag, maxRecvFrag, assocGroupId, contexts };
}

/** BIND_ACK or ALTER_CONTEXT_RESP body: sec_addr, pad to 4 (from the PDU start), p_result_list_t */
function bindAckBody(buf: Buffer, off: number, h: CommonHeader, auth: SecTrailer | null): BindAckPdu | null {
  const le = h.littleEndian;
  const limit = bodyEnd(off, h, auth);
  let p = off + HEADER_LEN;
  if (p + 10 > limit) return null;
  const maxXmitFrag = u16(buf, p, le);
  const maxRecvFrag = u16(buf, p + 2, le);
  const assocGroupId = u32(buf, p + 4, le);
  const addrLen = u16(buf, p + 8, le);
  p += 10;
  if (p + addrLen > limit) return null;
  let addrEnd = p + addrLen;
  if (addrLen > 0 && buf[addrEnd - 1] === 0) addrEnd--;
  const secondaryAddress = buf.toString('latin1', p, addrEnd);
  p += addrLen;
  p += (4 - ((p - off) & 3)) & 3;
  if (p + 4 > limit) return null;
  const n = buf[p];
  p += 4;
  if (p + n * (4 + SYNTAX_LEN) > limit) return null;
  const results: ContextResult[] = [];
  for (let i = 0; i < n; i++, p += 4 + SYNTAX_LEN) {
    results.push({ result: u16(buf, p, le), reason: u16(buf, p + 2, le), transferSyntax: syntaxAt(buf, p + 4, le) });
  }
  return { kind: 'bind_ack', header: h, auth, maxXmitFrag, maxRecvFrag, assocGroupId, secondaryAddress, results };
}

function requestBody(buf: Buffer, off: number, h: CommonHeader, auth: SecTrailer | null): RequestPdu | null {
  const le = h.littleEndian;
  let stubStart = off + 24;
  let object: string | null = null;
  if (h.flags & PFC_OBJECT_UUID) {
    if (off + 40 > off + h.fragLength) return null;
    object = uuidAt(buf, off + 24, le);
    stubStart = off + 40;
  }
  const stubEnd = bodyEnd(off, h, auth);
  if (stubEnd < stubStart) return null;
  return {
    kind: 'request',
    header: h,
    auth,
    allocHint: u32(buf, off + 16, le),
    ctxId: u16(buf, off + 20, le),
    opnum: u16(buf, off + 22, le),
    object,
    stubStart,
    stubEnd,
  };
}

/**
 * The PDU at `off`, complete in `[off, end)` (bytes past its frag_length are ignored), or null
 * when it is truncated or malformed.
 */
export function parsePdu(buf: Buffer, off: number, end: number): Pdu | null {
  const h = parseHeader(buf, off, end);
  if (h === null || end - off < h.fragLength) return null;
  const le = h.littleEndian;
  // the fixed part of each type, so that the trailer's pad can be checked against it
  const fixed = h.ptype === PTYPE.REQUEST || h.ptype === PTYPE.RESPONSE ? 24 : h.ptype === PTYPE.FAULT ? 32 : HEADER_LEN;
  const auth = secTrailer(buf, off, h, off + fixed);
  if (auth === undefined) return null;
  switch (h.ptype) {
    case PTYPE.BIND:
    case PTYPE.ALTER_CONTEXT:
      return bindBody(buf, off, h, auth);
    case PTYPE.BIND_ACK:
    case PTYPE.ALTER_CONTEXT_RESP:
      return bindAckBody(buf, off, h, auth);
    case PTYPE.BIND_NAK:
      return { kind: 'bind_nak', header: h, auth, rejectReason: u16(buf, off + 16, le) };
    case PTYPE.REQUEST:
      return requestBody(buf, off, h, auth);
    case PTYPE.RESPONSE: {
      const stubEnd = bodyEnd(off, h, auth);
      if (stubEnd < off + 24) return null;
      return {
        kind: 'response',
        header: h,
        auth,
        allocHint: u32(buf, off + 16, le),
        ctxId: u16(buf, off + 20, le),
        cancelCount: buf[off + 22],
        stubStart: off + 24,
        stubEnd,
      };
    }
    case PTYPE.FAULT:
      return {
        kind: 'fault',
        header: h,
        auth,
        allocHint: u32(buf, off + 16, le),
        ctxId: u16(buf, off + 20, le),
        cancelCount: buf[off + 22],
        status: u32(buf, off + 24, le),
      };
    default:
      return { kind: 'other', header: h, auth };
  }
}

/** BIND / ALTER_CONTEXT at `off`, or null (also when the PDU is of another type) */
export function parseBind(buf: Buffer, off: number, end: number): BindPdu | null {
  const p = parsePdu(buf, off, end);
  return p !== null && p.kind === 'bind' ? p : null;
}

/** BIND_ACK / ALTER_CONTEXT_RESP at `off`, or null */
export function parseBindAck(buf: Buffer, off: number, end: number): BindAckPdu | null {
  const p = parsePdu(buf, off, end);
  return p !== null && p.kind === 'bind_ack' ? p : null;
}

/** REQUEST at `off`, or null */
export function parseRequest(buf: Buffer, off: number, end: number): RequestPdu | null {
  const p = parsePdu(buf, off, end);
  return p !== null && p.kind === 'request' ? p : null;
}

/** RESPONSE at `off`, or null */
export function parseResponse(buf: Buffer, off: number, end: number): ResponsePdu | null {
  const p = parsePdu(buf, off, end);
  return p !== null && p.kind === 'response' ? p : null;
}

/** FAULT at `off`, or null */
export function parseFault(buf: Buffer, off: number, end: number): FaultPdu | null {
  const p = parsePdu(buf, off, end);
  return p !== null && p.kind === 'fault' ? p : null;
}
