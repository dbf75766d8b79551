/**
 * winreg (MS-RRP, uuid 338cd001-2244-31f1-aaaa-900038001003): remote registry. Opening a hive,
 * then a key, then setting a value is how Run-key and service persistence are planted remotely;
 * SaveKey is how SAM/SYSTEM/SECURITY hives are dumped (secretsdump, reg save).
 * Key and value names are RRP_UNICODE_STRINGs passed by [ref]: header, then the deferred buffer.
 */
import { hex32, NdrReader } from '../ndr';
import { def, Decoder, Out, put, win32Result, win32ResultLast } from './common';

/** opnum → hive of the Open* calls (MS-RRP 3.1.5.1–3.1.5.5, 3.1.5.25, 3.1.5.29, 3.1.5.30) */
const HIVES: Record<number, string> = {
  0: 'HKCR',
  1: 'HKCU',
  2: 'HKLM',
  3: 'HKPD',
  4: 'HKU',
  27: 'HKCC',
  32: 'HKPT',
  33: 'HKPN',
};

const REG_TYPES = [
  'REG_NONE',
  'REG_SZ',
  'REG_EXPAND_SZ',
  'REG_BINARY',
  'REG_DWORD',
  'REG_DWORD_BIG_ENDIAN',
  'REG_LINK',
  'REG_MULTI_SZ',
  'REG_RESOURCE_LIST',
  'REG_FULL_RESOURCE_DESCRIPTOR',
  'REG_RESOURCE_REQUIREMENTS_LIST',
  'REG_QWORD',
];

/** what a value would run or point to; binary data is only sized */
const MAX_DATA_CHARS = 4096;

/** PREGISTRY_SERVER_NAME: [unique] pointer to a single wchar_t, not a string */
function skipServerName(r: NdrReader): void {
  if (r.ptr() !== 0) r.u16();
}

function keyHandleResult(r: NdrReader, out: Out): void {
  out.key_handle = r.contextHandle();
  win32Result(r, out);
}

function openHive(hive: string): Decoder {
  return def(
    (r, out) => {
      out.hive = hive;
      skipServerName(r);
      out.access = hex32(r.u32());
    },
    (r, out) => {
      out.hive = hive;
      keyHandleResult(r, out);
    },
  );
}

const openKey = def((r, out) => {
  out.handle = r.contextHandle();
  put(out, 'key', r.unicodeString());
  r.u32(); // dwOptions
  out.access = hex32(r.u32());
}, keyHandleResult);

const createKey = def(
  (r, out) => {
    out.handle = r.contextHandle();
    put(out, 'key', r.unicodeString());
  },
  (r, out) => {
    out.key_handle = r.contextHandle();
    if (r.ptr() !== 0) {
      const d = r.u32();
      out.disposition = d === 1 ? 'created' : d === 2 ? 'opened' : hex32(d);
    }
    win32Result(r, out);
  },
);

/**
 * calls whose interesting argument is one RRP_UNICODE_STRING after the key handle; `result`
 * reads the response (BaseRegQueryValue returns the type, data and sizes before its status)
 */
function handleAndString(key: string, result = win32Result): Decoder {
  return def((r, out) => {
    out.handle = r.contextHandle();
    put(out, key, r.unicodeString());
  }, result);
}

function regData(type: number, data: Buffer): string | null {
  if (type === 1 || type === 2 || type === 7) {
    const n = Math.min(data.length >> 1, MAX_DATA_CHARS);
    const parts = data
      .toString('utf16le', 0, n * 2)
      .split('\0')
      .filter((s) => s !== '');
    return type === 7 ? parts.join(', ') : (parts[0] ?? '');
  }
  if (type === 4 && data.length >= 4) return String(data.readUInt32LE(0));
  if (type === 5 && data.length >= 4) return String(data.readUInt32BE(0));
  if (type === 11 && data.length >= 8) return String(data.readBigUInt64LE(0));
  return null;
}

const setValue = def((r, out) => {
  out.handle = r.contextHandle();
  put(out, 'value_name', r.unicodeString());
  const type = r.u32();
  out.type = REG_TYPES[type] ?? hex32(type);
  // lpData: [ref, size_is(cbData)] byte array; registry data keeps its own (little-endian) form
  const data = r.bytes(r.count(1));
  out.data_size = String(data.length);
  put(out, 'data', regData(type, data));
}, win32Result);

/**
 * BaseInitiateSystemShutdown(Ex), and initshutdown's BaseInitiateShutdown(Ex) (MS-RSP 3.2.4.1,
 * 3.2.4.3), which have the same parameters: lpMessage is a [unique] pointer to an RRP_UNICODE_STRING
 */
const shutdown = (ex: boolean): Decoder =>
  def((r, out) => {
    skipServerName(r);
    if (r.ptr() !== 0) put(out, 'message', r.unicodeString());
    out.timeout = String(r.u32());
    out.force = r.u8() ? 'true' : 'false';
    out.reboot = r.u8() ? 'true' : 'false';
    if (ex) out.reason = hex32(r.u32());
  }, win32Result);

export const WINREG: Record<number, Decoder> = {
  ...Object.fromEntries(Object.entries(HIVES).map(([op, hive]) => [op, openHive(hive)])),
  6: createKey,
  7: handleAndString('key'), // BaseRegDeleteKey
  8: handleAndString('value_name'), // BaseRegDeleteValue
  15: openKey,
  17: handleAndString('value_name', win32ResultLast), // BaseRegQueryValue
  19: handleAndString('file'), // BaseRegRestoreKey
  20: handleAndString('file'), // BaseRegSaveKey
  22: setValue,
  24: shutdown(false),
  30: shutdown(true),
  31: handleAndString('file'), // BaseRegSaveKeyEx
  35: handleAndString('key'), // BaseRegDeleteKeyEx
};

/** initshutdown (MS-RSP InitShutdown, uuid 894de0c0-0d55-11d3-a322-00c04fa321a1, pipe InitShutdown) */
export const INITSHUTDOWN: Record<number, Decoder> = {
  0: shutdown(false), // BaseInitiateShutdown (tshark: Init)
  1: def(skipServerName, win32Result), // BaseAbortShutdown (Abort)
  2: shutdown(true), // BaseInitiateShutdownEx (InitEx)
};
