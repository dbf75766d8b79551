/**
 * SMB2/SMB3 wire records (MS-SMB2 section 2.2), decoded from the bytes the framer kept.
 * Fixed parts are binary-parser structures; variable parts (names, buffers) are read by
 * offset, always bounds-checked against what was captured. A decoder returns null when the
 * bytes cannot be the record they claim to be: the caller counts that as malformed.
 */
import { Parser } from 'binary-parser';

export const SMB2_HEADER_SIZE = 64;

export const enum Cmd {
  NEGOTIATE = 0, SESSION_SETUP = 1, LOGOFF = 2, TREE_CONNECT = 3, TREE_DISCONNECT = 4, CREATE = 5,
  CLOSE = 6, FLUSH = 7, READ = 8, WRITE = 9, LOCK = 10, IOCTL = 11, CANCEL = 12, ECHO = 13,
  QUERY_DIRECTORY = 14, CHANGE_NOTIFY = 15, QUERY_INFO = 16, SET_INFO = 17, OPLOCK_BREAK = 18,
}

export const FLAG_RESPONSE = 0x1, FLAG_ASYNC = 0x2, FLAG_RELATED = 0x4;
export const STATUS_PENDING = 0x00000103;

export interface Smb2Header {
  structureSize: number;
  creditCharge: number;
  status: number;
  command: number;
  credit: number;
  flags: number;
  nextCommand: number;
  messageIdLo: number;
  messageIdHi: number;
  /** sync: Reserved + TreeId; async: the two halves of AsyncId */
  word0: number;
  treeId: number;
  sessionIdLo: number;
  sessionIdHi: number;
}

export const emptyHeader = (): Smb2Header => ({
  structureSize: 64, creditCharge: 0, status: 0, command: 0, credit: 0, flags: 0, nextCommand: 0,
  messageIdLo: 0, messageIdHi: 0, word0: 0, treeId: 0, sessionIdLo: 0, sessionIdHi: 0,
});

/**
 * The header is read field by field rather than with binary-parser: it is parsed for every
 * message, and binary-parser's DataView and result object per call cost a fifth of the decode
 * time on a metadata-heavy capture (measured with --cpu-prof; README design notes).
 * Fills an object the caller reuses for every message; false when `off` holds no SMB2 header.
 */
export function parseHeaderInto(h: Smb2Header, buf: Buffer, off: number, end: number): boolean {
  if (end - off < SMB2_HEADER_SIZE || buf.readUInt16LE(off + 4) !== 64) return false;
  h.creditCharge = buf.readUInt16LE(off + 6);
  h.status = buf.readUInt32LE(off + 8);
  h.command = buf.readUInt16LE(off + 12);
  h.credit = buf.readUInt16LE(off + 14);
  h.flags = buf.readUInt32LE(off + 16);
  h.nextCommand = buf.readUInt32LE(off + 20);
  h.messageIdLo = buf.readUInt32LE(off + 24);
  h.messageIdHi = buf.readUInt32LE(off + 28);
  h.word0 = buf.readUInt32LE(off + 32);
  h.treeId = buf.readUInt32LE(off + 36);
  h.sessionIdLo = buf.readUInt32LE(off + 40);
  h.sessionIdHi = buf.readUInt32LE(off + 44);
  return true;
}

/** A record's body: bytes [off, end) of buf, where off is the start of the SMB2 header. */
export interface Body { buf: Buffer; hdr: number; off: number; end: number }

function fixed<T>(p: Parser, size: number, b: Body): T | null {
  if (b.end - b.off < size) return null;
  return p.parse(b.buf.subarray(b.off, b.off + size)) as T;
}

/** UTF-16LE string at an offset from the SMB2 header, or null when it is outside the capture */
function utf16At(b: Body, offsetFromHeader: number, length: number): string | null {
  const s = b.hdr + offsetFromHeader;
  if (length === 0) return '';
  if (offsetFromHeader < SMB2_HEADER_SIZE || s + length > b.end || (length & 1)) return null;
  return b.buf.toString('utf16le', s, s + length);
}

const fileIdHex = (b: Body, at: number): string => b.buf.toString('hex', at, at + 16);

// ---- NEGOTIATE ----------------------------------------------------------------------------
const negotiateResponseP = new Parser().endianness('little')
  .uint16('structureSize').uint16('securityMode').uint16('dialect');
export function negotiateDialect(b: Body): number | null {
  const r = fixed<{ structureSize: number; dialect: number }>(negotiateResponseP, 6, b);
  return r && r.structureSize === 65 ? r.dialect : null;
}

// ---- SESSION_SETUP -------------------------------------------------------------------------
const sessionSetupRequestP = new Parser().endianness('little')
  .uint16('structureSize').uint8('flags').uint8('securityMode').uint32('capabilities')
  .uint32('channel').uint16('bufferOffset').uint16('bufferLength');
