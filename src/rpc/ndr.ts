/**
 * A small NDR reader (C706 chapter 14, MS-RPCE 2.2.5) over one REQUEST or RESPONSE stub.
 *
 * NDR20 (transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860) is the default. NDR64
 * (71710533-beba-4937-8319-b5dbef9ccc36), which Windows clients and servers pick when both
 * offer it, widens pointers, conformance and variance counts and __int3264 to 8 bytes
 * (MS-RPCE 2.2.5.3); `ndr64` switches those reads, and decoders align structures through
 * `structAlign` so that one decoder serves both. Read as NDR20, an NDR64 stub fails the strict
 * count checks below, so a wrong guess yields nothing rather than wrong values.
 *
 * Every stub comes off the wire, so every read is bounds-checked and every count is checked
 * against the bytes that are left before anything is allocated or looped over: a count of
 * 0xffffffff fails at once instead of allocating or spinning. Failures throw NdrError, which
 * the argument decoders catch (keeping what they decoded before the failure).
 */

export class NdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NdrError';
  }
}

/** Longest string handed to the output; longer strings are skipped over and cut (with a mark). */
export const MAX_STRING_CHARS = 32768;

/** the header of an RPC_UNICODE_STRING / RPC_STRING, whose buffer is deferred */
export interface CountedString {
  length: number;
  maxLength: number;
  ptr: number;
}

const HEX = (b: Buffer): string => b.toString('hex');

export class NdrReader {
  readonly buf: Buffer;
  readonly le: boolean;
  readonly ndr64: boolean;
  /** pointer and count width: 4 (NDR20) or 8 (NDR64) */
  readonly wide: 4 | 8;
  pos: number;

  constructor(buf: Buffer, littleEndian = true, ndr64 = false) {
    this.buf = buf;
    this.le = littleEndian;
    this.ndr64 = ndr64;
    this.wide = ndr64 ? 8 : 4;
    this.pos = 0;
  }

  /**
   * alignment of a structure whose widest member is `natural` bytes wide without pointers: with
   * pointers inside, NDR64 aligns it to 8
   */
  structAlign(natural: number, hasPointers = true): number {
    return hasPointers ? Math.max(natural, this.wide) : natural;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (!(n >= 0) || n > this.buf.length - this.pos) throw new NdrError(`need ${n} bytes at ${this.pos}, ${this.remaining} left`);
  }

  /** NDR aligns primitives to their size, counted from the start of the stub */
  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.need(pad);
    this.pos += pad;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.align(2);
    this.need(2);
    const v = this.le ? this.buf.readUInt16LE(this.pos) : this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.align(4);
    this.need(4);
    const v = this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.align(8);
    this.need(8);
    const v = this.le ? this.buf.readBigUInt64LE(this.pos) : this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** start of a structure with pointers (or unions of pointers) among 4-byte members */
  structStart(): void {
    this.align(this.structAlign(4));
  }

  /**
   * discriminant of a non-encapsulated union whose arms are pointers: NDR64 aligns the whole
   * union, discriminant included, to its widest arm
   */
  unionTag(): number {
    this.structStart();
    return this.u32();
  }

  /** a count or size that NDR64 widens (conformance, variance, __int3264) */
  size(): number {
    if (!this.ndr64) return this.u32();
    const v = this.u64();
    if (v > 0xffffffffn) throw new NdrError(`64-bit count ${v} at ${this.pos - 8}`);
    return Number(v);
  }

