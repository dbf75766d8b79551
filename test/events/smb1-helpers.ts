/**
 * SMB1 for tests: messages laid out as MS-CIFS 2.2 describes them, and a pipeline whose SMB1
 * connections keep what smb1KeepFor asks for and whose named-pipe data goes to a recording
 * PipeTap (the DCE/RPC stage's seat).
 */
import { parseCaptureBuffer, readCapture } from '../../src/capture/reader';
import type { Packet, PacketSink } from '../../src/capture/packet';
import type { SmbEvent } from '../../src/events/event';
import type { PipeTap } from '../../src/events/pipes';
import { compareRecords, EventRecord } from '../../src/events/record';
import { Smb1Handler, smb1KeepFor } from '../../src/events/smb1';
import { flushAllTransfers, ScanState } from '../../src/events/smb2';
import { ConnRef, OpenFile, SessionTable, Stamp } from '../../src/events/state';
import { createDecoder } from '../../src/net/decode';
import { PEEK, SmbFramer } from '../../src/smb/framer';
import { Flow, FlowTable } from '../../src/tcp/flows';
import { cat, u16le, u32le, u8, utf16 } from '../helpers/build';

// ------------------------------------------------------------------------------------------
// messages
// ------------------------------------------------------------------------------------------

export const FLAGS2 = { UNICODE: 0x8000, NT_STATUS: 0x4000, LONG_NAMES: 0x0001 } as const;

export interface Smb1HeaderFields {
  /** the builders of each command set it */
  command?: number;
  reply?: boolean;
  status?: number;
  flags2?: number;
  tid?: number;
  pid?: number;
  uid?: number;
  mid?: number;
}

/**
 * 32-byte header: Protocol(4) Command(1) Status(4) Flags(1) Flags2(2) PIDHigh(2)
 * SecurityFeatures(8) Reserved(2) TID(2) PIDLow(2) UID(2) MID(2)
 */
export function smb1Header(h: Smb1HeaderFields): Buffer {
  const b = Buffer.alloc(32);
  b.write('\xffSMB', 0, 'latin1');
  b[4] = h.command ?? 0;
  b.writeUInt32LE((h.status ?? 0) >>> 0, 5);
  b[9] = h.reply ? 0x98 : 0x18;
  b.writeUInt16LE(h.flags2 ?? (FLAGS2.UNICODE | FLAGS2.NT_STATUS | FLAGS2.LONG_NAMES), 10);
  b.writeUInt16LE(h.tid ?? 0, 24);
  b.writeUInt16LE(h.pid ?? 0xfeff, 26);
  b.writeUInt16LE(h.uid ?? 0x0800, 28);
  b.writeUInt16LE(h.mid ?? 0, 30);
  return b;
}

/** one command block: WordCount, words, ByteCount, bytes */
export const block = (words: Buffer, bytes: Buffer = Buffer.alloc(0)): Buffer => {
  if (words.length & 1) throw new Error('odd parameter words');
  return cat(u8(words.length / 2), words, u16le(bytes.length), bytes);
};

export const smb1 = (h: Smb1HeaderFields, ...blocks: Buffer[]): Buffer => cat(smb1Header(h), ...blocks);

/** an SMB_STRING as the header's flags say: UTF-16 with a pad byte to an even offset from the header, or OEM */
export function smbString(s: string, unicode: boolean, at: number): Buffer {
  if (!unicode) return cat(Buffer.from(s, 'latin1'), u8(0));
  return cat(at & 1 ? u8(0) : Buffer.alloc(0), utf16(s), u16le(0));
}

/** AndX words: AndXCommand(1) AndXReserved(1) AndXOffset(2) */
export const andx = (next = 0xff, offset = 0): Buffer => cat(u8(next), u8(0), u16le(offset));

export const CMD1 = {
  CREATE_DIRECTORY: 0x00, DELETE_DIRECTORY: 0x01, OPEN: 0x02, CREATE: 0x03, CLOSE: 0x04, CREATE_NEW: 0x0f,
  TRANSACTION: 0x25, TRANSACTION_SECONDARY: 0x26, OPEN_ANDX: 0x2d, READ_ANDX: 0x2e, WRITE_ANDX: 0x2f,
  TRANSACTION2: 0x32, TRANSACTION2_SECONDARY: 0x33, LOGOFF_ANDX: 0x74, TREE_CONNECT_ANDX: 0x75,
  NT_CREATE_ANDX: 0xa2,
} as const;

