/**
 * SMB1 (CIFS, MS-CIFS 2.2) wire records: the 32-byte header, parameter words and data bytes
 * of each command, and AndX chains (bounded, and only forward, so a loop cannot hang us).
 */
export const SMB1_HEADER_SIZE = 32;

export const enum Smb1Cmd {
  CREATE_DIRECTORY = 0x00, DELETE_DIRECTORY = 0x01, OPEN = 0x02, CREATE = 0x03, CLOSE = 0x04, DELETE = 0x06,
  RENAME = 0x07, CREATE_NEW = 0x0f, LOCKING_ANDX = 0x24, TRANSACTION = 0x25, TRANSACTION_SECONDARY = 0x26,
  OPEN_ANDX = 0x2d, READ_ANDX = 0x2e, WRITE_ANDX = 0x2f, TRANSACTION2 = 0x32, TRANSACTION2_SECONDARY = 0x33,
  TREE_DISCONNECT = 0x71, NEGOTIATE = 0x72, SESSION_SETUP_ANDX = 0x73, LOGOFF_ANDX = 0x74,
  TREE_CONNECT_ANDX = 0x75, NT_CREATE_ANDX = 0xa2,
}

/** commands whose first parameter words are AndXCommand/AndXReserved/AndXOffset (MS-CIFS 2.2.3.4) */
const ANDX_COMMANDS = new Set([0x24, 0x2d, 0x2e, 0x2f, 0x73, 0x74, 0x75, 0xa2]);
/**
 * Real clients chain two or three commands (SESSION_SETUP + TREE_CONNECT, OPEN + READ); a
 * longer chain is crafted, and each block costs a lookup, so we stop early.
 */
export const MAX_ANDX_CHAIN = 8;
export const FLAGS_REPLY = 0x80;
export const FLAGS2_UNICODE = 0x8000, FLAGS2_NT_STATUS = 0x4000;
export const STATUS_BUFFER_OVERFLOW = 0x80000005;
const ERRDOS = 0x01, ERR_MORE_DATA = 0x00ea;

export interface Smb1Header {
  command: number;
  /** NT status, or the DOS error class/code packed as (code << 16 | class) when FLAGS2 lacks NT_STATUS */
  status: number;
  flags: number;
  flags2: number;
  tid: number;
  pid: number;
  uid: number;
  mid: number;
}

export function parseSmb1Header(b: Buffer, off: number, end: number): Smb1Header | null {
  if (end - off < SMB1_HEADER_SIZE + 1) return null;
  const flags2 = b.readUInt16LE(off + 10);
  let status = b.readUInt32LE(off + 5);
  if (!(flags2 & FLAGS2_NT_STATUS) && status !== 0) {
    // DOS errors: ErrorClass(1) Reserved(1) ErrorCode(2). ERRDOS/ERRmoredata still carries data
    // (a pipe message larger than the read), so it keeps its NT meaning; others are unsuccessful.
    status = b[off + 5] === ERRDOS && b.readUInt16LE(off + 7) === ERR_MORE_DATA ? STATUS_BUFFER_OVERFLOW : 0xc0000001;
  }
  return {
    command: b[off + 4], status, flags: b[off + 9], flags2,
    tid: b.readUInt16LE(off + 24), pid: b.readUInt16LE(off + 26), uid: b.readUInt16LE(off + 28), mid: b.readUInt16LE(off + 30),
  };
}

/** One command's parameter block: words at [words, words + 2*wc), bytes at [bytes, bytesEnd). */
export interface Block {
  command: number;
  buf: Buffer;
  /** start of the SMB1 header: string offsets, AndX offsets and Trans parameter/data offsets count from here */
  hdr: number;
  wc: number;
  words: number;
  bytes: number;
  bytesEnd: number;
  /** end of the message bytes we hold (a kept head may stop before the message does) */
  end: number;
  unicode: boolean;
}

/** why an AndX chain was cut short; the caller counts it as an anomaly */
export type AndxProblem = 'smb1_andx_loop' | 'smb1_andx_chain_too_long';

