/**
 * SMB1 wire records on hand-built bytes (MS-CIFS 2.2): AndX chains that loop or run long,
 * transaction pieces, information levels, legacy opens, and every prefix of every message
 * parsed without a throw.
 */
import { describe, expect, it } from 'vitest';
import {
  accessModeMask, andxBlocks, AndxProblem, MAX_ANDX_CHAIN, openAndx, openFunctionDisposition, parseSmb1Header,
  readData, setInfoData, Slice, STATUS_BUFFER_OVERFLOW, transRequest, transResponse, writeData,
} from '../../src/smb/smb1/records';
import { cat, u16le, u32le, u8, utf16 } from '../helpers/build';
import {
  andx, block, CMD1, readAndxResponse, smb1, smb1Header, smbString, transRequest as buildTrans, transResponse as buildTransResponse,
  writeAndx,
} from '../events/smb1-helpers';

const blocksOf = (msg: Buffer, end = msg.length): { blocks: ReturnType<typeof andxBlocks>; problems: AndxProblem[] } => {
  const h = parseSmb1Header(msg, 0, end)!;
  const problems: AndxProblem[] = [];
  return { blocks: andxBlocks(msg, 0, end, h, (p) => problems.push(p)), problems };
};

/** LOGOFF_ANDX blocks (wc 2: AndX words only), each naming the next at `offsets[i]` */
function logoffChain(offsets: number[]): Buffer {
  const parts: Buffer[] = [smb1Header({ command: CMD1.LOGOFF_ANDX })];
  offsets.forEach((o) => parts.push(block(andx(CMD1.LOGOFF_ANDX, o))));
  return cat(...parts);
}

describe('AndX chains are bounded', () => {
  it('an AndXOffset pointing at its own block stops the chain and is counted', () => {
    const r = blocksOf(logoffChain([32]));
    expect(r.blocks).toHaveLength(1);
    expect(r.problems).toEqual(['smb1_andx_loop']);
  });

  it('an AndXOffset pointing back to an earlier block stops the chain and is counted', () => {
    // block 1 at 32 → block 2 at 39 → back to 32
    const r = blocksOf(logoffChain([39, 32]));
    expect(r.blocks.map((b) => b.words)).toEqual([33, 40]);
    expect(r.problems).toEqual(['smb1_andx_loop']);
  });

  it('a forward chain longer than MAX_ANDX_CHAIN is cut there and counted', () => {
    const n = MAX_ANDX_CHAIN + 4;
    const r = blocksOf(logoffChain(Array.from({ length: n }, (_, i) => 32 + 7 * (i + 1))));
    expect(r.blocks).toHaveLength(MAX_ANDX_CHAIN);
    expect(r.problems).toEqual(['smb1_andx_chain_too_long']);
  });

  it('a follower past the held bytes ends the chain quietly (a kept head of a big message)', () => {
    const r = blocksOf(logoffChain([500]));
    expect(r.blocks).toHaveLength(1);
    expect(r.problems).toEqual([]);
  });

  it('a normal two-command chain has both blocks and no problem', () => {
    const msg = smb1({ command: CMD1.LOGOFF_ANDX }, block(andx(CMD1.LOGOFF_ANDX, 39)), block(andx()));
    expect(blocksOf(msg).blocks.map((b) => b.command)).toEqual([CMD1.LOGOFF_ANDX, CMD1.LOGOFF_ANDX]);
    expect(blocksOf(msg).problems).toEqual([]);
  });
});

describe('header', () => {
  it('a DOS ERRDOS/ERRmoredata reads as STATUS_BUFFER_OVERFLOW (a pipe read that still carries data); other DOS errors as unsuccessful', () => {
    const dos = (cls: number, code: number): Buffer => {
      const b = smb1Header({ command: CMD1.READ_ANDX, reply: true, flags2: 0 });
      b[5] = cls; b.writeUInt16LE(code, 7);
      return cat(b, block(Buffer.alloc(0)));
    };
    expect(parseSmb1Header(dos(1, 234), 0, 35)!.status).toBe(STATUS_BUFFER_OVERFLOW);
    expect(parseSmb1Header(dos(1, 2), 0, 35)!.status).toBe(0xc0000001);
  });
});

describe('legacy opens', () => {
  it('OpenMode → NT dispositions (fail/open/truncate × create)', () => {
    expect([0x00, 0x10, 0x01, 0x11, 0x02, 0x12, 0x03].map(openFunctionDisposition)).toEqual([null, 2, 1, 3, 4, 5, null]);
  });

  it('AccessMode → NT generic rights; sharing bits do not matter', () => {
    expect(accessModeMask(0x0040)).toBe(0x80000000);
    expect(accessModeMask(0x0011)).toBe(0x40000000);
    expect(accessModeMask(0x0002) >>> 0).toBe(0xc0000000);
    expect(accessModeMask(0x0003) >>> 0).toBe(0xa0000000);
    expect(accessModeMask(0x0007)).toBe(0);
  });

  it('OPEN_ANDX request: name (Unicode, padded to an even offset), AccessMode and OpenMode', () => {
    const words = cat(andx(), u16le(0), u16le(0x0042), u16le(0x16), u16le(0), u32le(0), u16le(0x12), u32le(0), u32le(0), u32le(0));
    const msg = smb1({ command: CMD1.OPEN_ANDX }, block(words, smbString('\\dir\\a.txt', true, 32 + 1 + 30 + 2)));
    const k = blocksOf(msg).blocks[0];
    expect(openAndx(k)).toEqual({ name: '\\dir\\a.txt', accessMode: 0x0042, openFunction: 0x12 });
    expect(openAndx({ ...k, wc: 14 })).toBeNull();
  });
});