/** TREE_CONNECT_ANDX request (wc 4: AndX, Flags, PasswordLength) with an empty password and the path */
export function treeConnect(h: Smb1HeaderFields, path: string): Buffer {
  const bytes = cat(u8(0), smbString(path, true, 32 + 1 + 8 + 2 + 1), ascii('?????'));
  return smb1({ ...h, command: CMD1.TREE_CONNECT_ANDX }, block(cat(andx(), u16le(0), u16le(1)), bytes));
}
const ascii = (s: string): Buffer => cat(Buffer.from(s, 'latin1'), u8(0));
/** TREE_CONNECT_ANDX response (wc 3: AndX, OptionalSupport) with the service string */
export function treeConnectResponse(h: Smb1HeaderFields, service: 'IPC' | 'A:'): Buffer {
  return smb1({ ...h, command: CMD1.TREE_CONNECT_ANDX, reply: true }, block(cat(andx(), u16le(1)), ascii(service)));
}

/** NT_CREATE_ANDX request (wc 24) for `name`, NameLength in bytes of UTF-16 */
export function ntCreateRequest(h: Smb1HeaderFields, name: string, access = 0x0012019f, disposition = 1): Buffer {
  const n = utf16(name);
  const words = cat(andx(), u8(0), u16le(n.length), u32le(0), u32le(0), u32le(access), Buffer.alloc(8),
    u32le(0), u32le(7), u32le(disposition), u32le(0), u32le(2), u8(0));
  // the name is UTF-16 at an even offset: 32 + 1 + 48 + 2 = 83, so one pad byte
  return smb1({ ...h, command: CMD1.NT_CREATE_ANDX }, block(words, cat(u8(0), n, u16le(0))));
}
/** NT_CREATE_ANDX response: AndX, OplockLevel(1), FID(2), then zeros to wc 34 */
export function ntCreateResponse(h: Smb1HeaderFields, fid: number): Buffer {
  return smb1({ ...h, command: CMD1.NT_CREATE_ANDX, reply: true }, block(cat(andx(), u8(0), u16le(fid), Buffer.alloc(68 - 7))));
}

/** WRITE_ANDX request (wc 14) with its data right after the ByteCount and a pad byte */
export function writeAndx(h: Smb1HeaderFields, fid: number, data: Buffer, writeMode = 0x0008): Buffer {
  const dataOffset = 32 + 1 + 28 + 2 + 1;
  const words = cat(andx(), u16le(fid), u32le(0), u32le(0), u16le(writeMode), u16le(data.length), u16le(0),
    u16le(data.length), u16le(dataOffset), u32le(0));
  return smb1({ ...h, command: CMD1.WRITE_ANDX }, block(words, cat(u8(0), data)));
}
export function writeAndxResponse(h: Smb1HeaderFields, count: number): Buffer {
  return smb1({ ...h, command: CMD1.WRITE_ANDX, reply: true }, block(cat(andx(), u16le(count), u16le(0xffff), u16le(0), u16le(0))));
}
/** READ_ANDX request (wc 12) */
export function readAndx(h: Smb1HeaderFields, fid: number, max: number): Buffer {
  return smb1({ ...h, command: CMD1.READ_ANDX }, block(cat(andx(), u16le(fid), u32le(0), u16le(max), u16le(max), u32le(0), u16le(0), u32le(0))));
}
/** READ_ANDX response (wc 12): Available, DataCompactionMode, Reserved, DataLength, DataOffset, DataLengthHigh, Reserved(8) */
export function readAndxResponse(h: Smb1HeaderFields, data: Buffer): Buffer {
  const dataOffset = 32 + 1 + 24 + 2 + 1;
  const words = cat(andx(), u16le(0xffff), u16le(0), u16le(0), u16le(data.length), u16le(dataOffset), u16le(0), Buffer.alloc(8));
  return smb1({ ...h, command: CMD1.READ_ANDX, reply: true }, block(words, cat(u8(0), data)));
}
export function closeRequest(h: Smb1HeaderFields, fid: number): Buffer {
  return smb1({ ...h, command: CMD1.CLOSE }, block(cat(u16le(fid), u32le(0xffffffff))));
}
export const emptyResponse = (h: Smb1HeaderFields & { command: number }): Buffer => smb1({ ...h, reply: true }, block(Buffer.alloc(0)));

