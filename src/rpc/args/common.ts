import { statusName } from '../../smb/names';
import { hex32, NdrReader } from '../ndr';

export type Out = Record<string, string>;
export type Part = (r: NdrReader, out: Out) => void;
/** an ArgDecoder that can also read NDR64 stubs when told the transfer syntax */
export type Decoder = (request: Buffer | null, response: Buffer | null, littleEndian: boolean, ndr64?: boolean) => Out | null;

/**
 * Runs a request part and a response part, each on its own reader, and keeps whatever they set
 * before a truncation or a bad count stopped them: a call cut short still names its service.
 * Any exception (not only NdrError) is swallowed because the decoders face hostile bytes and
 * must never take the scan down.
 */
export function def(req?: Part, resp?: Part): Decoder {
  return (request, response, le, ndr64 = false) => decode(request, response, le, ndr64, req, resp);
}

export function decode(request: Buffer | null, response: Buffer | null, le: boolean, ndr64: boolean, req?: Part, resp?: Part): Out | null {
  const out: Out = {};
  if (request && req) {
    try {
      req(new NdrReader(request, le, ndr64), out);
    } catch {
      // A request that yields nothing at all was most likely read in the wrong transfer syntax
      // or byte order; its response would then decode into plausible-looking garbage.
      if (Object.keys(out).length === 0) return null;
    }
  }
  if (response && resp) {
    try {
      resp(new NdrReader(response, le, ndr64), out);
    } catch {
      // partial result kept
    }
  }
  for (const _k in out) return out;
  return null;
}

/** sets a key only for a value that was really on the wire (null pointers leave no key) */
export function put(out: Out, key: string, value: string | number | null | undefined): void {
  if (value === null || value === undefined) return;
  out[key] = typeof value === 'number' ? String(value) : value;
}

/** Win32 error codes the service manager, registry and printer calls return */
export const WIN32_ERRORS: Record<number, string> = {
  0: 'ERROR_SUCCESS',
  1: 'ERROR_INVALID_FUNCTION',
  2: 'ERROR_FILE_NOT_FOUND',
  3: 'ERROR_PATH_NOT_FOUND',
  5: 'ERROR_ACCESS_DENIED',
  6: 'ERROR_INVALID_HANDLE',
  8: 'ERROR_NOT_ENOUGH_MEMORY',
  50: 'ERROR_NOT_SUPPORTED',
  53: 'ERROR_BAD_NETPATH',
  87: 'ERROR_INVALID_PARAMETER',
  122: 'ERROR_INSUFFICIENT_BUFFER',
  123: 'ERROR_INVALID_NAME',
  124: 'ERROR_INVALID_LEVEL',
  161: 'ERROR_BAD_PATHNAME',
  183: 'ERROR_ALREADY_EXISTS',
  234: 'ERROR_MORE_DATA',
  259: 'ERROR_NO_MORE_ITEMS',
  1051: 'ERROR_DEPENDENT_SERVICES_RUNNING',
  1052: 'ERROR_INVALID_SERVICE_CONTROL',
  1053: 'ERROR_SERVICE_REQUEST_TIMEOUT',
  1054: 'ERROR_SERVICE_NO_THREAD',
  1055: 'ERROR_SERVICE_DATABASE_LOCKED',
  1056: 'ERROR_SERVICE_ALREADY_RUNNING',
  1057: 'ERROR_INVALID_SERVICE_ACCOUNT',
  1058: 'ERROR_SERVICE_DISABLED',
  1059: 'ERROR_CIRCULAR_DEPENDENCY',
  1060: 'ERROR_SERVICE_DOES_NOT_EXIST',
  1061: 'ERROR_SERVICE_CANNOT_ACCEPT_CTRL',
  1062: 'ERROR_SERVICE_NOT_ACTIVE',
  1065: 'ERROR_DATABASE_DOES_NOT_EXIST',
  1068: 'ERROR_SERVICE_DEPENDENCY_FAIL',
  1069: 'ERROR_SERVICE_LOGON_FAILED',
  1072: 'ERROR_SERVICE_MARKED_FOR_DELETE',
  1073: 'ERROR_SERVICE_EXISTS',
  1078: 'ERROR_DUPLICATE_SERVICE_NAME',
  1115: 'ERROR_SHUTDOWN_IN_PROGRESS',
  1116: 'ERROR_NO_SHUTDOWN_IN_PROGRESS',
  1797: 'ERROR_UNKNOWN_PRINTER_DRIVER',
  1801: 'ERROR_INVALID_PRINTER_NAME',
  2123: 'NERR_BufTooSmall',
  2310: 'NERR_NetNameNotFound',
};

export const win32Name = (code: number): string => WIN32_ERRORS[code] ?? hex32(code);

/** the Win32 return value, as a key only when the call failed */
export function win32Result(r: NdrReader, out: Out): void {
  const code = r.u32();
  if (code !== 0) out.error = win32Name(code);
}

/**
 * The return value of a response with [out] parameters before it: NDR puts it last, so it is
 * the stub's last four bytes whatever the parameters before it hold.
 */
export function win32ResultLast(r: NdrReader, out: Out): void {
  r.pos = Math.max(0, r.buf.length - 4);
  win32Result(r, out);
}

/** NTSTATUS values of the account and policy calls that the SMB table does not name */
const RPC_STATUS: Record<number, string> = {
  0x00000105: 'STATUS_MORE_ENTRIES',
  0x00000107: 'STATUS_SOME_NOT_MAPPED',
  0x8000001a: 'STATUS_NO_MORE_ENTRIES',
  0xc0000063: 'STATUS_USER_EXISTS',
  0xc0000064: 'STATUS_NO_SUCH_USER',
  0xc0000073: 'STATUS_NONE_MAPPED',
  0xc00000df: 'STATUS_NO_SUCH_DOMAIN',
  0xc0000078: 'STATUS_INVALID_SID',
};

export const ntName = (code: number): string => RPC_STATUS[code >>> 0] ?? statusName(code);

/** the NTSTATUS return value (samr, lsarpc, eventlog), as a key only when it is not success */
export function ntResult(r: NdrReader, out: Out): void {
  const code = r.u32();
  if (code !== 0) out.error = ntName(code);
}

/** HRESULT return value (task scheduler), as a key only when it is not S_OK */
export function hresult(r: NdrReader, out: Out): void {
  const code = r.u32();
  if (code !== 0) out.error = hex32(code);
}

/** caps how many items of a list reach the output (the rest is counted, not shown) */
export const MAX_LIST = 200;

/**
 * `n` RPC_UNICODE_STRINGs as an embedded array: the n headers, then their deferred buffers;
 * joined with joinCapped (at most MAX_LIST kept, the total still said).
 */
export function countedStrings(r: NdrReader, n: number): string {
  const heads = [];
  for (let i = 0; i < n; i++) heads.push(r.countedHeader());
  const names: string[] = [];
  for (const h of heads) {
    const s = r.countedBody(h);
    if (s !== null && names.length < MAX_LIST) names.push(s);
  }
  return joinCapped(names, n);
}

export function joinCapped(items: string[], total: number, sep = ', '): string {
  return total > items.length ? `${items.join(sep)}${sep}…(+${total - items.length})` : items.join(sep);
}