/**
 * The command blocks of one message: the first, then each AndX follower. A follower must start
 * after the block that names it (so a backward or self-pointing AndXOffset cannot loop) and
 * inside the captured bytes; at most MAX_ANDX_CHAIN blocks. `problem` receives the reason a
 * chain was cut.
 */
export function andxBlocks(b: Buffer, hdr: number, end: number, h: Smb1Header, problem?: (p: AndxProblem) => void): Block[] {
  const out: Block[] = [];
  let cmd = h.command;
  let at = hdr + SMB1_HEADER_SIZE;
  const unicode = (h.flags2 & FLAGS2_UNICODE) !== 0;
  for (;;) {
    if (out.length === MAX_ANDX_CHAIN) { problem?.('smb1_andx_chain_too_long'); break; }
    if (at + 1 > end) break;
    const wc = b[at];
    const words = at + 1;
    const bcAt = words + wc * 2;
    if (bcAt + 2 > end) {
      // parameter words present but the byte count cut off (a kept head of a big WRITE): words only
      if (words + wc * 2 <= end) out.push({ command: cmd, buf: b, hdr, wc, words, bytes: end, bytesEnd: end, end, unicode });
      break;
    }
    const bc = b.readUInt16LE(bcAt);
    out.push({ command: cmd, buf: b, hdr, wc, words, bytes: bcAt + 2, bytesEnd: Math.min(end, bcAt + 2 + bc), end, unicode });
    if (!ANDX_COMMANDS.has(cmd) || wc < 2) break;
    const next = b[words];
    if (next === 0xff) break;
    const nextAt = hdr + b.readUInt16LE(words + 2);
    if (nextAt <= at) { problem?.('smb1_andx_loop'); break; }
    if (nextAt >= end) break;
    cmd = next;
    at = nextAt;
  }
  return out;
}

export const word = (k: Block, i: number): number => k.buf.readUInt16LE(k.words + i);
export const dword = (k: Block, i: number): number => k.buf.readUInt32LE(k.words + i);

/** A null-terminated string at `at` (unicode strings start on an even offset from the header). */
export function stringAt(k: Block, at: number, unicode = k.unicode): { value: string; next: number } | null {
  if (unicode) {
    if ((at - k.hdr) & 1) at++;
    let e = at;
    while (e + 1 < k.bytesEnd && (k.buf[e] !== 0 || k.buf[e + 1] !== 0)) e += 2;
    if (e > k.bytesEnd) return null;
    return { value: k.buf.toString('utf16le', at, e), next: Math.min(k.bytesEnd, e + 2) };
  }
  let e = at;
  while (e < k.bytesEnd && k.buf[e] !== 0) e++;
  return { value: k.buf.toString('latin1', at, e), next: Math.min(k.bytesEnd, e + 1) };
}

/** NEGOTIATE request: the dialect strings offered, in order */
export function negotiateDialects(k: Block): string[] {
  const out: string[] = [];
  let at = k.bytes;
  while (at < k.bytesEnd && out.length < 64) {
    if (k.buf[at] !== 0x02) break; // BufferFormat: dialect
    const s = stringAt(k, at + 1, false);
    if (!s) break;
    out.push(s.value);
    at = s.next;
  }
  return out;
}

/** SESSION_SETUP_ANDX request: the security blob (extended security) or plain account fields */
export function sessionSetup(k: Block): { blob: Buffer | null; account: string | null; domain: string | null; nativeOs: string | null } | null {
  if (k.wc === 12) {
    const blobLen = word(k, 14);
    const blob = k.buf.subarray(k.bytes, Math.min(k.bytesEnd, k.bytes + blobLen));
    const os = stringAt(k, k.bytes + blobLen);
    return { blob, account: null, domain: null, nativeOs: os ? os.value : null };
  }
  if (k.wc === 13) {
    const oemLen = word(k, 14), uniLen = word(k, 16);
    let at = k.bytes + oemLen + uniLen;
    const account = stringAt(k, at); if (!account) return null; at = account.next;
    const domain = stringAt(k, at); at = domain ? domain.next : at;
    const os = stringAt(k, at);
    return { blob: null, account: account.value, domain: domain ? domain.value : null, nativeOs: os ? os.value : null };
  }
  return null;
}

