/**
 * Found in review of c233187..HEAD: the new netlogon and DCOM argument decoders.
 *  - NetrServerPasswordSet(2): NETLOGON_AUTHENTICATOR holds a ULONG, so it is 4-aligned ([MS-NRPC]
 *    2.2.1.1.5); after a ComputerName of an odd number of UTF-16 units with its NUL ("DC" in
 *    suricata-verify/bug-5162__input.pcap frame 2890) there are 2 pad bytes, which the decoder
 *    reads as the first two bytes of the credential.
 *  - IDispatch::Invoke: a BSTR of an odd byte length (cBytes 2n-1, clSize n: [MS-OAUT] 2.2.23.1 says
 *    clSize is cBytes/2 rounded up; the presented BSTR's length is cBytes) is not recognised by
 *    the n, 2n, n test, so a client that sends its command line that way hides it from
 *    DCOM-SHELL-COMMAND.
 *  - IDispatch::Invoke: bstrs() strips trailing NULs with /\0+$/, which backtracks quadratically on
 *    a BSTR of NULs followed by one other unit: a 1 MiB stub of 16 such BSTRs took 8 s.
 */
import { describe, expect, it } from 'vitest';
import { decodeArgs } from '../../src/rpc/args';

/** little-endian NDR20 writer with alignment from the stub's start */
class W {
  parts: Buffer[] = [];
  len = 0;
  raw(b: Buffer): this { this.parts.push(b); this.len += b.length; return this; }
  align(n: number): this { const pad = (n - (this.len % n)) % n; return pad ? this.raw(Buffer.alloc(pad)) : this; }
  u16(v: number): this { this.align(2); const b = Buffer.alloc(2); b.writeUInt16LE(v); return this.raw(b); }
  u32(v: number): this { this.align(4); const b = Buffer.alloc(4); b.writeUInt32LE(v); return this.raw(b); }
  wstr(s: string): this {
    const n = s.length + 1;
    this.u32(n).u32(0).u32(n);
    return this.raw(Buffer.from(`${s}\0`, 'utf16le'));
  }
  done(): Buffer { return Buffer.concat(this.parts); }
}

describe('netlogon (review of c233187..HEAD)', () => {
  it('NetrServerPasswordSet2: the authenticator is read after its 4-byte alignment', () => {
    const w = new W();
    w.u32(0); // PrimaryName: null unique pointer
    w.wstr('DC$'); // AccountName
    w.u16(6); // SecureChannelType: ServerSecureChannel
    w.wstr('DC'); // ComputerName: 3 units, 6 bytes, ends 2 bytes short of a 4-byte boundary
    w.align(4); // NETLOGON_AUTHENTICATOR { NETLOGON_CREDENTIAL Credential; DWORD Timestamp; }
    w.raw(Buffer.from('0102030405060708', 'hex')).u32(0x5f000000);
    w.raw(Buffer.alloc(516, 0x41)); // NL_TRUSTED_PASSWORD
    const out = decodeArgs('rpc_netlogon', 30, w.done(), null, true, false);
    expect(out).toMatchObject({ account: 'DC$', computer_name: 'DC', channel_type: 'ServerSecureChannel' });
    expect(out?.authenticator_credential).toBe('0102030405060708');
    expect(out?.new_password).toBe('set');
  });
});

describe('IDispatch::Invoke BSTR scan (review of c233187..HEAD)', () => {
  it('a 1 MiB Invoke stub of NUL-padded BSTRs decodes in well under a second', () => {
    const n = 32_700;
    const parts: Buffer[] = [Buffer.alloc(32)];
    for (let j = 0; j < 16; j++) {
      const h = Buffer.alloc(12);
      h.writeUInt32LE(n, 0); h.writeUInt32LE(2 * n, 4); h.writeUInt32LE(n, 8);
      const d = Buffer.alloc(2 * n);
      d.writeUInt16LE(0x41, 2 * n - 2); // n-1 NULs, then 'A'
      parts.push(h, d);
    }
    const stub = Buffer.concat(parts);
    expect(stub.length).toBeLessThanOrEqual(1 << 20); // maxStub
    const t = process.hrtime.bigint();
    decodeArgs('dispatch', 6, stub, null, true, false);
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    expect(ms).toBeLessThan(1000);
  }, 60_000);
});

describe('IDispatch::Invoke BSTR of an odd byte length (review of c233187..HEAD)', () => {
  it('a BSTR with cBytes = 2·clSize − 1 is still an argument', () => {
    const bstr = (s: string, bytes: number): Buffer => {
      const n = s.length;
      const h = Buffer.alloc(12);
      h.writeUInt32LE(n, 0); h.writeUInt32LE(bytes, 4); h.writeUInt32LE(n, 8);
      const d = Buffer.from(s, 'utf16le');
      return Buffer.concat([h, d, Buffer.alloc((4 - (d.length % 4)) % 4)]);
    };
    // "cmd.exe" sent with one byte more ('X''s low byte): the server's BSTR is cmd.exe
    const stub = Buffer.concat([Buffer.alloc(32), bstr('7', 2), bstr('/c calc', 14), bstr('cmd.exeX', 15)]);
    const out = decodeArgs('dispatch', 6, stub, null, true, false);
    expect(out?.strings ?? '').toMatch(/cmd\.exe/);
  });
});