export interface TransFields {
  command: number;
  setup: number[];
  name?: string | null;
  params?: Buffer;
  data?: Buffer;
  /** totals announced; default: the counts sent */
  totalParams?: number;
  totalData?: number;
}

/**
 * TRANSACTION / TRANSACTION2 primary request (wc 14 + SetupCount): counts and offsets from the
 * header, then Name (TRANSACTION), parameters and data, each 4-byte aligned from the header.
 */
export function transRequest(h: Smb1HeaderFields, t: TransFields): Buffer {
  const params = t.params ?? Buffer.alloc(0), data = t.data ?? Buffer.alloc(0);
  const unicode = ((h.flags2 ?? FLAGS2.UNICODE) & FLAGS2.UNICODE) !== 0;
  const wc = 14 + t.setup.length;
  const bytesAt = 32 + 1 + wc * 2 + 2;
  let bytes = t.command === CMD1.TRANSACTION ? smbString(t.name ?? '\\PIPE\\', unicode, bytesAt) : u8(0);
  const align = (): void => { bytes = cat(bytes, Buffer.alloc((4 - ((bytesAt + bytes.length) % 4)) % 4)); };
  align();
  const paramOffset = bytesAt + bytes.length;
  bytes = cat(bytes, params);
  align();
  const dataOffset = bytesAt + bytes.length;
  bytes = cat(bytes, data);
  const words = cat(u16le(t.totalParams ?? params.length), u16le(t.totalData ?? data.length), u16le(1024), u16le(4280),
    u8(0), u8(0), u16le(0), u32le(0), u16le(0), u16le(params.length), u16le(paramOffset), u16le(data.length),
    u16le(dataOffset), u8(t.setup.length), u8(0), ...t.setup.map(u16le));
  return smb1({ ...h, command: t.command }, block(words, bytes));
}

/** TRANSACTION / TRANSACTION2 response (wc 10 + SetupCount) */
export function transResponse(h: Smb1HeaderFields, t: { command: number; params?: Buffer; data?: Buffer; totalData?: number; dataDisplacement?: number }): Buffer {
  const params = t.params ?? Buffer.alloc(0), data = t.data ?? Buffer.alloc(0);
  const bytesAt = 32 + 1 + 20 + 2;
  let bytes: Buffer = Buffer.alloc((4 - (bytesAt % 4)) % 4);
  const paramOffset = bytesAt + bytes.length;
  bytes = cat(bytes, params, Buffer.alloc((4 - ((bytesAt + bytes.length + params.length) % 4)) % 4));
  const dataOffset = bytesAt + bytes.length;
  bytes = cat(bytes, data);
  const words = cat(u16le(params.length), u16le(t.totalData ?? (t.dataDisplacement ?? 0) + data.length), u16le(0),
    u16le(params.length), u16le(paramOffset), u16le(0), u16le(data.length), u16le(dataOffset), u16le(t.dataDisplacement ?? 0), u8(0), u8(0));
  return smb1({ ...h, command: t.command, reply: true }, block(words, bytes));
}

/** TRANSACTION_SECONDARY (wc 8) carrying a piece of the data at `displacement` */
export function transSecondary(h: Smb1HeaderFields, totalData: number, data: Buffer, displacement: number): Buffer {
  const bytesAt = 32 + 1 + 16 + 2;
  const pad = Buffer.alloc((4 - (bytesAt % 4)) % 4);
  const words = cat(u16le(0), u16le(totalData), u16le(0), u16le(0), u16le(0), u16le(data.length),
    u16le(bytesAt + pad.length), u16le(displacement));
  return smb1({ ...h, command: CMD1.TRANSACTION_SECONDARY }, block(words, cat(pad, data)));
}

// ------------------------------------------------------------------------------------------
// a pipeline with a recording pipe tap
// ------------------------------------------------------------------------------------------

export interface TapCall { kind: 'client' | 'server' | 'closed'; path: string | null; bytes: Buffer; frame: number | null; file: OpenFile }