export function treeConnectPath(k: Block): string | null {
  if (k.wc !== 4) return null;
  const pwLen = word(k, 6);
  const s = stringAt(k, k.bytes + pwLen);
  return s ? s.value : null;
}

/** TREE_CONNECT_ANDX response: service type string → share type */
export function treeConnectService(k: Block): 'disk' | 'pipe' | 'print' | null {
  const s = k.bytes < k.bytesEnd ? stringAt(k, k.bytes, false) : null;
  if (!s) return null;
  return s.value === 'A:' ? 'disk' : s.value === 'IPC' ? 'pipe' : s.value.startsWith('LPT') ? 'print' : null;
}

export interface NtCreate { name: string; desiredAccess: number; disposition: number; options: number }
export function ntCreate(k: Block): NtCreate | null {
  if (k.wc !== 24) return null;
  const nameLen = word(k, 5);
  const desiredAccess = dword(k, 15) >>> 0;
  const disposition = dword(k, 35);
  const options = dword(k, 39) >>> 0;
  let at = k.bytes;
  if (k.unicode && ((at - k.hdr) & 1)) at++;
  const end = Math.min(k.bytesEnd, at + nameLen);
  let name = k.unicode ? k.buf.toString('utf16le', at, end - ((end - at) & 1)) : k.buf.toString('latin1', at, end);
  name = name.replace(/\0+$/, '');
  return { name, desiredAccess, disposition, options };
}

/** NT_CREATE_ANDX response: the FID */
export const ntCreateFid = (k: Block): number | null => (k.wc >= 34 / 2 && k.words + 7 <= k.bytesEnd ? word(k, 5) : null);

export const readWriteFid = (k: Block): number | null => (k.wc >= 10 ? word(k, 4) : null);
/** WRITE_ANDX request data length (with the high word of large writes) */
export const writeLength = (k: Block): number => (k.wc >= 12 ? word(k, 20) + word(k, 18) * 0x10000 : 0);
/** READ_ANDX response data length */
export const readLength = (k: Block): number => (k.wc >= 12 ? word(k, 10) + (k.wc >= 12 ? word(k, 14) : 0) * 0x10000 : 0);
export const closeFid = (k: Block): number | null => (k.wc >= 3 ? word(k, 0) : null);

/** DELETE: the file name after BufferFormat 0x04 */
export function deleteName(k: Block): string | null {
  if (k.bytes >= k.bytesEnd || k.buf[k.bytes] !== 0x04) return null;
  const s = stringAt(k, k.bytes + 1);
  return s ? s.value : null;
}

/** RENAME: old and new names, each after BufferFormat 0x04 */
export function renameNames(k: Block): [string, string] | null {
  if (k.bytes >= k.bytesEnd || k.buf[k.bytes] !== 0x04) return null;
  const a = stringAt(k, k.bytes + 1);
  if (!a || a.next >= k.bytesEnd || k.buf[a.next] !== 0x04) return null;
  const b = stringAt(k, a.next + 1);
  return b ? [a.value, b.value] : null;
}

/** a null-terminated string anywhere in [at, end): Trans parameter blocks are not a Block's bytes */
export function stringIn(b: Buffer, hdr: number, at: number, end: number, unicode: boolean): string {
  if (at >= end) return '';
  if (unicode) {
    if ((at - hdr) & 1) at++;
    let e = at;
    while (e + 1 < end && (b[e] !== 0 || b[e + 1] !== 0)) e += 2;
    return b.toString('utf16le', at, Math.min(e, end - ((end - at) & 1)));
  }
  let e = at;
  while (e < end && b[e] !== 0) e++;
  return b.toString('latin1', at, e);
}

// ------------------------------------------------------------------------------------------
// opens older than NT_CREATE_ANDX (MS-CIFS 2.2.4.3, 2.2.4.4, 2.2.4.16, 2.2.4.41)
// ------------------------------------------------------------------------------------------

