import { describe, expect, it } from 'vitest';
import { clockTime, MAX_STRING_CHARS, NdrError, NdrReader } from '../../src/rpc/ndr';

const hex = (h: string): Buffer => Buffer.from(h.replace(/\s+/g, ''), 'hex');

describe('NdrReader primitives', () => {
  it('aligns relative to the stub start and reads both byte orders', () => {
    const le = new NdrReader(hex('01 aa 0302 04030201 0807060504030201 01 aa 0302 00000000'));
    expect(le.u8()).toBe(1);
    expect(le.u16()).toBe(0x0203);
    expect(le.u32()).toBe(0x01020304);
    expect(le.u64()).toBe(0x0102030405060708n);
    le.u8();
    expect(le.u16()).toBe(0x0203); // after one byte of padding: alignment counts from the stub start
    expect(le.u32()).toBe(0);
    expect(le.remaining).toBe(0);
    const be = new NdrReader(hex('01 aa 0203 01020304 0102030405060708'), false);
    expect([be.u8(), be.u16(), be.u32(), be.u64()]).toEqual([1, 0x0203, 0x01020304, 0x0102030405060708n]);
  });

  it('throws NdrError past the end, also inside alignment padding', () => {
    expect(() => new NdrReader(hex('010203')).u32()).toThrow(NdrError);
    const r = new NdrReader(hex('01 aa'));
    r.u8();
    expect(() => r.u32()).toThrow(NdrError);
    expect(() => new NdrReader(hex('00')).bytes(-1)).toThrow(NdrError);
  });

  it('context handles and GUIDs', () => {
    const r = new NdrReader(hex('00000000 5090c69740bcec4a838604d2f4174fd0 78563412 3412 7856 0102 030405060708'));
    expect(r.contextHandle()).toBe('000000005090c69740bcec4a838604d2f4174fd0');
    expect(r.guid()).toBe('12345678-1234-5678-0102-030405060708');
  });
});

describe('strings', () => {
  // impacket's OpenSCManagerW request (captures/06-impacket-psexec.pcap, frame 100)
  const openScm = hex(
    '49b10000 06000000 00000000 06000000 440055004d004d0059000000 d43d0000 0f000000 00000000 0f000000' +
      '530065007200760069006300650073004100630074006900760065000000 bfbf 3f000000',
  );

  it('[unique, string] wchar_t*: referent, max_count, offset, actual_count, characters; NUL cut', () => {
    const r = new NdrReader(openScm);
    expect(r.uniqueWString()).toBe('DUMMY');
    expect(r.uniqueWString()).toBe('ServicesActive');
    expect(r.u32()).toBe(0x3f);
  });

  it('null pointers read as null', () => {
    expect(new NdrReader(hex('00000000')).uniqueWString()).toBeNull();
    expect(new NdrReader(hex('00000000')).uniqueCString()).toBeNull();
  });

  it('8-bit strings (A variants)', () => {
    expect(new NdrReader(hex('04000000 00000000 04000000 61626300')).cstring()).toBe('abc');
  });

  it('big-endian wchar_t', () => {
    expect(new NdrReader(hex('00000003 00000000 00000003 00680069 0000'), false).wstring()).toBe('hi');
  });

  it('refuses counts larger than the stub before reading or allocating', () => {
    expect(() => new NdrReader(hex('ffffffff 00000000 ffffffff 4100')).wstring()).toThrow(NdrError);
    expect(() => new NdrReader(hex('02000000 00000000 ffffffff 41004100')).wstring()).toThrow(/actual/);
    expect(() => new NdrReader(hex('02000000 01000000 01000000 4100')).wstring()).toThrow(/offset/);
    expect(() => new NdrReader(hex('ffffffff')).count(1)).toThrow(NdrError);
  });

  it('cuts very long strings but steps over all of their bytes', () => {
    const n = MAX_STRING_CHARS + 10;
    const b = Buffer.alloc(12 + 2 * n + 4, 0x41);
    b.writeUInt32LE(n, 0);
    b.writeUInt32LE(0, 4);
    b.writeUInt32LE(n, 8);
    for (let i = 12; i < 12 + 2 * n; i += 2) b[i + 1] = 0;
    b.writeUInt32LE(7, 12 + 2 * n);
    const r = new NdrReader(b);
    const s = r.wstring();
    expect(s.startsWith('AAAA')).toBe(true);
    expect(s.endsWith('…[10 more]')).toBe(true);
    expect(r.u32()).toBe(7);
  });

  it('RPC_UNICODE_STRING: header, then the deferred buffer; SIDs', () => {
    // samr LookupDomainInSamServer name and answer (captures/09-discovery.pcap, frames 69 and 72)
    const r = new NdrReader(hex('08000800 21270000 04000000 00000000 04000000 4600530030003100'));
    expect(r.unicodeString()).toBe('FS01');
    const s = new NdrReader(hex('04000200 04000000 0104 000000000005 15000000 dc93a5e7 ec804f12 ee0d6fc0'));
    expect(s.ptr()).not.toBe(0);
    expect(s.sid()).toBe('S-1-5-21-3886388188-307200236-3228503534');
    expect(() => new NdrReader(hex('05000000 0104 000000000005')).sid()).toThrow(NdrError);
    expect(new NdrReader(hex('08000800 00000000')).unicodeString()).toBeNull();
  });
});

describe('NDR64', () => {
  it('8-byte pointers, counts and structure alignment', () => {
    // atsvc NetrJobAdd server name (shared corpus suricata-verify/smb2-04__20171220_smb_at_schedule.pcap, frame 9)
    const r = new NdrReader(
      hex(
        '0000020000000000 0b00000000000000 0000000000000000 0b00000000000000' +
          '5c005c00610064006d0069006e002d00700063000000 0000 60b0ce0200000000',
      ),
      true,
      true,
    );
    expect(r.uniqueWString()).toBe('\\\\admin-pc');
    expect(r.size()).toBe(47100000);
    expect(clockTime(47100000)).toBe('13:05');
    expect(() => new NdrReader(hex('0000000001000000'), true, true).size()).toThrow(NdrError);
    const u = new NdrReader(hex('01000000 aaaaaaaa 02000000'), true, true);
    expect(u.u32()).toBe(1);
    expect(u.unionTag()).toBe(2);
  });
});