describe('transactions', () => {
  it('a request\'s parameters and data are found by their offsets; a cut one is marked', () => {
    const msg = buildTrans({ command: CMD1.TRANSACTION }, { command: CMD1.TRANSACTION, setup: [0x26, 0x4000], data: Buffer.from('0500', 'hex'), params: Buffer.alloc(0) });
    const k = blocksOf(msg).blocks[0];
    const r = transRequest(k)!;
    expect(r.setup).toEqual([0x26, 0x4000]);
    expect(r.name).toBe('\\PIPE\\');
    expect(msg.subarray(r.data.off, r.data.end).toString('hex')).toBe('0500');
    expect(r.data).toMatchObject({ cut: false, last: true });
    const short = blocksOf(msg, msg.length - 1).blocks[0];
    expect(transRequest(short)!.data).toMatchObject({ cut: true, end: msg.length - 1 });
  });

  it('a SetupCount larger than the words is malformed, not read past them', () => {
    const msg = buildTrans({ command: CMD1.TRANSACTION2 }, { command: CMD1.TRANSACTION2, setup: [6] });
    msg[32 + 1 + 26] = 40;
    expect(transRequest(blocksOf(msg).blocks[0])).toBeNull();
  });

  it('hostile offsets stay inside the message', () => {
    const msg = buildTrans({ command: CMD1.TRANSACTION }, { command: CMD1.TRANSACTION, setup: [0x26, 1], data: Buffer.alloc(8) });
    msg.writeUInt16LE(0xfff0, 32 + 1 + 24); // DataOffset far beyond the end
    const r = transRequest(blocksOf(msg).blocks[0])!;
    expect(r.data.off).toBeLessThanOrEqual(msg.length);
    expect(r.data.end).toBeLessThanOrEqual(msg.length);
    expect(r.data.cut).toBe(true);
  });

  it('a multi-part response: displacement and whether it is the last piece', () => {
    const msg = buildTransResponse({ command: CMD1.TRANSACTION }, { command: CMD1.TRANSACTION, data: Buffer.alloc(10), totalData: 30, dataDisplacement: 10 });
    const r = transResponse(blocksOf(msg).blocks[0])!;
    expect(r.data).toMatchObject({ displacement: 10, last: false, cut: false });
  });
});

describe('set-information levels', () => {
  const slice = (b: Buffer): Slice => ({ buf: b, hdr: 0, off: 0, end: b.length, unicode: true });
  const rename = (name: string): Buffer => cat(u8(0), Buffer.alloc(3), u32le(0), u32le(utf16(name).length), utf16(name));

  it('pass-through FileRenameInformation (1010, FILE_RENAME_INFORMATION_TYPE_1) gives the new name', () => {
    expect(setInfoData(1010, slice(rename('\\dir\\new.txt')))).toEqual({ newName: '\\dir\\new.txt' });
  });
  it('a FileNameLength past the data is malformed', () => {
    const b = rename('x.txt');
    b.writeUInt32LE(400, 8);
    expect(setInfoData(1010, slice(b))).toBeNull();
  });
  it('disposition: SMB_SET_FILE_DISPOSITION_INFO, pass-through 1013 and the Ex class 1064', () => {
    expect(setInfoData(0x102, slice(u8(1)))).toEqual({ deletes: true });
    expect(setInfoData(1013, slice(u8(0)))).toEqual({ deletes: false });
    expect(setInfoData(1064, slice(u32le(3)))).toEqual({ deletes: true });
    expect(setInfoData(1013, slice(Buffer.alloc(0)))).toBeNull();
    expect(setInfoData(0x101, slice(Buffer.alloc(40)))).toBeNull(); // SMB_SET_FILE_BASIC_INFO: neither
  });
});

describe('READ_ANDX / WRITE_ANDX data', () => {
  it('WRITE_ANDX data by DataOffset; a raw-mode message start skips its 2-byte length', () => {
    const plain = writeAndx({}, 1, Buffer.from('05000b03', 'hex'));
    const k = blocksOf(plain).blocks[0];
    const d = writeData(k)!;
    expect(plain.subarray(d.off, d.end).toString('hex')).toBe('05000b03');
    const raw = writeAndx({}, 1, Buffer.from('040005000b03', 'hex'), 0x000c);
    const r = writeData(blocksOf(raw).blocks[0])!;
    expect(raw.subarray(r.off, r.end).toString('hex')).toBe('05000b03');
  });

  it('data not held (a kept head) is incomplete; data inside the words is malformed', () => {
    const msg = writeAndx({}, 1, Buffer.alloc(100, 5));
    const head = blocksOf(msg, 32 + 1 + 28 + 2).blocks[0];
    expect(writeData(head)).toMatchObject({ complete: false });
    const bad = Buffer.from(msg);
    bad.writeUInt16LE(34, 32 + 1 + 22);
    expect(writeData(blocksOf(bad).blocks[0])).toBeNull();
  });

  it('READ_ANDX response data by DataOffset', () => {
    const msg = readAndxResponse({}, Buffer.from('05000c03', 'hex'));
    const d = readData(blocksOf(msg).blocks[0])!;
    expect(msg.subarray(d.off, d.end).toString('hex')).toBe('05000c03');
    expect(d.complete).toBe(true);
  });
});