/**
 * OpenMode of OPEN_ANDX and TRANS2_OPEN2 (MS-CIFS 2.2.4.41.1): bits 0-1 say what to do when the file exists
 * (0 fail, 1 open, 2 truncate), bit 4 whether to create it when it does not.
 */
export const OPEN_FUNCTION_CREATE = 0x0010;
/** NT CreateDisposition for [exists action][create bit]; null where the request can only fail */
const DISPOSITION_OF_OPEN_FUNCTION: readonly (readonly (number | null)[])[] = [
  /* fail     */ [null, 2 /* FILE_CREATE */],
  /* open     */ [1 /* FILE_OPEN */, 3 /* FILE_OPEN_IF */],
  /* truncate */ [4 /* FILE_OVERWRITE */, 5 /* FILE_OVERWRITE_IF */],
];
export function openFunctionDisposition(openFunction: number): number | null {
  const row = DISPOSITION_OF_OPEN_FUNCTION[openFunction & 0x3];
  return row ? row[(openFunction & OPEN_FUNCTION_CREATE) ? 1 : 0] : null;
}

/**
 * AccessMode bits 0-2 of OPEN, OPEN_ANDX and TRANS2_OPEN2 (MS-CIFS 2.2.4.3.1) as the NT access mask an NT server grants for
 * them: read, write, read/write, execute. 0x7 ("as the FCB") and the reserved values map to
 * nothing.
 */
const ACCESS_OF_ACCESS_MODE: readonly number[] = [
  0x80000000, /* GENERIC_READ */
  0x40000000, /* GENERIC_WRITE */
  0xc0000000, /* GENERIC_READ | GENERIC_WRITE */
  0xa0000000, /* GENERIC_READ | GENERIC_EXECUTE */
];
export const accessModeMask = (accessMode: number): number => ACCESS_OF_ACCESS_MODE[accessMode & 0x7] ?? 0;

export interface LegacyOpen { name: string; accessMode: number; openFunction: number }

/** OPEN_ANDX request: Flags(2) AccessMode(2) SearchAttrs(2) FileAttrs(2) CreationTime(4) OpenMode(2) AllocationSize(4) Timeout(4) Reserved(4) after the AndX words; FileName in the bytes */
export function openAndx(k: Block): LegacyOpen | null {
  if (k.wc < 15 || k.bytes >= k.bytesEnd) return null;
  const s = stringAt(k, k.bytes);
  if (!s) return null;
  return { name: s.value, accessMode: word(k, 6), openFunction: word(k, 16) };
}

/** OPEN_ANDX response: FID after the AndX words */
export const openAndxFid = (k: Block): number | null => (k.wc >= 15 ? word(k, 4) : null);

/** the name after BufferFormat 0x04 (SMB_STRING, MS-CIFS 2.2.1.1) at the start of the bytes */
function bufferFormatName(k: Block): string | null {
  if (k.bytes >= k.bytesEnd || k.buf[k.bytes] !== 0x04) return null;
  const s = stringAt(k, k.bytes + 1);
  return s ? s.value : null;
}

/**
 * Core opens: OPEN (AccessMode, SearchAttributes), CREATE and CREATE_NEW (FileAttributes,
 * CreationTime); each with a BufferFormat-prefixed name. CREATE truncates an existing file,
 * CREATE_NEW fails on one, OPEN only opens; CREATE and CREATE_NEW open for read/write.
 */
