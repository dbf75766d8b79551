/**
 * SMB1 (CIFS, MS-CIFS 2.2) wire records: the 32-byte header, parameter words and data bytes
 * of each command, and AndX chains (bounded, and only forward, so a loop cannot hang us).
 */
export const SMB1_HEADER_SIZE = 32;

export const enum Smb1Cmd {
  CLOSE = 0x04, DELETE = 0x06, RENAME = 0x07, TRANSACTION = 0x25, OPEN_ANDX = 0x2d, READ_ANDX = 0x2e,
  WRITE_ANDX = 0x2f, TRANSACTION2 = 0x32, TREE_DISCONNECT = 0x71, NEGOTIATE = 0x72,
  SESSION_SETUP_ANDX = 0x73, LOGOFF_ANDX = 0x74, TREE_CONNECT_ANDX = 0x75, NT_CREATE_ANDX = 0xa2,
}

const ANDX_COMMANDS = new Set([0x2d, 0x2e, 0x2f, 0x73, 0x74, 0x75, 0xa2, 0x24]);
export const FLAGS_REPLY = 0x80;
export const FLAGS2_UNICODE = 0x8000, FLAGS2_NT_STATUS = 0x4000;

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
  if (!(flags2 & FLAGS2_NT_STATUS) && status !== 0) status = 0xc0000001; // a DOS error: reported as unsuccessful
  return {
    command: b[off + 4], status, flags: b[off + 9], flags2,
    tid: b.readUInt16LE(off + 24), pid: b.readUInt16LE(off + 26), uid: b.readUInt16LE(off + 28), mid: b.readUInt16LE(off + 30),
  };
}

/** One command's parameter block: words at [words, words + 2*wc), bytes at [bytes, bytesEnd). */
export interface Block {
  command: number;
  buf: Buffer;
  /** start of the SMB1 header: string offsets and AndX offsets count from here */
  hdr: number;
  wc: number;
  words: number;
  bytes: number;
  bytesEnd: number;
  unicode: boolean;
}

/**
 * The command blocks of one message: the first, then each AndX follower. Offsets must move
 * forward and stay inside the captured bytes; at most 16 blocks.
 */
export function andxBlocks(b: Buffer, hdr: number, end: number, h: Smb1Header): Block[] {
  const out: Block[] = [];
  let cmd = h.command;
  let at = hdr + SMB1_HEADER_SIZE;
  const unicode = (h.flags2 & FLAGS2_UNICODE) !== 0;
  for (let i = 0; i < 16; i++) {
    if (at + 1 > end) break;
    const wc = b[at];
    const words = at + 1;
    const bcAt = words + wc * 2;
    if (bcAt + 2 > end) {
      // parameter words present but the byte count cut off (a kept head of a big WRITE): words only
      if (words + wc * 2 <= end) out.push({ command: cmd, buf: b, hdr, wc, words, bytes: end, bytesEnd: end, unicode });
      break;
    }
    const bc = b.readUInt16LE(bcAt);
    out.push({ command: cmd, buf: b, hdr, wc, words, bytes: bcAt + 2, bytesEnd: Math.min(end, bcAt + 2 + bc), unicode });
    if (!ANDX_COMMANDS.has(cmd) || wc < 2) break;
    const next = b[words];
    const nextOff = b.readUInt16LE(words + 2);
    if (next === 0xff || hdr + nextOff <= at || hdr + nextOff >= end) break;
    cmd = next;
    at = hdr + nextOff;
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