  /** unique/full pointer referent id (0 = null); [ref] pointers at the top level have none */
  ptr(): number {
    if (!this.ndr64) return this.u32();
    const v = this.u64();
    return v === 0n ? 0 : Number(v & 0xffffffffn) || 1;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** policy/context handle: 4-byte attributes + 16-byte uuid, shown as 40 hex digits */
  contextHandle(): string {
    this.align(4);
    return HEX(this.bytes(20));
  }

  /** GUID in its usual text form (its first three fields follow the stub's byte order) */
  guid(): string {
    const d1 = this.u32();
    const d2 = this.u16();
    const d3 = this.u16();
    const d4 = this.bytes(8);
    const h = (v: number, w: number): string => v.toString(16).padStart(w, '0');
    return `${h(d1, 8)}-${h(d2, 4)}-${h(d3, 4)}-${HEX(d4.subarray(0, 2))}-${HEX(d4.subarray(2))}`;
  }

  /**
   * A conformance count (max_count) for elements of `elemSize` bytes that follow in this stub:
   * more elements than bytes left cannot be genuine, so they are refused before any loop.
   */
  count(elemSize: number): number {
    const n = this.size();
    if (elemSize > 0 && n > Math.floor(this.remaining / elemSize)) throw new NdrError(`count ${n} exceeds the stub`);
    return n;
  }

  /** decodes `n` characters of `size` bytes in place, cut to `cap`, and steps over all of them */
  chars(n: number, size: 1 | 2, cap: number): string {
    this.need(n * size);
    const start = this.pos;
    this.pos += n * size;
    const take = Math.min(n, cap);
    let s: string;
    if (size === 1) s = this.buf.toString('latin1', start, start + take);
    else if (this.le) s = this.buf.toString('utf16le', start, start + take * 2);
    else
      s = Buffer.from(this.buf.subarray(start, start + take * 2))
        .swap16()
        .toString('utf16le');
    let end = s.length;
    while (end > 0 && s.charCodeAt(end - 1) === 0) end--;
    s = s.slice(0, end);
    return take < n ? `${s}…[${n - take} more]` : s;
  }

  /**
   * The varying part (offset, actual_count) and the characters of a conformant varying array
   * whose max_count was read already. Offsets other than 0 are legal NDR but never produced by
   * Windows or Samba; refusing them rejects NDR64 and byte-order mistakes early.
   */
  varyingChars(max: number, size: 1 | 2, cap = MAX_STRING_CHARS): string {
    const offset = this.size();
    const actual = this.size();
    if (offset !== 0 || actual > max) throw new NdrError(`bad varying array offset ${offset} actual ${actual} max ${max}`);
    return this.chars(actual, size, cap);
  }

  /** [string] wchar_t* referent: max_count, offset, actual_count, UTF-16 (trailing NULs cut) */
  wstring(cap = MAX_STRING_CHARS): string {
    const max = this.size();
    return this.varyingChars(max, 2, cap);
  }

  /** [string] char* referent: 8-bit characters (the client's ANSI code page, shown as Latin-1) */
  cstring(cap = MAX_STRING_CHARS): string {
    const max = this.size();
    return this.varyingChars(max, 1, cap);
  }

  /** a top-level [unique, string] parameter: referent id, then the string right away */
  uniqueWString(cap = MAX_STRING_CHARS): string | null {
    return this.ptr() === 0 ? null : this.wstring(cap);
  }

  uniqueCString(cap = MAX_STRING_CHARS): string | null {
    return this.ptr() === 0 ? null : this.cstring(cap);
  }

  /** RPC_UNICODE_STRING's fixed part; its Buffer referent comes after the enclosing structure */
  countedHeader(): CountedString {
    this.align(this.structAlign(4));
    const length = this.u16();
    const maxLength = this.u16();
    const ptr = this.ptr();
    if (length > maxLength) throw new NdrError(`string length ${length} > maximum ${maxLength}`);
    return { length, maxLength, ptr };
  }

  /**
   * The deferred Buffer of an RPC_UNICODE_STRING (size_is(MaximumLength/2),
   * length_is(Length/2)): not a [string], so a NUL is not promised, but RRP clients send one.
   */
  countedBody(h: CountedString, size: 1 | 2 = 2, cap = MAX_STRING_CHARS): string | null {
    if (h.ptr === 0) return null;
    return this.varyingChars(this.size(), size, cap);
  }

  /** an RPC_UNICODE_STRING passed by [ref] at the top level: header, then its buffer */
  unicodeString(cap = MAX_STRING_CHARS): string | null {
    return this.countedBody(this.countedHeader(), 2, cap);
  }

  /** RPC_SID referent (conformant structure: max_count first) as S-1-… text */
  sid(): string {
    const max = this.size();
    const rev = this.u8();
    const n = this.u8();
    if (n !== max || n > 15) throw new NdrError(`SID with ${n} sub-authorities (max_count ${max})`);
    const auth = this.bytes(6);
    const authority = auth.readUIntBE(0, 6);
    const parts = [`S-${rev}-${authority}`];
    for (let i = 0; i < n; i++) parts.push(String(this.u32()));
    return parts.join('-');
  }
}

/** ms since midnight → HH:MM (AT jobs) */
export function clockTime(ms: number): string {
  const minutes = Math.floor(ms / 60000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

export const hex32 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