export const CORE_OPEN: Readonly<Record<number, { wc: number; disposition: number; accessModeWord: number | null }>> = {
  [Smb1Cmd.OPEN]: { wc: 2, disposition: 1 /* FILE_OPEN */, accessModeWord: 0 },
  [Smb1Cmd.CREATE]: { wc: 3, disposition: 5 /* FILE_OVERWRITE_IF */, accessModeWord: null },
  [Smb1Cmd.CREATE_NEW]: { wc: 3, disposition: 2 /* FILE_CREATE */, accessModeWord: null },
};
export function coreOpen(k: Block): { name: string; disposition: number; access: number } | null {
  const spec = CORE_OPEN[k.command];
  if (!spec || k.wc < spec.wc) return null;
  const name = bufferFormatName(k);
  if (name === null) return null;
  const access = spec.accessModeWord === null ? accessModeMask(2) : accessModeMask(word(k, spec.accessModeWord));
  return { name, disposition: spec.disposition, access };
}
/** OPEN, CREATE and CREATE_NEW responses: the FID is the first word */
export const coreOpenFid = (k: Block): number | null => (k.wc >= 1 ? word(k, 0) : null);

/** CREATE_DIRECTORY / DELETE_DIRECTORY: a BufferFormat-prefixed directory name */
export const directoryName = (k: Block): string | null => bufferFormatName(k);

// ------------------------------------------------------------------------------------------
// TRANSACTION and TRANSACTION2 (MS-CIFS 2.2.4.33, 2.2.4.46): parameters and data sit at
// offsets from the header, each a slice of the transaction's totals
// ------------------------------------------------------------------------------------------

/** one piece of a transaction's parameter or data block, bounded by the held bytes */
export interface Piece {
  off: number;
  end: number;
  displacement: number;
  /** the piece runs past the bytes we hold (a malformed offset, or a kept head) */
  cut: boolean;
  /** the last piece: with it the whole TotalParameterCount / TotalDataCount has been sent */
  last: boolean;
}

export interface TransRequest {
  setup: number[];
  /** TRANSACTION only: the Name string (\PIPE\, \PIPE\LANMAN, \MAILSLOT\…) */
  name: string | null;
  params: Piece;
  data: Piece;
}

export interface TransResponse { setup: number[]; params: Piece; data: Piece }

/** Count and offset → a piece; one that runs past the held bytes is cut there. */
function piece(k: Block, count: number, offset: number, displacement: number, total: number): Piece {
  const off = Math.min(k.hdr + offset, k.end);
  const want = k.hdr + offset + count;
  const end = Math.min(want, k.end);
  return { off, end, displacement, cut: end < want, last: displacement + count >= total };
}

function setupWords(k: Block, countAt: number, wordsAt: number): number[] | null {
  const n = k.buf[k.words + countAt];
  if (k.wc * 2 < wordsAt + n * 2) return null;
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(word(k, wordsAt + i * 2));
  return out;
}

/**
 * TRANSACTION / TRANSACTION2 primary request: TotalParameterCount(2) TotalDataCount(2)
 * MaxParameterCount(2) MaxDataCount(2) MaxSetupCount(1) Reserved(1) Flags(2) Timeout(4)
 * Reserved(2) ParameterCount(2) ParameterOffset(2) DataCount(2) DataOffset(2) SetupCount(1)
 * Reserved(1) Setup[SetupCount]; bytes: Name (TRANSACTION), pad, parameters, pad, data.
 */
export function transRequest(k: Block): TransRequest | null {
  if (k.wc < 14) return null;
  const setup = setupWords(k, 26, 28);
  if (!setup) return null;
  const name = k.command === Smb1Cmd.TRANSACTION && k.bytes < k.bytesEnd ? stringIn(k.buf, k.hdr, k.bytes, k.bytesEnd, k.unicode) : null;
  return {
    setup, name,
    params: piece(k, word(k, 18), word(k, 20), 0, word(k, 0)),
    data: piece(k, word(k, 22), word(k, 24), 0, word(k, 2)),
  };
}

/**
 * TRANSACTION / TRANSACTION2 response: TotalParameterCount(2) TotalDataCount(2) Reserved(2)
 * ParameterCount(2) ParameterOffset(2) ParameterDisplacement(2) DataCount(2) DataOffset(2)
 * DataDisplacement(2) SetupCount(1) Reserved(1) Setup[SetupCount]. WordCount 0 is the interim
 * answer that asks for the secondary requests.
 */