export function recordingTap(calls: TapCall[]): PipeTap {
  return {
    clientData(f, buf, off, end, at: Stamp) { calls.push({ kind: 'client', path: f.path, bytes: Buffer.from(buf.subarray(off, end)), frame: at.frame, file: f }); },
    serverData(f, buf, off, end, at: Stamp) { calls.push({ kind: 'server', path: f.path, bytes: Buffer.from(buf.subarray(off, end)), frame: at.frame, file: f }); },
    closed(f) { calls.push({ kind: 'closed', path: f.path, bytes: Buffer.alloc(0), frame: null, file: f }); },
  };
}

export interface Smb1Scan { events: SmbEvent[]; calls: TapCall[]; anomalies: Record<string, number> }

/**
 * SMB1 messages of every TCP flow go to an Smb1Handler whose framer keeps what smb1KeepFor
 * says (the wiring smb2.ts is to get); other messages are skipped.
 */
function smb1Pipeline(capture: string): { sink: PacketSink; finish(): Smb1Scan } {
  const records: EventRecord[] = [];
  const calls: TapCall[] = [];
  const anomalies: Record<string, number> = {};
  const anomaly = (k: string, n = 1): void => { anomalies[k] = (anomalies[k] ?? 0) + n; };
  const scan: ScanState = {
    capture, sessions: new SessionTable(), emit: (r) => records.push(r), anomaly, seq: 0, smbMessages: 0, pipes: recordingTap(calls),
  };
  const handlers = new Map<Flow, Smb1Handler>();
  const flows = new FlowTable({
    open(flow) {
      let ref: ConnRef | null = null;
      const conn = (): ConnRef => {
        if (ref) return ref;
        const c = flow.clientIsA !== false ? flow.a : flow.b, s = flow.clientIsA !== false ? flow.b : flow.a;
        return (ref = { clientIp: c.ip, clientPort: c.port, serverIp: s.ip, serverPort: s.port, dialect: null });
      };
      const h = new Smb1Handler(scan, flow, conn, (d) => { conn().dialect = d; });
      handlers.set(flow, h);
      const framer = (fromA: boolean): SmbFramer => new SmbFramer({
        keep: (b, o, head, len) => (b[o] === 0xff ? smb1KeepFor(h, b, o, head, len) : Math.min(PEEK, len)),
        message: (b, o, kept, _len, at) => { if (b[o] === 0xff) { scan.smbMessages++; h.message(b, o, o + kept, at, fromA); } },
        anomaly,
        notSmb: () => { flow.ignored = true; },
      }, true);
      return [framer(true), framer(false)];
    },
    close(flow) { handlers.get(flow)?.close(); handlers.delete(flow); },
  });
  const { decode, result } = createDecoder();
  let last: Packet | null = null;
  return {
    sink: { packet(p) { last = p; if (decode(p)) flows.segment(result.seg, p); } },
    finish() {
      if (last) flows.finish(last);
      flushAllTransfers(scan);
      records.sort(compareRecords);
      return { events: records.map((r) => r.ev), calls, anomalies };
    },
  };
}

export async function scanSmb1File(path: string): Promise<Smb1Scan> {
  const p = smb1Pipeline(path);
  await readCapture(path, p.sink);
  return p.finish();
}

export function scanSmb1Pcap(pcap: Buffer): Smb1Scan {
  const p = smb1Pipeline('mem.pcap');
  parseCaptureBuffer(pcap, p.sink);
  return p.finish();
}

/**
 * One request of several AndX blocks: the messages' own headers are dropped after the first and
 * each block's AndX points at the next (command and offset from the start of the header).
 */
export function andxChain(...msgs: Buffer[]): Buffer {
  const parts = msgs.map((m, i) => Buffer.from(i === 0 ? m : m.subarray(32)));
  let at = 0;
  for (let i = 0; i + 1 < parts.length; i++) {
    const andxAt = i === 0 ? 33 : 1; // WordCount comes first in a block, then AndXCommand
    at += parts[i].length;
    parts[i][andxAt] = msgs[i + 1][4];
    parts[i].writeUInt16LE(at, andxAt + 2);
  }
  return cat(...parts);
}

/** an error answer: the whole chain is answered by its first block, with no words */
export const failedReply = (h: Smb1HeaderFields, command: number, status: number): Buffer =>
  smb1({ ...h, command, reply: true, status }, block(Buffer.alloc(0)));