export interface SessionSetupRequest { binding: boolean; blob: Buffer }
export function sessionSetupRequest(b: Body): SessionSetupRequest | null {
  const r = fixed<{ structureSize: number; flags: number; bufferOffset: number; bufferLength: number }>(sessionSetupRequestP, 16, b);
  if (!r || r.structureSize !== 25) return null;
  const s = b.hdr + r.bufferOffset;
  const e = Math.min(b.end, s + r.bufferLength);
  return { binding: (r.flags & 1) !== 0, blob: s < e && r.bufferOffset >= SMB2_HEADER_SIZE ? b.buf.subarray(s, e) : Buffer.alloc(0) };
}

const sessionSetupResponseP = new Parser().endianness('little').uint16('structureSize').uint16('sessionFlags');
/** SessionFlags: 1 guest, 2 null session, 4 encrypt data */
export function sessionSetupFlags(b: Body): number | null {
  const r = fixed<{ structureSize: number; sessionFlags: number }>(sessionSetupResponseP, 4, b);
  return r && r.structureSize === 9 ? r.sessionFlags : null;
}

// ---- TREE_CONNECT --------------------------------------------------------------------------
const treeConnectRequestP = new Parser().endianness('little')
  .uint16('structureSize').uint16('flags').uint16('pathOffset').uint16('pathLength');
export function treeConnectPath(b: Body): string | null {
  const r = fixed<{ structureSize: number; flags: number; pathOffset: number; pathLength: number }>(treeConnectRequestP, 8, b);
  if (!r || r.structureSize !== 9) return null;
  const path = utf16At(b, r.pathOffset, r.pathLength);
  // SMB 3.1.1 TREE_CONNECT extension (flag 0x4): implementations differ on what PathOffset counts
  // from; when the header-relative reading is not a UNC path, read it relative to the extension
  if ((r.flags & 0x4) !== 0 && (path === null || !path.startsWith('\\\\'))) {
    const alt = utf16At(b, SMB2_HEADER_SIZE + 8 + r.pathOffset, r.pathLength);
    if (alt !== null && alt.startsWith('\\\\')) return alt;
  }
  return path;
}

const treeConnectResponseP = new Parser().endianness('little')
  .uint16('structureSize').uint8('shareType');
export const SHARE_TYPES: Record<number, 'disk' | 'pipe' | 'print'> = { 1: 'disk', 2: 'pipe', 3: 'print' };
export function treeConnectShareType(b: Body): number | null {
  const r = fixed<{ structureSize: number; shareType: number }>(treeConnectResponseP, 3, b);
  return r && r.structureSize === 16 ? r.shareType : null;
}

// ---- CREATE --------------------------------------------------------------------------------
// CREATE is the message of metadata-heavy traffic (thousands per second), so like the header it
// is read field by field: binary-parser's per-call object and DataView were 6% of such a scan.
export interface CreateRequest { name: string; desiredAccess: number; disposition: number; options: number }
export function createRequest(b: Body): CreateRequest | null {
  const o = b.off;
  if (b.end - o < 48 || b.buf.readUInt16LE(o) !== 57) return null;
  const name = utf16At(b, b.buf.readUInt16LE(o + 44), b.buf.readUInt16LE(o + 46));
  if (name === null) return null;
  return {
    name,
    desiredAccess: b.buf.readUInt32LE(o + 24),
    disposition: b.buf.readUInt32LE(o + 36),
    options: b.buf.readUInt32LE(o + 40),
  };
}

export interface CreateResponse { createAction: number; fileId: string }
export function createResponse(b: Body): CreateResponse | null {
  const o = b.off;
  if (b.end - o < 80 || b.buf.readUInt16LE(o) !== 89) return null;
  return { createAction: b.buf.readUInt32LE(o + 4), fileId: fileIdHex(b, o + 64) };
}

// ---- READ / WRITE --------------------------------------------------------------------------
export interface ReadWriteRequest { length: number; fileId: string }

/** [start, end) of a payload inside the kept bytes, or null when it is not all there */
export interface Span { start: number; end: number }
function span(b: Body, offsetFromHeader: number, length: number): Span | null {
  const start = b.hdr + offsetFromHeader;
  if (offsetFromHeader < SMB2_HEADER_SIZE || start + length > b.end) return null;
  return { start, end: start + length };
}

/** a WRITE request's data (MS-SMB2 2.2.21): DataOffset counts from the SMB2 header */
export function writeRequestData(b: Body): Span | null {
  if (b.end - b.off < 48 || b.buf.readUInt16LE(b.off) !== 49) return null;
  return span(b, b.buf.readUInt16LE(b.off + 2), b.buf.readUInt32LE(b.off + 4));
}

/** a READ response's data (MS-SMB2 2.2.20) */
export function readResponseData(b: Body): Span | null {
  if (b.end - b.off < 16 || b.buf.readUInt16LE(b.off) !== 17) return null;
  return span(b, b.buf[b.off + 2], b.buf.readUInt32LE(b.off + 4));
}

/** FSCTL_PIPE_TRANSCEIVE: a write and a read on a pipe in one IOCTL (MS-FSCC 2.3.50) */
export const FSCTL_PIPE_TRANSCEIVE = 0x0011c017;
export interface Ioctl { ctlCode: number; fileId: string; input: Span | null; output: Span | null }
/**
 * IOCTL request (MS-SMB2 2.2.31) and response (2.2.32) share the first 40 bytes: CtlCode,
 * FileId, InputOffset, InputCount; the response then has OutputOffset/Count where the request
 * has MaxInputResponse/OutputOffset.
 */