export function transResponse(k: Block): TransResponse | null {
  if (k.wc < 10) return null;
  const setup = setupWords(k, 18, 20);
  if (!setup) return null;
  return {
    setup,
    params: piece(k, word(k, 6), word(k, 8), word(k, 10), word(k, 0)),
    data: piece(k, word(k, 12), word(k, 14), word(k, 16), word(k, 2)),
  };
}

/**
 * TRANSACTION_SECONDARY (wc 8) / TRANSACTION2_SECONDARY (wc 9, a FID follows): TotalParameterCount(2)
 * TotalDataCount(2) ParameterCount(2) ParameterOffset(2) ParameterDisplacement(2) DataCount(2)
 * DataOffset(2) DataDisplacement(2).
 */
export function transSecondary(k: Block): { params: Piece; data: Piece } | null {
  if (k.wc < 8) return null;
  return {
    params: piece(k, word(k, 4), word(k, 6), word(k, 8), word(k, 0)),
    data: piece(k, word(k, 10), word(k, 12), word(k, 14), word(k, 2)),
  };
}

/** TRANSACTION subcommands on a named pipe (MS-CIFS 2.2.5); Setup[1] is the FID */
export const TRANS_TRANSACT_NMPIPE = 0x0026, TRANS_READ_NMPIPE = 0x0036, TRANS_WRITE_NMPIPE = 0x0037;
/** which way each pipe subcommand moves data: client → pipe in the request, pipe → client in the response */
export const PIPE_TRANSACTIONS: Readonly<Record<number, { request: boolean; response: boolean }>> = {
  [TRANS_TRANSACT_NMPIPE]: { request: true, response: true },
  [TRANS_READ_NMPIPE]: { request: false, response: true },
  [TRANS_WRITE_NMPIPE]: { request: true, response: false },
};

/** TRANSACTION2 subcommands (Setup[0], MS-CIFS 2.2.6) that this decoder reads */
export const enum Trans2 {
  OPEN2 = 0x0000, SET_PATH_INFORMATION = 0x0006, SET_FILE_INFORMATION = 0x0008, CREATE_DIRECTORY = 0x000d,
}

/** the parameters of a Trans2 request, as the slice [off, end) of the message */
export interface Slice { buf: Buffer; hdr: number; off: number; end: number; unicode: boolean }

const u16 = (s: Slice, i: number): number | null => (s.off + i + 2 <= s.end ? s.buf.readUInt16LE(s.off + i) : null);
const u32 = (s: Slice, i: number): number | null => (s.off + i + 4 <= s.end ? s.buf.readUInt32LE(s.off + i) : null);

/** TRANS2_SET_PATH_INFORMATION parameters: InformationLevel(2) Reserved(4) FileName */
export function setPathInfoParams(p: Slice): { level: number; name: string } | null {
  const level = u16(p, 0);
  if (level === null || p.off + 6 > p.end) return null;
  return { level, name: stringIn(p.buf, p.hdr, p.off + 6, p.end, p.unicode) };
}

/** TRANS2_SET_FILE_INFORMATION parameters: FID(2) InformationLevel(2) Reserved(2) */
export function setFileInfoParams(p: Slice): { fid: number; level: number } | null {
  const fid = u16(p, 0), level = u16(p, 2);
  return fid === null || level === null ? null : { fid, level };
}

/**
 * TRANS2_OPEN2 parameters: Flags(2) AccessMode(2) Reserved(2) FileAttributes(2) CreationTime(4)
 * OpenMode(2) AllocationSize(4) Reserved(10) FileName
 */
export function open2Params(p: Slice): LegacyOpen | null {
  const accessMode = u16(p, 2), openFunction = u16(p, 12);
  if (accessMode === null || openFunction === null || p.off + 28 > p.end) return null;
  return { accessMode, openFunction, name: stringIn(p.buf, p.hdr, p.off + 28, p.end, p.unicode) };
}
/** TRANS2_OPEN2 response parameters: the FID first */
export const open2ResponseFid = (p: Slice): number | null => u16(p, 0);