export function ioctl(b: Body, response: boolean): Ioctl | null {
  const size = response ? 49 : 57;
  if (b.end - b.off < 48 || b.buf.readUInt16LE(b.off) !== size) return null;
  const o = b.off, buf = b.buf;
  const inputCount = buf.readUInt32LE(o + 28);
  const outOff = buf.readUInt32LE(response ? o + 32 : o + 36);
  const outCount = buf.readUInt32LE(response ? o + 36 : o + 40);
  return {
    ctlCode: buf.readUInt32LE(o + 4), fileId: fileIdHex(b, o + 8),
    input: inputCount ? span(b, buf.readUInt32LE(o + 24), inputCount) : null,
    output: response && outCount ? span(b, outOff, outCount) : null,
  };
}
/** READ and WRITE requests share the layout that matters: Length at 4, FileId at 16 */
// READ and WRITE come by the hundred thousand in a bulk transfer: their few fixed fields are
// read directly, like the header (binary-parser's DataView and result object per call were 4%
// of a metadata-heavy scan, measured with --cpu-prof).

/** READ or WRITE request (MS-SMB2 2.2.19, 2.2.21): both StructureSize 49, Length at 4 */
export function readWriteRequest(b: Body): ReadWriteRequest | null {
  if (b.end - b.off < 32 || b.buf.readUInt16LE(b.off) !== 49) return null;
  return { length: b.buf.readUInt32LE(b.off + 4), fileId: fileIdHex(b, b.off + 16) };
}

/** READ response (2.2.20): DataLength at 4 */
export function readResponseLength(b: Body): number | null {
  return b.end - b.off >= 8 && b.buf.readUInt16LE(b.off) === 17 ? b.buf.readUInt32LE(b.off + 4) : null;
}

/** WRITE response (2.2.22): Count at 4 */
export function writeResponseCount(b: Body): number | null {
  return b.end - b.off >= 8 && b.buf.readUInt16LE(b.off) === 17 ? b.buf.readUInt32LE(b.off + 4) : null;
}

// ---- SET_INFO ------------------------------------------------------------------------------
const setInfoRequestP = new Parser().endianness('little')
  .uint16('structureSize').uint8('infoType').uint8('infoClass').uint32('bufferLength')
  .uint16('bufferOffset');
export const INFO_FILE = 1;
export const FileRenameInformation = 10, FileDispositionInformation = 13, FileDispositionInformationEx = 64;
export interface SetInfoRequest {
  fileId: string;
  infoType: number;
  infoClass: number;
  /** FileRenameInformation target */
  newName?: string;
  /** FileDispositionInformation(Ex): true when the file is to be deleted */
  deletePending?: boolean;
}
export function setInfoRequest(b: Body): SetInfoRequest | null {
  const r = fixed<{ structureSize: number; infoType: number; infoClass: number; bufferLength: number; bufferOffset: number }>(setInfoRequestP, 10, b);
  if (!r || r.structureSize !== 33 || b.end - b.off < 32) return null;
  const out: SetInfoRequest = { fileId: fileIdHex(b, b.off + 16), infoType: r.infoType, infoClass: r.infoClass };
  if (r.infoType !== INFO_FILE) return out;
  const s = b.hdr + r.bufferOffset, e = s + r.bufferLength;
  if (r.bufferOffset < SMB2_HEADER_SIZE || e > b.end) return out;
  if (r.infoClass === FileRenameInformation && r.bufferLength >= 20) {
    // SMB2 variant: ReplaceIfExists(1) Reserved(7) RootDirectory(8) FileNameLength(4) FileName
    const nameLen = b.buf.readUInt32LE(s + 16);
    if (s + 20 + nameLen <= e && (nameLen & 1) === 0) out.newName = b.buf.toString('utf16le', s + 20, s + 20 + nameLen);
  } else if (r.infoClass === FileDispositionInformation && r.bufferLength >= 1) {
    out.deletePending = b.buf[s] !== 0;
  } else if (r.infoClass === FileDispositionInformationEx && r.bufferLength >= 4) {
    out.deletePending = (b.buf.readUInt32LE(s) & 1) !== 0;
  }
  return out;
}

// ---- CLOSE ---------------------------------------------------------------------------------
export function closeFileId(b: Body): string | null {
  if (b.end - b.off < 24 || b.buf.readUInt16LE(b.off) !== 24) return null;
  return fileIdHex(b, b.off + 8);
}

// ---- TRANSFORM (0xFD) ----------------------------------------------------------------------
/** SessionId of an SMB3 TRANSFORM_HEADER as [lo, hi], or null when fewer than 52 bytes were kept */
export function transformSessionId(buf: Buffer, off: number, end: number): [number, number] | null {
  if (end - off < 52) return null;
  return [buf.readUInt32LE(off + 44), buf.readUInt32LE(off + 48)];
}