/** TRANS2_CREATE_DIRECTORY parameters: Reserved(4) DirectoryName */
export function createDirectoryParams(p: Slice): string | null {
  return p.off + 4 > p.end ? null : stringIn(p.buf, p.hdr, p.off + 4, p.end, p.unicode);
}

/** pass-through levels are the native FileInformationClass + SMB_INFO_PASSTHROUGH (MS-SMB 2.2.2.3.5) */
export const SMB_INFO_PASSTHROUGH = 0x03e8;
export type SetInfoKind = 'rename' | 'delete';
/** information levels that rename or delete: MS-CIFS native and pass-through ones */
export const SET_INFO_LEVELS: Readonly<Record<number, SetInfoKind>> = {
  0x0102: 'delete', // SMB_SET_FILE_DISPOSITION_INFO
  [SMB_INFO_PASSTHROUGH + 10]: 'rename', // FileRenameInformation
  [SMB_INFO_PASSTHROUGH + 13]: 'delete', // FileDispositionInformation
  [SMB_INFO_PASSTHROUGH + 64]: 'delete', // FileDispositionInformationEx
};
const FILE_DISPOSITION_DELETE = 0x1;

/**
 * The info a rename/delete level carries. Rename: FILE_RENAME_INFORMATION_TYPE_1 (MS-FSCC
 * 2.4.41.1): ReplaceIfExists(1) Reserved(3) RootDirectory(4) FileNameLength(4) FileName (Unicode).
 * Delete: DeletePending(1), or the Flags(4) of the Ex class. `deletes` false: the level clears
 * a pending delete.
 */
export function setInfoData(level: number, d: Slice): { newName?: string; deletes?: boolean } | null {
  const kind = SET_INFO_LEVELS[level];
  if (kind === 'rename') {
    const len = u32(d, 8);
    if (len === null || d.off + 12 + len > d.end) return null;
    const at = d.off + 12;
    return { newName: d.buf.toString('utf16le', at, at + (len & ~1)).replace(/\0+$/, '') };
  }
  if (kind === 'delete') {
    if (level === SMB_INFO_PASSTHROUGH + 64) {
      const flags = u32(d, 0);
      return flags === null ? null : { deletes: (flags & FILE_DISPOSITION_DELETE) !== 0 };
    }
    return d.off < d.end ? { deletes: d.buf[d.off] !== 0 } : null;
  }
  return null;
}

// ------------------------------------------------------------------------------------------
// data of READ_ANDX responses and WRITE_ANDX requests
// ------------------------------------------------------------------------------------------

/** WriteMode bits (MS-CIFS 2.2.4.43.1): a raw-mode message start carries a 2-byte length first */
const WRITE_RAW_MODE = 0x0004, WRITE_MSG_START = 0x0008;

/** WRITE_ANDX request data: DataOffset at word 11, WriteMode at word 7; `complete` false when cut */
export function writeData(k: Block): { off: number; end: number; complete: boolean } | null {
  if (k.wc < 12) return null;
  const len = writeLength(k);
  let off = k.hdr + word(k, 22);
  // data inside the parameter words is malformed; data past the held bytes was not kept
  if (off < k.words + k.wc * 2) return null;
  if (off >= k.end) return { off: k.end, end: k.end, complete: len === 0 };
  let want = off + len;
  const mode = word(k, 14);
  if ((mode & (WRITE_RAW_MODE | WRITE_MSG_START)) === (WRITE_RAW_MODE | WRITE_MSG_START) && len >= 2) {
    off += 2;
    want = Math.max(off, want);
  }
  return { off, end: Math.min(want, k.end), complete: want <= k.end };
}

/** READ_ANDX response data: DataLength at word 5, DataOffset at word 6, DataLengthHigh at word 7 */
export function readData(k: Block): { off: number; end: number; complete: boolean } | null {
  if (k.wc < 12) return null;
  const off = k.hdr + word(k, 12);
  const len = readLength(k);
  if (off < k.words + k.wc * 2) return null;
  if (off >= k.end) return { off: k.end, end: k.end, complete: len === 0 };
  const want = off + len;
  return { off, end: Math.min(want, k.end), complete: want <= k.end };
}
